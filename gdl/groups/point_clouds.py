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

import torch

from gdl.core import FieldType, Group, ProductField, ProductGroup, TrivialField
from gdl.graphs.permutations import EdgeIndexField, Permutations, SetField
from gdl.graphs.validation import checking

from .euclidean import Euclidean, PointField
from .irreps import IrrepsField, as_irreps

__all__ = ["node_field", "position_field", "edge_index_field", "graph_level_field", "check_positions", "check_batch",
           "radius_graph"]


def node_field(num_nodes: int, irreps: Any, group: Group | None = None) -> ProductField:
    """Node features ``[N, irreps.dim]`` under S_N × E(3): rows permuted, each row acted on by D(g)."""
    irreps = as_irreps(irreps)
    return ProductField((SetField(Permutations(num_nodes), irreps.dim), IrrepsField(group or Euclidean(3), irreps)))


def position_field(num_nodes: int, group: Group | None = None) -> ProductField:
    """Positions ``[N, 3]`` under S_N × E(3): rows permuted, then x ↦ x Rᵀ + t."""
    return ProductField((SetField(Permutations(num_nodes), 3), PointField(group or Euclidean(3))))


def edge_index_field(num_nodes: int, group: Group | None = None) -> ProductField:
    """An ``edge_index`` ``[2, E]`` under S_N × E(3): relabelled by σ⁻¹, untouched by rigid motions."""
    return ProductField((EdgeIndexField(Permutations(num_nodes)), TrivialField(group or Euclidean(3))))


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


def check_positions(pos: Any, num_nodes: int | None = None) -> torch.Tensor:
    """Raise unless ``pos`` is a finite floating-point tensor ``[N, 3]`` (with N = ``num_nodes`` when given).

    The finiteness test reads the values (a device sync); it is skipped while ``torch.compile`` traces the caller,
    so compiled models run without a graph break, and NaN positions then give NaN outputs.
    """
    if not isinstance(pos, torch.Tensor) or not pos.is_floating_point():
        given = pos.dtype if isinstance(pos, torch.Tensor) else type(pos).__name__
        raise TypeError(f"positions must be a floating-point tensor [N, 3], got {given}")
    if pos.dim() != 2 or pos.shape[1] != 3:
        raise ValueError(f"positions must have shape [N, 3], got {list(pos.shape)}")
    if num_nodes is not None and pos.shape[0] != num_nodes:
        raise ValueError(f"positions must have one row per node: expected [{num_nodes}, 3], got {list(pos.shape)}")
    if checking() and pos.numel() and not bool(torch.isfinite(pos).all()):
        bad = (~torch.isfinite(pos)).any(dim=1).nonzero().flatten()
        raise ValueError(f"positions must be finite, but {bad.numel()} of {pos.shape[0]} points have NaN or infinite "
                         f"coordinates (first: point {int(bad[0])}, {pos[bad[0]].tolist()})")
    return pos


def check_batch(batch: Any, num_nodes: int, num_graphs: int | None = None) -> torch.Tensor:
    """Raise unless ``batch`` is an int64 tensor ``[N]`` of graph ids in 0 … ``num_graphs`` − 1 (when given).

    The range test reads the values; like :func:`check_positions` it is skipped while ``torch.compile`` traces.
    """
    if not isinstance(batch, torch.Tensor) or batch.dtype != torch.long or batch.shape != (num_nodes,):
        given = f"{batch.dtype} {list(batch.shape)}" if isinstance(batch, torch.Tensor) else type(batch).__name__
        raise ValueError(f"batch must be an int64 tensor [{num_nodes}] of graph ids, got {given}")
    if checking() and batch.numel():
        low, high = int(batch.min()), int(batch.max())
        if low < 0 or (num_graphs is not None and high >= num_graphs):
            limit = "" if num_graphs is None else f" < num_graphs = {num_graphs}"
            raise ValueError(f"batch must hold graph ids 0 ≤ id{limit}, got ids {low}..{high}")
    return batch


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
