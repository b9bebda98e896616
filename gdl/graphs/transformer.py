"""The Transformer layer as an attentional GNN (book §5.4, eq. 36).

A Transformer encoder layer on N tokens is a graph neural network on a graph
with N nodes: node i receives one message from every node j with an edge
j → i, and the message is the value v_j weighted by a softmax of dot products,

    α_ij = softmax_{j ∈ N(i)} ( ⟨q_i, k_j⟩ / √d_h ),     q = W_Q x, k = W_K x, v = W_V x,
    h_i  = x_i ⊕ W_O ⊕_heads Σ_{j ∈ N(i)} α_ij v_j                         (book eq. 36)

(one softmax per receiving node and per head; ⊕_heads concatenates the heads).
On the complete graph with self-loops this is exactly PyTorch's
``nn.TransformerEncoderLayer`` (multi-head self-attention, residuals, layer
norms, position-wise feed-forward block); on the causal graph (j → i for j ≤ i)
it is the decoder's masked self-attention; on a sparse graph (a sliding window,
global tokens) it is sparse attention at cost O(E) instead of O(N²). The
layer treats every node alike, so without positional encodings it is
permutation-equivariant: order is what the graph (causal) or the positional
encodings (:mod:`gdl.graphs.positional`) bring back.

:class:`TransformerGNNLayer` converts both ways with ``nn.TransformerEncoderLayer``
(:meth:`~TransformerGNNLayer.from_torch`, :meth:`~TransformerGNNLayer.export`) and dispatches the complete and
the causal graph to ``torch.nn.functional.scaled_dot_product_attention``. :class:`TransformerGNN` stacks the
layers as a :class:`~gdl.core.Blueprint` whose context is the attention graph (``nn.TransformerEncoder`` as
message passing).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import softmax

from gdl.core import Blueprint, FieldType, TupleField, check_int, resolve_activation, seeded
from gdl.core.checks import check_choice, check_edge_index
from gdl.symmetries.geometric import AbsentField
from gdl.symmetries.permutations import EdgeIndexField, Permutations, SetField

from .attention import block_sparse_attention, choose_sparse_path, fused_sparse_attention
from .base import GraphLayer, graph_bad_inputs
from .builders import causal_graph, complete_graph, graph_structure

__all__ = ["TransformerGNNLayer", "TransformerGNN", "TransformerEncoderLayerOnGraph", "EdgeSoftmaxAttention", "PATHS"]

#: the values of ``path`` accepted by :meth:`TransformerGNNLayer.forward` (see :mod:`gdl.graphs.attention`)
PATHS = ("auto", "dense", "block_sparse", "fused_sparse", "message_passing")
#: the activations ``nn.TransformerEncoderLayer`` accepts by name (others are passed as callables)
TORCH_ACTIVATIONS = ("relu", "gelu")


class EdgeSoftmaxAttention(MessagePassing):
    """Multi-head dot-product attention as message passing over ``edge_index`` (no projections).

    .. math::
        α_{ij} = \\frac{\\exp(⟨q_i, k_j⟩ / \\sqrt{d_h})}{\\sum_{j' ∈ N(i)} \\exp(⟨q_i, k_{j'}⟩ / \\sqrt{d_h})},
        \\qquad o_i = \\sum_{j ∈ N(i)} α_{ij} v_j

    The softmax over each node's incoming edges is torch-geometric's ``softmax``
    (a scatter-max and a scatter-sum), the aggregation a scatter-sum. Node i
    with no incoming edge receives nothing: o_i = 0 (an empty sum).

    Nodes sit on axis 0 of ``[N, B, H, d_h]`` tensors (each gathered row holds
    all B · H · d_h features of a node contiguously), so a batch of sequences
    sharing one graph needs no disjoint union (a torch-geometric ``Batch`` of
    different graphs works too, with B = 1).

    Args:
        dropout: dropout on the coefficients α (training mode only).

    Shapes:
        query, key, value ``[N, B, H, d_h]``, edge_index ``[2, E]`` → ``[N, B, H, d_h]``;
        :meth:`coefficients` → α ``[E, B, H]``.
    """

    def __init__(self, dropout: float = 0.0):
        super().__init__(aggr="sum", node_dim=0)
        self.dropout = dropout

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """o_i = Σ_j α_ij v_j with dropout on α in training mode only (eval mode is deterministic)."""
        alpha = self.coefficients(query, key, edge_index)
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        return self.propagate(edge_index, value=value, alpha=alpha)

    def coefficients(self, query: torch.Tensor, key: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """The attention coefficients α_ij ``[E, B, H]`` of every edge (column e of ``edge_index``) and head."""
        return self.edge_updater(edge_index, query=query, key=key)

    def edge_update(self, query_i: torch.Tensor, key_j: torch.Tensor, index: torch.Tensor, ptr: torch.Tensor | None,
                    dim_size: int | None) -> torch.Tensor:
        logits = (query_i * key_j).sum(-1) / math.sqrt(query_i.shape[-1])
        return softmax(logits, index, ptr, dim_size, dim=0)

    def message(self, value_j: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return alpha.unsqueeze(-1) * value_j

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dropout={self.dropout})"


class TransformerGNNLayer(GraphLayer):
    """A Transformer encoder layer written as a graph neural network (book §5.4, eq. 36).

    Post-norm (``norm_first=False``, the original Transformer)::

        h = LayerNorm₁(x + Attention(x, G)),   y = LayerNorm₂(h + W₂ σ(W₁ h + b₁) + b₂)

    pre-norm (``norm_first=True``)::

        h = x + Attention(LayerNorm₁(x), G),   y = h + W₂ σ(W₁ LayerNorm₂(h) + b₁) + b₂

    where ``Attention(x, G)_i = W_O ⊕_heads Σ_{j→i ∈ G} α_ij v_j + b_O`` is the message passing of
    :class:`EdgeSoftmaxAttention` over the graph G given by ``edge_index``. Parameters and initialisation are
    those of ``nn.TransformerEncoderLayer`` (``in_proj`` stacks W_Q, W_K, W_V like ``in_proj_weight``).

    Graphs and paths:

    * ``edge_index`` given: attention over it, by one of four paths with the same numbers (``path``):
      ``"dense"`` (``F.scaled_dot_product_attention``; only the complete and the causal graph,
      :func:`~gdl.graphs.builders.graph_structure`, checked in O(E)), ``"fused_sparse"`` (any graph, O(E·H) memory,
      with a backward: :func:`~gdl.graphs.attention.fused_sparse_attention`), ``"block_sparse"``
      (FlexAttention with the graph's block mask, :func:`~gdl.graphs.attention.block_sparse_attention`; no backward
      on the CPU) and ``"message_passing"`` (:class:`EdgeSoftmaxAttention`, the per-edge reference, O(E·C) memory).
      ``path="auto"`` takes the dense path on the complete and the causal graph, else
      :func:`~gdl.graphs.attention.choose_sparse_path`: message passing while dropout on α is active, block-sparse
      for inference on large structured graphs, the fused sparse path otherwise.
    * ``edge_index=None``: the complete graph (``causal=False``) or the causal graph (``causal=True``) without
      building it: dense attention.
    * ``causal=True`` with an ``edge_index`` asserts that no node receives from a later one (raises otherwise).
    * A node with no incoming edge gets the empty sum as its attention output before the output projection,
      i.e. ``Attention(x, G)_i = b_O``; only the residual branch and the feed-forward block act on it.

    The layer is S_N-equivariant (relabelling nodes and edges permutes the output) on every graph: it has no
    notion of position until positional encodings are added to x.

    Args:
        d_model: feature size C (the embedding size).
        nhead: number of heads H; C must be divisible by H (head size d_h = C / H).
        dim_feedforward: hidden size of the feed-forward block.
        dropout: dropout on α, after the attention and inside/after the feed-forward block (as PyTorch's; training
            mode only).
        activation: ``"relu"``, ``"gelu"`` or a callable acting entrywise.
        layer_norm_eps: ε of both layer norms.
        norm_first: pre-norm instead of post-norm.
        bias: biases in the linear maps and layer norms.
        path: the default of :meth:`forward`'s ``path`` (what a :class:`~gdl.core.Blueprint`, which passes no
            keywords, runs): one of :data:`PATHS`.

    N is read from x (``layer.field_types(x, edge_index)``); the layer runs on any number of nodes.

    Shapes:
        x ``[N, C]`` or ``[B, N, C]`` (a batch of sequences sharing one graph), edge_index ``[2, E]`` →
        ``[N, C]`` or ``[B, N, C]``.

    Example:
        >>> layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
        >>> gnn = TransformerGNNLayer.from_torch(layer)
        >>> x = torch.randn(2, 5, 16)
        >>> from gdl.graphs.builders import complete_graph
        >>> bool((gnn(x, complete_graph(5), path="message_passing") - layer(x)).abs().max() < 1e-5)
        True
    """

    #: exact permutation symmetry
    equivariance_tolerance: ClassVar[float | dict | None] = None
    context_keys = ("edge_index",)

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.0,
                 activation: str | Callable[[torch.Tensor], torch.Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 norm_first: bool = False, bias: bool = True, path: str = "auto", device=None, dtype=None):
        super().__init__()
        for name, value in (("d_model", d_model), ("nhead", nhead), ("dim_feedforward", dim_feedforward)):
            check_int(value, name)
        if d_model % nhead:
            raise ValueError(f"the embedding size d_model={d_model} must be divisible by nhead={nhead} "
                             f"(each head gets d_model / nhead features)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.activation_name, self.activation = resolve_activation(activation, choices=TORCH_ACTIVATIONS)
        self.path = check_choice(path, PATHS, "path")
        factory = {"device": device, "dtype": dtype}
        self.d_model, self.nhead, self.head_dim = d_model, nhead, d_model // nhead
        self.dim_feedforward, self.dropout, self.norm_first = dim_feedforward, dropout, norm_first
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias, **factory)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias, **factory)
        self.attention = EdgeSoftmaxAttention(dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation of ``nn.TransformerEncoderLayer`` (Xavier-uniform W_Q,K,V; zero attention biases)."""
        nn.init.xavier_uniform_(self.in_proj.weight)
        self.out_proj.reset_parameters()
        if self.in_proj.bias is not None:
            nn.init.zeros_(self.in_proj.bias)
            nn.init.zeros_(self.out_proj.bias)
        for module in (self.linear1, self.linear2, self.norm1, self.norm2):
            module.reset_parameters()

    # -- field types ---------------------------------------------------------------
    def field_types(self, x: torch.Tensor, *edge_index: torch.Tensor | None) -> tuple[FieldType, SetField]:
        """Types on N = ``x.shape[-2]`` nodes: ``(x, edge_index)`` as ``TupleField((SetField(S_N, C),
        EdgeIndexField(S_N)))`` → ``SetField(S_N, C)``; ``(x,)`` alone (the complete graph) as ``SetField(S_N, C)``."""
        features = self._features(x)
        if not edge_index:
            return features, features
        graph = EdgeIndexField(features.group) if edge_index[0] is not None else AbsentField(features.group, "a graph")
        return TupleField((features, graph)), features

    def _features(self, x) -> SetField:
        """Check that x is a floating-point ``[N, C]`` or ``[B, N, C]`` tensor; return its field type."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            given = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"x must be a floating-point tensor [N, {self.d_model}] or [B, N, {self.d_model}], got {given}")
        if x.dim() not in (2, 3):
            raise ValueError(f"x must be a tensor [N, {self.d_model}] or [B, N, {self.d_model}], got {list(x.shape)}")
        field = SetField(Permutations(x.shape[-2]), self.d_model)
        field.validate(x)
        return field

    # -- forward ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None, *, causal: bool = False,
                path: str | None = None) -> torch.Tensor:
        """Apply the layer on the graph ``edge_index`` (``None``: the complete or, with ``causal``, the causal graph).

        Args:
            x: node features ``[N, C]`` or ``[B, N, C]``.
            edge_index: ``[2, E]`` edges j → i (``edge_index[:, e] = (j, i)``), or ``None``.
            causal: assert (and with ``edge_index=None``: use) the causal graph; an edge j → i with j > i raises.
            path: ``"auto"`` (dense for the complete/causal graph, else
                :func:`~gdl.graphs.attention.choose_sparse_path`), ``"dense"`` (requires one of those two graphs),
                ``"block_sparse"``, ``"fused_sparse"`` or ``"message_passing"``; ``None``: the layer's ``path``.
        """
        path = self.path if path is None else check_choice(path, PATHS, "path")
        num_nodes = self._features(x).group.n
        if edge_index is None:
            structure = "causal" if causal else "complete"
            if path not in ("auto", "dense"):
                edge_index = causal_graph(num_nodes, x.device) if causal else complete_graph(num_nodes, device=x.device)
        else:
            check_edge_index(edge_index, num_nodes)
            if causal:
                self._check_causal(edge_index)
            structure = graph_structure(edge_index, num_nodes) if path in ("auto", "dense") else None
            if path == "dense" and structure is None:
                raise ValueError(f"path='dense' needs the complete graph ({num_nodes ** 2} edges) or the causal graph "
                                 f"({num_nodes * (num_nodes + 1) // 2} edges) on {num_nodes} nodes; the given edge_index "
                                 f"with {edge_index.shape[1]} edges is neither (use path='auto', 'fused_sparse', "
                                 f"'block_sparse' or 'message_passing')")
        if path in ("auto", "dense") and structure is not None:
            path = "dense"
        dropping = self.training and self.dropout > 0
        if path == "auto":
            needs_grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self.parameters()))
            path = choose_sparse_path(edge_index, num_nodes, needs_grad=needs_grad, attention_dropout=dropping,
                                      dtype=x.dtype, device=x.device)
        elif path in ("fused_sparse", "block_sparse") and dropping:
            raise ValueError(f"path={path!r} has no dropout on the attention weights, but the layer is in training mode "
                             f"with dropout={self.dropout}: use path='message_passing' (or 'auto', which takes it), "
                             f"eval mode, or dropout=0")
        unbatched = x.dim() == 2
        h = x.unsqueeze(0) if unbatched else x
        if self.norm_first:
            h = h + self._attention_block(self.norm1(h), edge_index, path, structure)
            h = h + self._feedforward_block(self.norm2(h))
        else:
            h = self.norm1(h + self._attention_block(h, edge_index, path, structure))
            h = self.norm2(h + self._feedforward_block(h))
        return h.squeeze(0) if unbatched else h

    @staticmethod
    def _check_causal(edge_index: torch.Tensor) -> None:
        future = edge_index[0] > edge_index[1]
        if bool(future.any()):
            first = int(future.nonzero()[0, 0])
            j, i = edge_index[:, first].tolist()
            raise ValueError(f"causal=True, but the graph is not causal: {int(future.sum())} edge(s) j → i with j > i, "
                             f"e.g. column {first}: {j} → {i} (node {i} would receive from the future node {j})")

    def _heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v ``[N, B, H, d_h]`` each, from h ``[B, N, C]`` (node axis first, for message passing)."""
        batch, n, _ = h.shape
        return self.in_proj(h.transpose(0, 1)).view(n, batch, 3, self.nhead, self.head_dim).unbind(dim=2)

    def _attention_block(self, h: torch.Tensor, edge_index: torch.Tensor | None, path: str,
                         structure: str | None) -> torch.Tensor:
        batch, n, _ = h.shape
        if path == "message_passing":
            out = self.attention(*self._heads(h), edge_index)  # [N, B, H, d_h]
            out = self.out_proj(out.reshape(n, batch, self.d_model)).transpose(0, 1)
            return F.dropout(out, p=self.dropout, training=self.training)
        query, key, value = self.in_proj(h).view(batch, n, 3, self.nhead, self.head_dim).permute(2, 0, 3, 1, 4)
        if path == "dense":  # the graph is the complete or the causal one
            out = F.scaled_dot_product_attention(query, key, value, dropout_p=self.dropout if self.training else 0.0,
                                                 is_causal=structure == "causal")  # [B, H, N, d_h]
        elif path == "fused_sparse":
            out = fused_sparse_attention(query, key, value, edge_index)
        else:
            out = block_sparse_attention(query, key, value, edge_index)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, n, self.d_model))
        return F.dropout(out, p=self.dropout, training=self.training)

    def _feedforward_block(self, h: torch.Tensor) -> torch.Tensor:
        hidden = F.dropout(self.activation(self.linear1(h)), p=self.dropout, training=self.training)
        return F.dropout(self.linear2(hidden), p=self.dropout, training=self.training)

    def attention_weights(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """The coefficients α_ij ``[B, E, H]`` (``[E, H]`` for unbatched x) the layer uses on ``edge_index``.

        They sum to one over each node's incoming edges; column e of ``edge_index`` is edge e.
        """
        check_edge_index(edge_index, self._features(x).group.n)
        h = x.unsqueeze(0) if x.dim() == 2 else x
        query, key, _ = self._heads(self.norm1(h) if self.norm_first else h)
        alpha = self.attention.coefficients(query, key, edge_index).transpose(0, 1)
        return alpha.squeeze(0) if x.dim() == 2 else alpha

    # -- conversion ---------------------------------------------------------------------
    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer, path: str = "auto") -> "TransformerGNNLayer":
        """The same layer, with copies of ``layer``'s parameters.

        Every setting of ``nn.TransformerEncoderLayer`` carries over (``nhead``, ``dim_feedforward``, ``dropout``,
        ``activation``, ``layer_norm_eps``, ``norm_first``, ``bias``, dtype, device). The result is batch-first
        whatever ``layer.batch_first`` is (the parameters do not depend on it). ``path``: the layer's default path.
        """
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"from_torch expects a torch.nn.TransformerEncoderLayer, got {type(layer).__name__}")
        attention = layer.self_attn
        if not attention._qkv_same_embed_dim:
            raise ValueError("from_torch needs self-attention with kdim = vdim = d_model (separate key/value sizes given)")
        activation = layer.activation
        if activation is F.relu or isinstance(activation, nn.ReLU):
            activation = "relu"
        elif activation is F.gelu or (isinstance(activation, nn.GELU) and activation.approximate == "none"):
            activation = "gelu"
        weight = attention.in_proj_weight
        gnn = cls(attention.embed_dim, attention.num_heads, layer.linear1.out_features, dropout=layer.dropout.p,
                  activation=activation, layer_norm_eps=layer.norm1.eps, norm_first=layer.norm_first,
                  bias=layer.linear1.bias is not None, path=path, device=weight.device, dtype=weight.dtype)
        gnn.load_state_dict(gnn._map_state(layer.state_dict(), towards_torch=False))
        return gnn.train(layer.training)

    def export(self) -> "TransformerEncoderLayerOnGraph":
        """The same layer in plain torch: an ``nn.TransformerEncoderLayer`` (``batch_first=True``, copies of this
        layer's parameters) that also takes the graph.

        ``exported(x)`` is torch's own layer on the complete graph (pass ``src_mask`` and ``is_causal=True`` for the
        causal one); ``exported(x, edge_index)`` attends over any graph, multigraphs and nodes without incoming
        edges included, as this layer does. :meth:`from_torch` converts it back.
        """
        weight = self.in_proj.weight
        activation = self.activation_name if self.activation_name in TORCH_ACTIVATIONS else self.activation
        layer = TransformerEncoderLayerOnGraph(self.d_model, self.nhead, self.dim_feedforward, dropout=self.dropout,
                                               activation=activation, layer_norm_eps=self.norm1.eps, batch_first=True,
                                               norm_first=self.norm_first, bias=self.in_proj.bias is not None,
                                               device=weight.device, dtype=weight.dtype)
        layer.load_state_dict(self._map_state(self.state_dict(), towards_torch=True))
        return layer.train(self.training)

    _NAMES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("in_proj.weight", "self_attn.in_proj_weight"), ("in_proj.bias", "self_attn.in_proj_bias"),
        ("out_proj.weight", "self_attn.out_proj.weight"), ("out_proj.bias", "self_attn.out_proj.bias"))

    def _map_state(self, state: dict, towards_torch: bool) -> dict:
        """Rename parameters between this layer and ``nn.TransformerEncoderLayer`` (other names coincide)."""
        mapping = {ours: theirs for ours, theirs in self._NAMES}
        if not towards_torch:
            mapping = {theirs: ours for ours, theirs in mapping.items()}
        return {mapping.get(name, name): tensor.detach().clone() for name, tensor in state.items()}

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        bad = graph_bad_inputs(super().bad_inputs(*inputs), inputs)
        bad["input 0: a vector instead of [N, C]"] = (inputs[0][0, 0],) + inputs[1:]
        return bad

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["TransformerGNNLayer", tuple]:
        """A 2-head layer with dropout 0.25 (off in eval mode) on a random 7-node multigraph in which node 6 receives
        no message; x is a batch of 2."""
        num_nodes = 7
        with seeded(generator):
            layer = cls(8, 2, 16, dropout=0.25, activation="gelu")
        edges = torch.randint(0, num_nodes - 1, (2, 18), generator=generator)
        edges = torch.cat([edges, torch.tensor([[6, 6], [0, 3]])], dim=1)  # node 6 sends but never receives
        return layer, (torch.randn(2, num_nodes, 8, generator=generator), edges)

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, nhead={self.nhead}, dim_feedforward={self.dim_feedforward}, "
                f"activation={self.activation_name}, norm_first={self.norm_first}, dropout={self.dropout}, "
                f"path={self.path}")


class TransformerEncoderLayerOnGraph(nn.TransformerEncoderLayer):
    """``nn.TransformerEncoderLayer`` (plain torch) that also attends over a graph: what
    :meth:`TransformerGNNLayer.export` returns.

    ``layer(x)`` (and every argument of torch's ``forward``) runs torch's own layer: the complete graph, or a mask.
    ``layer(x, edge_index)`` replaces the attention by the softmax over each node's incoming edges
    (``edge_index[:, e] = (j, i)``: i attends to j; a repeated edge counts once per copy, a node without incoming
    edges gets the empty sum), computed with gathers and scatters from this layer's own parameters. Batch-first
    only.

    Shapes:
        x ``[B, N, C]`` or ``[N, C]``, edge_index ``[2, E]`` → like x.
    """

    def forward(self, src: torch.Tensor, edge_index: torch.Tensor | None = None, **torch_arguments) -> torch.Tensor:
        if edge_index is None:
            return super().forward(src, **torch_arguments)
        if torch_arguments or not self.self_attn.batch_first:
            raise TypeError("attention over edge_index takes no mask arguments and needs batch_first=True, got "
                            f"{sorted(torch_arguments)} and batch_first={self.self_attn.batch_first}")
        unbatched = src.dim() == 2
        h = src.unsqueeze(0) if unbatched else src
        if self.norm_first:
            h = h + self._graph_attention(self.norm1(h), edge_index)
            h = h + self._feedforward(self.norm2(h))
        else:
            h = self.norm1(h + self._graph_attention(h, edge_index))
            h = self.norm2(h + self._feedforward(h))
        return h.squeeze(0) if unbatched else h

    def _graph_attention(self, h: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        attention = self.self_attn
        batch, n, width = h.shape
        heads = attention.num_heads
        query, key, value = F.linear(h, attention.in_proj_weight, attention.in_proj_bias).view(
            batch, n, 3, heads, width // heads).unbind(dim=2)  # [B, N, H, d_h]
        source, target = edge_index
        logits = (query[:, target] * key[:, source]).sum(-1) / math.sqrt(width // heads)  # [B, E, H]
        index = target.view(1, -1, 1).expand_as(logits)
        maxima = logits.new_full((batch, n, heads), -math.inf).scatter_reduce(1, index, logits, "amax")
        weights = (logits - maxima[:, target]).exp()
        total = weights.new_zeros(batch, n, heads).index_add(1, target, weights)
        alpha = weights / (total[:, target] + 1e-16)  # torch-geometric's softmax, as the layer's
        alpha = F.dropout(alpha, p=attention.dropout, training=self.training)
        out = value.new_zeros(batch, n, heads, width // heads).index_add(1, target, alpha.unsqueeze(-1) * value[:, source])
        return self.dropout1(attention.out_proj(out.reshape(batch, n, width)))

    def _feedforward(self, h: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(h)))))


class TransformerGNN(Blueprint):
    """A stack of :class:`TransformerGNNLayer` on one attention graph: ``nn.TransformerEncoder`` as message passing.

    A :class:`~gdl.core.Blueprint` whose context is ``("edge_index",)``: ``net(x, edge_index)`` runs every layer on
    the same graph (``edge_index=None``: the complete graph). S_N-equivariant on every graph.

    Args:
        layers: the layers, in order (see :meth:`build` and :meth:`from_torch`).

    Shapes:
        x ``[N, C]`` or ``[B, N, C]``, edge_index ``[2, E]`` (or ``None``) → like x.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, *layers: TransformerGNNLayer):
        for i, layer in enumerate(layers):
            if not isinstance(layer, TransformerGNNLayer):
                raise TypeError(f"layer {i} of a TransformerGNN must be a TransformerGNNLayer, got {type(layer).__name__}")
        super().__init__(*layers, context=("edge_index",))

    @classmethod
    def build(cls, d_model: int, nhead: int, num_layers: int, **options) -> "TransformerGNN":
        """``num_layers`` fresh layers ``TransformerGNNLayer(d_model, nhead, **options)``."""
        return cls(*(TransformerGNNLayer(d_model, nhead, **options) for _ in range(check_int(num_layers, "num_layers"))))

    @classmethod
    def from_torch(cls, layers, path: str = "auto") -> "TransformerGNN":
        """The same stack as an ``nn.TransformerEncoder`` or a sequence of ``nn.TransformerEncoderLayer`` (copies)."""
        layers = layers.layers if isinstance(layers, nn.TransformerEncoder) else layers
        return cls(*(TransformerGNNLayer.from_torch(layer, path=path) for layer in layers))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x, edge_index)

    def __getitem__(self, index: int) -> TransformerGNNLayer:
        """Layer ``index`` (``net[0]``, like ``nn.Sequential``)."""
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def field_types(self, x: torch.Tensor, *edge_index: torch.Tensor | None) -> tuple[FieldType, FieldType]:
        """Types on N = ``x.shape[-2]`` nodes: of ``(x, edge_index)``, or of ``(x,)`` alone (the complete graph)."""
        in_type, out_type = super().field_types(x, *(edge_index or (None,)))
        return (in_type if edge_index else in_type.fields[0]), out_type

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        return graph_bad_inputs(super().bad_inputs(*inputs), inputs)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["TransformerGNN", tuple]:
        """Two pre-norm layers with dropout 0.25 (off in eval mode) on the causal window graph of 7 tokens."""
        from .builders import window_graph

        with seeded(generator):
            net = cls.build(8, 2, 2, dim_feedforward=16, dropout=0.25, norm_first=True)
        return net, (torch.randn(2, 7, 8, generator=generator), window_graph(7, 2, causal=True))
