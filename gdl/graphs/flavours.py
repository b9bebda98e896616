"""The three flavours of GNN layer (book §5.3, eqs. 33–35), each a torch-geometric ``MessagePassing`` layer.

Every layer computes new features h_u of node u from its own features x_u and the multiset of its neighbours'
features, through a permutation-invariant aggregator ⊕ (sum, mean or max) over N(u) = {v : (v, u) ∈ edges}:

* convolutional (eq. 33): h_u = φ(x_u, ⊕_{v∈N(u)} c_uv ψ(x_v)), with *fixed* coefficients c_uv that depend on the
  graph only (GCN: c_uv = 1/√(d_u d_v) with self-loops, Kipf & Welling 2017);
* attentional (eq. 34): h_u = φ(x_u, ⊕_{v∈N(u)} a(x_u, x_v) ψ(x_v)), with coefficients computed from the features
  and normalised by a softmax over N(u) (GAT, Veličković et al. 2018; GATv2, Brody et al. 2022);
* message-passing (eq. 35): h_u = φ(x_u, ⊕_{v∈N(u)} ψ(x_u, x_v, e_uv)), with arbitrary learned messages that may use
  edge features e_uv (Gilmer et al. 2017).

Each is a ``MessagePassing`` (so it runs inside any torch-geometric pipeline) and an
:class:`~gdl.core.EquivariantModule` with an ``example()``: relabelling the nodes (and the edges with them) permutes
the output rows, f(σ·G) = σ·f(G) (book eq. 8). Each reads N from its inputs (``layer.field_types(x, edge_index)``) and
runs on a graph of any size. :meth:`from_pyg` copies the weights of the matching torch-geometric layer
(``GCNConv``/``GraphConv``/``SAGEConv``, ``GATConv``/``GATv2Conv``) so both compute the same function, and
:meth:`export` goes back: the torch-geometric layer of the same function where one exists (``NotImplementedError``
naming the option that has none), a plain-torch module for the message-passing flavour.

Self-loops and repeated edges are arguments of every layer (``self_loops``, ``duplicates``; see
:mod:`gdl.graphs.edges`). Under ``torch.compile`` every layer traces as one graph with ``self_loops="keep"`` or
``"append"`` and ``duplicates="keep"``; ``self_loops="add"`` (GCN's and GAT's
default, as in torch-geometric) and ``"remove"`` select edges by value, a data-dependent shape that breaks the graph
(2–3 breaks; torch-geometric's ``GCNConv``/``GATConv`` break there too). On a graph without self-loops
``"append"`` computes the same as ``"add"``.
"""

from __future__ import annotations

import copy
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.utils import scatter, softmax

from gdl.core import FieldType, TrivialField, check_int, seeded
from gdl.core.checks import AGGREGATIONS, check_choice, check_edge_features, check_edge_index, check_edge_weight
from gdl.symmetries.permutations import Permutations
from gdl.testing.fixtures import random_graph

from .base import GraphLayer, mlp, node_field_types
from .edges import prepare_edges

__all__ = ["ConvolutionalLayer", "AttentionalLayer", "MessagePassingLayer", "NORMALIZATIONS", "ATTENTION_SCORES"]

#: fixed coefficients c_uv of the convolutional flavour
NORMALIZATIONS = ("gcn", None)
#: attention scores a(x_u, x_v) of the attentional flavour
ATTENTION_SCORES = ("gat", "gatv2")


def _pyg_aggregation(conv: MessagePassing) -> str:
    aggr = {"add": "sum"}.get(str(conv.aggr), str(conv.aggr))
    return check_choice(aggr, AGGREGATIONS, f"the aggregation of {type(conv).__name__}")


def _pyg_name(aggr: str) -> str:
    return {"sum": "add"}.get(aggr, aggr)


def _copy_state(layer: nn.Module, state: dict, like: Tensor) -> nn.Module:
    """Load detached copies of ``state`` (entries that are ``None`` skipped) into ``layer`` on ``like``'s device/dtype."""
    layer = layer.to(device=like.device, dtype=like.dtype)
    layer.load_state_dict({k: v.detach().clone() for k, v in state.items() if v is not None})
    return layer


def _no_equivalent(layer: nn.Module, reasons: dict[str, bool], peers: str) -> NotImplementedError:
    options = [name for name, bad in reasons.items() if bad]
    return NotImplementedError(f"{type(layer).__name__} has no torch-geometric equivalent with {options} "
                               f"({peers}); export() needs a configuration one of them computes")


class ConvolutionalLayer(GraphLayer, MessagePassing):
    r"""The convolutional flavour (book eq. 33): fixed coefficients c_uv set by the graph.

    .. math::
        h_u = φ\Big(x_u, \bigoplus_{v ∈ N(u)} c_{uv}\, ψ(x_v)\Big),\qquad ψ(x) = W x,\qquad
        φ(x_u, m_u) = m_u + W_{root} x_u + b

    With ``aggregate_first=True`` the weight comes after the aggregation, m_u = W ⊕_v c_uv x_v: the same for ⊕ = sum
    and mean (W is linear), a different layer for max (``GraphConv``'s and ``SAGEConv``'s order).

    With ``normalization="gcn"`` (default), c_uv = w_vu / √(d_u d_v) where d_u = Σ_{v∈N(u)} w_vu is the (weighted)
    in-degree after the self-loops policy and w = 1 without ``edge_weight``; with ``self_loops="add"``,
    ``aggr="sum"`` and no root weight this is ``GCNConv`` (Kipf & Welling 2017): h = D̂^{-1/2}(A + I)D̂^{-1/2} X Wᵀ + b.
    With ``normalization=None``, c_uv = w_vu (1 without weights); with ``root_weight=True``, ``self_loops="keep"``
    and ``aggregate_first=True`` this is ``GraphConv`` (Morris et al. 2019), and with ``aggr="mean"`` (no weights)
    ``SAGEConv`` (Hamilton et al. 2017).

    Args:
        in_channels: C_in.
        out_channels: C_out.
        aggr: ⊕, ``"sum"``, ``"mean"`` or ``"max"`` (a node without incoming edges gets m_u = 0).
        normalization: ``"gcn"`` or ``None`` (see above).
        self_loops: ``"add"`` (default, GCN's Â = A + I), ``"append"``, ``"keep"`` or ``"remove"``; added loops have
            weight 1.
        duplicates: ``"keep"`` (a repeated edge counts once per copy), ``"merge"`` or ``"error"``.
        root_weight: add W_root x_u (a separate weight for the node itself).
        bias: learn b.
        aggregate_first: apply W after ⊕ instead of before it (see above).

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]``, edge_weight ``[E]`` (optional) → ``[N, C_out]``.

    Example:
        >>> from torch_geometric.nn import GCNConv
        >>> gcn = GCNConv(4, 8)
        >>> ours = ConvolutionalLayer.from_pyg(gcn)
        >>> x, edge_index = torch.randn(5, 4), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
        >>> bool((ours(x, edge_index) - gcn(x, edge_index)).abs().max() < 1e-6)
        True
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None
    context_keys = ("edge_index",)

    def __init__(self, in_channels: int, out_channels: int, *, aggr: str = "sum", normalization: str | None = "gcn",
                 self_loops: str = "add", duplicates: str = "keep", root_weight: bool = False, bias: bool = True,
                 aggregate_first: bool = False):
        super().__init__(aggr=check_choice(aggr, AGGREGATIONS, "aggr"))
        self.in_channels = check_int(in_channels, "in_channels")
        self.out_channels = check_int(out_channels, "out_channels")
        self.normalization = check_choice(normalization, NORMALIZATIONS, "normalization")
        self.self_loops, self.duplicates = self_loops, duplicates
        prepare_edges(torch.empty(2, 0, dtype=torch.long), 1, self_loops=self_loops, duplicates=duplicates)  # checks
        self.aggregate_first = bool(aggregate_first)
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.root = nn.Linear(in_channels, out_channels, bias=False) if root_weight else None
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights and a zero bias (``GCNConv``'s initialisation)."""
        super().reset_parameters()
        glorot(self.lin.weight)
        if self.root is not None:
            glorot(self.root.weight)
        if self.bias is not None:
            zeros(self.bias)

    def field_types(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None
                    ) -> tuple[FieldType, FieldType]:
        """``(x, edge_index[, edge_weight]) → h`` under S_N, N = ``x.shape[0]`` (weights travel with their edges)."""
        group = Permutations(self._count_nodes(x, self.in_channels))
        extra = () if edge_weight is None else (TrivialField(group),)
        return node_field_types(group.n, self.in_channels, self.out_channels, extra)

    def coefficients(self, edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None) -> Tensor | None:
        """c_uv of every edge ``[E]`` of an already prepared edge list (``None``: all ones)."""
        if self.normalization is None:
            return edge_weight
        source, target = edge_index
        if edge_weight is None:
            edge_weight = torch.ones(edge_index.shape[1], dtype=self.lin.weight.dtype, device=edge_index.device)
        degree = scatter(edge_weight, target, dim=0, dim_size=num_nodes, reduce="sum")
        inverse_sqrt = degree.pow(-0.5).masked_fill(degree == 0, 0.0)
        return inverse_sqrt.index_select(0, source) * edge_weight * inverse_sqrt.index_select(0, target)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        num_nodes = self._count_nodes(x, self.in_channels)
        check_edge_index(edge_index, num_nodes)
        if edge_weight is not None:
            check_edge_weight(edge_weight, edge_index.shape[1])
        edge_index, edge_weight = prepare_edges(edge_index, num_nodes, self_loops=self.self_loops,
                                                duplicates=self.duplicates, edge_attr=edge_weight, fill_value=1.0)
        coefficient = self.coefficients(edge_index, num_nodes, edge_weight)
        if self.aggregate_first:
            out = self.lin(self.propagate(edge_index, x=x, coefficient=coefficient))
        else:
            out = self.propagate(edge_index, x=self.lin(x), coefficient=coefficient)
        if self.root is not None:
            out = out + self.root(x)
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, x_j: Tensor, coefficient: Tensor | None) -> Tensor:
        return x_j if coefficient is None else coefficient.unsqueeze(-1) * x_j

    def options(self) -> dict:
        """The keyword arguments that rebuild this layer's configuration (widths aside)."""
        return {"aggr": self.aggr, "normalization": self.normalization, "self_loops": self.self_loops,
                "duplicates": self.duplicates, "root_weight": self.root is not None, "bias": self.bias is not None,
                "aggregate_first": self.aggregate_first}

    @classmethod
    def from_pyg(cls, conv: MessagePassing) -> "ConvolutionalLayer":
        """The same layer as a torch-geometric ``GCNConv``, ``GraphConv`` or ``SAGEConv``, with copies of its weights.

        ``GraphConv`` and ``SAGEConv`` aggregate before their weight (``aggregate_first=True``), which matters for
        ``aggr="max"``.
        """
        from torch_geometric.nn import GCNConv, GraphConv, SAGEConv

        if not isinstance(conv, (GCNConv, GraphConv, SAGEConv)):
            raise TypeError(f"from_pyg expects a torch_geometric GCNConv, GraphConv or SAGEConv, got {type(conv).__name__}")
        if not isinstance(conv.in_channels, int):
            raise ValueError(f"from_pyg supports {type(conv).__name__} with one in_channels, got {conv.in_channels}")
        if isinstance(conv, GCNConv):
            if conv.improved or conv.cached:
                raise ValueError("from_pyg supports GCNConv with improved=False, cached=False and one in_channels, "
                                 f"got improved={conv.improved}, cached={conv.cached}, in_channels={conv.in_channels}")
            layer = cls(conv.in_channels, conv.out_channels, aggr=_pyg_aggregation(conv),
                        normalization="gcn" if conv.normalize else None,
                        self_loops="add" if conv.add_self_loops else "keep", bias=conv.bias is not None)
            state, weight = {"lin.weight": conv.lin.weight, "bias": conv.bias}, conv.lin.weight
        elif isinstance(conv, GraphConv):
            layer = cls(conv.in_channels, conv.out_channels, aggr=_pyg_aggregation(conv), normalization=None,
                        self_loops="keep", root_weight=True, bias=conv.lin_rel.bias is not None, aggregate_first=True)
            state = {"lin.weight": conv.lin_rel.weight, "root.weight": conv.lin_root.weight, "bias": conv.lin_rel.bias}
            weight = conv.lin_rel.weight
        else:
            if conv.project or conv.normalize:
                raise ValueError(f"from_pyg supports SAGEConv with project=False and normalize=False, got "
                                 f"project={conv.project}, normalize={conv.normalize}")
            layer = cls(conv.in_channels, conv.out_channels, aggr=_pyg_aggregation(conv), normalization=None,
                        self_loops="keep", root_weight=conv.root_weight, bias=conv.lin_l.bias is not None,
                        aggregate_first=True)
            state = {"lin.weight": conv.lin_l.weight, "bias": conv.lin_l.bias,
                     "root.weight": conv.lin_r.weight if conv.root_weight else None}
            weight = conv.lin_l.weight
        return _copy_state(layer, state, weight).train(conv.training)

    def export(self) -> nn.Module:
        """The torch-geometric layer computing the same function, with copies of the weights.

        ``GCNConv`` for GCN normalisation (sum, no root weight, loops added or kept) and for no normalisation without a
        root weight (W before ⊕); ``GraphConv`` for no normalisation with a root weight (W after ⊕; for sum and mean
        the order does not matter); ``SAGEConv`` for max after W without a root weight. Duplicates must be kept.

        Raises:
            NotImplementedError: no torch-geometric layer computes this configuration (the message names why).
        """
        from torch_geometric.nn import GCNConv, GraphConv, SAGEConv

        weight, bias = self.lin.weight, self.bias is not None
        after = self.aggregate_first and self.aggr == "max"  # sum and mean commute with W; max does not
        reasons = {f"duplicates={self.duplicates!r}": self.duplicates != "keep",
                   f"self_loops={self.self_loops!r}": self.self_loops not in ("add", "keep")
                   or (self.self_loops == "add" and self.normalization is None)}
        if self.normalization == "gcn":
            reasons.update({f"aggr={self.aggr!r}": self.aggr != "sum", "root_weight": self.root is not None})
        else:
            reasons["aggregate_first=False with aggr='max' and a root weight"] = (
                self.root is not None and self.aggr == "max" and not self.aggregate_first)
        if any(reasons.values()):
            raise _no_equivalent(self, reasons, "GCNConv: GCN normalisation, sum, no root weight; GraphConv: a root "
                                 "weight, W after ⊕; both with the given loops or GCN's added ones, duplicates kept")
        if self.root is not None:
            conv = GraphConv(self.in_channels, self.out_channels, aggr=_pyg_name(self.aggr), bias=bias)
            state = {"lin_rel.weight": weight, "lin_rel.bias": self.bias, "lin_root.weight": self.root.weight}
        elif after:
            conv = SAGEConv(self.in_channels, self.out_channels, aggr="max", root_weight=False, bias=bias)
            state = {"lin_l.weight": weight, "lin_l.bias": self.bias}
        else:
            gcn = self.normalization == "gcn"
            conv = GCNConv(self.in_channels, self.out_channels, aggr=_pyg_name(self.aggr), normalize=gcn,
                           add_self_loops=gcn and self.self_loops == "add", bias=bias)
            state = {"lin.weight": weight, "bias": self.bias}
        return _copy_state(conv, state, weight).train(self.training)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["ConvolutionalLayer", tuple]:
        """GCN normalisation with a root weight and max aggregation on a 7-node multigraph (loops appended)."""
        with seeded(generator):
            layer = cls(5, 6, aggr="max", self_loops="append", root_weight=True)
        return layer, (torch.randn(7, 5, generator=generator), random_graph(7, 14, generator))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, aggr={self.aggr}, normalization={self.normalization}, "
                f"self_loops={self.self_loops}, duplicates={self.duplicates}, root_weight={self.root is not None}, "
                f"bias={self.bias is not None}, aggregate_first={self.aggregate_first}")


class AttentionalLayer(GraphLayer, MessagePassing):
    r"""The attentional flavour (book eq. 34): feature-dependent coefficients, a softmax over each neighbourhood.

    .. math::
        h_u = φ\Big(x_u, \bigoplus_{v ∈ N(u)} α_{uv}\, ψ(x_v)\Big),\qquad
        α_{uv} = \frac{\exp e(x_u, x_v)}{\sum_{w ∈ N(u)} \exp e(x_u, x_w)}

    per head k = 1 … H, with ψ(x) = W x (``lin_source``) and the score

    * ``"gat"`` (Veličković et al. 2018): e(x_u, x_v) = LeakyReLU(a_tᵀ W x_u + a_sᵀ W x_v);
    * ``"gatv2"`` (Brody et al. 2022): e(x_u, x_v) = aᵀ LeakyReLU(W_t x_u + W_s x_v) (W_s = ``lin_source``, with
      bias, W_t = ``lin_target``), which can rank neighbours differently for every u.

    The heads are concatenated (``concat=True``) or averaged; φ(x_u, m_u) = m_u + W_root x_u + b. With the defaults
    this is ``GATConv`` (``score="gat"``) or ``GATv2Conv`` (``score="gatv2"``); :meth:`from_pyg` converts.

    Args:
        in_channels: C_in.
        out_channels: C per head.
        heads: H.
        concat: concatenate the heads (output H·C) instead of averaging them (output C).
        score: ``"gat"`` or ``"gatv2"``.
        negative_slope: of the LeakyReLU.
        dropout: dropout on α (training mode only; eval mode is deterministic).
        aggr: ⊕ over the weighted messages, ``"sum"`` (GAT), ``"mean"`` or ``"max"``.
        self_loops: ``"add"`` (default, as GAT: every node attends to itself), ``"append"``, ``"keep"`` or ``"remove"``.
        duplicates: ``"keep"``, ``"merge"`` or ``"error"``.
        root_weight: add W_root x_u (torch-geometric's ``residual=True``).
        bias: learn b.

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]`` → ``[N, H·C]`` (concat) or ``[N, C]``;
        :meth:`attention` → (edge_index' ``[2, E']``, α ``[E', H]``).
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None
    context_keys = ("edge_index",)

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, *, concat: bool = True, score: str = "gat",
                 negative_slope: float = 0.2, dropout: float = 0.0, aggr: str = "sum", self_loops: str = "add",
                 duplicates: str = "keep", root_weight: bool = False, bias: bool = True):
        super().__init__(aggr=check_choice(aggr, AGGREGATIONS, "aggr"), node_dim=0)
        check_int(in_channels, "in_channels"), check_int(out_channels, "out_channels"), check_int(heads, "heads")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.score = check_choice(score, ATTENTION_SCORES, "score")
        prepare_edges(torch.empty(2, 0, dtype=torch.long), 1, self_loops=self_loops, duplicates=duplicates)  # checks
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.self_loops, self.duplicates = self_loops, duplicates
        width = heads * out_channels
        self.total_out_channels = width if concat else out_channels
        if score == "gat":
            self.lin_source = nn.Linear(in_channels, width, bias=False)
            self.lin_target = None
            self.att_source = nn.Parameter(torch.empty(1, heads, out_channels))
            self.att_target = nn.Parameter(torch.empty(1, heads, out_channels))
            self.register_parameter("att", None)
        else:
            self.lin_source = nn.Linear(in_channels, width, bias=bias)
            self.lin_target = nn.Linear(in_channels, width, bias=bias)
            self.register_parameter("att_source", None)
            self.register_parameter("att_target", None)
            self.att = nn.Parameter(torch.empty(1, heads, out_channels))
        self.root = nn.Linear(in_channels, self.total_out_channels, bias=False) if root_weight else None
        self.bias = nn.Parameter(torch.empty(self.total_out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights and attention vectors, zero biases (torch-geometric's initialisation)."""
        super().reset_parameters()
        for linear in (self.lin_source, self.lin_target, self.root):
            if linear is not None:
                glorot(linear.weight)
                if linear.bias is not None:
                    zeros(linear.bias)
        for vector in (self.att_source, self.att_target, self.att):
            glorot(vector)
        zeros(self.bias)

    def field_types(self, x: Tensor, edge_index: Tensor) -> tuple[FieldType, FieldType]:
        """``(x, edge_index) → h`` under S_N, N = ``x.shape[0]``."""
        return node_field_types(self._count_nodes(x, self.in_channels), self.in_channels, self.total_out_channels)

    def attention(self, x: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Check the inputs, apply the edge policies and return (edge_index' ``[2, E']``, α ``[E', H]``, ψ(x) ``[N, H, C]``).

        α sums to one over the incoming edges of every node that has any (no dropout: the coefficients themselves).
        """
        num_nodes = self._count_nodes(x, self.in_channels)
        check_edge_index(edge_index, num_nodes)
        edge_index, _ = prepare_edges(edge_index, num_nodes, self_loops=self.self_loops, duplicates=self.duplicates)
        source_index, target_index = edge_index
        heads, channels = self.heads, self.out_channels
        source = self.lin_source(x).view(-1, heads, channels)
        if self.score == "gat":
            score_source = (source * self.att_source).sum(-1)  # [N, H]
            score_target = (source * self.att_target).sum(-1)
            logits = F.leaky_relu(score_source.index_select(0, source_index) + score_target.index_select(0, target_index),
                                  self.negative_slope)
        else:
            target = self.lin_target(x).view(-1, heads, channels)
            hidden = F.leaky_relu(source.index_select(0, source_index) + target.index_select(0, target_index),
                                  self.negative_slope)
            logits = (hidden * self.att).sum(-1)  # [E, H]
        alpha = softmax(logits, target_index, num_nodes=num_nodes)
        return edge_index, alpha, source

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        edge_index, alpha, source = self.attention(x, edge_index)
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        out = self.propagate(edge_index, source=source, alpha=alpha)  # [N, H, C]
        out = out.reshape(-1, self.heads * self.out_channels) if self.concat else out.mean(dim=1)
        if self.root is not None:
            out = out + self.root(x)
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, source_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * source_j

    @classmethod
    def from_pyg(cls, conv: MessagePassing) -> "AttentionalLayer":
        """The same layer as a torch-geometric ``GATConv`` or ``GATv2Conv`` (no edge features; ``residual`` becomes
        the root weight)."""
        from torch_geometric.nn import GATConv, GATv2Conv

        if not isinstance(conv, (GATConv, GATv2Conv)):
            raise TypeError(f"from_pyg expects a torch_geometric GATConv or GATv2Conv, got {type(conv).__name__}")
        unsupported = {"in_channels pair": not isinstance(conv.in_channels, int), "edge_dim": conv.edge_dim is not None,
                       "share_weights": getattr(conv, "share_weights", False)}
        if any(unsupported.values()):
            raise ValueError(f"from_pyg does not support {type(conv).__name__} with "
                             f"{[name for name, bad in unsupported.items() if bad]}")
        v2 = isinstance(conv, GATv2Conv)
        layer = cls(conv.in_channels, conv.out_channels, conv.heads, concat=conv.concat, score="gatv2" if v2 else "gat",
                    negative_slope=conv.negative_slope, dropout=conv.dropout, aggr=_pyg_aggregation(conv),
                    self_loops="add" if conv.add_self_loops else "keep", root_weight=conv.res is not None,
                    bias=(conv.lin_l.bias is not None) if v2 else (conv.bias is not None))
        state = {"root.weight": None if conv.res is None else conv.res.weight, "bias": conv.bias}
        if v2:
            state.update({"lin_source.weight": conv.lin_l.weight, "lin_source.bias": conv.lin_l.bias,
                          "lin_target.weight": conv.lin_r.weight, "lin_target.bias": conv.lin_r.bias, "att": conv.att})
        else:
            state.update({"lin_source.weight": conv.lin.weight, "att_source": conv.att_src, "att_target": conv.att_dst})
        return _copy_state(layer, state, state["lin_source.weight"]).train(conv.training)

    def export(self) -> nn.Module:
        """The torch-geometric ``GATConv`` (``score="gat"``) or ``GATv2Conv`` (``"gatv2"``) with copies of the weights
        (the root weight as ``residual``); ``self_loops`` must be ``"add"`` or ``"keep"`` and duplicates kept.

        Raises:
            NotImplementedError: another edge policy (torch-geometric's GAT layers have none of them).
        """
        from torch_geometric.nn import GATConv, GATv2Conv

        reasons = {f"self_loops={self.self_loops!r}": self.self_loops not in ("add", "keep"),
                   f"duplicates={self.duplicates!r}": self.duplicates != "keep"}
        if any(reasons.values()):
            raise _no_equivalent(self, reasons, "GATConv/GATv2Conv: loops added or kept, duplicates kept")
        options = {"heads": self.heads, "concat": self.concat, "negative_slope": self.negative_slope,
                   "dropout": self.dropout, "add_self_loops": self.self_loops == "add", "residual": self.root is not None,
                   "aggr": _pyg_name(self.aggr)}
        state = {"res.weight": None if self.root is None else self.root.weight, "bias": self.bias}
        if self.score == "gatv2":
            conv = GATv2Conv(self.in_channels, self.out_channels, bias=self.lin_source.bias is not None, **options)
            state.update({"lin_l.weight": self.lin_source.weight, "lin_l.bias": self.lin_source.bias,
                          "lin_r.weight": self.lin_target.weight, "lin_r.bias": self.lin_target.bias, "att": self.att})
        else:
            conv = GATConv(self.in_channels, self.out_channels, bias=self.bias is not None, **options)
            state.update({"lin.weight": self.lin_source.weight, "att_src": self.att_source, "att_dst": self.att_target})
        return _copy_state(conv, state, self.lin_source.weight).train(self.training)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["AttentionalLayer", tuple]:
        """Two GATv2 heads, averaged, with a root weight and dropout 0.5 (eval mode: off), on a 7-node multigraph
        (loops appended)."""
        with seeded(generator):
            layer = cls(5, 4, heads=2, concat=False, score="gatv2", self_loops="append", root_weight=True, dropout=0.5)
        return layer, (torch.randn(7, 5, generator=generator), random_graph(7, 14, generator))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, heads={self.heads}, concat={self.concat}, score={self.score}, "
                f"aggr={self.aggr}, self_loops={self.self_loops}, duplicates={self.duplicates}, dropout={self.dropout}")


class MessagePassingLayer(GraphLayer, MessagePassing):
    r"""The message-passing flavour (book eq. 35): learned messages from both end points and the edge.

    .. math::
        m_{uv} = ψ(x_u, x_v, e_{uv}),\qquad h_u = φ\Big(x_u, \bigoplus_{v ∈ N(u)} m_{uv}\Big)\;(+\,x_u)

    with ψ = Linear → σ → Linear → σ on [x_u ‖ x_v ‖ e_uv] and φ = Linear → σ → Linear on [x_u ‖ m_u] (the GCL block of
    Satorras et al. 2021 without coordinates; a residual x_u + φ(…) with ``residual=True``). torch-geometric has no
    layer computing exactly this; the tests compare it with a naive float64 loop over nodes, and :meth:`export`
    writes it in plain torch.

    Edge features are part of the graph (the context a :class:`~gdl.core.Blueprint` threads): the layer reads
    ``("edge_index", "edge_attr")`` with ``edge_channels > 0``, else ``("edge_index",)``.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        hidden_channels: width of ψ's output m_uv and of both MLPs (default C_out).
        edge_channels: width of e_uv (0: no edge features).
        aggr: ⊕, ``"sum"``, ``"mean"`` or ``"max"`` (m_u = 0 for a node without incoming edges).
        activation: σ, a name in :data:`gdl.core.ACTIVATIONS` (default ``"silu"``) or a callable.
        residual: h_u = x_u + φ(…) (needs C_in = C_out).
        self_loops: ``"keep"`` (default), ``"add"``/``"append"`` (a loop's edge features: the mean of the node's
            incoming ones) or ``"remove"``.
        duplicates: ``"keep"``, ``"merge"`` (features of repeated edges averaged) or ``"error"``.

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]``, edge_attr ``[E, C_e]`` → ``[N, C_out]``.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int | None = None, edge_channels: int = 0,
                 *, aggr: str = "sum", activation: str = "silu", residual: bool = False, self_loops: str = "keep",
                 duplicates: str = "keep"):
        super().__init__(aggr=check_choice(aggr, AGGREGATIONS, "aggr"))
        hidden_channels = out_channels if hidden_channels is None else hidden_channels
        if residual and in_channels != out_channels:
            raise ValueError(f"residual=True needs in_channels == out_channels, got {in_channels} and {out_channels}")
        check_int(edge_channels, "edge_channels", 0)
        prepare_edges(torch.empty(2, 0, dtype=torch.long), 1, self_loops=self_loops, duplicates=duplicates)  # checks
        self.in_channels, self.out_channels, self.hidden_channels = in_channels, out_channels, hidden_channels
        self.edge_channels, self.residual = edge_channels, residual
        self.self_loops, self.duplicates = self_loops, duplicates
        self.context_keys = ("edge_index", "edge_attr") if edge_channels else ("edge_index",)
        self.message_mlp = mlp([2 * in_channels + edge_channels, hidden_channels, hidden_channels], activation,
                               final_activation=True)
        self.update_mlp = mlp([in_channels + hidden_channels, hidden_channels, out_channels], activation)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for module in (*getattr(self, "message_mlp", ()), *getattr(self, "update_mlp", ())):
            if isinstance(module, nn.Linear):
                module.reset_parameters()

    def field_types(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None
                    ) -> tuple[FieldType, FieldType]:
        """``(x, edge_index[, edge_attr]) → h`` under S_N, N = ``x.shape[0]``; edge features keep their order."""
        group = Permutations(self._count_nodes(x, self.in_channels))
        extra = (TrivialField(group, self.edge_channels),) if self.edge_channels else ()
        return node_field_types(group.n, self.in_channels, self.out_channels, extra)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        num_nodes = self._count_nodes(x, self.in_channels)
        check_edge_index(edge_index, num_nodes)
        if self.edge_channels:
            check_edge_features(edge_attr, edge_index.shape[1], self.edge_channels)
        elif edge_attr is not None:
            raise ValueError(f"this layer was built with edge_channels=0 but got edge_attr of shape {list(edge_attr.shape)}")
        edge_index, edge_attr = prepare_edges(edge_index, num_nodes, self_loops=self.self_loops,
                                              duplicates=self.duplicates, edge_attr=edge_attr, fill_value="mean")
        out = self.propagate(edge_index, x=x, edge_attr=edge_attr)
        return x + out if self.residual else out

    def message(self, x_i: Tensor, x_j: Tensor, edge_attr: Tensor | None) -> Tensor:
        parts = [x_i, x_j] if edge_attr is None else [x_i, x_j, edge_attr]
        return self.message_mlp(torch.cat(parts, dim=-1))

    def update(self, aggregated: Tensor, x: Tensor) -> Tensor:
        return self.update_mlp(torch.cat([x, aggregated], dim=-1))

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        bad = super().bad_inputs(*inputs)
        if self.edge_channels and len(inputs) == 3:
            x, edge_index, edge_attr = inputs
            bad["input 2: one edge feature too many"] = (x, edge_index, torch.cat([edge_attr, edge_attr[:, :1]], 1))
            bad["input 2: one row too few"] = (x, edge_index, edge_attr[1:])
        return bad

    def export(self) -> nn.Module:
        """A plain-torch module computing the same function (gather, MLPs, ``scatter``), for the graph as given.

        Raises:
            NotImplementedError: a self-loop or duplicate policy other than ``"keep"``.
        """
        reasons = {f"self_loops={self.self_loops!r}": self.self_loops != "keep",
                   f"duplicates={self.duplicates!r}": self.duplicates != "keep"}
        if any(reasons.values()):
            raise NotImplementedError(f"MessagePassingLayer.export() covers the graph as given (self_loops='keep', "
                                      f"duplicates='keep'), got {[k for k, bad in reasons.items() if bad]}")
        return _PlainMessagePassing(copy.deepcopy(self.message_mlp), copy.deepcopy(self.update_mlp), self.aggr,
                                    self.residual)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["MessagePassingLayer", tuple]:
        """Mean aggregation with 3 edge channels and a residual, on a 7-node multigraph."""
        with seeded(generator):
            layer = cls(5, 5, 8, edge_channels=3, aggr="mean", residual=True)
        edge_index = random_graph(7, 14, generator)
        return layer, (torch.randn(7, 5, generator=generator), edge_index,
                       torch.randn(edge_index.shape[1], 3, generator=generator))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, hidden={self.hidden_channels}, edge={self.edge_channels}, "
                f"aggr={self.aggr}, residual={self.residual}, self_loops={self.self_loops}, duplicates={self.duplicates}")


class _PlainMessagePassing(nn.Module):
    """:class:`MessagePassingLayer` in plain torch: m_ij = ψ(x_i, x_j, e_ij), h_i = φ(x_i, ⊕_j m_ij) (+ x_i)."""

    def __init__(self, message_mlp: nn.Module, update_mlp: nn.Module, aggr: str, residual: bool):
        super().__init__()
        self.message_mlp, self.update_mlp, self.aggr, self.residual = message_mlp, update_mlp, aggr, residual

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        source, target = edge_index
        parts = [x.index_select(0, target), x.index_select(0, source)] + ([] if edge_attr is None else [edge_attr])
        messages = self.message_mlp(torch.cat(parts, dim=-1))
        aggregated = scatter(messages, target, dim=0, dim_size=x.shape[0], reduce=self.aggr)
        out = self.update_mlp(torch.cat([x, aggregated], dim=-1))
        return x + out if self.residual else out
