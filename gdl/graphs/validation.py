"""One place for the input checks and edge clean-up of every graph layer in gdl.graphs.

Conventions (torch-geometric's ``flow="source_to_target"``): column e of ``edge_index`` is the directed edge
``(j, i) = (edge_index[0, e], edge_index[1, e])`` and node i *receives* from j; the neighbourhood of i is
N(i) = {j : (j, i) is an edge}. An undirected graph lists both directions.

Self-loops and repeated edges change what a layer computes (a node hearing itself, a neighbour heard twice), so
every layer takes them as explicit arguments:

* ``self_loops``: ``"keep"`` (use the graph as given), ``"add"`` (exactly one loop per node afterwards: an existing
  loop is kept, a missing one is added; torch-geometric's ``add_remaining_self_loops``), ``"append"`` (one more loop
  per node, existing ones kept: the same as ``"add"`` on a graph without loops, and free of data-dependent shapes, so
  ``torch.compile`` traces it as one graph), ``"remove"`` (none);
* ``duplicates``: ``"keep"`` (a multigraph: a repeated edge sends its message once per copy), ``"merge"`` (one
  edge per (j, i); the edge features or weights of the copies are averaged), ``"error"`` (raise ``ValueError``).

Value-dependent checks (node ids in range, repeated edges) read tensor values, which costs a device sync and breaks
a ``torch.compile`` graph; they are skipped while ``torch.compile`` traces (:func:`checking`), so compiled layers
run as one graph. Shape and dtype checks always run.
"""

from __future__ import annotations

from typing import Any

import torch
from torch_geometric.utils import add_remaining_self_loops, add_self_loops, coalesce, remove_self_loops

__all__ = ["SELF_LOOP_MODES", "DUPLICATE_MODES", "AGGREGATIONS", "checking", "check_node_features", "check_edge_index",
           "check_edge_features", "check_edge_weight", "check_choice", "prepare_edges", "repeated_edges"]

SELF_LOOP_MODES = ("keep", "add", "append", "remove")
DUPLICATE_MODES = ("keep", "merge", "error")
#: neighbourhood aggregators ⊕ every gdl graph layer accepts (book §5.3: a permutation-invariant ⊕)
AGGREGATIONS = ("sum", "mean", "max")


def checking() -> bool:
    """Whether value-dependent checks run (always, except while ``torch.compile`` traces)."""
    return not torch.compiler.is_compiling()


def check_choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` naming both."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_node_features(x: Any, num_nodes: int | None = None, channels: int | None = None, name: str = "x") -> int:
    """Raise unless ``x`` is a floating-point ``[N, C]`` tensor (N = ``num_nodes``, C = ``channels`` when given).

    Returns:
        N, the number of rows.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        given = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point tensor [N, C], got {given}")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape [N, C] (one row per node), got {list(x.shape)}")
    if num_nodes is not None and x.shape[0] != num_nodes:
        raise ValueError(f"{name} must have one row per node: expected {num_nodes} rows, got shape {list(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels: expected [N, {channels}], got {list(x.shape)}")
    return x.shape[0]


def check_edge_index(edge_index: Any, num_nodes: int, name: str = "edge_index") -> torch.Tensor:
    """Raise unless ``edge_index`` is an int64 ``[2, E]`` tensor of node ids in 0 … N−1."""
    if not isinstance(edge_index, torch.Tensor) or edge_index.dtype != torch.long:
        given = edge_index.dtype if isinstance(edge_index, torch.Tensor) else type(edge_index).__name__
        raise TypeError(f"{name} must be an int64 tensor [2, E], got {given}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{name} must have shape [2, E], got {list(edge_index.shape)}")
    if checking() and edge_index.numel():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= num_nodes:
            raise ValueError(f"{name} refers to nodes {low}..{high}, but the graph has {num_nodes} nodes "
                             f"(valid ids 0..{num_nodes - 1})")
    return edge_index


def check_edge_features(edge_attr: Any, num_edges: int, channels: int | None = None, name: str = "edge_attr") -> None:
    """Raise unless ``edge_attr`` is a floating-point ``[E, C]`` tensor (one row per column of ``edge_index``)."""
    if not isinstance(edge_attr, torch.Tensor) or not edge_attr.is_floating_point():
        given = edge_attr.dtype if isinstance(edge_attr, torch.Tensor) else type(edge_attr).__name__
        raise TypeError(f"{name} must be a floating-point tensor [E, C], got {given}")
    if edge_attr.dim() != 2 or edge_attr.shape[0] != num_edges:
        raise ValueError(f"{name} must have one row per edge: expected [{num_edges}, C], got {list(edge_attr.shape)}")
    if channels is not None and edge_attr.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels: expected [{num_edges}, {channels}], "
                         f"got {list(edge_attr.shape)}")


def check_edge_weight(edge_weight: Any, num_edges: int, name: str = "edge_weight") -> None:
    """Raise unless ``edge_weight`` is a floating-point ``[E]`` tensor."""
    if not isinstance(edge_weight, torch.Tensor) or not edge_weight.is_floating_point():
        given = edge_weight.dtype if isinstance(edge_weight, torch.Tensor) else type(edge_weight).__name__
        raise TypeError(f"{name} must be a floating-point tensor [E], got {given}")
    if edge_weight.shape != (num_edges,):
        raise ValueError(f"{name} must hold one weight per edge: expected [{num_edges}], got {list(edge_weight.shape)}")


def repeated_edges(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Columns of ``edge_index`` that repeat an earlier column ``[R]`` (sorted; empty for a simple graph)."""
    keys = edge_index[1] * num_nodes + edge_index[0]
    order = torch.argsort(keys, stable=True)
    repeat = torch.zeros_like(keys, dtype=torch.bool)
    repeat[order[1:]] = keys[order[1:]] == keys[order[:-1]]
    return repeat.nonzero().flatten()


def prepare_edges(edge_index: torch.Tensor, num_nodes: int, *, self_loops: str = "keep", duplicates: str = "keep",
                  edge_attr: torch.Tensor | None = None, fill_value: float | str = "mean"
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Apply a layer's ``duplicates`` and ``self_loops`` policies (in that order) to an already checked edge list.

    Args:
        edge_index: ``[2, E]`` int64.
        num_nodes: N.
        self_loops: ``"keep"``, ``"add"``, ``"append"`` or ``"remove"`` (see the module docstring).
        duplicates: ``"keep"``, ``"merge"`` or ``"error"``.
        edge_attr: optional ``[E]`` weights or ``[E, C]`` features that travel with their edges.
        fill_value: the weight/features of an added self-loop: a number, or ``"mean"`` (the mean over the node's
            incoming edges, torch-geometric's convention; 0 for a node without any).

    Returns:
        ``(edge_index', edge_attr')``. With ``"keep"``/``"keep"`` the inputs are returned unchanged. ``"merge"``
        sorts the edges by (i, j); the layers aggregate order-independently, so only round-off depends on it.
    """
    check_choice(self_loops, SELF_LOOP_MODES, "self_loops")
    check_choice(duplicates, DUPLICATE_MODES, "duplicates")
    if duplicates == "error" and checking() and edge_index.numel():
        repeated = repeated_edges(edge_index, num_nodes)
        if repeated.numel():
            j, i = edge_index[:, repeated[0]].tolist()
            raise ValueError(f"duplicates='error', but edge_index repeats {repeated.numel()} edge(s), e.g. {j} → {i} "
                             f"(column {int(repeated[0])}); pass duplicates='keep' (multigraph) or 'merge'")
    elif duplicates == "merge":
        if edge_attr is None:
            edge_index = coalesce(edge_index, num_nodes=num_nodes, sort_by_row=False)
        else:
            edge_index, edge_attr = coalesce(edge_index, edge_attr, num_nodes=num_nodes, reduce="mean", sort_by_row=False)
    if self_loops == "add":
        edge_index, edge_attr = add_remaining_self_loops(edge_index, edge_attr, fill_value=fill_value, num_nodes=num_nodes)
    elif self_loops == "append":
        edge_index, edge_attr = add_self_loops(edge_index, edge_attr, fill_value=fill_value, num_nodes=num_nodes)
    elif self_loops == "remove":
        edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
    return edge_index, edge_attr
