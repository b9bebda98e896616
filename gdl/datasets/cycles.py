"""Graphs made of cycles of different lengths: a node task that needs positional or structural encodings.

Every graph has N nodes split into disjoint cycles C_{L_1}, …, C_{L_c} (lengths from ``lengths``, at least two
different lengths per graph) with the nodes listed in random order; every node has the feature 1 and the label of
its cycle's length (its index in ``lengths``). Deterministic from the seed (a ``torch.Generator``).

Why the task needs encodings (book §5.4):

* every node has degree 2 and the same feature, so 1-WL colour refinement gives all nodes of all graphs one colour:
  every message-passing GNN (GCN, GAT, GIN, …) computes the same output at every node. A Transformer without
  positional encodings, attending over the complete graph of each graph, sees N equal tokens and does the same.
  Both predict one class for every node: their accuracy is at most the largest class share;
* within one graph, nodes with equal degree, equal features and the same graph (so the same multiset of features)
  have different labels: no function of the degree or of the multiset decides the label;
* random-walk encodings decide it exactly: on C_L the return probability (P^t)_ii of the walk P = D^{−1}A equals
  that of the infinite path for t < L and differs at t = L (two more closed walks, around the cycle), so
  ``walk_length ≥ max(lengths)`` steps determine L; they are exactly permutation-equivariant;
* Laplacian eigenvectors see it only through an ambiguous basis: the spectrum of the graph is the union of its cycles'
  spectra 1 − cos(2πm/L) (normalised Laplacian), the eigenvalue 0 has one eigenvector per cycle and every other
  eigenvalue of a cycle is double (a sine and a cosine). The k computed eigenvectors are therefore fixed only up to a
  rotation inside each eigenspace, not just up to a sign; random sign flips in training (:class:`gdl.graphs.LaplacianPE`)
  teach invariance to the signs, not to those rotations.

Every :class:`torch_geometric.data.Data` holds ``x [N, 1]`` (ones), ``edge_index [2, 2N]`` (both directions),
``y [N]`` (index of the cycle length), ``cycle_length [N]``, ``cycle [N]`` (which cycle of its graph),
``lap_pe [N, pe_dim]`` (:func:`gdl.graphs.laplacian_eigenvectors` of the whole graph, normalised Laplacian, canonical
signs) and ``rw_pe [N, walk_length]`` (:func:`gdl.graphs.random_walk_encoding`).

Example:
    >>> graphs = cycle_union_graphs(2, num_nodes=12, lengths=(3, 4, 5), seed=0)
    >>> [int(g.num_nodes) for g in graphs], graphs[0].lap_pe.shape, graphs[0].rw_pe.shape
    ([12, 12], torch.Size([12, 8]), torch.Size([12, 8]))
    >>> len(set(graphs[0].cycle_length.tolist())) >= 2  # every graph mixes cycle lengths
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from gdl.core import check_int

if TYPE_CHECKING:  # torch-geometric loads when the generator runs, not when the module is imported
    from torch_geometric.data import Data

__all__ = ["cycle_union_graphs", "CYCLE_LENGTHS", "cycle_partition"]

#: the default cycle lengths (six classes; a random walk of 8 steps tells them apart)
CYCLE_LENGTHS = (3, 4, 5, 6, 7, 8)


def _reachable(total: int, lengths: Sequence[int]) -> list[bool]:
    """``reachable[r]``: r nodes can be split into cycles of the given lengths (r = 0 included)."""
    reachable = [True] + [False] * total
    for r in range(1, total + 1):
        reachable[r] = any(length <= r and reachable[r - length] for length in lengths)
    return reachable


def cycle_partition(num_nodes: int, lengths: Sequence[int], generator: torch.Generator) -> list[int]:
    """Random cycle lengths from ``lengths`` summing to ``num_nodes``, at least two of them different.

    Each length is drawn uniformly among those that leave a remainder that can still be split (redrawn as a whole
    while all lengths coincide).
    """
    reachable = _reachable(num_nodes, lengths)
    while True:
        parts, remaining = [], num_nodes
        while remaining:
            allowed = [length for length in lengths if length <= remaining and reachable[remaining - length]]
            choice = allowed[int(torch.randint(len(allowed), (1,), generator=generator))]
            parts.append(choice)
            remaining -= choice
        if len(set(parts)) > 1:
            return parts


def cycle_union_graphs(num_graphs: int, num_nodes: int = 24, lengths: Sequence[int] = CYCLE_LENGTHS, *,
                       pe_dim: int = 8, walk_length: int = 8, seed: int = 0) -> list[Data]:
    """``num_graphs`` graphs of ``num_nodes`` nodes, each a disjoint union of cycles; label = the node's cycle length.

    Args:
        num_graphs: how many graphs.
        num_nodes: N of every graph (all graphs have the same size, so a batch of them attends densely).
        lengths: the allowed cycle lengths (distinct, ≥ 3; at least two, and N must be a sum of them with two
            different terms); the label of a node is the index of its cycle's length here.
        pe_dim: number of Laplacian eigenvectors in ``lap_pe``.
        walk_length: number of random-walk steps in ``rw_pe`` (≥ ``max(lengths)`` to decide every length).
        seed: seeds the partitions and the node orders.

    Returns:
        a list of ``Data`` (see the module docstring for the fields).
    """
    from torch_geometric.data import Data

    from gdl.graphs.positional import laplacian_eigenvectors, random_walk_encoding

    check_int(num_graphs, "num_graphs")
    n = check_int(num_nodes, "num_nodes")
    lengths = tuple(lengths)
    if len(set(lengths)) != len(lengths) or len(lengths) < 2 or any(check_int(length, "cycle length") < 3
                                                                      for length in lengths):
        raise ValueError(f"lengths must be at least two distinct cycle lengths ≥ 3, got {lengths}")
    reachable = _reachable(n, lengths)
    if not any(a != b and a + b <= n and reachable[n - a - b] for a in lengths for b in lengths):
        raise ValueError(f"{n} nodes cannot be split into cycles of lengths {lengths} with two different lengths")
    generator = torch.Generator().manual_seed(seed)
    graphs = []
    for _ in range(num_graphs):
        parts = cycle_partition(n, lengths, generator)
        order = torch.randperm(n, generator=generator)  # node k of the listed cycles is node order[k] of the graph
        starts = torch.cumsum(torch.tensor([0] + parts[:-1]), 0)
        position = torch.cat([torch.arange(length) for length in parts])
        which = torch.cat([torch.full((length,), c) for c, length in enumerate(parts)])
        size = torch.tensor(parts)[which]
        successor = starts[which] + (position + 1) % size  # the next node around the same cycle
        edges = torch.stack([torch.arange(n), successor])
        edge_index = order[torch.cat([edges, edges.flip(0)], dim=1)]
        label = torch.tensor([lengths.index(length) for length in parts])[which]
        y, cycle_length, cycle = (torch.empty_like(t) for t in (label, size, which))
        y[order], cycle_length[order], cycle[order] = label, size, which
        _, lap_pe = laplacian_eigenvectors(edge_index, n, pe_dim)
        graphs.append(Data(x=torch.ones(n, 1), edge_index=edge_index, y=y, cycle_length=cycle_length, cycle=cycle,
                           lap_pe=lap_pe, rw_pe=random_walk_encoding(edge_index, n, walk_length), num_nodes=n))
    return graphs
