"""E(n)-equivariant graph neural networks (Satorras, Hoogeboom & Welling 2021; book §5.5).

Nodes carry invariant features h_i and coordinates x_i ∈ Rⁿ (optionally velocities v_i). One layer, for every edge
j → i (``edge_index[:, e] = (j, i)``), with C = 1/|N(i)| (``coords_aggr="mean"``, the paper's C = 1/(M−1) on a complete
graph of M nodes) or C = 1 (``"sum"``):

    m_ij   = φ_e(h_i, h_j, ‖x_i − x_j‖², a_ij)                          (eq. 3)
    x_i'   = x_i + C Σ_{j∈N(i)} (x_i − x_j) φ_x(m_ij)                    (eq. 4)
    m_i    = Σ_{j∈N(i)} m_ij                                             (eq. 5)
    h_i'   = φ_h(h_i, m_i)        (h_i + φ_h(h_i, m_i) with a residual)   (eq. 6)

and with velocities (eq. 7) the coordinate update becomes

    v_i'   = φ_v(h_i) v_i + C Σ_{j∈N(i)} (x_i − x_j) φ_x(m_ij),     x_i' = x_i + v_i'.

Why it is equivariant: the messages see only invariants (features, squared distances, edge attributes), so a
rotation/reflection R and a translation t leave m_ij, h' and φ_v(h) unchanged, while x_i − x_j and v_i turn by R
and x_i moves by R·+t; relabelling the nodes permutes every per-node quantity and relabels the edges. So for
(σ, R, t) ∈ S_N × E(n): f(σ·h, σ·x Rᵀ + t, σ·v Rᵀ) = (σ·h', σ·x' Rᵀ + t, σ·v' Rᵀ). Every step is one vectorised
gather/scatter over the edges.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from gdl.core import FieldType, ProductField, ProductGroup, TrivialField, TupleField, seeded
from gdl.core.checks import check_choice, check_edge_features, check_edge_index, check_node_features
from gdl.symmetries.euclidean import Euclidean, PointField, VectorField
from gdl.symmetries.geometric import AbsentField, check_absent
from gdl.symmetries.permutations import EdgeIndexField, Permutations, SetField

from .base import GraphLayer, mlp
from .builders import complete_graph
from .edges import prepare_edges

__all__ = ["EGNNLayer", "EGNN", "egnn_field_types"]

COORDINATE_AGGREGATIONS = ("mean", "sum")


def egnn_field_types(num_nodes: int, in_channels: int | None, out_channels: int | None, *, dim: int = 3,
                     velocity: bool = False, edge_channels: int = 0) -> tuple[TupleField, TupleField]:
    """Types of ``(h, x, edge_index, v, edge_attr) → (h', x'[, v'])`` under S_N × E(dim).

    h: permuted, invariant under E(n); x: permuted, x Rᵀ + t; v: permuted, v Rᵀ; edge_index: relabelled;
    edge_attr: edges keep their order and values.
    """
    permutations, motions = Permutations(num_nodes), Euclidean(dim)
    group = ProductGroup((permutations, motions))

    def features(channels):
        return ProductField((SetField(permutations, channels), TrivialField(motions, channels)))

    points = ProductField((SetField(permutations, dim), PointField(motions)))
    vectors = ProductField((SetField(permutations, dim), VectorField(motions)))
    edges = ProductField((EdgeIndexField(permutations), TrivialField(motions)))
    inputs = (features(in_channels), points, edges,
              vectors if velocity else AbsentField(group, "velocities (velocity=False)"),
              TrivialField(group, edge_channels) if edge_channels else AbsentField(group, "edge features (edge_channels=0)"))
    outputs = (features(out_channels), points) + ((vectors,) if velocity else ())
    return TupleField(inputs), TupleField(outputs)


class EGNNLayer(GraphLayer):
    """One E(n)-equivariant layer (Satorras et al. 2021, eqs. 3–7; see the module docstring).

    φ_e = Linear → σ → Linear → σ on [h_i ‖ h_j ‖ ‖x_i − x_j‖² ‖ a_ij]; φ_x = Linear → σ → Linear(·, 1, no bias) with
    a small Xavier init (gain 0.001, so the coordinates start almost unchanged); φ_h = Linear → σ → Linear on
    [h_i ‖ m_i]; φ_v = Linear → σ → Linear(·, 1) on h_i. These are the paper's choices (its code, σ = SiLU).

    Args:
        in_channels: C_in of h.
        out_channels: C_out of h'.
        hidden_channels: width of the messages and MLPs (default C_out).
        edge_channels: width of a_ij (0: none).
        velocity: the velocity variant (eq. 7): takes v and also returns v'.
        coords_aggr: C, ``"mean"`` (1/|N(i)|, the paper's) or ``"sum"`` (1).
        dim: n, the dimension of the coordinates.
        activation: σ (``"silu"``, ``"relu"``, ``"gelu"``, ``"tanh"``).
        residual: h_i' = h_i + φ_h(h_i, m_i) (needs C_in = C_out).
        self_loops, duplicates: edge policies (see :mod:`gdl.graphs.edges`); a self-loop's x_i − x_i = 0 moves
            nothing but its message enters m_i.
        num_nodes: N for the field types and input checks (``None``: any graph).

    Shapes:
        h ``[N, C_in]``, x ``[N, n]``, edge_index ``[2, E]``, v ``[N, n]``, edge_attr ``[E, C_e]`` →
        (h' ``[N, C_out]``, x' ``[N, n]``) and v' ``[N, n]`` with ``velocity=True``.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int | None = None, edge_channels: int = 0,
                 *, velocity: bool = False, coords_aggr: str = "mean", dim: int = 3, activation: str = "silu",
                 residual: bool = False, self_loops: str = "keep", duplicates: str = "keep",
                 num_nodes: int | None = None):
        super().__init__()
        hidden = out_channels if hidden_channels is None else hidden_channels
        if residual and in_channels != out_channels:
            raise ValueError(f"residual=True needs in_channels == out_channels, got {in_channels} and {out_channels}")
        if isinstance(edge_channels, bool) or not isinstance(edge_channels, int) or edge_channels < 0:
            raise ValueError(f"edge_channels must be a non-negative integer, got {edge_channels!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.coords_aggr = check_choice(coords_aggr, COORDINATE_AGGREGATIONS, "coords_aggr")
        prepare_edges(torch.empty(2, 0, dtype=torch.long), 1, self_loops=self_loops, duplicates=duplicates)  # checks
        self.in_channels, self.out_channels, self.hidden_channels = in_channels, out_channels, hidden
        self.edge_channels, self.velocity, self.dim, self.residual = edge_channels, velocity, dim, residual
        self.self_loops, self.duplicates = self_loops, duplicates
        self.num_nodes = self._check_num_nodes(num_nodes)
        self.edge_mlp = mlp([2 * in_channels + 1 + edge_channels, hidden, hidden], activation, final_activation=True)
        self.coord_mlp = mlp([hidden, hidden, 1], activation)
        self.coord_mlp[-1].bias = None
        nn.init.xavier_uniform_(self.coord_mlp[-1].weight, gain=0.001)
        self.node_mlp = mlp([in_channels + hidden, hidden, out_channels], activation)
        self.velocity_mlp = mlp([in_channels, hidden, 1], activation) if velocity else None

    def field_types(self, num_nodes: int) -> tuple[FieldType, FieldType]:
        return egnn_field_types(num_nodes, self.in_channels, self.out_channels, dim=self.dim, velocity=self.velocity,
                                edge_channels=self.edge_channels)

    def check_inputs(self, h: Tensor, x: Tensor, edge_index: Tensor, v: Tensor | None, edge_attr: Tensor | None) -> int:
        """Raise on a wrong shape, dtype, node count or node id; return N."""
        num_nodes = self._count_nodes(h, self.in_channels, "h")
        check_node_features(x, num_nodes, self.dim, "x (coordinates)")
        check_edge_index(edge_index, num_nodes)
        if self.velocity:
            if v is None:
                raise ValueError("this layer was built with velocity=True: pass the velocities v [N, dim]")
            check_node_features(v, num_nodes, self.dim, "v (velocities)")
        else:
            check_absent(v, "velocities (velocity=False)")
        if self.edge_channels:
            check_edge_features(edge_attr, edge_index.shape[1], self.edge_channels)
        else:
            check_absent(edge_attr, "edge features (edge_channels=0)")
        return num_nodes

    def forward(self, h: Tensor, x: Tensor, edge_index: Tensor, v: Tensor | None = None,
                edge_attr: Tensor | None = None) -> tuple[Tensor, ...]:
        num_nodes = self.check_inputs(h, x, edge_index, v, edge_attr)
        edge_index, edge_attr = prepare_edges(edge_index, num_nodes, self_loops=self.self_loops,
                                              duplicates=self.duplicates, edge_attr=edge_attr, fill_value="mean")
        source, target = edge_index  # j, i
        # index_select, not x[index]: its backward is an index_add, where advanced indexing's is a slower index_put
        difference = x.index_select(0, target) - x.index_select(0, source)  # x_i − x_j  [E, n]
        squared_distance = (difference * difference).sum(-1, keepdim=True)
        parts = [h.index_select(0, target), h.index_select(0, source), squared_distance]
        parts += [edge_attr] if edge_attr is not None else []
        messages = self.edge_mlp(torch.cat(parts, dim=-1))  # m_ij  [E, hidden]
        shift = scatter(difference * self.coord_mlp(messages), target, dim=0, dim_size=num_nodes,
                        reduce=self.coords_aggr)  # C Σ_j (x_i − x_j) φ_x(m_ij)
        aggregated = scatter(messages, target, dim=0, dim_size=num_nodes, reduce="sum")  # m_i
        h_new = self.node_mlp(torch.cat([h, aggregated], dim=-1))
        if self.residual:
            h_new = h + h_new
        if self.velocity_mlp is None:
            return h_new, x + shift
        v_new = self.velocity_mlp(h) * v + shift
        return h_new, x + v_new, v_new

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["EGNNLayer", tuple]:
        """The velocity variant with 2 edge channels on a 6-node multigraph, sum coordinate aggregation."""
        with seeded(generator):
            layer = cls(4, 4, 8, edge_channels=2, velocity=True, coords_aggr="sum", residual=True, num_nodes=6)
            nn.init.xavier_uniform_(layer.coord_mlp[-1].weight)  # a visible coordinate update for the check
        edge_index = torch.cat([complete_graph(5, self_loops=False), torch.tensor([[5, 1, 1], [0, 2, 2]])], dim=1)
        return layer, (torch.randn(6, 4, generator=generator), torch.randn(6, 3, generator=generator), edge_index,
                       torch.randn(6, 3, generator=generator), torch.randn(edge_index.shape[1], 2, generator=generator))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, hidden={self.hidden_channels}, edge={self.edge_channels}, "
                f"velocity={self.velocity}, coords_aggr={self.coords_aggr}, dim={self.dim}, residual={self.residual}"
                + (f", {super().extra_repr()}" if self.num_nodes else ""))


class EGNN(GraphLayer):
    """An EGNN (Satorras et al. 2021): an embedding of h, L :class:`EGNNLayer` with residual features, and a head.

    h⁰ = W_in h + b_in; (hˡ⁺¹, xˡ⁺¹) = EGNNLayer_l(hˡ, xˡ, v, a) with the *input* velocities v in every layer
    (eq. 7 uses v_i^init); the output is (W_out hᴸ + b_out, xᴸ). This is the paper's N-body model (``EGNN_vel``: 4
    layers, 64 channels, SiLU, h = ‖v‖, a_ij = (q_i q_j, ‖x_i − x_j‖²)) when built with ``velocity=True``.

    Args:
        in_channels: C_in of h.
        hidden_channels: width of every layer.
        out_channels: size of the output features (default: ``hidden_channels``, no head).
        num_layers: L.
        edge_channels: width of a_ij (0: none).
        velocity: use velocities (eq. 7).
        coords_aggr: ``"mean"`` or ``"sum"``.
        dim: n.
        activation: σ.
        num_nodes: N for the field types and input checks (``None``: any graph).

    Shapes:
        h ``[N, C_in]``, x ``[N, n]``, edge_index ``[2, E]``, v ``[N, n]``, edge_attr ``[E, C_e]`` →
        (h' ``[N, C_out]``, x' ``[N, n]``).
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, in_channels: int, hidden_channels: int = 64, out_channels: int | None = None, num_layers: int = 4,
                 edge_channels: int = 0, *, velocity: bool = False, coords_aggr: str = "mean", dim: int = 3,
                 activation: str = "silu", num_nodes: int | None = None):
        super().__init__()
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        self.in_channels, self.hidden_channels, self.edge_channels = in_channels, hidden_channels, edge_channels
        self.out_channels = hidden_channels if out_channels is None else out_channels
        self.velocity, self.dim = velocity, dim
        self.num_nodes = self._check_num_nodes(num_nodes)
        self.embedding = nn.Linear(in_channels, hidden_channels)
        self.layers = nn.ModuleList(
            EGNNLayer(hidden_channels, hidden_channels, hidden_channels, edge_channels, velocity=velocity,
                      coords_aggr=coords_aggr, dim=dim, activation=activation, residual=True)
            for _ in range(num_layers))
        self.head = None if out_channels is None else nn.Linear(hidden_channels, out_channels)

    def field_types(self, num_nodes: int) -> tuple[FieldType, FieldType]:
        in_type, out_type = egnn_field_types(num_nodes, self.in_channels, self.out_channels, dim=self.dim,
                                             velocity=self.velocity, edge_channels=self.edge_channels)
        return in_type, TupleField(out_type.fields[:2])

    def forward(self, h: Tensor, x: Tensor, edge_index: Tensor, v: Tensor | None = None,
                edge_attr: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._count_nodes(h, self.in_channels, "h")  # the first layer checks the rest
        h = self.embedding(h)
        for layer in self.layers:
            h, x = layer(h, x, edge_index, v, edge_attr)[:2]
        return (h if self.head is None else self.head(h)), x

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["EGNN", tuple]:
        """Two velocity layers on a complete 5-node graph with one edge feature, as in the N-body task."""
        with seeded(generator):
            model = cls(1, 8, 2, num_layers=2, edge_channels=1, velocity=True, num_nodes=5)
            for layer in model.layers:
                nn.init.xavier_uniform_(layer.coord_mlp[-1].weight)
        edge_index = complete_graph(5, self_loops=False)
        return model, (torch.rand(5, 1, generator=generator), torch.randn(5, 3, generator=generator), edge_index,
                       torch.randn(5, 3, generator=generator), torch.randn(edge_index.shape[1], 1, generator=generator))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, hidden={self.hidden_channels}, out={self.out_channels}, velocity={self.velocity}"
                + (f", {super().extra_repr()}" if self.num_nodes else ""))
