"""Attention graphs: which token attends to which (book §5.4, eq. 36).

A Transformer layer is an attentional GNN; the choice of attention pattern is
the choice of a graph. Every builder returns an ``edge_index`` ``[2, E]``
(int64) whose column ``(j, i)`` is the edge j → i: node i *receives* a message
from node j (query i attends to key j), the torch-geometric "source to target"
convention. Columns are sorted by target, then source, and built in O(E) time
and memory with no Python loop over nodes or edges, so attention on a sparse
pattern costs O(E) instead of O(N²).

=====================  ===========================================  ==============
builder                receivers i get messages from j ∈ …          edges E
=====================  ===========================================  ==============
complete_graph         {0, …, N−1} (self-loops included)            N²
causal_graph           {0, …, i}                                    N(N+1)/2
window_graph           {i − r, …, i + r} (causal: {i − r, …, i})    ≈ N(2r+1)
dilated_graph          {i + k·s : |k| ≤ r} (causal: −r ≤ k ≤ 0)    ≈ N(2r+1)
global_window_graph    window ∪ global tokens (which see everything) ≈ N(2r+1+2g)
=====================  ===========================================  ==============

Dense boolean masks convert both ways (:func:`to_attention_mask`,
:func:`from_attention_mask`) with the convention of
``torch.nn.functional.scaled_dot_product_attention``: ``mask[i, j] = True``
means query i may attend to key j.
"""

from __future__ import annotations

import torch

from gdl.core.checks import check_edge_index, check_int

__all__ = ["complete_graph", "causal_graph", "window_graph", "dilated_graph", "global_window_graph",
           "to_attention_mask", "from_attention_mask", "is_causal", "graph_structure"]


def _offset_graph(num_nodes: int, offsets: torch.Tensor, device) -> torch.Tensor:
    """Edges (i + o) → i for every node i and offset o that stays inside 0 … N−1, sorted by (target, source)."""
    targets = torch.arange(num_nodes, device=device).unsqueeze(1)
    sources = targets + offsets.to(device).unsqueeze(0)
    inside = (sources >= 0) & (sources < num_nodes)
    return torch.stack([sources[inside], targets.expand_as(sources)[inside]])


def complete_graph(num_nodes: int, self_loops: bool = True, device=None, num_graphs: int = 1) -> torch.Tensor:
    """Every node receives from every node: the graph of full (bidirectional) attention, or of an N-body system.

    Args:
        num_nodes: N.
        self_loops: include i → i (a Transformer attends to its own token; default).
        device: where to build the tensor.
        num_graphs: G disjoint copies, nodes g·N … g·N + N − 1 in copy g (a torch-geometric batch of G graphs).

    Returns:
        ``edge_index`` ``[2, G·N²]`` (``[2, G·N(N−1)]`` without self-loops), sorted by (graph, target, source).
    """
    n = check_int(num_nodes, "num_nodes", 1)
    graphs = check_int(num_graphs, "num_graphs", 1)
    targets = torch.arange(n, device=device).repeat_interleave(n)
    sources = torch.arange(n, device=device).repeat(n)
    edge_index = torch.stack([sources, targets])
    if not self_loops:
        edge_index = edge_index[:, sources != targets]
    if graphs == 1:
        return edge_index
    offsets = n * torch.arange(graphs, device=device)
    return (edge_index.unsqueeze(1) + offsets.view(1, -1, 1)).reshape(2, -1)


def causal_graph(num_nodes: int, device=None) -> torch.Tensor:
    """Node i receives from every j ≤ i: the graph of a decoder's masked (causal) self-attention.

    Returns:
        ``edge_index`` ``[2, N(N+1)/2]``.
    """
    n = check_int(num_nodes, "num_nodes", 1)
    targets, sources = torch.tril_indices(n, n, device=device)
    return torch.stack([sources, targets])


def window_graph(num_nodes: int, radius: int, causal: bool = False, device=None) -> torch.Tensor:
    """Local (sliding-window) attention: i receives from j with |i − j| ≤ radius (causal: i − radius ≤ j ≤ i).

    Each query sees at most ``2·radius + 1`` keys (causal: ``radius + 1``), so E ≈ N(2r + 1) grows linearly in N.

    Returns:
        ``edge_index`` ``[2, E]``.

    Example:
        >>> window_graph(4, 1)  # row 0: senders j, row 1: receivers i
        tensor([[0, 1, 0, 1, 2, 1, 2, 3, 2, 3],
                [0, 0, 1, 1, 1, 2, 2, 2, 3, 3]])
    """
    n = check_int(num_nodes, "num_nodes", 1)
    r = check_int(radius, "radius", 0)
    return _offset_graph(n, torch.arange(-r, 1 if causal else r + 1), device)


def dilated_graph(num_nodes: int, radius: int, dilation: int, causal: bool = False, device=None) -> torch.Tensor:
    """Dilated (strided) window: i receives from i + k·dilation for −radius ≤ k ≤ radius (causal: k ≤ 0).

    The receptive field grows to ``radius · dilation`` on each side at the cost of a window of ``2·radius + 1``.

    Returns:
        ``edge_index`` ``[2, E]``.
    """
    n = check_int(num_nodes, "num_nodes", 1)
    r = check_int(radius, "radius", 0)
    s = check_int(dilation, "dilation", 1)
    return _offset_graph(n, torch.arange(-r, 1 if causal else r + 1) * s, device)


def global_window_graph(num_nodes: int, radius: int, global_nodes, causal: bool = False, device=None) -> torch.Tensor:
    """Sliding window plus global tokens (Longformer / BigBird style).

    Global tokens receive from every node and every node receives from them; all other pairs follow the window
    ``|i − j| ≤ radius``. With ``causal`` only edges j → i with j ≤ i are kept. No edge appears twice.

    Args:
        num_nodes: N.
        radius: the window radius r.
        global_nodes: an int g (the first g nodes are global) or a sequence/tensor of node ids.
        causal: keep only edges from the past (and the node itself).

    Returns:
        ``edge_index`` ``[2, E]`` with E ≤ N(2r + 1) + 2·g·N.
    """
    n = check_int(num_nodes, "num_nodes", 1)
    r = check_int(radius, "radius", 0)
    if isinstance(global_nodes, int):  # a count (bools are refused by check_int), else node ids
        if check_int(global_nodes, "the number of global nodes", 0) > n:
            raise ValueError(f"the number of global nodes must be in 0..{n}, got {global_nodes}")
        ids = torch.arange(global_nodes, device=device)
    else:
        ids = torch.as_tensor(global_nodes, dtype=torch.long, device=device).reshape(-1)
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= n):
            raise ValueError(f"global node ids must lie in 0..{n - 1}, got {ids.tolist()}")
    is_global = torch.zeros(n, dtype=torch.bool, device=device)
    is_global[ids] = True
    glob = is_global.nonzero().squeeze(1)
    local = (~is_global).nonzero().squeeze(1)
    window = window_graph(n, r, causal=causal, device=device)
    # window edges between two local nodes; every edge touching a global node is added once below
    window = window[:, ~(is_global[window[0]] | is_global[window[1]])]
    into_global = torch.stack([torch.arange(n, device=device).repeat(len(glob)), glob.repeat_interleave(n)])
    from_global = torch.stack([glob.repeat(len(local)), local.repeat_interleave(len(glob))])
    edge_index = torch.cat([window, into_global, from_global], dim=1)
    if causal:
        edge_index = edge_index[:, edge_index[0] <= edge_index[1]]
    order = torch.argsort(edge_index[1] * n + edge_index[0])
    return edge_index[:, order]


def to_attention_mask(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """The dense boolean mask ``[N, N]`` of a graph: ``mask[i, j]`` is True when the edge j → i exists.

    This is the ``attn_mask`` convention of ``scaled_dot_product_attention``; ``torch.nn.MultiheadAttention``
    and ``nn.TransformerEncoderLayer`` use the opposite one (True = *not* allowed): pass ``~mask`` there.
    """
    check_edge_index(edge_index, check_int(num_nodes, "num_nodes", 1))
    mask = torch.zeros(num_nodes, num_nodes, dtype=torch.bool, device=edge_index.device)
    mask[edge_index[1], edge_index[0]] = True
    return mask


def from_attention_mask(mask: torch.Tensor) -> torch.Tensor:
    """The graph of a boolean attention mask ``[N, N]`` (True at [i, j]: i attends to j), as ``edge_index``."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"an attention mask must be a boolean tensor [N, N], got "
                        f"{mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__}")
    if mask.dim() != 2 or mask.shape[0] != mask.shape[1]:
        raise ValueError(f"an attention mask must be square [N, N], got shape {list(mask.shape)}")
    targets, sources = mask.nonzero(as_tuple=True)
    return torch.stack([sources, targets])


def is_causal(edge_index: torch.Tensor) -> bool:
    """Whether every edge j → i has j ≤ i (no token receives from the future)."""
    return bool((edge_index[0] <= edge_index[1]).all())


def graph_structure(edge_index: torch.Tensor, num_nodes: int) -> str | None:
    """``"complete"`` or ``"causal"`` when ``edge_index`` is exactly that graph (any edge order), else ``None``.

    Costs O(1) for graphs with another number of edges and O(E) otherwise (a bincount of the edge keys
    ``i·N + j``, which detects duplicate and missing edges).
    """
    n, num_edges = num_nodes, edge_index.shape[1]
    if num_edges == n * n:
        candidate = "complete"
    elif num_edges == n * (n + 1) // 2:
        candidate = "causal"
    else:
        return None
    if candidate == "causal" and not is_causal(edge_index):
        return None
    counts = torch.bincount(edge_index[1] * n + edge_index[0], minlength=n * n)
    # E distinct edges inside a set of exactly E admissible edges: the graph is that set
    return candidate if int(counts.max()) <= 1 else None
