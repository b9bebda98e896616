"""Point clouds and geometric graphs under S_N × E(3): their field types, input checks and radius graphs (book §5.5).

A geometric graph (a molecule, a Tetris piece) is N points with positions ``pos [N, 3]``, features
``x [N, irreps.dim]`` and edges ``edge_index [2, E]``. Two symmetries act on it at once and commute:

* a relabelling σ ∈ S_N of the points (``x ↦ x[perm]``, ``pos ↦ pos[perm]``, edges relabelled by σ⁻¹), and
* a rigid motion g = (R, t) ∈ E(3) (``pos ↦ pos Rᵀ + t``, ``x ↦ x D(R)ᵀ``; edges are unchanged when they were
  built from distances, which g preserves).

The helpers below state these actions as products of the existing field types (``SetField`` / ``EdgeIndexField``
for S_N, ``PointField`` / :class:`~gdl.groups.irreps.IrrepsField` for E(3)), so that a layer's ``in_type`` and
``out_type`` say exactly what the registry sweep must check.
"""

from __future__ import annotations

from typing import Any

from gdl.core import FieldType, Group, ProductField, ProductGroup, TrivialField
from gdl.symmetries.euclidean import Euclidean
from gdl.symmetries.permutations import Permutations, SetField

from .irreps import IrrepsField, as_irreps

__all__ = ["node_field", "graph_level_field"]


def node_field(num_nodes: int, irreps: Any, group: Group | None = None) -> ProductField:
    """Node features ``[N, irreps.dim]`` under S_N × E(3): rows permuted, each row acted on by D(g)."""
    irreps = as_irreps(irreps)
    return ProductField((SetField(Permutations(num_nodes), irreps.dim), IrrepsField(group or Euclidean(3), irreps)))


def graph_level_field(num_nodes: int, irreps: Any, group: Group | None = None) -> FieldType:
    """One feature vector per graph ``[B, irreps.dim]``: invariant under S_N, acted on by D(g) under E(3).

    Invariant outputs (only ``0e`` irreps: energies, logits) get a :class:`~gdl.core.TrivialField`, so that
    ``module.is_invariant`` says so.
    """
    irreps = as_irreps(irreps)
    group = group or Euclidean(3)
    if all(ir.l == 0 and ir.p == 1 for _, ir in irreps):
        return TrivialField(ProductGroup((Permutations(num_nodes), group)), irreps.dim)
    return ProductField((TrivialField(Permutations(num_nodes)), IrrepsField(group, irreps)))
