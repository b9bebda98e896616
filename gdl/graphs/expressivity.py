"""How much a message-passing GNN can tell apart: 1-WL colour refinement and GIN (book §5.3, §4.1).

The 1-dimensional Weisfeiler–Leman test colours every node, then repeatedly recolours it by its own colour and the
*multiset* of its neighbours' colours,

    c_u^{t+1} = HASH(c_u^t, {{ c_v^t : v ∈ N(u) }}),

until the partition of the nodes stops refining. Two graphs whose colour histograms agree at every round are not
distinguished by 1-WL, and then by no message-passing GNN either (Xu et al. 2019, Morris et al. 2019): a layer
h_u = φ(h_u, ⊕_v ψ(h_v)) is a function of exactly what 1-WL hashes. Two disjoint triangles and a 6-cycle are the
classic pair (both 2-regular on 6 nodes). A GNN reaches the 1-WL bound only if its aggregation is injective on
multisets: a sum can be (GIN, :class:`GINLayer`), a mean or a max cannot ({{a, b}} and {{a, a, b, b}} have the same
mean and the same max), so on regular graphs of different degree with equal features (the 6-cycle and K₃,₃) mean
and max aggregation, GCN's normalised sum and attention all give identical outputs while GIN's sum and 1-WL do not.
"""

from __future__ import annotations

import copy
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter

from gdl.core import Blueprint, FieldType, TupleField, check_int, seeded
from gdl.core.checks import AGGREGATIONS, check_choice, check_edge_index
from gdl.testing.fixtures import random_graph

from .base import GraphLayer, graph_bad_inputs, mlp, node_field_types
from .edges import prepare_edges
from .readout import READOUTS, GraphReadout, InvariantMLP

__all__ = ["GINLayer", "JumpingGINLayer", "GIN", "wl_colour_refinement", "wl_histograms", "wl_distinguishes",
           "initial_colours", "disjoint_union", "READOUTS"]
#: the prime modulus of the multiset hashes of :func:`wl_colour_refinement`
_PRIME = 2_147_483_647


class GINLayer(GraphLayer, MessagePassing):
    r"""A Graph Isomorphism Network layer (Xu et al. 2019, eq. 4.1), with a selectable aggregator.

    .. math::
        h_u = \mathrm{MLP}\Big((1 + ε)\, x_u + \bigoplus_{v ∈ N(u)} x_v\Big)

    With ⊕ = sum the map from (x_u, multiset of x_v) is injective for a suitable MLP and ε, which makes GIN as
    discriminative as 1-WL; ``aggr="mean"`` or ``"max"`` gives the weaker variants used to show the difference.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        hidden_channels: width of the MLP (default C_out).
        aggr: ⊕, ``"sum"`` (GIN), ``"mean"`` or ``"max"``.
        eps: ε (initial value when trained).
        train_eps: learn ε.
        mlp_module: a module to use instead of Linear → ReLU → Linear (its sizes must fit C_in and C_out).
        self_loops, duplicates: edge policies (see :mod:`gdl.graphs.edges`); default ``"keep"`` as GIN.

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]`` → ``[N, C_out]``.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None
    context_keys = ("edge_index",)

    def __init__(self, in_channels: int | None, out_channels: int | None, hidden_channels: int | None = None, *,
                 aggr: str = "sum", eps: float = 0.0, train_eps: bool = False, mlp_module: nn.Module | None = None,
                 self_loops: str = "keep", duplicates: str = "keep"):
        super().__init__(aggr=check_choice(aggr, AGGREGATIONS, "aggr"))
        prepare_edges(torch.empty(2, 0, dtype=torch.long), 1, self_loops=self_loops, duplicates=duplicates)  # checks
        self.in_channels, self.out_channels = in_channels, out_channels
        self.self_loops, self.duplicates = self_loops, duplicates
        if mlp_module is None:
            if in_channels is None or out_channels is None:
                raise ValueError("in_channels and out_channels are needed to build the default MLP")
            mlp_module = mlp([in_channels, hidden_channels or out_channels, out_channels], "relu")
        self.mlp = mlp_module
        self.initial_eps = float(eps)
        if train_eps:
            self.eps = nn.Parameter(torch.tensor([float(eps)]))
        else:
            self.register_buffer("eps", torch.tensor([float(eps)]))

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for module in getattr(self, "mlp", nn.Sequential()).modules():
            if module is not self.mlp and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        if hasattr(self, "eps"):
            self.eps.data.fill_(self.initial_eps)

    def field_types(self, x: Tensor, edge_index: Tensor) -> tuple[FieldType, FieldType]:
        """``(x, edge_index) → h`` under S_N, N = ``x.shape[0]``."""
        return node_field_types(self._count_nodes(x, self.in_channels), self.in_channels, self.out_channels)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        num_nodes = self._count_nodes(x, self.in_channels)
        check_edge_index(edge_index, num_nodes)
        edge_index, _ = prepare_edges(edge_index, num_nodes, self_loops=self.self_loops, duplicates=self.duplicates)
        aggregated = self.propagate(edge_index, x=x)
        return self.mlp((1 + self.eps) * x + aggregated)

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    @classmethod
    def from_pyg(cls, conv: MessagePassing) -> "GINLayer":
        """The same layer as a torch-geometric ``GINConv`` (a deep copy of its ``nn`` and ε)."""
        from torch_geometric.nn import GINConv

        if not isinstance(conv, GINConv):
            raise TypeError(f"from_pyg expects a torch_geometric GINConv, got {type(conv).__name__}")
        linears = [m for m in conv.nn.modules() if isinstance(m, nn.Linear)]
        channels = (linears[0].in_features, linears[-1].out_features) if linears else (None, None)
        aggr = {"add": "sum"}.get(str(conv.aggr), str(conv.aggr))
        layer = cls(*channels, aggr=aggr, eps=float(conv.eps.detach()), train_eps=isinstance(conv.eps, nn.Parameter),
                    mlp_module=copy.deepcopy(conv.nn))
        return layer.to(conv.eps.device)

    def export(self) -> nn.Module:
        """torch-geometric's ``GINConv`` with a copy of the MLP and ε (for the graph as given: ``self_loops`` and
        ``duplicates`` ``"keep"``).

        Raises:
            NotImplementedError: another edge policy (``GINConv`` has none).
        """
        from torch_geometric.nn import GINConv

        if (self.self_loops, self.duplicates) != ("keep", "keep"):
            raise NotImplementedError(f"GINLayer.export() is GINConv, which takes the graph as given; got "
                                      f"self_loops={self.self_loops!r}, duplicates={self.duplicates!r}")
        train_eps = isinstance(self.eps, nn.Parameter)
        conv = GINConv(copy.deepcopy(self.mlp), train_eps=train_eps, aggr={"sum": "add"}.get(self.aggr, self.aggr))
        conv.nn.load_state_dict(self.mlp.state_dict())  # GINConv re-initialises its nn when built
        conv.eps.data = self.eps.detach().clone()
        return conv.to(self.eps.device).train(self.training)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["GINLayer", tuple]:
        """Sum aggregation with a learned ε = 0.25 on a 7-node multigraph."""
        with seeded(generator):
            layer = cls(4, 6, 8, eps=0.25, train_eps=True)
        return layer, (torch.randn(7, 4, generator=generator), random_graph(7, 14, generator))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, aggr={self.aggr}, eps={float(self.eps):.3g}, "
                f"self_loops={self.self_loops}, duplicates={self.duplicates}")


class JumpingGINLayer(GraphLayer, register=False):
    """One stage of :class:`GIN`: h_j = ReLU(GIN_j(h_{j−1})), passing on every stage's output side by side.

    The first stage maps x to h_1; stage j > 1 reads the last block h_{j−1} of [h_1 ‖ … ‖ h_{j−1}] and appends h_j,
    so that the readout after the last stage pools every layer's embedding (Xu et al.'s readout of all depths).

    Args:
        layer: the GIN layer of this stage.
        first: whether the input is x (else the concatenation of the earlier stages).

    Shapes:
        ``[N, C]``, edge_index ``[2, E]`` → ``[N, C_out]`` (first) or ``[N, C + C_out]``.
    """

    context_keys = ("edge_index",)

    def __init__(self, layer: GINLayer, first: bool):
        super().__init__()
        self.layer, self.first = layer, bool(first)

    def _width(self, h: Tensor) -> int:
        width = self.layer.in_channels
        self._count_nodes(h, width if self.first else None)
        if h.shape[1] < width:
            raise ValueError(f"a GIN stage reads the last {width} channels of the earlier stages' output, "
                             f"got shape {list(h.shape)}")
        return h.shape[1]

    def field_types(self, h: Tensor, edge_index: Tensor) -> tuple[FieldType, FieldType]:
        width = self._width(h)
        out = self.layer.out_channels + (0 if self.first else width)
        return node_field_types(h.shape[0], width, out)

    def forward(self, h: Tensor, edge_index: Tensor) -> Tensor:
        self._width(h)
        new = torch.relu(self.layer(h if self.first else h[:, -self.layer.in_channels:], edge_index))
        return new if self.first else torch.cat([h, new], dim=-1)

    def export(self) -> nn.Module:
        return _PlainJumpingStage(self.layer.export(), self.layer.in_channels, self.first)


class _PlainJumpingStage(nn.Module):
    """:class:`JumpingGINLayer` in plain torch."""

    def __init__(self, conv: nn.Module, in_channels: int, first: bool):
        super().__init__()
        self.conv, self.in_channels, self.first = conv, in_channels, first

    def forward(self, h: Tensor, edge_index: Tensor) -> Tensor:
        new = torch.relu(self.conv(h if self.first else h[:, -self.in_channels:], edge_index))
        return new if self.first else torch.cat([h, new], dim=-1)


class GIN(Blueprint):
    """A graph-level GIN (Xu et al. 2019): J GIN layers with ReLU, a pooling A of every layer, then a linear head.

    .. math::
        h^{(0)} = x,\\quad h^{(j)} = \\mathrm{ReLU}(\\mathrm{GIN}_j(h^{(j-1)})),\\quad
        y_G = W \\big[ A(h^{(1)}) ‖ … ‖ A(h^{(J)}) \\big] + b

    with A = sum (``readout="sum"``, injective on multisets), mean or max over the nodes of each graph. The output
    is invariant under relabelling the nodes (book eq. 6: the blueprint's invariant pooling A). A
    :class:`~gdl.core.Blueprint` of :class:`JumpingGINLayer` stages, a :class:`~gdl.graphs.GraphReadout` that reads
    ``batch`` from the context, and an :class:`~gdl.graphs.InvariantMLP` head; its group is S_N.

    Args:
        in_channels: C_in.
        hidden_channels: width of every GIN layer.
        out_channels: size of y_G.
        num_layers: J.
        aggr: ⊕ inside every layer (``"sum"`` for GIN proper).
        readout: A, ``"sum"``, ``"mean"`` or ``"max"``.
        eps, train_eps: ε of every layer.

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]``, batch ``[N]`` (graph of each node; optional: one graph) →
        ``[B, out_channels]``.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None
    #: the readout reads the number of graphs from ``batch`` (one value read, which splits the graph in every frame
    #: on the stack: readout, blueprint run, forward)
    expected_graph_breaks = 4

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 3, *,
                 aggr: str = "sum", readout: str = "sum", eps: float = 0.0, train_eps: bool = False):
        check_int(num_layers, "num_layers")
        check_choice(readout, READOUTS, "readout")
        widths = [in_channels] + [hidden_channels] * num_layers
        stages = [JumpingGINLayer(GINLayer(a, b, b, aggr=aggr, eps=eps, train_eps=train_eps), first=j == 0)
                  for j, (a, b) in enumerate(zip(widths[:-1], widths[1:]))]
        super().__init__(*stages, GraphReadout(readout), InvariantMLP([num_layers * hidden_channels, out_channels]),
                         context=("edge_index", "batch"))
        self.readout = readout
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels

    @property
    def head(self) -> nn.Linear:
        """The linear map W, b after the readout."""
        return self.layers[-1].net[0]

    def node_embeddings(self, x: Tensor, edge_index: Tensor) -> list[Tensor]:
        """h^{(1)}, …, h^{(J)}, each ``[N, hidden]``."""
        h = x
        for stage in self.layers[:-2]:
            h = stage(h, edge_index)
        return list(h.split(self.hidden_channels, dim=-1))

    def field_types(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None) -> tuple[FieldType, FieldType]:
        in_type, out_type = super().field_types(x, edge_index, batch)
        return (TupleField(in_type.fields[:2]) if batch is None else in_type), out_type

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None) -> Tensor:
        """``batch``: the graph of every node ``[N]`` (``None``: one graph)."""
        return super().forward(x, edge_index, batch)

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        bad = graph_bad_inputs(super().bad_inputs(*inputs), inputs)
        if len(inputs) == 3:
            x, edge_index, batch = inputs
            negative = batch.clone()
            negative[-1] = -1
            bad["input 2: graph id -1"] = (x, edge_index, negative)
            bad["input 2: one id too many"] = (x, edge_index, torch.cat([batch, batch[:1]]))
        return bad

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["GIN", tuple]:
        """Two GIN layers and a sum readout on a batch of two multigraphs (7 and 5 nodes, mixed order)."""
        with seeded(generator):
            model = cls(3, 8, 2, num_layers=2)
        first, second = random_graph(7, 14, generator), random_graph(5, 8, generator)
        order = torch.randperm(12, generator=generator)  # node k of the union is node order[k] of the two graphs
        edge_index = torch.argsort(order)[torch.cat([first, second + 7], dim=1)]
        batch = (order >= 7).long()
        return model, (torch.randn(12, 3, generator=generator), edge_index, batch)

    def extra_repr(self) -> str:
        return f"readout={self.readout}, " + super().extra_repr()


# -- 1-WL --------------------------------------------------------------------------------------------------------
def initial_colours(x: Tensor | None, num_nodes: int) -> Tensor:
    """Colours ``[N]`` (0 … K−1) from node features ``[N, C]`` (equal rows, equal colour) or one colour if ``None``."""
    if x is None:
        return torch.zeros(num_nodes, dtype=torch.long)
    if x.dim() == 1:
        x = x.unsqueeze(-1)
    if x.shape[0] != num_nodes:
        raise ValueError(f"node features must have one row per node: expected {num_nodes} rows, got {list(x.shape)}")
    return torch.unique(x, dim=0, return_inverse=True)[1]


def wl_colour_refinement(edge_index: Tensor, num_nodes: int, colours: Tensor | None = None,
                         iterations: int | None = None, seed: int = 0) -> list[Tensor]:
    """1-WL colour refinement: the colourings c⁰, c¹, … ``[N]`` until the partition is stable (or ``iterations``).

    Each round is vectorised over the edges: the multiset {{c_v : v ∈ N(u)}} of incoming neighbours is hashed as
    (Σ_v r₁(c_v) mod p, Σ_v r₂(c_v) mod p) with random tables r₁, r₂ in [1, p), p = 2³¹ − 1 (a scatter-sum), and the
    new colour of u is the rank of (c_u, hash₁, hash₂) among the distinct triples (``torch.unique``). Two different
    multisets collide in both hashes with probability about p⁻² ≈ 2·10⁻¹⁹ per pair and round, so the colours are
    exact for any practical purpose; the result is deterministic given ``seed``.

    Args:
        edge_index: ``[2, E]`` edges j → i (node i receives j's colour); list both directions for undirected graphs.
        num_nodes: N.
        colours: initial colours ``[N]`` int64 (default: all equal; see :func:`initial_colours` for features).
        iterations: stop after this many rounds (default: when the number of colours stops growing).
        seed: seeds the hash tables.

    Returns:
        ``[c⁰, c¹, …]``, each ``[N]`` int64 with values 0 … K_t − 1; the last one is stable.
    """
    check_edge_index(edge_index, num_nodes)
    if colours is not None and not isinstance(colours, Tensor):
        raise TypeError(f"colours must be an integer tensor [{num_nodes}], got {type(colours).__name__}")
    if colours is not None and colours.is_floating_point() and not torch.equal(colours, colours.round()):
        raise ValueError(f"colours must be integers (class ids), got non-integer values {colours.tolist()}; "
                         "turn features into colours with initial_colours")
    colours = torch.zeros(num_nodes, dtype=torch.long) if colours is None else colours.to(torch.long)
    if colours.shape != (num_nodes,):
        raise ValueError(f"colours must be an int64 tensor [{num_nodes}], got shape {list(colours.shape)}")
    colours = torch.unique(colours, return_inverse=True)[1].to(edge_index.device)
    generator = torch.Generator().manual_seed(seed)
    source, target = edge_index
    history = [colours]
    if num_nodes == 0:
        return history
    limit = num_nodes if iterations is None else iterations  # N rounds always reach the stable partition
    for _ in range(limit):
        count = int(colours.max()) + 1
        tables = torch.randint(1, _PRIME, (2, count), generator=generator).to(edge_index.device)
        hashes = [scatter(table[colours[source]], target, dim=0, dim_size=num_nodes, reduce="sum") % _PRIME
                  for table in tables]
        signature = torch.stack([colours, *hashes], dim=1)
        refined = torch.unique(signature, dim=0, return_inverse=True)[1]
        if iterations is None and int(refined.max()) + 1 == count:
            break  # stable: one more round only renames the colours
        colours = refined
        history.append(colours)
    return history


def disjoint_union(graphs: list[tuple[Tensor, int]]) -> tuple[Tensor, int, Tensor]:
    """The disjoint union of graphs given as ``(edge_index, num_nodes)``: (edge_index, N, batch ``[N]``)."""
    offsets = torch.tensor([0] + [n for _, n in graphs]).cumsum(0)
    edge_index = torch.cat([e + offset for (e, _), offset in zip(graphs, offsets)], dim=1)
    batch = torch.cat([torch.full((n,), k, dtype=torch.long) for k, (_, n) in enumerate(graphs)])
    return edge_index, int(offsets[-1]), batch


def wl_histograms(graphs: list[tuple[Tensor, int]], colours: list[Tensor] | None = None) -> list[Tensor]:
    """Colour histograms ``[G, K_t]`` of several graphs, one per round, refined jointly on their disjoint union.

    Graphs with different rows in some round are distinguished by 1-WL.
    """
    edge_index, num_nodes, batch = disjoint_union(graphs)
    initial = None if colours is None else torch.cat(colours)
    history = wl_colour_refinement(edge_index, num_nodes, initial)
    histograms = []
    for colouring in history:
        counts = torch.zeros(len(graphs), int(colouring.max()) + 1, dtype=torch.long)
        counts.index_put_((batch, colouring), torch.ones_like(colouring), accumulate=True)
        histograms.append(counts)
    return histograms


def wl_distinguishes(graph_a: tuple[Tensor, int], graph_b: tuple[Tensor, int],
                     colours: tuple[Tensor, Tensor] | None = None) -> bool:
    """Whether 1-WL tells the two graphs ``(edge_index, num_nodes)`` apart (optionally with initial colours)."""
    histograms = wl_histograms([graph_a, graph_b], None if colours is None else list(colours))
    return any(not torch.equal(h[0], h[1]) for h in histograms)
