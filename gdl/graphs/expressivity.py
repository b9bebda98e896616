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

from typing import ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter

from gdl.core import FieldType, TrivialField, seeded
from gdl.core.checks import AGGREGATIONS, check_choice, check_edge_index

from .base import GraphLayer, mlp
from .edges import prepare_edges
from .flavours import node_field_types, random_graph

__all__ = ["GINLayer", "GIN", "wl_colour_refinement", "wl_histograms", "wl_distinguishes", "initial_colours",
           "disjoint_union", "READOUTS"]

#: graph-level poolings A of :class:`GIN`
READOUTS = ("sum", "mean", "max")
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
        num_nodes: N for the field types and input checks (``None``: any graph).

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]`` → ``[N, C_out]``.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, in_channels: int | None, out_channels: int | None, hidden_channels: int | None = None, *,
                 aggr: str = "sum", eps: float = 0.0, train_eps: bool = False, mlp_module: nn.Module | None = None,
                 self_loops: str = "keep", duplicates: str = "keep", num_nodes: int | None = None):
        super().__init__(aggr=check_choice(aggr, AGGREGATIONS, "aggr"))
        prepare_edges(torch.empty(2, 0, dtype=torch.long), 1, self_loops=self_loops, duplicates=duplicates)  # checks
        self.in_channels, self.out_channels = in_channels, out_channels
        self.self_loops, self.duplicates = self_loops, duplicates
        self.num_nodes = self._check_num_nodes(num_nodes)
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

    def field_types(self, num_nodes: int) -> tuple[FieldType, FieldType]:
        return node_field_types(num_nodes, self.in_channels, self.out_channels)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        num_nodes = self._count_nodes(x, self.in_channels)
        check_edge_index(edge_index, num_nodes)
        edge_index, _ = prepare_edges(edge_index, num_nodes, self_loops=self.self_loops, duplicates=self.duplicates)
        aggregated = self.propagate(edge_index, x=x)
        return self.mlp((1 + self.eps) * x + aggregated)

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    @classmethod
    def from_pyg(cls, conv: MessagePassing, num_nodes: int | None = None) -> "GINLayer":
        """The same layer as a torch-geometric ``GINConv`` (a deep copy of its ``nn`` and ε)."""
        import copy

        from torch_geometric.nn import GINConv

        if not isinstance(conv, GINConv):
            raise TypeError(f"from_pyg expects a torch_geometric GINConv, got {type(conv).__name__}")
        linears = [m for m in conv.nn.modules() if isinstance(m, nn.Linear)]
        channels = (linears[0].in_features, linears[-1].out_features) if linears else (None, None)
        aggr = {"add": "sum"}.get(str(conv.aggr), str(conv.aggr))
        layer = cls(*channels, aggr=aggr, eps=float(conv.eps.detach()), train_eps=isinstance(conv.eps, nn.Parameter),
                    mlp_module=copy.deepcopy(conv.nn), num_nodes=num_nodes)
        return layer.to(conv.eps.device)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["GINLayer", tuple]:
        """Sum aggregation with a learned ε = 0.25 on a 7-node multigraph."""
        with seeded(generator):
            layer = cls(4, 6, 8, eps=0.25, train_eps=True, num_nodes=7)
        return layer, (torch.randn(7, 4, generator=generator), random_graph(7, 14, generator))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, aggr={self.aggr}, eps={float(self.eps):.3g}, "
                f"self_loops={self.self_loops}, duplicates={self.duplicates}"
                + (f", {super().extra_repr()}" if self.num_nodes else ""))


class GIN(GraphLayer):
    """A graph-level GIN (Xu et al. 2019): J GIN layers with ReLU, a pooling A of every layer, then a linear head.

    .. math::
        h^{(0)} = x,\\quad h^{(j)} = \\mathrm{ReLU}(\\mathrm{GIN}_j(h^{(j-1)})),\\quad
        y_G = W \\big[ A(h^{(1)}) ‖ … ‖ A(h^{(J)}) \\big] + b

    with A = sum (``readout="sum"``, injective on multisets), mean or max over the nodes of each graph. The output
    is invariant under relabelling the nodes (book eq. 6: the blueprint's invariant pooling A).

    Args:
        in_channels: C_in.
        hidden_channels: width of every GIN layer.
        out_channels: size of y_G.
        num_layers: J.
        aggr: ⊕ inside every layer (``"sum"`` for GIN proper).
        readout: A, ``"sum"``, ``"mean"`` or ``"max"``.
        eps, train_eps: ε of every layer.
        num_nodes: N for the field types and input checks (``None``: any graph).

    Shapes:
        x ``[N, C_in]``, edge_index ``[2, E]``, batch ``[N]`` (graph of each node; ``None``: one graph),
        num_graphs B (optional) → ``[B, out_channels]``.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 3, *,
                 aggr: str = "sum", readout: str = "sum", eps: float = 0.0, train_eps: bool = False,
                 num_nodes: int | None = None):
        super().__init__()
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        self.readout = check_choice(readout, READOUTS, "readout")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_nodes = self._check_num_nodes(num_nodes)
        widths = [in_channels] + [hidden_channels] * num_layers
        self.layers = nn.ModuleList(GINLayer(a, b, b, aggr=aggr, eps=eps, train_eps=train_eps)
                                    for a, b in zip(widths[:-1], widths[1:]))
        self.head = nn.Linear(num_layers * hidden_channels, out_channels)

    def field_types(self, num_nodes: int) -> tuple[FieldType, FieldType]:
        in_type, _ = node_field_types(num_nodes, self.in_channels, None)
        return in_type, TrivialField(in_type.group, self.out_channels)

    def node_embeddings(self, x: Tensor, edge_index: Tensor) -> list[Tensor]:
        """h^{(1)}, …, h^{(J)}, each ``[N, hidden]``."""
        self._count_nodes(x, self.in_channels)
        embeddings = []
        for layer in self.layers:
            x = torch.relu(layer(x, edge_index))
            embeddings.append(x)
        return embeddings

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        """``num_graphs``: B when ``batch`` is given (default: ``batch.max() + 1``, which reads a value)."""
        embeddings = self.node_embeddings(x, edge_index)
        if batch is None:
            batch, num_graphs = torch.zeros(x.shape[0], dtype=torch.long, device=x.device), 1
        elif not isinstance(batch, Tensor) or batch.dtype != torch.long or batch.shape != (x.shape[0],):
            given = f"{batch.dtype} {list(batch.shape)}" if isinstance(batch, Tensor) else type(batch).__name__
            raise ValueError(f"batch must be an int64 tensor [{x.shape[0]}] (the graph of every node), got {given}")
        elif num_graphs is None:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 1
        pooled = [scatter(h, batch, dim=0, dim_size=num_graphs, reduce=self.readout) for h in embeddings]
        return self.head(torch.cat(pooled, dim=-1))

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["GIN", tuple]:
        """Two GIN layers and a sum readout on a 7-node multigraph (one graph: the output is invariant)."""
        with seeded(generator):
            model = cls(3, 8, 2, num_layers=2, num_nodes=7)
        return model, (torch.randn(7, 3, generator=generator), random_graph(7, 14, generator))

    def extra_repr(self) -> str:
        return f"readout={self.readout}" + (f", {super().extra_repr()}" if self.num_nodes else "")


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
