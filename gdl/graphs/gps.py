"""GPS: a local message-passing flavour and global attention, summed, then the feed-forward block (book §5.4).

Rampášek et al. 2022 ("Recipe for a General, Powerful, Scalable Graph Transformer", https://arxiv.org/abs/2205.12454)
combine in every layer a message-passing GNN on the graph's edges with a Transformer's attention over *all* nodes of
each graph. With post-norm (the default; ``norm_first=True`` for pre-norm)

.. math::
    h = \\mathrm{LN}_1\\big(x + \\mathrm{Local}(x, E) + \\mathrm{Global}(x)\\big), \\qquad
    y = \\mathrm{LN}_2\\big(h + W_2\\, σ(W_1 h + b_1) + b_2\\big)

where Local is one of the GNN flavours of :mod:`gdl.graphs.flavours` (book eqs. 33–35; chosen by name, ``"gcn"``,
``"gat"``, ``"gatv2"``, ``"gin"``, ``"message_passing"``, or ``None`` for none) on the edges E, and
:math:`\\mathrm{Global}(x)_i = W_O ⊕_\\text{heads} Σ_{j ∈ G(i)} α_{ij} v_j + b_O` is the multi-head attention of
:class:`~gdl.graphs.TransformerGNNLayer` over the complete graph of the graph G(i) that node i belongs to (book eq. 36).
The paper's layer norms each branch before the sum and uses batch norm; here one layer norm acts after the sum
(``h = x + local + global``, as in the issue that asked for the layer), per node, so the layer is exactly
S_N-equivariant whatever else is in the batch.

The global branch, the two norms and the feed-forward block *are* a :class:`~gdl.graphs.TransformerGNNLayer`
(``layer.transformer``): with ``local=None`` the layer computes exactly that layer on the complete graph of every
graph of the batch (``nn.TransformerEncoderLayer`` per graph, tested). Its attention takes the transformer's paths
(``path="auto"``): one graph (``batch=None``) or a batch of graphs of equal size listed graph by graph (a
torch-geometric batch of equal graphs) is reshaped to ``[B, n, C]`` and attends densely (SDPA); any other batch
attends over the block-diagonal complete graph built from ``batch`` (the fused sparse path with a backward, or
message passing while dropout on α is active). Reading the batch layout costs one host read of ``batch``.

Without positional encodings the global branch sees a set: on a graph whose nodes all look alike (equal features,
equal degree) it gives every node the same output, and so does every message-passing flavour that 1-WL cannot
break. :class:`GPS` therefore takes positional or structural encodings beside x (Laplacian eigenvectors with random
sign flips in training, :class:`~gdl.graphs.LaplacianPE`, or random-walk return probabilities,
:func:`~gdl.graphs.random_walk_encoding`), added to the node embedding.

Example:
    >>> import torch
    >>> layer = GPSLayer(8, 2, local="gcn").eval()
    >>> x = torch.randn(5, 8)
    >>> ring = torch.tensor([[0, 1, 2, 3, 4, 1, 2, 3, 4, 0], [1, 2, 3, 4, 0, 0, 1, 2, 3, 4]])
    >>> layer(x, ring).shape
    torch.Size([5, 8])
    >>> perm = torch.tensor([3, 0, 4, 1, 2])  # relabel the nodes: the output rows follow
    >>> bool((layer(x[perm], torch.argsort(perm)[ring]) - layer(x, ring)[perm]).abs().max() < 1e-5)
    True
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gdl.core import Blueprint, FieldType, TupleField, check_int, seeded
from gdl.core.checks import check_batch, check_choice, check_edge_index
from gdl.symmetries.geometric import AbsentField
from gdl.symmetries.permutations import EdgeIndexField, Permutations, SetField
from gdl.testing.fixtures import random_graph

from .attention import choose_sparse_path
from .base import GraphLayer, Nodewise, graph_bad_inputs
from .builders import complete_graph, graph_structure
from .expressivity import GINLayer
from .flavours import AttentionalLayer, ConvolutionalLayer, MessagePassingLayer
from .networks import NodeEmbedding
from .readout import BatchField
from .transformer import TransformerGNNLayer

__all__ = ["GPSLayer", "GPS", "LOCAL_FLAVOURS", "batch_complete_graph"]

#: the local message-passing flavours of :class:`GPSLayer`, by name (``None``: no local branch)
LOCAL_FLAVOURS = ("gcn", "gat", "gatv2", "gin", "message_passing", None)


def batch_complete_graph(batch: Tensor) -> Tensor:
    """The complete graph (self-loops included) of every graph of a batch: j → i whenever ``batch[j] == batch[i]``.

    Nodes may be listed in any order (a relabelled batch); the edges are sorted by (graph, target, source) of the
    nodes sorted by graph.

    Shapes:
        batch ``[N]`` (int64 graph ids) → edge_index ``[2, Σ_g n_g²]``.

    Example:
        >>> batch_complete_graph(torch.tensor([0, 1, 0])).tolist()
        [[0, 2, 0, 2, 1], [0, 0, 2, 2, 1]]
    """
    order = torch.argsort(batch, stable=True)  # nodes graph by graph
    counts = torch.bincount(batch)
    starts = torch.cumsum(counts, 0) - counts
    size = counts[batch[order]]  # the size of each (sorted) node's graph: its number of incoming edges
    targets = torch.arange(batch.numel(), device=batch.device).repeat_interleave(size)
    first_edge = torch.cumsum(size, 0) - size
    within = torch.arange(targets.numel(), device=batch.device) - first_edge.repeat_interleave(size)
    sources = starts[batch[order]].repeat_interleave(size) + within
    return order[torch.stack([sources, targets])]


def _equal_sorted_graphs(batch: Tensor) -> int | None:
    """The common size n of the graphs when ``batch`` lists them one after the other and all have n nodes (``batch ==
    arange(N) // n``), else ``None``. Reads ``batch`` twice (its last id, then the comparison): host syncs."""
    total = batch.numel()
    graphs = int(batch[-1]) + 1 if total else 0
    if graphs <= 0 or total % graphs:
        return None
    size = total // graphs
    return size if torch.equal(batch, torch.arange(total, device=batch.device) // size) else None


class GPSLayer(GraphLayer):
    """A GPS layer (Rampášek et al. 2022): a local GNN flavour plus global attention, summed, then feed-forward.

    Post-norm (default)::

        h = LayerNorm₁(x + Local(x, edge_index) + Global(x, batch)),   y = LayerNorm₂(h + W₂ σ(W₁ h + b₁) + b₂)

    pre-norm (``norm_first=True``)::

        u = LayerNorm₁(x),   h = x + Local(u, edge_index) + Global(u, batch),   y = h + W₂ σ(W₁ LayerNorm₂(h) + b₁) + b₂

    Global is the attention of :class:`~gdl.graphs.TransformerGNNLayer` over the complete graph of each graph of the
    batch (see the module docstring for the paths); ``self.transformer`` holds its projections, both norms and the
    feed-forward block, so ``local=None`` gives exactly that layer. Dropout (training only) acts on both branches, on
    α where the path allows (message passing or dense) and in the feed-forward block, as in the transformer.

    Args:
        d_model: the width C of x and y.
        nhead: attention heads (C divisible by it; also the heads of a ``"gat"``/``"gatv2"`` local branch, each C / H
            wide and concatenated).
        local: the local flavour, one of :data:`LOCAL_FLAVOURS`: ``"gcn"`` (:class:`~gdl.graphs.ConvolutionalLayer`,
            GCN normalisation with self-loops), ``"gat"``/``"gatv2"`` (:class:`~gdl.graphs.AttentionalLayer`),
            ``"gin"`` (:class:`~gdl.graphs.GINLayer`, sum), ``"message_passing"``
            (:class:`~gdl.graphs.MessagePassingLayer`) or ``None``.
        dim_feedforward: hidden width of the feed-forward block (default 2 C).
        dropout: dropout probability (training mode only).
        activation: σ of the feed-forward block, ``"relu"``, ``"gelu"`` or a callable.
        layer_norm_eps: ε of both layer norms.
        norm_first: pre-norm instead of post-norm.
        path: the global attention's path, one of :data:`~gdl.graphs.transformer.PATHS` (default ``"auto"``).
        local_options: keyword arguments of the local flavour (``self_loops``, ``aggr``, …).

    N is read from x; the layer runs on any number of nodes and any batch of graphs.

    Shapes:
        x ``[N, C]``, edge_index ``[2, E]``, batch ``[N]`` (optional; ``None``: one graph) → ``[N, C]``.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None
    context_keys = ("edge_index", "batch")
    #: measured on the example (GAT local branch, a batch in mixed order): the batch layout is read from ``batch``
    #: (two value reads: equal graphs in order attend densely), the block-diagonal attention graph built from it has
    #: data-dependent sizes (``bincount``, ``repeat_interleave``), and GAT's ``self_loops="add"`` selects edges by
    #: value; each break also splits the calling frames
    expected_graph_breaks = 14

    def __init__(self, d_model: int, nhead: int, local: str | None = "gcn", dim_feedforward: int | None = None,
                 dropout: float = 0.0, activation: str | Callable[[Tensor], Tensor] = "relu",
                 layer_norm_eps: float = 1e-5, norm_first: bool = False, path: str = "auto",
                 local_options: dict[str, Any] | None = None):
        super().__init__()
        self.local_name = check_choice(local, LOCAL_FLAVOURS, "local")
        dim_feedforward = 2 * check_int(d_model, "d_model") if dim_feedforward is None else dim_feedforward
        self.transformer = TransformerGNNLayer(d_model, nhead, dim_feedforward, dropout=dropout, activation=activation,
                                               layer_norm_eps=layer_norm_eps, norm_first=norm_first, path=path)
        self.d_model, self.nhead, self.dropout, self.norm_first = d_model, nhead, dropout, norm_first
        self.path = self.transformer.path
        self.local_options = dict(local_options or {})
        self.local = self._build_local(self.local_name, d_model, nhead, self.local_options)

    @staticmethod
    def _build_local(name: str | None, width: int, heads: int, options: dict[str, Any]) -> nn.Module | None:
        if name is None:
            if options:
                raise ValueError(f"local=None has no local branch to pass options to, got local_options={options}")
            return None
        if name == "gcn":
            return ConvolutionalLayer(width, width, **options)
        if name in ("gat", "gatv2"):
            return AttentionalLayer(width, width // heads, heads, concat=True, score=name, **options)
        if name == "gin":
            return GINLayer(width, width, width, **options)
        return MessagePassingLayer(width, width, width, **options)

    # -- field types -------------------------------------------------------------------------------------------
    def field_types(self, x: Tensor, edge_index: Tensor, *batch: Tensor | None) -> tuple[FieldType, FieldType]:
        """``(x [N, C], edge_index, batch)`` as ``TupleField((SetField(S_N, C), EdgeIndexField, BatchField))`` (a
        ``batch`` given as ``None`` as :class:`~gdl.symmetries.geometric.AbsentField`; ``(x, edge_index)`` alone as
        the first two) → ``SetField(S_N, C)``."""
        group = Permutations(self._count_nodes(x, self.d_model))
        features = SetField(group, self.d_model)
        parts: tuple[FieldType, ...] = (features, EdgeIndexField(group))
        if batch:
            parts += (BatchField(group) if batch[0] is not None else AbsentField(group, "batch"),)
        return TupleField(parts), features

    # -- forward ---------------------------------------------------------------------------------------------
    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None) -> Tensor:
        """Apply the layer; ``batch`` names the graph of every node (``None``: all nodes form one graph)."""
        num_nodes = self._count_nodes(x, self.d_model)
        check_edge_index(edge_index, num_nodes)
        if batch is not None:
            check_batch(batch, num_nodes)
        t = self.transformer
        if self.norm_first:
            u = t.norm1(x)
            h = x + self._local(u, edge_index) + self.global_attention(u, batch)
            return h + t._feedforward_block(t.norm2(h))
        h = t.norm1(x + self._local(x, edge_index) + self.global_attention(x, batch))
        return t.norm2(h + t._feedforward_block(h))

    def _local(self, x: Tensor, edge_index: Tensor) -> Tensor | float:
        if self.local is None:
            return 0.0
        return F.dropout(self.local(x, edge_index), p=self.dropout, training=self.training)

    def global_attention(self, x: Tensor, batch: Tensor | None = None) -> Tensor:
        """The global branch alone: ``TransformerGNNLayer``'s attention block (projections, heads, W_O, dropout)
        over the complete graph of every graph of the batch, ``[N, C]`` → ``[N, C]`` (x as the branch receives it:
        already normalised in pre-norm)."""
        num_nodes = x.shape[0]
        size = None if batch is None else _equal_sorted_graphs(batch)
        if batch is None or size is not None:  # one graph, or equal graphs listed in order: [B, n, C], complete
            h = x.reshape(-1 if batch is not None else 1, size or num_nodes, self.d_model)
            return self._attend(h, None).reshape(num_nodes, self.d_model)
        return self._attend(x.unsqueeze(0), batch_complete_graph(batch)).squeeze(0)

    def _attend(self, h: Tensor, graph: Tensor | None) -> Tensor:
        """``TransformerGNNLayer``'s path choice (as in its ``forward``) and attention block on ``h [B, n, C]``."""
        t, path, n = self.transformer, self.path, h.shape[1]
        if graph is None:
            if path in ("auto", "dense"):
                return t._attention_block(h, None, "dense", "complete")
            graph = complete_graph(n, device=h.device)
        structure = graph_structure(graph, n) if path in ("auto", "dense") else None
        if path == "dense" and structure is None:
            raise ValueError(f"path='dense' needs graphs of equal size listed one after the other (or one graph); "
                             f"the batch given has graphs of different sizes or in mixed order ({n} nodes, "
                             f"{graph.shape[1]} attention edges): use path='auto' or a sparse path")
        if structure is not None:
            path = "dense"
        dropping = self.training and self.dropout > 0
        if path == "auto":
            needs_grad = torch.is_grad_enabled() and (h.requires_grad or any(p.requires_grad for p in t.parameters()))
            path = choose_sparse_path(graph, n, needs_grad=needs_grad, attention_dropout=dropping, dtype=h.dtype,
                                      device=h.device)
        elif path in ("fused_sparse", "block_sparse") and dropping:
            raise ValueError(f"path={path!r} has no dropout on the attention weights, but the layer is in training mode "
                             f"with dropout={self.dropout}: use path='message_passing' (or 'auto'), eval mode, or "
                             "dropout=0")
        return t._attention_block(h, graph, path, structure)

    # -- contract ---------------------------------------------------------------------------------------------
    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        bad = super().bad_inputs(*inputs)
        bad["input 0: a vector instead of [N, C]"] = (inputs[0][0],) + inputs[1:]
        if len(inputs) == 3 and inputs[2] is not None:
            x, edge_index, batch = inputs
            negative = batch.clone()
            negative[-1] = -1
            bad["input 2: graph id -1"] = (x, edge_index, negative)
            bad["input 2: one id too many"] = (x, edge_index, torch.cat([batch, batch[:1]]))
            bad["input 2: float graph ids"] = (x, edge_index, batch.double())
        return bad

    def export(self) -> nn.Module:
        """The same layer in plain torch: the local flavour's export (torch-geometric's ``GCNConv``, ``GATConv``,
        ``GATv2Conv``, ``GINConv`` or a plain message-passing module), ``nn.MultiheadAttention`` with a block-diagonal
        mask from ``batch``, ``nn.LayerNorm`` and ``nn.Linear`` (copies of the parameters).

        Raises:
            NotImplementedError: the local flavour has no export in its configuration (the message says why).
        """
        local = None
        if self.local is not None:
            try:
                local = self.local.export()
            except NotImplementedError as error:
                raise NotImplementedError(f"GPSLayer.export() needs its local flavour's export: {error}") from error
        t = self.transformer
        weight = t.in_proj.weight
        attention = nn.MultiheadAttention(self.d_model, self.nhead, dropout=self.dropout, bias=t.in_proj.bias is not None,
                                          batch_first=True, device=weight.device, dtype=weight.dtype)
        attention.load_state_dict({"in_proj_weight": t.in_proj.weight, "in_proj_bias": t.in_proj.bias,
                                   "out_proj.weight": t.out_proj.weight, "out_proj.bias": t.out_proj.bias})
        return _PlainGPS(local, attention, copy.deepcopy(t.norm1), copy.deepcopy(t.norm2), copy.deepcopy(t.linear1),
                         copy.deepcopy(t.linear2), t.activation, self.dropout, self.norm_first).train(self.training)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["GPSLayer", tuple]:
        """GAT heads as the local branch, dropout 0.25 (off in eval mode), on a batch of two multigraphs of 5 and 4
        nodes listed in mixed order (the block-diagonal attention graph)."""
        with seeded(generator):
            layer = cls(8, 2, local="gat", dropout=0.25, activation="gelu")
        first, second = random_graph(5, 10, generator), random_graph(4, 6, generator)
        order = torch.randperm(9, generator=generator)  # node k of the union is node order[k] of the two graphs
        edge_index = torch.argsort(order)[torch.cat([first, second + 5], dim=1)]
        return layer, (torch.randn(9, 8, generator=generator), edge_index, (order >= 5).long())

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, nhead={self.nhead}, local={self.local_name}, norm_first={self.norm_first}, "
                f"dropout={self.dropout}, path={self.path}")


class _PlainGPS(nn.Module):
    """:class:`GPSLayer` in plain torch: ``forward(x, edge_index, batch=None)``."""

    def __init__(self, local: nn.Module | None, attention: nn.MultiheadAttention, norm1: nn.LayerNorm,
                 norm2: nn.LayerNorm, linear1: nn.Linear, linear2: nn.Linear, activation: Callable, dropout: float,
                 norm_first: bool):
        super().__init__()
        self.local, self.attention, self.norm1, self.norm2 = local, attention, norm1, norm2
        self.linear1, self.linear2, self.activation = linear1, linear2, activation
        self.dropout, self.norm_first = dropout, norm_first

    def _global(self, x: Tensor, batch: Tensor | None) -> Tensor:
        mask = None if batch is None else batch.unsqueeze(1) != batch.unsqueeze(0)  # True: may not attend
        out = self.attention(x.unsqueeze(0), x.unsqueeze(0), x.unsqueeze(0), attn_mask=mask, need_weights=False)[0]
        return F.dropout(out.squeeze(0), p=self.dropout, training=self.training)

    def _branches(self, x: Tensor, edge_index: Tensor, batch: Tensor | None) -> Tensor:
        local = 0.0 if self.local is None else F.dropout(self.local(x, edge_index), p=self.dropout,
                                                         training=self.training)
        return local + self._global(x, batch)

    def _feedforward(self, h: Tensor) -> Tensor:
        hidden = F.dropout(self.activation(self.linear1(h)), p=self.dropout, training=self.training)
        return F.dropout(self.linear2(hidden), p=self.dropout, training=self.training)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None) -> Tensor:
        if self.norm_first:
            h = x + self._branches(self.norm1(x), edge_index, batch)
            return h + self._feedforward(self.norm2(h))
        h = self.norm1(x + self._branches(x, edge_index, batch))
        return self.norm2(h + self._feedforward(h))


class GPS(Blueprint):
    r"""A GPS node model: embedding (+ positional encodings) → L :class:`GPSLayer` → LayerNorm → Linear.

    .. math::
        h^{(0)} = W x + b\,(+\,W_{pe}\,(s ⊙ p)),\qquad h^{(l)} = \mathrm{GPS}_l(h^{(l-1)}, E, \text{batch}),\qquad
        y = W_o\,\mathrm{LN}(h^{(L)}) + b_o

    p is a positional or structural encoding per node ``[N, pe_dim]`` given beside x: Laplacian eigenvectors, whose
    signs s are flipped at random in training (``sign_flip=True``; the basis of a repeated eigenvalue is not fixed by
    that), or random-walk return probabilities (``sign_flip=False``; no ambiguity). A
    :class:`~gdl.core.Blueprint` with context ``("edge_index", "batch")``; S_N-equivariant given p as node features.
    With ``local=None`` it is a graph Transformer attending within every graph of the batch.

    Args:
        in_channels: C_in.
        out_channels: C_out (e.g. the number of classes).
        width: d_model.
        nhead: attention heads.
        num_layers: L.
        local: the local flavour of every layer (:data:`LOCAL_FLAVOURS`).
        pe_dim: width of p (0: none; the signal is then x alone).
        sign_flip: random sign flips of p in training (for eigenvectors).
        layer_options: keyword arguments of every :class:`GPSLayer` (``dropout``, ``norm_first``, ``local_options``…).

    Shapes:
        x ``[N, C_in]`` (and p ``[N, pe_dim]``), edge_index ``[2, E]``, batch ``[N]`` (optional) → ``[N, C_out]``.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None
    #: measured on the example (two layers with GCN's ``self_loops="add"``, equal graphs listed in order): the two
    #: reads of the batch layout and GCN's selection of edges by value, in each layer and the blueprint's frames
    expected_graph_breaks = 11

    def __init__(self, in_channels: int, out_channels: int, width: int = 16, nhead: int = 4, num_layers: int = 2, *,
                 local: str | None = "gcn", pe_dim: int = 0, sign_flip: bool = True, **layer_options: Any):
        embedding = NodeEmbedding(in_channels, width, pe_dim, sign_flip)
        layers = [GPSLayer(width, nhead, local, **layer_options) for _ in range(check_int(num_layers, "num_layers"))]
        head = Nodewise(nn.Sequential(nn.LayerNorm(width), nn.Linear(width, out_channels)), width, out_channels)
        super().__init__(embedding, *layers, head, context=("edge_index", "batch"))
        self.pe_dim, self.local_name = pe_dim, local

    def _complete(self, inputs: tuple) -> tuple[tuple, bool]:
        """The inputs with ``batch=None`` appended when it was left out, and whether it was."""
        signal = 2 if self.pe_dim else 1
        if len(inputs) == signal + 1:
            return inputs + (None,), True
        if len(inputs) != signal + 2:
            expected = "(x, p, edge_index[, batch])" if self.pe_dim else "(x, edge_index[, batch])"
            raise TypeError(f"GPS(pe_dim={self.pe_dim}) takes {expected}, got {len(inputs)} inputs")
        return inputs, inputs[-1] is None

    def forward(self, *inputs: Any) -> Tensor:
        """``net(x, edge_index[, batch])``, or ``net(x, p, edge_index[, batch])`` with ``pe_dim > 0``."""
        return super().forward(*self._complete(inputs)[0])

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        inputs, absent = self._complete(inputs)
        in_type, out_type = super().field_types(*inputs)
        return (TupleField(in_type.fields[:-1]) if absent else in_type), out_type

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        bad = graph_bad_inputs(super().bad_inputs(*inputs), inputs)
        batch = inputs[-1]
        if isinstance(batch, Tensor) and len(inputs) == (2 if self.pe_dim else 1) + 2:
            negative = batch.clone()
            negative[-1] = -1
            bad[f"input {len(inputs) - 1}: graph id -1"] = inputs[:-1] + (negative,)
            bad[f"input {len(inputs) - 1}: one id too few"] = inputs[:-1] + (batch[1:],)
        if self.pe_dim:
            bad["input 1: one eigenvector too many"] = (inputs[0], torch.cat([inputs[1], inputs[1][:, :1]], 1)) + \
                inputs[2:]
        return bad

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["GPS", tuple]:
        """Two pre-norm GPS layers (GCN local branch) with 3 Laplacian eigenvectors, on a batch of two 6-node cycles
        listed graph by graph (the dense attention path; relabelled by the harness: the block-diagonal one)."""
        from .positional import laplacian_eigenvectors

        with seeded(generator):
            net = cls(3, 2, width=8, nhead=2, local="gcn", pe_dim=3, norm_first=True)
        ring = torch.stack([torch.arange(6), (torch.arange(6) + 1) % 6])
        ring = torch.cat([ring, ring.flip(0)], dim=1)
        _, vectors = laplacian_eigenvectors(ring, 6, 3)
        edge_index = torch.cat([ring, ring + 6], dim=1)
        return net, (torch.randn(12, 3, generator=generator), torch.cat([vectors, vectors]), edge_index,
                     torch.arange(2).repeat_interleave(6))

    def extra_repr(self) -> str:
        return f"local={self.local_name}, pe_dim={self.pe_dim}, " + super().extra_repr()
