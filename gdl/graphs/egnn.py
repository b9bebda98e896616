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
(σ, R, t) ∈ S_N × E(n): f(σ·h, σ·x Rᵀ + t, σ·v Rᵀ) = (σ·h', σ·x' Rᵀ + t, σ·v Rᵀ) (a layer passes the initial
velocities on; the updated ones are v' = x' − x). Every step is one vectorised gather/scatter over the edges.

Layers and the :class:`EGNN` network take the signal (h, x[, v]) first and the graph (``edge_index``[, ``edge_attr``])
after it: ``EGNN`` is a :class:`~gdl.core.Blueprint` with that context.
"""

from __future__ import annotations

import copy
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from gdl.core import Blueprint, FieldType, ProductField, ProductGroup, TrivialField, TupleField, check_int, seeded
from gdl.core.checks import check_choice, check_edge_features, check_edge_index, check_node_features
from gdl.symmetries.euclidean import Euclidean, PointField, VectorField
from gdl.symmetries.permutations import EdgeIndexField, Permutations, SetField

from .base import GraphLayer, graph_bad_inputs, mlp
from .builders import complete_graph
from .edges import prepare_edges

__all__ = ["EGNNLayer", "EGNNLinear", "EGNN", "egnn_field_types"]

COORDINATE_AGGREGATIONS = ("mean", "sum")


def egnn_field_types(num_nodes: int, in_channels: int | None, out_channels: int | None, *, dim: int = 3,
                     velocity: bool = False, edge_channels: int = 0) -> tuple[TupleField, TupleField]:
    """Types of ``(h, x[, v], edge_index[, edge_attr]) → (h', x'[, v])`` under S_N × E(dim).

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
    signal = (points,) + ((vectors,) if velocity else ())
    context = (edges,) + ((TrivialField(group, edge_channels),) if edge_channels else ())
    return TupleField((features(in_channels),) + signal + context), TupleField((features(out_channels),) + signal)


class _EGNNInputs:
    """The positional layout of an EGNN layer's inputs: ``(h, x[, v], edge_index[, edge_attr])``."""

    velocity: bool
    edge_channels: int
    in_channels: int | None
    dim: int

    def _signature(self) -> str:
        names = ["h", "x"] + ["v"] * self.velocity + ["edge_index"] + ["edge_attr"] * bool(self.edge_channels)
        return f"({', '.join(names)})"

    def _unpack(self, inputs: tuple) -> tuple[Tensor | None, Tensor, Tensor | None]:
        """``(v, edge_index, edge_attr)`` from the inputs after ``h, x`` (absent ones ``None``)."""
        expected = 1 + self.velocity + bool(self.edge_channels)
        if len(inputs) != expected:
            options = f"velocity={self.velocity}, edge_channels={self.edge_channels}"
            raise TypeError(f"{type(self).__name__}({options}) takes {self._signature()}: {expected + 2} inputs, "
                            f"got {len(inputs) + 2}")
        inputs = list(inputs)
        v = inputs.pop(0) if self.velocity else None
        edge_index = inputs.pop(0)
        return v, edge_index, (inputs.pop(0) if self.edge_channels else None)

    def _check_signal(self, h: Tensor, x: Tensor, v: Tensor | None, channels: int | None) -> int:
        """Raise on a wrong shape, dtype or node count of the signal; return N."""
        num_nodes = check_node_features(h, None, channels, "h")
        check_node_features(x, num_nodes, self.dim, "x (coordinates)")
        if self.velocity:
            check_node_features(v, num_nodes, self.dim, "v (velocities)")
        return num_nodes


def _egnn_update(layer: nn.Module, h: Tensor, x: Tensor, v: Tensor | None, edge_index: Tensor,
                 edge_attr: Tensor | None) -> tuple[Tensor, ...]:
    """Eqs. 3–7 on prepared inputs with the MLPs and options of ``layer`` (an :class:`EGNNLayer` or its export)."""
    source, target = edge_index  # j, i
    # index_select, not x[index]: its backward is an index_add, where advanced indexing's is a slower index_put
    difference = x.index_select(0, target) - x.index_select(0, source)  # x_i − x_j  [E, n]
    squared_distance = (difference * difference).sum(-1, keepdim=True)
    parts = [h.index_select(0, target), h.index_select(0, source), squared_distance]
    parts += [edge_attr] if edge_attr is not None else []
    messages = layer.edge_mlp(torch.cat(parts, dim=-1))  # m_ij  [E, hidden]
    shift = scatter(difference * layer.coord_mlp(messages), target, dim=0, dim_size=x.shape[0],
                    reduce=layer.coords_aggr)  # C Σ_j (x_i − x_j) φ_x(m_ij)
    aggregated = scatter(messages, target, dim=0, dim_size=x.shape[0], reduce="sum")  # m_i
    h_new = layer.node_mlp(torch.cat([h, aggregated], dim=-1))
    if layer.residual:
        h_new = h + h_new
    if layer.velocity_mlp is None:
        return h_new, x + shift
    return h_new, x + (layer.velocity_mlp(h) * v + shift), v  # x' = x + v', v' = φ_v(h) v + shift (eq. 7)


class EGNNLayer(_EGNNInputs, GraphLayer):
    """One E(n)-equivariant layer (Satorras et al. 2021, eqs. 3–7; see the module docstring).

    φ_e = Linear → σ → Linear → σ on [h_i ‖ h_j ‖ ‖x_i − x_j‖² ‖ a_ij]; φ_x = Linear → σ → Linear(·, 1, no bias) with
    a small Xavier init (gain 0.001, so the coordinates start almost unchanged); φ_h = Linear → σ → Linear on
    [h_i ‖ m_i]; φ_v = Linear → σ → Linear(·, 1) on h_i. These are the paper's choices (its code, σ = SiLU).

    The signal is (h, x) or, with velocities, (h, x, v); the graph (``edge_index`` and, with ``edge_channels > 0``,
    ``edge_attr``) comes after it, so the layer runs inside a :class:`~gdl.core.Blueprint` with that context. It
    returns the signal for the next layer: (h', x') or (h', x', v). The velocities pass on unchanged, because eq. 7
    uses the initial ones v_i^init in every layer; the updated velocity is v' = x' − x.

    Args:
        in_channels: C_in of h.
        out_channels: C_out of h'.
        hidden_channels: width of the messages and MLPs (default C_out).
        edge_channels: width of a_ij (0: none).
        velocity: the velocity variant (eq. 7): takes v after x.
        coords_aggr: C, ``"mean"`` (1/|N(i)|, the paper's) or ``"sum"`` (1).
        dim: n, the dimension of the coordinates.
        activation: σ, a name in :data:`gdl.core.ACTIVATIONS` (default ``"silu"``) or a callable.
        residual: h_i' = h_i + φ_h(h_i, m_i) (needs C_in = C_out).
        self_loops, duplicates: edge policies (see :mod:`gdl.graphs.edges`); a self-loop's x_i − x_i = 0 moves
            nothing but its message enters m_i.

    Shapes:
        h ``[N, C_in]``, x ``[N, n]``, v ``[N, n]``, edge_index ``[2, E]``, edge_attr ``[E, C_e]`` →
        (h' ``[N, C_out]``, x' ``[N, n]``[, v ``[N, n]``]).
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int | None = None, edge_channels: int = 0,
                 *, velocity: bool = False, coords_aggr: str = "mean", dim: int = 3, activation: str = "silu",
                 residual: bool = False, self_loops: str = "keep", duplicates: str = "keep"):
        super().__init__()
        hidden = out_channels if hidden_channels is None else hidden_channels
        if residual and in_channels != out_channels:
            raise ValueError(f"residual=True needs in_channels == out_channels, got {in_channels} and {out_channels}")
        check_int(edge_channels, "edge_channels", 0)
        check_int(dim, "dim")
        self.coords_aggr = check_choice(coords_aggr, COORDINATE_AGGREGATIONS, "coords_aggr")
        prepare_edges(torch.empty(2, 0, dtype=torch.long), 1, self_loops=self_loops, duplicates=duplicates)  # checks
        self.in_channels, self.out_channels, self.hidden_channels = in_channels, out_channels, hidden
        self.edge_channels, self.velocity, self.dim, self.residual = edge_channels, bool(velocity), dim, residual
        self.self_loops, self.duplicates = self_loops, duplicates
        self.context_keys = ("edge_index", "edge_attr") if edge_channels else ("edge_index",)
        self.edge_mlp = mlp([2 * in_channels + 1 + edge_channels, hidden, hidden], activation, final_activation=True)
        self.coord_mlp = mlp([hidden, hidden, 1], activation)
        self.coord_mlp[-1].bias = None
        nn.init.xavier_uniform_(self.coord_mlp[-1].weight, gain=0.001)
        self.node_mlp = mlp([in_channels + hidden, hidden, out_channels], activation)
        self.velocity_mlp = mlp([in_channels, hidden, 1], activation) if velocity else None

    def field_types(self, h: Tensor, x: Tensor, *inputs: Tensor) -> tuple[FieldType, FieldType]:
        """Types of ``(h, x[, v], edge_index[, edge_attr])`` under S_N × E(dim), N = ``h.shape[0]``."""
        v, _, _ = self._unpack(inputs)
        return egnn_field_types(self._check_signal(h, x, v, self.in_channels), self.in_channels, self.out_channels,
                                dim=self.dim, velocity=self.velocity, edge_channels=self.edge_channels)

    def check_inputs(self, h: Tensor, x: Tensor, v: Tensor | None, edge_index: Tensor, edge_attr: Tensor | None) -> int:
        """Raise on a wrong shape, dtype, node count or node id; return N."""
        num_nodes = self._check_signal(h, x, v, self.in_channels)
        check_edge_index(edge_index, num_nodes)
        if self.edge_channels:
            check_edge_features(edge_attr, edge_index.shape[1], self.edge_channels)
        return num_nodes

    def forward(self, h: Tensor, x: Tensor, *inputs: Tensor) -> tuple[Tensor, ...]:
        """``layer(h, x, edge_index[, edge_attr])`` or, with ``velocity=True``, ``layer(h, x, v, edge_index[, edge_attr])``."""
        v, edge_index, edge_attr = self._unpack(inputs)
        num_nodes = self.check_inputs(h, x, v, edge_index, edge_attr)
        edge_index, edge_attr = prepare_edges(edge_index, num_nodes, self_loops=self.self_loops,
                                              duplicates=self.duplicates, edge_attr=edge_attr, fill_value="mean")
        return _egnn_update(self, h, x, v, edge_index, edge_attr)

    def bad_inputs(self, *inputs: Tensor) -> dict[str, tuple]:
        bad = super().bad_inputs(*inputs)
        h, x = inputs[:2]
        bad["input 1: 2-D coordinates"] = (h, x[:, :2]) + inputs[2:]
        bad["input 1: one coordinate row too few"] = (h, x[1:]) + inputs[2:]
        bad["one input too few"] = inputs[:-1]
        if self.velocity:
            bad["input 2: integer velocities"] = inputs[:2] + (inputs[2].round().long(),) + inputs[3:]
        if self.edge_channels:
            bad["last input: edge features for one edge too few"] = inputs[:-1] + (inputs[-1][1:],)
        return bad

    def export(self) -> nn.Module:
        """A plain-torch module computing the same function (gathers, MLPs, ``scatter``), for the graph as given.

        Raises:
            NotImplementedError: a self-loop or duplicate policy other than ``"keep"``.
        """
        if (self.self_loops, self.duplicates) != ("keep", "keep"):
            raise NotImplementedError(f"EGNNLayer.export() covers the graph as given (self_loops='keep', "
                                      f"duplicates='keep'), got {self.self_loops!r}, {self.duplicates!r}")
        return _PlainEGNNLayer(self)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["EGNNLayer", tuple]:
        """The velocity variant with 2 edge channels on a 6-node multigraph, sum coordinate aggregation."""
        with seeded(generator):
            layer = cls(4, 4, 8, edge_channels=2, velocity=True, coords_aggr="sum", residual=True)
            nn.init.xavier_uniform_(layer.coord_mlp[-1].weight)  # a visible coordinate update for the check
        edge_index = torch.cat([complete_graph(5, self_loops=False), torch.tensor([[5, 1, 1], [0, 2, 2]])], dim=1)
        return layer, (torch.randn(6, 4, generator=generator), torch.randn(6, 3, generator=generator),
                       torch.randn(6, 3, generator=generator), edge_index,
                       torch.randn(edge_index.shape[1], 2, generator=generator))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, hidden={self.hidden_channels}, edge={self.edge_channels}, "
                f"velocity={self.velocity}, coords_aggr={self.coords_aggr}, dim={self.dim}, residual={self.residual}")


class _PlainEGNNLayer(nn.Module):
    """:class:`EGNNLayer` in plain torch (copies of its MLPs, no checks)."""

    def __init__(self, layer: EGNNLayer):
        super().__init__()
        for name in ("edge_mlp", "coord_mlp", "node_mlp", "velocity_mlp"):
            setattr(self, name, copy.deepcopy(getattr(layer, name)))
        self.coords_aggr, self.residual = layer.coords_aggr, layer.residual
        self.velocity, self.edges = layer.velocity, bool(layer.edge_channels)

    def forward(self, h: Tensor, x: Tensor, *inputs: Tensor) -> tuple[Tensor, ...]:
        inputs = list(inputs)
        v = inputs.pop(0) if self.velocity else None
        edge_index = inputs.pop(0)
        return _egnn_update(self, h, x, v, edge_index, inputs.pop(0) if self.edges else None)


class EGNNLinear(_EGNNInputs, GraphLayer, register=False):
    """An affine map of the invariant features, h ↦ W h + b, that passes the coordinates (and velocities) on: the
    embedding and the head of :class:`EGNN`.

    Args:
        in_channels, out_channels: C_in and C_out of h.
        velocity: the signal also carries velocities v.
        dim: n, the dimension of the coordinates.

    Shapes:
        (h ``[N, C_in]``, x ``[N, n]``[, v ``[N, n]``]) → (W h + b ``[N, C_out]``, x[, v]).
    """

    edge_channels = 0

    def __init__(self, in_channels: int, out_channels: int, *, velocity: bool = False, dim: int = 3):
        super().__init__()
        self.in_channels, self.out_channels, self.velocity, self.dim = in_channels, out_channels, bool(velocity), dim
        self.linear = nn.Linear(check_int(in_channels, "in_channels"), check_int(out_channels, "out_channels"))

    def field_types(self, h: Tensor, x: Tensor, v: Tensor | None = None) -> tuple[FieldType, FieldType]:
        in_type, out_type = egnn_field_types(self._check_signal(h, x, v, self.in_channels), self.in_channels,
                                             self.out_channels, dim=self.dim, velocity=self.velocity)
        signal = 2 + self.velocity
        return TupleField(in_type.fields[:signal]), out_type

    def forward(self, h: Tensor, x: Tensor, *velocity: Tensor) -> tuple[Tensor, ...]:
        if len(velocity) != self.velocity:
            raise TypeError(f"EGNNLinear(velocity={self.velocity}) takes {'(h, x, v)' if self.velocity else '(h, x)'}, "
                            f"got {2 + len(velocity)} inputs")
        self._check_signal(h, x, velocity[0] if velocity else None, self.in_channels)
        return (self.linear(h), x, *velocity)

    def export(self) -> nn.Module:
        return _PlainEGNNLinear(copy.deepcopy(self.linear))

    def extra_repr(self) -> str:
        return f"{self.in_channels} → {self.out_channels}, velocity={self.velocity}"


class _PlainEGNNLinear(nn.Module):
    """:class:`EGNNLinear` in plain torch."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.linear = linear

    def forward(self, h: Tensor, x: Tensor, *velocity: Tensor) -> tuple[Tensor, ...]:
        return (self.linear(h), x, *velocity)


class EGNN(Blueprint):
    """An EGNN (Satorras et al. 2021): an embedding of h, L :class:`EGNNLayer` with residual features, and a head.

    h⁰ = W_in h + b_in; (hˡ⁺¹, xˡ⁺¹) = EGNNLayer_l(hˡ, xˡ[, v]) with the *input* velocities v in every layer
    (eq. 7 uses v_i^init); the output is (W_out hᴸ + b_out, xᴸ[, v]). This is the paper's N-body model (``EGNN_vel``:
    4 layers, 64 channels, SiLU, h = ‖v‖, a_ij = (q_i q_j, ‖x_i − x_j‖²)) when built with ``velocity=True``.

    A :class:`~gdl.core.Blueprint` of :class:`EGNNLinear` and :class:`EGNNLayer` layers whose signal is (h, x[, v])
    and whose context is ``("edge_index",)`` (``("edge_index", "edge_attr")`` with edge features); its group is
    S_N × E(dim).

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

    Shapes:
        h ``[N, C_in]``, x ``[N, n]``, v ``[N, n]``, edge_index ``[2, E]``, edge_attr ``[E, C_e]`` →
        (h' ``[N, C_out]``, x' ``[N, n]``[, v]).
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, in_channels: int, hidden_channels: int = 64, out_channels: int | None = None, num_layers: int = 4,
                 edge_channels: int = 0, *, velocity: bool = False, coords_aggr: str = "mean", dim: int = 3,
                 activation: str = "silu"):
        check_int(num_layers, "num_layers")
        layers = [EGNNLinear(in_channels, hidden_channels, velocity=velocity, dim=dim)]
        layers += [EGNNLayer(hidden_channels, hidden_channels, hidden_channels, edge_channels, velocity=velocity,
                             coords_aggr=coords_aggr, dim=dim, activation=activation, residual=True)
                   for _ in range(num_layers)]
        if out_channels is not None:
            layers.append(EGNNLinear(hidden_channels, out_channels, velocity=velocity, dim=dim))
        super().__init__(*layers, context=("edge_index", "edge_attr") if edge_channels else ("edge_index",))
        self.in_channels, self.hidden_channels, self.edge_channels = in_channels, hidden_channels, edge_channels
        self.out_channels = hidden_channels if out_channels is None else out_channels
        self.velocity, self.dim = bool(velocity), dim

    @property
    def embedding(self) -> nn.Linear:
        return self.layers[0].linear

    @property
    def head(self) -> nn.Linear | None:
        return self.layers[-1].linear if isinstance(self.layers[-1], EGNNLinear) and len(self.layers) > 1 else None

    def bad_inputs(self, *inputs: Tensor) -> dict[str, tuple]:
        bad = graph_bad_inputs(super().bad_inputs(*inputs), inputs)
        h, x = inputs[:2]
        bad["input 1: 2-D coordinates"] = (h, x[:, :2]) + inputs[2:]
        bad["one input too few"] = inputs[:-1]
        return bad

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["EGNN", tuple]:
        """Two velocity layers on a complete 5-node graph with one edge feature, as in the N-body task."""
        with seeded(generator):
            model = cls(1, 8, 2, num_layers=2, edge_channels=1, velocity=True)
            for layer in model.layers:
                if isinstance(layer, EGNNLayer):
                    nn.init.xavier_uniform_(layer.coord_mlp[-1].weight)
        edge_index = complete_graph(5, self_loops=False)
        return model, (torch.rand(5, 1, generator=generator), torch.randn(5, 3, generator=generator),
                       torch.randn(5, 3, generator=generator), edge_index,
                       torch.randn(edge_index.shape[1], 1, generator=generator))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, hidden={self.hidden_channels}, out={self.out_channels}, velocity={self.velocity}, "
                + super().extra_repr())
