"""Point clouds and geometric graphs under S_N × E(n): the field types of positions and edges, radius graphs.

A geometric graph (a molecule, an N-body system, a Tetris piece) is N points with positions ``pos [N, n]``, node
features and edges ``edge_index [2, E]``. Two symmetries act on it at once and commute:

* a relabelling σ ∈ S_N of the points (rows permuted, edges relabelled by σ⁻¹), and
* a rigid motion g = (R, t) ∈ E(n) (``pos ↦ pos Rᵀ + t``; edges are unchanged when they were built from distances,
  which g preserves).

The helpers below state these actions once, as products of :class:`~gdl.symmetries.SetField` /
:class:`~gdl.symmetries.EdgeIndexField` (S_N) and :class:`~gdl.symmetries.PointField` (E(n)), for every domain
that works on geometric graphs (EGNN in :mod:`gdl.graphs`, Tensor Field Networks in :mod:`gdl.groups`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from gdl.core import FieldType, Group, GroupElement, ProductField, TrivialField
from gdl.core.checks import check_batch, check_positions

from .euclidean import Euclidean, PointField, VectorField
from .permutations import EdgeIndexField, Permutations, SetField

__all__ = ["position_field", "vector_field", "edge_index_field", "invariant_node_field", "AbsentField", "check_absent", "radius_graph"]


def position_field(num_nodes: int, group: Group | None = None) -> ProductField:
    """Positions ``[N, n]`` under S_N × E(n) (default E(3)): rows permuted, then x ↦ x Rᵀ + t."""
    group = group or Euclidean(3)
    return ProductField((SetField(Permutations(num_nodes), group.n), PointField(group)))


def vector_field(num_nodes: int, group: Group | None = None) -> ProductField:
    """Vectors ``[N, n]`` (velocities, forces) under S_N × E(n): rows permuted, then v ↦ v Rᵀ (no translation)."""
    group = group or Euclidean(3)
    return ProductField((SetField(Permutations(num_nodes), group.n), VectorField(group)))


def invariant_node_field(num_nodes: int, channels: int | None, group: Group | None = None) -> ProductField:
    """Node features ``[N, C]`` that are E(n)-invariant scalars: rows permuted, untouched by rigid motions."""
    return ProductField((SetField(Permutations(num_nodes), channels), TrivialField(group or Euclidean(3), channels)))


def edge_index_field(num_nodes: int, group: Group | None = None) -> ProductField:
    """An ``edge_index`` ``[2, E]`` under S_N × E(3): relabelled by σ⁻¹, untouched by rigid motions."""
    return ProductField((EdgeIndexField(Permutations(num_nodes)), TrivialField(group or Euclidean(3))))


@dataclasses.dataclass(frozen=True)
class AbsentField(FieldType):
    """An optional argument the layer was built without: the value must be ``None``, and every g keeps it ``None``.

    Lets a field type describe a fixed positional signature ``f(h, x, edge_index, v, edge_attr)`` whatever options a
    layer was built with.
    """

    group: Group
    what: str = "this argument"

    def validate(self, value: Any) -> None:
        check_absent(value, self.what)

    def transform(self, value: Any, g: GroupElement) -> None:
        self.group.check(g)
        self.validate(value)
        return None


def check_absent(value: Any, what: str) -> None:
    if value is not None:
        given = f"a tensor of shape {list(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"the layer was built without {what}, so it must be None; got {given}")


def radius_graph(pos: torch.Tensor, radius: float, batch: torch.Tensor | None = None) -> torch.Tensor:
    """Every ordered pair (j → i), i ≠ j, of points of the same graph closer than ``radius``: ``edge_index [2, E]``.

    ``edge_index[0]`` holds the sources j and ``edge_index[1]`` the targets i (torch-geometric's convention); the
    graph is symmetric. Because it depends on distances only, it is E(3)-invariant, and relabelling the points
    relabels its edges (their order may change, the set of edges does not). Unlike torch-cluster's version there
    is no cap on the number of neighbours (a cap would break the permutation symmetry).

    All candidate pairs of each graph are formed at once (memory O(Σ_b n_b²), meant for molecules and other small
    clouds); the graphs may appear in any node order (``batch`` need not be sorted).

    Args:
        pos: positions ``[N, 3]``.
        radius: the cutoff r > 0 (pairs with |x_i − x_j| < r are joined).
        batch: graph id of each point ``[N]`` (``None``: one graph).

    Example:
        >>> pos = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
        >>> radius_graph(pos, 1.5)
        tensor([[1, 0],
                [0, 1]])
    """
    check_positions(pos)
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    num_nodes = pos.shape[0]
    device = pos.device
    if batch is None:
        batch = torch.zeros(num_nodes, dtype=torch.long, device=device)
    else:
        check_batch(batch, num_nodes)
    if num_nodes == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=device)
    order = torch.argsort(batch, stable=True)  # nodes grouped graph by graph
    graph = batch[order]
    counts = torch.bincount(graph)
    first_node = torch.cumsum(counts, 0) - counts  # [B] position (in `order`) of each graph's first node
    partners = counts[graph]  # [N] candidate partners of each node (its graph's size)
    target = torch.repeat_interleave(torch.arange(num_nodes, device=device), partners)
    first_pair = torch.cumsum(partners, 0) - partners
    source = first_node[graph[target]] + torch.arange(target.numel(), device=device) - first_pair[target]
    squared = (pos[order[source]] - pos[order[target]]).pow(2).sum(dim=1)
    keep = (source != target) & (squared < radius * radius)
    return torch.stack([order[source[keep]], order[target[keep]]])
