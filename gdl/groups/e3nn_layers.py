"""E(3)-equivariant layers on point clouds built from e3nn: Tensor Field Networks (book §4.3, §5.5).

Every layer maps features typed by O(3) irreps (:class:`~gdl.groups.irreps.IrrepsField`) to features typed by
irreps, and commutes with rotations, reflections, translations and relabellings of the points:

* :class:`IrrepsLinear` — y = W x with W block-diagonal over irreps (Schur's lemma: an equivariant linear map
  between irreducible representations is zero between different irreps and a multiple of the identity between
  copies of the same one), biases on the even scalars only.
* :class:`Gate` — the gated nonlinearity of Weiler et al. 2018: scalars pass through φ (SiLU on ``0e``, tanh
  on ``0o``), every other irrep x_k is scaled by σ(g_k) for its own extra ``0e`` "gate" g_k. A pointwise σ on a
  vector is not equivariant (it does not commute with rotating the vector); a scalar factor is.
* :class:`PointConvolution` — the Tensor Field Network convolution (Thomas et al. 2018), book §5.5:

      x'_i = W_self x_i + W_out (1/√n̄) Σ_{j : |r_ij| < r}  ( R(|r_ij|) ⊙ (x_j ⊗ Y(r̂_ij)) ),   r_ij = p_j − p_i,

  with Y the spherical harmonics up to ℓ_max of the edge direction, ⊗ e3nn's Clebsch–Gordan tensor product (one
  ``uvu`` path per input irrep × harmonic × output irrep), R a radial MLP of the edge length (smooth basis that
  vanishes at the cutoff r) giving every path its own weight per edge, and n̄ the typical neighbour count. Only
  relative positions enter, and Y(R r̂) = D(R) Y(r̂), so the layer is E(3)-equivariant; summing over
  neighbours makes it permutation-equivariant.
* :class:`GraphReadout`, :class:`InvariantReadout`, :class:`VectorReadout` — a per-point :class:`IrrepsLinear`
  summed (or averaged) over each graph: an invariant energy-like scalar ``0e`` or an equivariant dipole/force-like
  polar vector ``1o`` (in e3nn's basis D¹(R) = R, so it is a Cartesian vector that rotates with the input).
* :class:`TensorFieldNetwork` — atom embedding → L × (point convolution → gate) → readout, on a torch-geometric
  ``Data``/``Batch`` (``pos``, ``z`` or ``x``, optional ``edge_index`` and ``batch``).

Layers on N points state their field types for a given N (S_N × E(3) acts on them): build them with
``num_nodes=N`` to get ``in_type``/``out_type``, or call :meth:`~_PointCloudModule.field_types` for any N; they
run on any number of points either way.

Empty input: N = 0 points give ``[0, dim]`` node features and the empty sum (zeros) as a graph's readout; a point
without neighbours receives no messages (only its self-interaction).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import FullyConnectedNet
from e3nn.nn import Gate as E3nnGate
from torch import nn
from torch_geometric.utils import scatter

from gdl.core import (
    EquivariantModule,
    FieldType,
    Group,
    ProductField,
    RecordField,
    SizeDependentTypes,
    TrivialField,
    TupleField,
    resolve_activation,
    seeded,
)
from gdl.core.checks import check_batch, check_edge_index, check_int, check_positions
from gdl.symmetries.euclidean import Euclidean, Orthogonal, PointField, VectorField
from gdl.symmetries.geometric import edge_index_field, position_field, radius_graph
from gdl.symmetries.permutations import GraphField, Permutations

from .irreps import IrrepsField, _float64_default, as_irreps
from .point_clouds import graph_level_field, node_field

__all__ = ["IrrepsLinear", "Gate", "PointConvolution", "GraphReadout", "InvariantReadout", "VectorReadout",
           "TensorFieldNetwork", "reachable_irreps"]

#: the irreps the registered examples use: every ℓ ≤ 2 with both parities, so that reflections are exercised
EXAMPLE_IRREPS = "4x0e + 2x0o + 2x1o + 2x1e + 1x2e + 1x2o"


def _check_features(x: Any, field: IrrepsField, what: str = "x") -> torch.Tensor:
    """Raise unless ``x`` is a floating-point ``[N, field.dim]`` tensor (reads only ints: compiles without guards on Irreps)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        given = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{what} must be a floating-point tensor [N, {field.dim}] of irreps {field.irreps}, got {given}")
    if x.dim() != 2 or x.shape[1] != field.dim:
        raise ValueError(f"{what} must have shape [N, {field.dim}] (the dimension of {field.irreps}), got {list(x.shape)}")
    return x


def _example_features(layer: Any, generator: torch.Generator | None, rows: int = 6) -> tuple[torch.Tensor]:
    """Random point features ``([rows, layer.irreps_in.dim],)``, the inputs of the examples of per-point layers."""
    return (torch.randn(rows, layer.irreps_in.dim, generator=generator),)


def _example_points(generator: torch.Generator, num_nodes: int, irreps: o3.Irreps, scale: float = 1.2):
    """Random features ``[N, dim]``, positions ``[N, 3]`` and their radius-2 graph, for the examples."""
    x = torch.randn(num_nodes, irreps.dim, generator=generator)
    pos = scale * torch.randn(num_nodes, 3, generator=generator)
    return x, pos, radius_graph(pos, 2.0)


class _ExactConstants(nn.Module):
    """An e3nn module whose constants (Clebsch–Gordan coefficients, output masks) stay exact in every dtype.

    e3nn computes its constant buffers in torch's default dtype, so a module built in float32 and cast to float64
    keeps float32-rounded coefficients, and its float64 equivariance error is ~1e-8 instead of ~1e-15. The wrapped
    module is built under a float64 default, its floating buffers are kept as float64 masters (a plain dict, which
    ``.to()`` does not touch), and every dtype/device change and every ``load_state_dict`` (which may bring
    float32-rounded copies from a checkpoint) re-derives the buffers from them. Parameters are cast to the
    caller's default dtype as usual.
    """

    def __init__(self, build):
        super().__init__()
        dtype = torch.get_default_dtype()
        with _float64_default():
            module = build()
        self._masters = {name: buffer.detach().clone() for name, buffer in module.named_buffers()
                         if buffer.is_floating_point()}
        self.module = module.to(dtype)
        self.register_load_state_dict_post_hook(lambda module, incompatible_keys: module._restore_constants())

    def _restore_constants(self) -> None:
        for name, master in self._masters.items():
            owner_name, _, leaf = name.rpartition(".")
            owner = self.module.get_submodule(owner_name)
            current = getattr(owner, leaf)
            setattr(owner, leaf, master.to(device=current.device, dtype=current.dtype, copy=True))  # never alias the master

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self._restore_constants()
        return self

    def forward(self, *args):
        return self.module(*args)


def reachable_irreps(irreps_in: Any, irreps_sh: Any) -> o3.Irreps:
    """Every irrep that appears in some ``ir_in ⊗ ir_sh`` (what a point convolution can produce), sorted."""
    irreps_in, irreps_sh = as_irreps(irreps_in), as_irreps(irreps_sh)
    found = {ir_out for _, ir_in in irreps_in for _, ir_sh in irreps_sh for ir_out in ir_in * ir_sh}
    return o3.Irreps([(1, ir) for ir in sorted(found)])


class _IrrepsMap(EquivariantModule, register=False):
    """What :class:`IrrepsLinear` and :class:`Gate` share: O(3) field types ``[..., irreps.dim]`` on both sides and one
    e3nn module (the attribute named by ``wrapped``) applied to the validated input."""

    wrapped: ClassVar[str]

    def _set_irreps(self, irreps_in: o3.Irreps, irreps_out: o3.Irreps, group: Group | None) -> None:
        self.irreps_in, self.irreps_out = irreps_in, irreps_out
        group = group or Orthogonal(3)
        self.in_type, self.out_type = IrrepsField(group, irreps_in), IrrepsField(group, irreps_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        return getattr(self, self.wrapped)(x)


class IrrepsLinear(_IrrepsMap):
    """Equivariant linear map between irreps features: y = W x + b (e3nn ``o3.Linear``).

    W maps the m_in copies of each irrep ℓp to the m_out copies of the same ℓp by an m_out × m_in matrix (times
    the identity on the 2ℓ+1 components) and is zero between different irreps (Schur's lemma); the bias b acts on
    the ``0e`` outputs only (a constant is invariant only if it is an even scalar).

    Args:
        irreps_in: type of the input features, e.g. ``"8x0e + 4x1o"``.
        irreps_out: type of the output features.
        bias: learn a bias on the ``0e`` outputs.
        group: the group the field types name (``Orthogonal(3)`` by default; ``Euclidean(3)`` or ``SpecialOrthogonal(3)``).

    Shapes:
        ``[..., irreps_in.dim]`` → ``[..., irreps_out.dim]``.

    Example:
        >>> layer = IrrepsLinear("4x0e + 2x1o", "3x0e + 1x1o")
        >>> layer(torch.randn(5, 10)).shape
        torch.Size([5, 6])
    """

    wrapped = "linear"

    def __init__(self, irreps_in: Any, irreps_out: Any, bias: bool = True, group: Group | None = None):
        super().__init__()
        self._set_irreps(as_irreps(irreps_in, "irreps_in"), as_irreps(irreps_out, "irreps_out"), group)
        self.linear = _ExactConstants(lambda: o3.Linear(self.irreps_in, self.irreps_out, biases=bias))

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS, "3x0e + 1x0o + 2x1o + 1x1e + 2x2e + 1x2o")
        return layer, _example_features(layer, generator)


class Gate(_IrrepsMap):
    r"""Gated nonlinearity (Weiler et al. 2018, through ``e3nn.nn.Gate``): scalars φ(s), other irreps σ(g_k) x_k.

    .. math::
        (s,\ g_1 \dots g_K,\ x_1 \dots x_K) \;\mapsto\; \big(\phi(s),\ \sigma(g_1)\, x_1,\ \dots,\ \sigma(g_K)\, x_K\big)

    with s the scalars, g_k the ``0e`` gates and x_k the irreps with ℓ > 0. σ(g_k) is invariant, so
    σ(g_k) D(g) x_k = D(g) σ(g_k) x_k: the map is equivariant.

    The layer is specified by its *output* type; its input type ``irreps_in`` is that output's scalars, one extra
    ``0e`` gate per non-scalar irrep, and the non-scalar irreps, merged and sorted by e3nn (so it is what a
    preceding :class:`PointConvolution` or :class:`IrrepsLinear` should produce). Even scalars go through
    ``activation``, odd scalars through ``odd_activation`` (which must be odd, so that φ(−s) = −φ(s) keeps their
    parity), gates through ``gate_activation``. e3nn rescales each φ to preserve the second moment.

    Args:
        irreps_out: output type, e.g. ``"16x0e + 4x0o + 8x1o + 4x2e"``.
        activation: φ on ``0e`` scalars: ``"silu"``, ``"relu"``, ``"gelu"``, ``"tanh"`` or ``"sigmoid"``.
        odd_activation: φ on ``0o`` scalars: ``"tanh"`` (the only odd choice offered).
        gate_activation: σ on the gates: ``"sigmoid"``, ``"silu"``, ``"tanh"`` …
        group: the group the field types name (``Orthogonal(3)`` by default).

    Shapes:
        ``[..., irreps_in.dim]`` → ``[..., irreps_out.dim]``.
    """

    wrapped = "gate"
    ACTIVATION_NAMES = ("silu", "relu", "gelu", "tanh", "sigmoid")

    def __init__(self, irreps_out: Any, activation: str = "silu", odd_activation: str = "tanh",
                 gate_activation: str = "sigmoid", group: Group | None = None):
        super().__init__()
        target = as_irreps(irreps_out, "irreps_out").simplify()
        _, even = resolve_activation(activation, self.ACTIVATION_NAMES, allow_callable=False)
        _, gate = resolve_activation(gate_activation, self.ACTIVATION_NAMES, allow_callable=False, name="gate_activation")
        if odd_activation != "tanh":
            raise ValueError(f"odd_activation must be 'tanh' (odd scalars need an odd function), got {odd_activation!r}")
        scalars = o3.Irreps([(mul, ir) for mul, ir in target if ir.l == 0])
        gated = o3.Irreps([(mul, ir) for mul, ir in target if ir.l > 0])
        acts = [even if ir.p == 1 else torch.tanh for _, ir in scalars]
        gates = o3.Irreps(f"{gated.num_irreps}x0e") if gated.num_irreps else o3.Irreps([])
        self.gate = _ExactConstants(lambda: E3nnGate(scalars, acts, gates, [gate] * len(gates),
                                                     gated))
        self._set_irreps(self.gate.module.irreps_in, self.gate.module.irreps_out, group)

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS)
        return layer, _example_features(layer, generator)


class _PointCloudModule(SizeDependentTypes, EquivariantModule, register=False):
    """A layer on N points whose field types (over S_N × E(3)) depend on N; it runs on any N."""

    size_noun = "points"
    num_nodes: int | None = None

    def _check_num_nodes(self, num_nodes: int) -> None:
        if self.num_nodes is not None and num_nodes != self.num_nodes:
            raise ValueError(f"this {type(self).__name__} was built for num_nodes={self.num_nodes} points, got {num_nodes}")

    def extra_repr(self) -> str:
        return f"irreps_in={self.irreps_in}, irreps_out={self.irreps_out}, num_nodes={self.num_nodes}"


class PointConvolution(_PointCloudModule):
    """Tensor Field Network point convolution (Thomas et al. 2018; book §5.5) over a radius graph.

    .. math::
        x'_i = W_{self} x_i + W_{out} \\frac{1}{\\sqrt{\\bar n}} \\sum_{j \\in N(i)}
               R_\\theta(|r_{ij}|) \\odot \\big(x_j \\otimes Y(r_{ij} / |r_{ij}|)\\big), \\qquad r_{ij} = p_j - p_i

    The radial network R_θ maps a smooth basis of the edge length (e3nn's ``smooth_finite`` functions, which
    vanish at the cutoff, so points crossing the radius enter and leave continuously) to one weight per tensor
    product path and edge. Edges longer than ``radius`` contribute exactly zero, whatever ``edge_index`` holds.

    Args:
        irreps_in: type of the input features.
        irreps_out: type of the output features; every irrep must be produced by some path x ⊗ Y or be in irreps_in.
        lmax: the largest degree ℓ of the spherical harmonics Y (``1x0e + 1x1o + 1x2e + …``).
        radius: the cutoff r.
        num_basis: number of radial basis functions.
        radial_hidden: hidden sizes of the radial MLP.
        avg_num_neighbors: the n̄ of the 1/√n̄ normalisation (typical number of neighbours).
        num_nodes: N for which ``in_type``/``out_type`` are stated (``None``: any N).

    Shapes:
        x ``[N, irreps_in.dim]``, pos ``[N, 3]``, edge_index ``[2, E]`` (edge (j, i): message from j to i) →
        ``[N, irreps_out.dim]``.
    """

    def __init__(self, irreps_in: Any, irreps_out: Any, lmax: int = 2, radius: float = 5.0, num_basis: int = 8,
                 radial_hidden: Sequence[int] = (32,), avg_num_neighbors: float = 10.0, num_nodes: int | None = None):
        super().__init__()
        self.irreps_in, self.irreps_out = as_irreps(irreps_in, "irreps_in"), as_irreps(irreps_out, "irreps_out")
        if isinstance(lmax, bool) or not isinstance(lmax, int) or lmax < 0:
            raise ValueError(f"lmax must be a non-negative integer, got {lmax!r}")
        if not radius > 0 or not avg_num_neighbors > 0:
            raise ValueError(f"radius and avg_num_neighbors must be positive, got {radius} and {avg_num_neighbors}")
        self.radius, self.num_basis = float(radius), check_int(num_basis, "num_basis")
        self.avg_num_neighbors, self.num_nodes = float(avg_num_neighbors), num_nodes
        self.features_in = IrrepsField(Euclidean(3), self.irreps_in)
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        self.spherical_harmonics = o3.SphericalHarmonics(self.irreps_sh, normalize=True, normalization="component")
        reachable = reachable_irreps(self.irreps_in, self.irreps_sh)
        missing = [str(ir) for _, ir in self.irreps_out if ir not in reachable and ir not in self.irreps_in]
        if missing:
            raise ValueError(f"irreps_out {self.irreps_out} contains {', '.join(missing)}, which no path "
                             f"{self.irreps_in} ⊗ {self.irreps_sh} produces (reachable: {reachable})")
        mid, instructions = [], []
        for i, (mul, ir_in) in enumerate(self.irreps_in):
            for j, (_, ir_sh) in enumerate(self.irreps_sh):
                for ir_out in ir_in * ir_sh:
                    if ir_out in self.irreps_out:
                        instructions.append((i, j, len(mid), "uvu", True))
                        mid.append((mul, ir_out))
        self.irreps_mid, self.instructions = o3.Irreps(mid), instructions
        self.tensor_product = _ExactConstants(lambda: o3.TensorProduct(
            self.irreps_in, self.irreps_sh, self.irreps_mid, instructions, internal_weights=False, shared_weights=False))
        self.radial = FullyConnectedNet([self.num_basis, *radial_hidden, self.tensor_product.module.weight_numel],
                                        nn.functional.silu)
        self.linear_out = _ExactConstants(lambda: o3.Linear(self.irreps_mid, self.irreps_out))
        self.self_interaction = _ExactConstants(lambda: o3.Linear(self.irreps_in, self.irreps_out))

    def field_types(self, num_nodes: int) -> tuple[FieldType, FieldType]:
        return (TupleField((node_field(num_nodes, self.irreps_in), position_field(num_nodes), edge_index_field(num_nodes))),
                node_field(num_nodes, self.irreps_out))

    def edge_features(self, pos: torch.Tensor, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spherical harmonics ``[E, irreps_sh.dim]`` of r̂_ij and the radial basis ``[E, num_basis]`` of |r_ij|.

        Several convolutions with the same ``lmax``, ``radius`` and ``num_basis`` can share them
        (:class:`TensorFieldNetwork` computes them once per forward pass).
        """
        source, target = edge_index
        vectors = pos[source] - pos[target]
        harmonics = self.spherical_harmonics(vectors)
        basis = soft_one_hot_linspace(vectors.norm(dim=1), 0.0, self.radius, self.num_basis, basis="smooth_finite",
                                      cutoff=True)
        return harmonics, basis * self.num_basis ** 0.5

    def convolve(self, x: torch.Tensor, edge_index: torch.Tensor, harmonics: torch.Tensor,
                 basis: torch.Tensor) -> torch.Tensor:
        """The update from precomputed :meth:`edge_features` (no input checks)."""
        source, target = edge_index
        messages = self.tensor_product(x[source], harmonics, self.radial(basis))
        aggregated = scatter(messages, target, dim=0, dim_size=x.shape[0], reduce="sum")
        return self.linear_out(aggregated / math.sqrt(self.avg_num_neighbors)) + self.self_interaction(x)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        _check_features(x, self.features_in)
        self._check_num_nodes(x.shape[0])
        check_positions(pos, x.shape[0])
        check_edge_index(edge_index, x.shape[0])
        return self.convolve(x, edge_index, *self.edge_features(pos, edge_index))

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS, "3x0e + 1x0o + 2x1o + 2x1e + 1x2e + 1x2o", lmax=2, radius=2.0,
                        avg_num_neighbors=3.0, num_nodes=7)
        return layer, _example_points(generator, 7, layer.irreps_in)


class GraphReadout(_PointCloudModule):
    """Per-graph output: y_b = ⊕_{i ∈ graph b} W x_i (sum, or mean with ``reduce="mean"``), W an :class:`IrrepsLinear`.

    Summation over a graph's points is permutation-invariant and, being linear, commutes with D(g); the
    per-point bias of the ``0e`` outputs makes a summed energy extensive (one offset per point). A graph without
    points reads out the empty sum 0.

    Args:
        irreps_in: type of the point features; it must contain every irrep of ``irreps_out``.
        irreps_out: type of the per-graph output.
        reduce: ``"sum"`` (extensive targets: energies, dipoles) or ``"mean"`` (intensive ones: orbital energies).
        num_nodes: N for which ``in_type``/``out_type`` are stated (``None``: any N).

    Shapes:
        x ``[N, irreps_in.dim]``, batch ``[N]`` graph ids (``None``: one graph) → ``[B, irreps_out.dim]``.
    """

    def __init__(self, irreps_in: Any, irreps_out: Any, reduce: str = "sum", num_nodes: int | None = None):
        super().__init__()
        self.irreps_in, self.irreps_out = as_irreps(irreps_in, "irreps_in"), as_irreps(irreps_out, "irreps_out")
        missing = [str(ir) for _, ir in self.irreps_out if ir not in self.irreps_in]
        if missing:
            raise ValueError(f"a linear readout maps each irrep to itself, but irreps_out {self.irreps_out} has "
                             f"{', '.join(missing)}, which irreps_in {self.irreps_in} lacks")
        if reduce not in ("sum", "mean"):
            raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")
        self.reduce, self.num_nodes = reduce, num_nodes
        self.features_in = IrrepsField(Euclidean(3), self.irreps_in)
        self.linear = _ExactConstants(lambda: o3.Linear(self.irreps_in, self.irreps_out, biases=True))

    def field_types(self, num_nodes: int) -> tuple[FieldType, FieldType]:
        return node_field(num_nodes, self.irreps_in), graph_level_field(num_nodes, self.irreps_out)

    def pool(self, x: torch.Tensor, batch: torch.Tensor | None = None, num_graphs: int | None = None) -> torch.Tensor:
        """The readout without input checks."""
        y = self.linear(x)
        if batch is None:
            total = y.sum(dim=0, keepdim=True)
            return total / max(y.shape[0], 1) if self.reduce == "mean" else total
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 0
        return scatter(y, batch, dim=0, dim_size=num_graphs, reduce=self.reduce)

    def forward(self, x: torch.Tensor, batch: torch.Tensor | None = None, num_graphs: int | None = None) -> torch.Tensor:
        _check_features(x, self.features_in)
        self._check_num_nodes(x.shape[0])
        if batch is not None:
            check_batch(batch, x.shape[0], num_graphs)
        return self.pool(x, batch, num_graphs)

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS, "2x0e + 1x0o + 1x1o + 1x1e + 1x2e", num_nodes=6)
        return layer, _example_features(layer, generator)


class InvariantReadout(GraphReadout):
    """An invariant per-graph scalar (energy-like): :class:`GraphReadout` to ``channels × 0e``.

    Shapes:
        x ``[N, irreps_in.dim]`` → ``[B, channels]``, unchanged by any rotation, reflection, translation or relabelling.
    """

    def __init__(self, irreps_in: Any, channels: int = 1, reduce: str = "sum", num_nodes: int | None = None):
        super().__init__(irreps_in, f"{check_int(channels, 'channels')}x0e", reduce, num_nodes)

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS, channels=2, num_nodes=6)
        return layer, _example_features(layer, generator)


class VectorReadout(GraphReadout):
    """An equivariant per-graph polar vector (dipole/force-like): :class:`GraphReadout` to ``1x1o``.

    In e3nn's basis D¹(R) = R for ``1o``, so the output is a Cartesian vector (x, y, z) with the
    :class:`~gdl.groups.VectorField` action v ↦ v Rᵀ under E(3) (reflections included; translations do nothing).

    Shapes:
        x ``[N, irreps_in.dim]`` → ``[B, 3]``.
    """

    def __init__(self, irreps_in: Any, reduce: str = "sum", num_nodes: int | None = None):
        super().__init__(irreps_in, "1x1o", reduce, num_nodes)

    def field_types(self, num_nodes: int) -> tuple[FieldType, FieldType]:
        return node_field(num_nodes, self.irreps_in), ProductField((TrivialField(Permutations(num_nodes)), VectorField()))

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS, num_nodes=6)
        return layer, _example_features(layer, generator)


class TensorFieldNetwork(_PointCloudModule):
    """Atoms (or points) in, one irreps-typed vector per graph out: embed → L × (PointConvolution → Gate) → readout.

    The blueprint of book §3.5 for geometric graphs: equivariant layers (point convolutions with their
    self-interactions), gated nonlinearities, and an invariant/equivariant pooling over each graph. Node inputs are
    either atomic numbers ``data.z`` (one-hot over ``atom_types``, as ``len(atom_types) × 0e``) or features
    ``data.x`` of type ``irreps_node_in``. Edges are ``data.edge_index`` when present (e.g. the cached radius graph
    of :func:`gdl.datasets.load_qm9`), else the radius graph of ``data.pos`` built here (which makes
    ``torch.compile`` break the graph at that data-dependent step). Each layer keeps the irreps of
    ``irreps_hidden`` that its tensor products can reach (parity-odd irreps need a few layers to appear).

    Args:
        irreps_out: per-graph output, e.g. ``"1x0e"`` (an energy), ``"1x1o"`` (a dipole), ``"7x0e + 1x0o"``.
        irreps_hidden: the hidden point features (after each gate).
        num_layers: number of convolution + gate blocks.
        lmax, radius, num_basis, radial_hidden, avg_num_neighbors: as in :class:`PointConvolution`.
        atom_types: the atomic numbers the model knows (e.g. ``(1, 6, 7, 8, 9)`` for QM9); reads ``data.z``.
        irreps_node_in: instead of ``atom_types``: the type of ``data.x``.
        reduce: ``"sum"`` or ``"mean"`` over each graph's points.
        num_nodes: N for which ``in_type``/``out_type`` are stated (``None``: any N).

    Shapes:
        ``Data``/``Batch`` with ``pos [N, 3]``, ``z [N]`` or ``x [N, irreps_node_in.dim]``, optional
        ``edge_index [2, E]`` and ``batch [N]`` → ``[B, irreps_out.dim]`` (B = ``data.num_graphs``, 1 for a ``Data``).
    """

    def __init__(self, irreps_out: Any, irreps_hidden: Any = "32x0e + 8x0o + 8x1o + 8x1e + 4x2e + 4x2o",
                 num_layers: int = 3, lmax: int = 2, radius: float = 5.0, num_basis: int = 8,
                 radial_hidden: Sequence[int] = (32,), avg_num_neighbors: float = 10.0,
                 atom_types: Sequence[int] | None = None, irreps_node_in: Any = None, reduce: str = "sum",
                 num_nodes: int | None = None):
        super().__init__()
        if (atom_types is None) == (irreps_node_in is None):
            raise ValueError("give exactly one node input: atom_types (reads data.z) or irreps_node_in (reads data.x)")
        self.num_nodes, self.radius = num_nodes, float(radius)
        self.irreps_hidden = as_irreps(irreps_hidden, "irreps_hidden")
        if atom_types is not None:
            atom_types = [int(z) for z in atom_types]
            if not atom_types or min(atom_types) < 0 or len(set(atom_types)) != len(atom_types):
                raise ValueError(f"atom_types must be distinct non-negative atomic numbers, got {atom_types}")
            lookup = torch.full((max(atom_types) + 1,), -1, dtype=torch.long)
            lookup[torch.tensor(atom_types)] = torch.arange(len(atom_types))
            self.register_buffer("type_of_atomic_number", lookup, persistent=False)
            self.atom_types = tuple(atom_types)
            self.irreps_node_in = o3.Irreps(f"{len(atom_types)}x0e")
        else:
            self.atom_types = None
            self.irreps_node_in = as_irreps(irreps_node_in, "irreps_node_in")
        self.irreps_in = self.irreps_node_in
        self.features_in = IrrepsField(Euclidean(3), self.irreps_node_in)
        convolution = dict(lmax=lmax, radius=radius, num_basis=num_basis, radial_hidden=radial_hidden,
                           avg_num_neighbors=avg_num_neighbors)
        self.convolutions, self.gates = nn.ModuleList(), nn.ModuleList()
        irreps = self.irreps_node_in
        for _ in range(check_int(num_layers, "num_layers")):
            reachable = reachable_irreps(irreps, o3.Irreps.spherical_harmonics(lmax))
            gate = Gate(o3.Irreps([(mul, ir) for mul, ir in self.irreps_hidden if ir in reachable]))
            self.convolutions.append(PointConvolution(irreps, gate.irreps_in, **convolution))
            self.gates.append(gate)
            irreps = gate.irreps_out
        self.readout = GraphReadout(irreps, irreps_out, reduce=reduce)
        self.irreps_out = self.readout.irreps_out

    def field_types(self, num_nodes: int) -> tuple[FieldType, FieldType]:
        entries: dict[str, FieldType] = {"pos": PointField(Euclidean(3))}
        if self.atom_types is None:
            entries["x"] = IrrepsField(Euclidean(3), self.irreps_node_in)
        return (ProductField((GraphField(Permutations(num_nodes)), RecordField(entries))),
                graph_level_field(num_nodes, self.irreps_out))

    def node_inputs(self, data: Any) -> torch.Tensor:
        """The first layer's input ``[N, irreps_node_in.dim]``: one-hot atom types, or ``data.x``."""
        pos = data.pos
        if self.atom_types is None:
            return _check_features(getattr(data, "x", None), self.features_in, "data.x")
        z = getattr(data, "z", None)
        if not isinstance(z, torch.Tensor) or z.dtype != torch.long or z.shape != (pos.shape[0],):
            given = f"{z.dtype} {list(z.shape)}" if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"data.z must hold the atomic numbers, an int64 tensor [{pos.shape[0]}], got {given}")
        lookup = self.type_of_atomic_number
        if not torch.compiler.is_compiling() and z.numel():
            unknown = (z < 0) | (z >= lookup.numel())
            unknown = unknown | (lookup[z.clamp(0, lookup.numel() - 1)] < 0)
            if bool(unknown.any()):
                raise ValueError(f"data.z holds atomic numbers {sorted(set(z[unknown].tolist()))} that the model does "
                                 f"not know; atom_types = {self.atom_types}")
        return nn.functional.one_hot(lookup[z], len(self.atom_types)).to(pos.dtype)

    def forward(self, data: Any) -> torch.Tensor:
        if not hasattr(data, "pos"):
            raise TypeError(f"TensorFieldNetwork expects a torch_geometric Data/Batch with pos, got {type(data).__name__}")
        pos = check_positions(data.pos)
        self._check_num_nodes(pos.shape[0])
        x = self.node_inputs(data)
        batch = getattr(data, "batch", None)
        num_graphs = int(data.num_graphs) if batch is not None and hasattr(data, "num_graphs") else None
        if batch is not None:
            check_batch(batch, pos.shape[0], num_graphs)
        edge_index = getattr(data, "edge_index", None)
        if edge_index is None:
            edge_index = radius_graph(pos, self.radius, batch)
        check_edge_index(edge_index, pos.shape[0])
        harmonics, basis = self.convolutions[0].edge_features(pos, edge_index)
        for convolution, gate in zip(self.convolutions, self.gates):
            x = gate.gate(convolution.convolve(x, edge_index, harmonics, basis))
        return self.readout.pool(x, batch, num_graphs)

    @classmethod
    def example(cls, generator=None):
        from torch_geometric.data import Batch, Data

        with seeded(generator):
            network = cls("2x0e + 1x0o + 1x1o + 1x2e", irreps_hidden="8x0e + 2x0o + 2x1o + 2x1e + 1x2e + 1x2o",
                          num_layers=3, radius=2.0, radial_hidden=(16,), avg_num_neighbors=3.0, atom_types=(1, 6, 8),
                          num_nodes=9)
        molecules = []
        for size in (5, 4):
            pos = 1.2 * torch.randn(size, 3, generator=generator)
            z = torch.tensor([1, 6, 8])[torch.randint(0, 3, (size,), generator=generator)]
            molecules.append(Data(z=z, pos=pos, edge_index=radius_graph(pos, 2.0)))
        return network, (Batch.from_data_list(molecules),)
