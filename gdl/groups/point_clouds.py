"""Irreps-typed field types of point clouds under S_N × E(3) (book §5.5).

A geometric graph (a molecule, a Tetris piece) is N points with positions ``pos [N, 3]``, features
``x [N, irreps.dim]`` and edges ``edge_index [2, E]``. Two symmetries act on it at once and commute: a relabelling
σ ∈ S_N of the points and a rigid motion g = (R, t) ∈ E(3). The field types of positions, edges and invariant node
features live once, in :mod:`gdl.symmetries.geometric` (``position_field``, ``edge_index_field``,
``invariant_node_field``); this module adds only what is specific to e3nn irreps and to atoms:

* :func:`node_field`: node features ``[N, irreps.dim]``, rows permuted, each row acted on by D(g);
* :func:`graph_level_field`: one irreps-typed vector per graph ``[B, irreps.dim]``;
* :func:`node_label_field`: integer labels ``[N]`` (atomic numbers, graph ids of a batch), permuted with the nodes;
* :class:`GraphCountField`: the number of graphs B of a batch (a Python int), which no symmetry changes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from gdl.core import FieldType, Group, GroupElement, ProductField, ProductGroup, TrivialField
from gdl.core.checks import check_int
from gdl.symmetries.euclidean import Euclidean
from gdl.symmetries.permutations import Permutations, SetField

from .irreps import IrrepsField, as_irreps

__all__ = ["node_field", "graph_level_field", "node_label_field", "NodeLabelField", "GraphCountField"]


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


@dataclasses.dataclass(frozen=True)
class NodeLabelField(FieldType):
    """Integer labels of the N nodes, an int64 tensor ``[N]`` (atomic numbers, graph ids): permuted with the nodes.

    Args:
        group: ``Permutations(N)``.
        what: the name used in error messages (``"z"``, ``"batch"``).
    """

    group: Permutations
    what: str = "node labels"

    def validate(self, value: Any) -> None:
        n = self.group.n
        if not isinstance(value, torch.Tensor) or value.dtype != torch.long:
            given = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
            raise TypeError(f"{self.what} must be an int64 tensor [{n}] (one label per node), got {given}")
        if value.shape != (n,):
            raise ValueError(f"{self.what} must hold one label per node: expected shape [{n}], got {list(value.shape)}")

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        self.group.check(g)
        self.validate(value)
        return value[g.data.to(value.device)]


def node_label_field(num_nodes: int, what: str = "node labels", group: Group | None = None) -> ProductField:
    """Integer node labels ``[N]`` under S_N × E(3): permuted with the nodes, untouched by rigid motions."""
    return ProductField((NodeLabelField(Permutations(num_nodes), what), TrivialField(group or Euclidean(3))))


@dataclasses.dataclass(frozen=True)
class GraphCountField(FieldType):
    """The number of graphs B of a batch: a Python ``int`` ≥ 0, or ``None`` (then read from ``batch.max() + 1``).

    Relabelling the nodes or moving them leaves it unchanged. Passing it as an int (torch-geometric's
    ``data.num_graphs``) keeps a readout free of the data-dependent ``batch.max()`` (a device sync and a
    ``torch.compile`` graph break).
    """

    group: Group

    def validate(self, value: Any) -> None:
        if value is not None:
            check_int(value, "num_graphs", minimum=0)

    def transform(self, value: Any, g: GroupElement) -> Any:
        self.group.check(g)
        self.validate(value)
        return value
