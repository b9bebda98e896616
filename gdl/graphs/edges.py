"""Edge clean-up of every graph layer in gdl.graphs: self-loop and duplicate-edge policies.

Self-loops and repeated edges change what a layer computes (a node hearing itself, a neighbour heard twice), so
every layer takes them as explicit arguments:

* ``self_loops``: ``"keep"`` (use the graph as given), ``"add"`` (exactly one loop per node afterwards: an existing
  loop is kept, a missing one is added; torch-geometric's ``add_remaining_self_loops``), ``"append"`` (one more loop
  per node, existing ones kept: the same as ``"add"`` on a graph without loops, and free of data-dependent shapes, so
  ``torch.compile`` traces it as one graph), ``"remove"`` (none);
* ``duplicates``: ``"keep"`` (a multigraph: a repeated edge sends its message once per copy), ``"merge"`` (one
  edge per (j, i); the edge features or weights of the copies are averaged), ``"error"`` (raise ``ValueError``).

The input checks themselves live in :mod:`gdl.core.checks`.
"""

from __future__ import annotations

import torch
from torch_geometric.utils import add_remaining_self_loops, add_self_loops, coalesce, remove_self_loops

from gdl.core.checks import check_edge_policy, checking, repeated_edges

__all__ = ["prepare_edges"]


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
    check_edge_policy(self_loops, duplicates)
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
