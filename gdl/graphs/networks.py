"""Graph networks as blueprints: the three flavours stacked, a graph-blind MLP and a graph Transformer (book §5.3–5.4).

Each network is a :class:`~gdl.core.Blueprint` of gdl layers with the graph as its context, so the registry sweep
checks the whole network, its group is the intersection of its layers' groups (S_N here), and :meth:`export`
composes the layers' plain-torch forms where they have them:

* :class:`ConvolutionalGNN`: dropout → :class:`~gdl.graphs.ConvolutionalLayer` → σ, repeated (GCN with the
  defaults, Kipf & Welling 2017; GraphSAGE with ``aggr="mean", normalization=None, root_weight=True,
  self_loops="keep"``);
* :class:`AttentionalGNN`: :class:`~gdl.graphs.AttentionalLayer` heads concatenated, σ between layers, one head
  at the end (GAT, Veličković et al. 2018);
* :class:`MessagePassingGNN`: an embedding, residual :class:`~gdl.graphs.MessagePassingLayer` blocks with edge
  features, an MLP decoder (an MPNN, Gilmer et al. 2017);
* :class:`NodeMLP`: the same widths without the graph (the control every GNN is compared with);
* :class:`GraphTransformer`: an embedding with optional Laplacian positional encodings, Transformer layers on an
  attention graph, a LayerNorm → Linear head (Dwivedi & Bresson 2020).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from gdl.core import Blueprint, FieldType, Pointwise, TupleField, check_int, seeded
from gdl.core.checks import check_edge_index, check_node_features
from gdl.symmetries.permutations import EdgeIndexField, Permutations, SetField
from gdl.testing.fixtures import random_graph

from .base import GraphLayer, NodeDropout, Nodewise, graph_bad_inputs, mlp
from .flavours import AttentionalLayer, ConvolutionalLayer, MessagePassingLayer
from .positional import LaplacianPE
from .transformer import TransformerGNNLayer

__all__ = ["ConvolutionalGNN", "AttentionalGNN", "MessagePassingGNN", "NodeMLP", "GraphTransformer", "NodeEmbedding"]


def _run_prefix(net: Blueprint, count: int, signal: tuple, context: dict[str, Any]) -> Any:
    """The output of the first ``count`` layers of ``net`` (what its ``hidden`` methods return)."""
    for layer in net.layers[:count]:
        out = layer(*signal, *(context[key] for key in layer.context_keys))
        signal = out if isinstance(out, tuple) else (out,)
    return signal if len(signal) > 1 else signal[0]


class _GraphNetwork(Blueprint, register=False):
    """Shared by the networks here: bad inputs of graph layers (node features, an edge list)."""

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        return graph_bad_inputs(super().bad_inputs(*inputs), inputs)


class ConvolutionalGNN(_GraphNetwork):
    r"""Stacked convolutional layers: :math:`h^{(l)} = σ(\mathrm{Conv}_l(\mathrm{dropout}(h^{(l-1)})))`, no σ at the end.

    With the defaults this is Kipf & Welling's GCN, ŷ = Â σ(Â X W₁ + b₁) W₂ + b₂ with Â = D̂^{-1/2}(A + I)D̂^{-1/2}
    (dropout before each layer); ``layer_options`` go to every :class:`~gdl.graphs.ConvolutionalLayer` (e.g.
    GraphSAGE's ``aggr="mean", normalization=None, root_weight=True, self_loops="keep"``).

    Args:
        in_channels, hidden_channels, out_channels: the widths.
        num_layers: number of convolutional layers (≥ 1).
        dropout: dropout on the input of every layer (training mode only; 0: none).
        activation: σ between layers.
        layer_options: keyword arguments of every layer.

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]`` → ``[N, C_out]``.
    """

    #: in the example (3 layers, GCN's ``self_loops="add"``, which selects edges by value, a data-dependent shape;
    #: ``"append"`` compiles to one graph)
    expected_graph_breaks = 8

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2, *,
                 dropout: float = 0.0, activation: str | Callable = "relu", **layer_options: Any):
        widths = [in_channels] + [hidden_channels] * (check_int(num_layers, "num_layers") - 1) + [out_channels]
        layers: list = []
        for k, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            if k:
                layers.append(Pointwise(activation=activation))
            layers += [NodeDropout(dropout)] if dropout else []
            layers.append(ConvolutionalLayer(fan_in, fan_out, **layer_options))
        super().__init__(*layers, context=("edge_index",))
        self.dropout = dropout
        self._hidden_end = len(layers) - 1 - bool(dropout)  # up to the last layer (and its dropout)

    def hidden(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """The features before the last layer, σ(Conv_{L−1}(…)) ``[N, hidden_channels]`` (x for one layer)."""
        return _run_prefix(self, self._hidden_end, (x,), {"edge_index": edge_index})

    @classmethod
    def from_pyg(cls, convs, *, dropout: float = 0.0, activation: str | Callable = "relu") -> "ConvolutionalGNN":
        """The stack of torch-geometric ``GCNConv``/``GraphConv``/``SAGEConv`` layers ``convs`` (copies of their
        weights; one configuration for all, inner widths equal), with σ between them."""
        layers = [ConvolutionalLayer.from_pyg(conv) for conv in convs]
        if not layers:
            raise ValueError("from_pyg needs at least one torch-geometric layer")
        options = [layer.options() for layer in layers]
        if any(option != options[0] for option in options):
            raise ValueError(f"from_pyg needs layers of one configuration, got {options}")
        hidden = layers[0].out_channels
        if any(layer.in_channels != hidden for layer in layers[1:]) or any(
                layer.out_channels != hidden for layer in layers[1:-1]):
            raise ValueError(f"from_pyg needs equal inner widths, got "
                             f"{[(layer.in_channels, layer.out_channels) for layer in layers]}")
        net = cls(layers[0].in_channels, hidden, layers[-1].out_channels, len(layers), dropout=dropout,
                  activation=activation, **options[0])
        ours = [layer for layer in net.layers if isinstance(layer, ConvolutionalLayer)]
        for target, source in zip(ours, layers):
            target.load_state_dict(source.state_dict())
        return net.to(layers[0].lin.weight)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["ConvolutionalGNN", tuple]:
        """A 3-layer GCN with dropout 0.5 (eval mode: off) on a 7-node multigraph."""
        with seeded(generator):
            net = cls(4, 8, 3, num_layers=3, dropout=0.5)
        return net, (torch.randn(7, 4, generator=generator), random_graph(7, 14, generator))


class AttentionalGNN(_GraphNetwork):
    r"""Stacked attentional layers (GAT): hidden layers of ``heads`` concatenated heads with σ after them, and one
    head at the end, :math:`y = \mathrm{GAT}_L(σ(… σ(\mathrm{GAT}_1(x))))`.

    Args:
        in_channels, hidden_channels, out_channels: the widths (``hidden_channels`` divisible by ``heads``).
        num_layers: number of attentional layers (≥ 1).
        heads: heads of every hidden layer (each ``hidden_channels / heads`` wide).
        activation: σ between layers (GAT's ELU by default).
        layer_options: keyword arguments of every :class:`~gdl.graphs.AttentionalLayer` (``score``, ``dropout``,
            ``self_loops``, …).

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]`` → ``[N, C_out]``.
    """

    #: in the example (2 layers, GAT's ``self_loops="add"``, a data-dependent shape; ``"append"`` compiles to one graph)
    expected_graph_breaks = 7

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2, *,
                 heads: int = 4, activation: str | Callable = "elu", **layer_options: Any):
        check_int(num_layers, "num_layers")
        if hidden_channels % check_int(heads, "heads"):
            raise ValueError(f"hidden_channels={hidden_channels} must be divisible by heads={heads} (concatenated heads)")
        layers: list = []
        width = in_channels
        for _ in range(num_layers - 1):
            layers += [AttentionalLayer(width, hidden_channels // heads, heads=heads, **layer_options),
                       Pointwise(activation=activation)]
            width = hidden_channels
        layers.append(AttentionalLayer(width, out_channels, heads=1, **layer_options))
        super().__init__(*layers, context=("edge_index",))

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["AttentionalGNN", tuple]:
        """Two GAT layers, 2 heads, dropout 0.5 on α (eval mode: off), on a 7-node multigraph."""
        with seeded(generator):
            net = cls(4, 6, 3, heads=2, dropout=0.5)
        return net, (torch.randn(7, 4, generator=generator), random_graph(7, 14, generator))


class MessagePassingGNN(_GraphNetwork):
    r"""An MPNN: :math:`h^{(0)} = W x + b`, L residual :class:`~gdl.graphs.MessagePassingLayer` blocks with edge
    features, and an MLP decoder to the outputs.

    Args:
        in_channels, hidden_channels, out_channels: the widths.
        num_layers: number of message-passing layers L.
        edge_channels: width of the edge features (0: none; the context is then only ``edge_index``).
        activation: σ in the layers and the decoder.
        decoder_layers: linear maps in the decoder (≥ 1).
        layer_options: keyword arguments of every layer (``aggr``, ``self_loops``, …).

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]``, edge_attr ``[E, C_e]`` → ``[N, C_out]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 4,
                 edge_channels: int = 0, *, activation: str | Callable = "silu", decoder_layers: int = 2,
                 **layer_options: Any):
        layer_options.setdefault("residual", True)
        layers: list = [Nodewise(nn.Linear(in_channels, hidden_channels), in_channels, hidden_channels)]
        layers += [MessagePassingLayer(hidden_channels, hidden_channels, hidden_channels, edge_channels,
                                       activation=activation, **layer_options)
                   for _ in range(check_int(num_layers, "num_layers"))]
        decoder = mlp([hidden_channels] * check_int(decoder_layers, "decoder_layers") + [out_channels], activation)
        layers.append(Nodewise(decoder, hidden_channels, out_channels))
        super().__init__(*layers, context=("edge_index", "edge_attr") if edge_channels else ("edge_index",))

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["MessagePassingGNN", tuple]:
        """Two residual layers with one edge feature, sum aggregation, on a 7-node multigraph."""
        with seeded(generator):
            net = cls(3, 8, 2, num_layers=2, edge_channels=1)
        edge_index = random_graph(7, 14, generator)
        return net, (torch.randn(7, 3, generator=generator), edge_index,
                     torch.randn(edge_index.shape[1], 1, generator=generator))


class NodeMLP(_GraphNetwork):
    r"""The graph-blind control: an MLP applied to every node alone, :math:`h_u = \mathrm{MLP}(x_u)`.

    It takes ``(x[, edge_index])`` like a GNN, so it runs wherever one does, and ignores the edges (it checks them):
    a :class:`~gdl.core.Blueprint` of :class:`~gdl.graphs.Nodewise` linear maps (dropout before each) and σ, with no
    context. S_N-equivariant; every difference to a GNN of the same widths is what the edges bring.

    Args:
        in_channels, hidden_channels, out_channels: the widths.
        num_layers: number of linear maps (1: a linear model).
        dropout: dropout before every linear map (training mode only).
        activation: σ between the linear maps.

    Shapes:
        x ``[..., N, C_in]`` (edge_index ``[2, E]``, optional) → ``[..., N, C_out]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2, *,
                 dropout: float = 0.0, activation: str | Callable = "relu"):
        widths = [in_channels] + [hidden_channels] * (check_int(num_layers, "num_layers") - 1) + [out_channels]
        layers: list = []
        for k, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            if k:
                layers.append(Pointwise(activation=activation))
            linear = nn.Linear(fan_in, fan_out)
            layers.append(Nodewise(nn.Sequential(nn.Dropout(dropout), linear) if dropout else linear, fan_in, fan_out))
        super().__init__(*layers)
        self.in_channels = in_channels

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:
        out = super().forward(x)  # the first layer checks x
        if edge_index is not None:
            check_edge_index(edge_index, x.shape[-2])
        return out

    def field_types(self, x: Tensor, edge_index: Tensor | None = None) -> tuple[FieldType, FieldType]:
        in_type, out_type = super().field_types(x)
        return (in_type if edge_index is None else TupleField((in_type, EdgeIndexField(in_type.group)))), out_type

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        bad = super().bad_inputs(*inputs)
        bad.pop("input 0: one axis too many", None)  # [..., N, C]: batch axes are valid
        bad["input 0: one axis too few"] = (inputs[0].reshape(-1),) + inputs[1:]
        return bad

    def export(self) -> nn.Module:
        return _IgnoreEdges(super().export())

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["NodeMLP", tuple]:
        """Two linear maps with dropout 0.5 (eval mode: off) on a 7-node multigraph whose edges it ignores."""
        with seeded(generator):
            net = cls(4, 8, 3, dropout=0.5)
        return net, (torch.randn(7, 4, generator=generator), random_graph(7, 14, generator))


class _IgnoreEdges(nn.Module):
    """A plain module ``f(x)`` that also accepts (and ignores) an ``edge_index``."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:
        return self.module(x)


class NodeEmbedding(GraphLayer, register=False):
    r"""The input layer of a graph Transformer: :math:`h_u = W x_u + b\;(+\;\mathrm{LaplacianPE}(φ_u))`.

    Args:
        in_channels: C_in of x.
        width: the embedding size.
        pe_dim: number of Laplacian eigenvectors φ added as positional encodings (0: none; then it takes x alone).
        sign_flip: flip the eigenvectors' signs at random in training (:class:`~gdl.graphs.LaplacianPE`).

    Shapes:
        x ``[N, C_in]`` (and eigenvectors ``[N, pe_dim]``) → ``[N, width]``.
    """

    def __init__(self, in_channels: int, width: int, pe_dim: int = 0, sign_flip: bool = True):
        super().__init__()
        self.embed = nn.Linear(in_channels, width)
        self.positional = LaplacianPE(pe_dim, width, sign_flip=sign_flip) if check_int(pe_dim, "pe_dim", 0) else None
        self.in_channels, self.width, self.pe_dim = in_channels, width, pe_dim

    def _inputs(self, x: Tensor, pe: tuple) -> int:
        if len(pe) != bool(self.pe_dim):
            expected = "(x, eigenvectors)" if self.pe_dim else "(x,)"
            raise TypeError(f"NodeEmbedding(pe_dim={self.pe_dim}) takes {expected}, got {1 + len(pe)} inputs")
        num_nodes = self._count_nodes(x, self.in_channels)
        if pe and check_node_features(pe[0], None, self.pe_dim, "eigenvectors") != num_nodes:
            raise ValueError(f"the eigenvectors must have one row per node: expected {num_nodes} rows, "
                             f"got {list(pe[0].shape)}")
        return num_nodes

    def field_types(self, x: Tensor, *pe: Tensor) -> tuple[FieldType, FieldType]:
        group = Permutations(self._inputs(x, pe))
        parts = (SetField(group, self.in_channels),) + ((SetField(group, self.pe_dim),) if pe else ())
        return (TupleField(parts) if pe else parts[0]), SetField(group, self.width)

    def forward(self, x: Tensor, *pe: Tensor) -> Tensor:
        self._inputs(x, pe)
        h = self.embed(x)
        return h + self.positional(pe[0]) if pe else h

    def export(self) -> nn.Module:
        return _PlainEmbedding(self.embed, None if self.positional is None else self.positional.export())


class _PlainEmbedding(nn.Module):
    """:class:`NodeEmbedding` in plain torch."""

    def __init__(self, embed: nn.Linear, positional: nn.Module | None):
        super().__init__()
        self.embed, self.positional = copy.deepcopy(embed), positional

    def forward(self, x: Tensor, *pe: Tensor) -> Tensor:
        h = self.embed(x)
        return h + self.positional(pe[0]) if pe else h


class GraphTransformer(_GraphNetwork):
    r"""A graph Transformer node model: embedding (+ Laplacian PE) → L Transformer layers → LayerNorm → Linear.

    The layers (:class:`~gdl.graphs.TransformerGNNLayer`, pre-norm, feed-forward 2·width) attend over the context
    ``edge_index`` (``None``: every node attends to every node, the dense path). S_N-equivariant given the
    eigenvectors as node features (Dwivedi & Bresson 2020; the sign ambiguity lies in computing them).

    Args:
        in_channels: C_in.
        out_channels: C_out (e.g. the number of classes).
        width: d_model.
        nhead: attention heads.
        num_layers: L.
        pe_dim: Laplacian eigenvectors as positional encodings (0: none; the signal is then x alone).
        sign_flip: random sign flips of the eigenvectors in training.
        layer_options: keyword arguments of every layer (``dropout``, ``norm_first``, ``dim_feedforward``, …).

    Shapes:
        x ``[N, C_in]`` (and eigenvectors ``[N, pe_dim]``), edge_index ``[2, E]`` or ``None`` → ``[N, C_out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 16, nhead: int = 4, num_layers: int = 2, *,
                 pe_dim: int = 0, sign_flip: bool = True, **layer_options: Any):
        layer_options.setdefault("norm_first", True)
        layer_options.setdefault("dim_feedforward", 2 * width)
        embedding = NodeEmbedding(in_channels, width, pe_dim, sign_flip)
        layers = [TransformerGNNLayer(width, nhead, **layer_options) for _ in range(check_int(num_layers, "num_layers"))]
        head = Nodewise(nn.Sequential(nn.LayerNorm(width), nn.Linear(width, out_channels)), width, out_channels)
        super().__init__(embedding, *layers, head, context=("edge_index",))
        self.pe_dim = pe_dim

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["GraphTransformer", tuple]:
        """Two layers with 3 Laplacian eigenvectors of a 7-node cycle, attending over a random multigraph."""
        from .positional import laplacian_eigenvectors

        with seeded(generator):
            net = cls(4, 3, width=8, nhead=2, pe_dim=3)
        ring = torch.stack([torch.arange(7), (torch.arange(7) + 1) % 7])
        _, vectors = laplacian_eigenvectors(torch.cat([ring, ring.flip(0)], dim=1), 7, 3)
        return net, (torch.randn(7, 4, generator=generator), vectors, random_graph(7, 14, generator))
