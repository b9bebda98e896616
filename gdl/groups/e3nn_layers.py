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
* :class:`AtomEmbedding` — atomic numbers ``z [N]`` to one-hot even scalars.
* :class:`TensorFieldNetwork` — a :class:`~gdl.core.Blueprint`: atom embedding → L × (point convolution → gate) →
  readout, with the structure of the point cloud (``pos``, ``edge_index``, ``batch``) as its context; it also
  takes a torch-geometric ``Data``/``Batch`` (``pos``, ``z`` or ``x``, optional ``edge_index`` and ``batch``).

Every layer runs on any number N of points and reads N from its inputs: ``layer.field_types(*inputs)`` gives its
types over S_N × E(3) for those inputs (there is no ``num_nodes`` argument, and no fixed ``in_type``).

Dtypes. e3nn computes its constants (Clebsch–Gordan coefficients) in torch's default dtype. gdl never changes that
default: layers are built in the caller's default dtype, and the Clebsch–Gordan buffers are replaced by float64
values from ``o3.wigner_3j(..., dtype=torch.float64)`` on every cast (see ``_ExactConstants``), so a model cast to
float64 is exact to float64 round-off.

Empty input: N = 0 points give ``[0, dim]`` node features and the empty sum (zeros) as a graph's readout; a point
without neighbours receives no messages (only its self-interaction).
"""

from __future__ import annotations

import math
import re
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
    Blueprint,
    EquivariantModule,
    FieldType,
    Group,
    ProductField,
    ProductGroup,
    RecordField,
    TrivialField,
    TupleField,
    resolve_activation,
    seeded,
)
from gdl.core.checks import check_batch, check_choice, check_edge_index, check_int, check_positions, checking
from gdl.symmetries.euclidean import Euclidean, PointField, VectorField
from gdl.symmetries.geometric import AbsentField, edge_index_field, position_field, radius_graph
from gdl.symmetries.permutations import GraphField, Permutations
from gdl.testing.fixtures import random_molecules, random_point_cloud

from .irreps import IrrepsField, _check_o3_group, as_irreps
from .point_clouds import GraphCountField, graph_level_field, node_field, node_label_field

__all__ = ["IrrepsLinear", "Gate", "PointConvolution", "GraphReadout", "InvariantReadout", "VectorReadout",
           "AtomEmbedding", "TensorFieldNetwork", "reachable_irreps"]

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


def _rows(x: Any, field: IrrepsField, what: str = "x") -> int:
    """N for features ``x [N, field.dim]`` (after checking them)."""
    return _check_features(x, field, what).shape[0]


def _check_positive(value: Any, name: str) -> float:
    """``float(value)`` for a positive real number (not a bool); ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _wider(x: torch.Tensor) -> torch.Tensor:
    """``x`` with one feature column too many (a bad input)."""
    return torch.cat([x, x[:, :1]], dim=1)


_W3J_BUFFER = re.compile(r"_w3j_(\d+)_(\d+)_(\d+)$")


class _ExactConstants(nn.Module):
    """An e3nn module whose constants (Clebsch–Gordan coefficients, output masks) stay exact in every dtype.

    e3nn computes its constant buffers in torch's default dtype, so a module built in float32 and cast to float64
    would keep float32-rounded coefficients, and its float64 equivariance error would be ~1e-8 instead of ~1e-15.
    The wrapped module is built in the caller's default dtype (torch's default dtype is never changed, so building
    is safe next to other threads and does not surprise the caller); its floating buffers get float64 masters (a
    plain dict, which ``.to()`` does not touch): the Clebsch–Gordan tensors ``_w3j_l1_l2_l3`` from
    ``o3.wigner_3j(l1, l2, l3, dtype=torch.float64)``, every other floating buffer (0/1 masks, empty placeholders)
    as its exact float64 copy. Every dtype/device change and every ``load_state_dict`` (which may bring
    float32-rounded copies from a checkpoint) re-derives the buffers from the masters.
    """

    def __init__(self, build):
        super().__init__()
        module = build()
        self._masters = {}
        for name, buffer in module.named_buffers():
            if not buffer.is_floating_point():
                continue
            match = _W3J_BUFFER.search(name)
            if match:
                master = o3.wigner_3j(*(int(v) for v in match.groups()), dtype=torch.float64)
            elif torch.equal(buffer, buffer.round()):
                master = buffer.detach().to(torch.float64, copy=True)
            else:  # a constant this wrapper does not know how to derive in float64: refuse rather than round silently
                raise RuntimeError(f"{type(module).__name__} has a floating buffer {name!r} that is neither a "
                                   "Clebsch-Gordan tensor nor integer-valued; gdl cannot keep it exact in float64")
            self._masters[name] = master
        self.module = module
        self._restore_constants()
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
    """What :class:`IrrepsLinear` and :class:`Gate` share: node features ``[N, irreps.dim]`` on both sides, typed for
    the N of the input over S_N × G (G = E(3) by default), and one e3nn module (the attribute named by ``wrapped``)
    applied to the checked input."""

    wrapped: ClassVar[str]

    def _set_irreps(self, irreps_in: o3.Irreps, irreps_out: o3.Irreps, group: Group | None) -> None:
        self.irreps_in, self.irreps_out = irreps_in, irreps_out
        self.node_group = _check_o3_group(group or Euclidean(3), type(self).__name__)
        self.features_in = IrrepsField(self.node_group, irreps_in)

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        (x,) = inputs
        n = _rows(x, self.features_in)
        return node_field(n, self.irreps_in, self.node_group), node_field(n, self.irreps_out, self.node_group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_features(x, self.features_in)
        return getattr(self, self.wrapped)(x)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones (an axis too many, an integer dtype) and one feature column too many."""
        (x,) = inputs
        return {**super().bad_inputs(*inputs), f"{x.shape[1] + 1} feature columns instead of {x.shape[1]}": (_wider(x),)}

    def extra_repr(self) -> str:
        return f"{self.irreps_in} → {self.irreps_out}, group={self.node_group!r}"


class IrrepsLinear(_IrrepsMap):
    """Equivariant linear map between irreps features: y = W x + b (e3nn ``o3.Linear``).

    W maps the m_in copies of each irrep ℓp to the m_out copies of the same ℓp by an m_out × m_in matrix (times
    the identity on the 2ℓ+1 components) and is zero between different irreps (Schur's lemma); the bias b acts on
    the ``0e`` outputs only (a constant is invariant only if it is an even scalar).

    Args:
        irreps_in: type of the input features, e.g. ``"8x0e + 4x1o"``.
        irreps_out: type of the output features.
        bias: learn a bias on the ``0e`` outputs.
        group: the rigid-motion factor G of the field types S_N × G (``Euclidean(3)`` by default, whose translations
            act trivially on irreps features; ``Orthogonal(3)`` or ``SpecialOrthogonal(3)``).

    Shapes:
        ``[N, irreps_in.dim]`` → ``[N, irreps_out.dim]`` (any N; the types come from ``field_types(x)``).

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
        group: the rigid-motion factor G of the field types S_N × G (``Euclidean(3)`` by default).

    Shapes:
        ``[N, irreps_in.dim]`` → ``[N, irreps_out.dim]``.
    """

    wrapped = "gate"
    ACTIVATION_NAMES = ("silu", "relu", "gelu", "tanh", "sigmoid")

    def __init__(self, irreps_out: Any, activation: str = "silu", odd_activation: str = "tanh",
                 gate_activation: str = "sigmoid", group: Group | None = None):
        super().__init__()
        target = as_irreps(irreps_out, "irreps_out").simplify()
        _, even = resolve_activation(activation, self.ACTIVATION_NAMES, allow_callable=False)
        _, gate = resolve_activation(gate_activation, self.ACTIVATION_NAMES, allow_callable=False, name="gate_activation")
        check_choice(odd_activation, ("tanh",), "odd_activation (odd scalars need an odd function)")
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


def _batch_type(num_nodes: int, batch: Any) -> FieldType:
    """The field type of an optional ``batch [N]``: graph ids permuted with the nodes, or absent."""
    if batch is None:
        return AbsentField(ProductGroup((Permutations(num_nodes), Euclidean(3))), "batch (one graph)")
    return node_label_field(num_nodes, "batch")


class PointConvolution(EquivariantModule):
    """Tensor Field Network point convolution (Thomas et al. 2018; book §5.5) over a radius graph.

    .. math::
        x'_i = W_{self} x_i + W_{out} \\frac{1}{\\sqrt{\\bar n}} \\sum_{j \\in N(i)}
               R_\\theta(|r_{ij}|) \\odot \\big(x_j \\otimes Y(r_{ij} / |r_{ij}|)\\big), \\qquad r_{ij} = p_j - p_i

    The radial network R_θ maps a smooth basis of the edge length (e3nn's ``smooth_finite`` functions, which
    vanish at the cutoff, so points crossing the radius enter and leave continuously) to one weight per tensor
    product path and edge. Edges longer than ``radius`` contribute exactly zero, whatever ``edge_index`` holds.
    Inside a :class:`~gdl.core.Blueprint` it reads the context entries ``pos`` and ``edge_index``.

    Args:
        irreps_in: type of the input features.
        irreps_out: type of the output features; every irrep must be produced by some path x ⊗ Y or be in irreps_in.
        lmax: the largest degree ℓ of the spherical harmonics Y (``1x0e + 1x1o + 1x2e + …``).
        radius: the cutoff r.
        num_basis: number of radial basis functions.
        radial_hidden: hidden sizes of the radial MLP.
        avg_num_neighbors: the n̄ of the 1/√n̄ normalisation (typical number of neighbours).

    Shapes:
        x ``[N, irreps_in.dim]``, pos ``[N, 3]``, edge_index ``[2, E]`` (edge (j, i): message from j to i) →
        ``[N, irreps_out.dim]``, for any N (the types come from ``field_types(x, pos, edge_index)``).
    """

    context_keys = ("pos", "edge_index")

    def __init__(self, irreps_in: Any, irreps_out: Any, lmax: int = 2, radius: float = 5.0, num_basis: int = 8,
                 radial_hidden: Sequence[int] = (32,), avg_num_neighbors: float = 10.0):
        super().__init__()
        self.irreps_in, self.irreps_out = as_irreps(irreps_in, "irreps_in"), as_irreps(irreps_out, "irreps_out")
        check_int(lmax, "lmax", minimum=0)
        self.radius, self.num_basis = _check_positive(radius, "radius"), check_int(num_basis, "num_basis")
        self.avg_num_neighbors = _check_positive(avg_num_neighbors, "avg_num_neighbors")
        radial_hidden = [check_int(width, "each radial_hidden width") for width in radial_hidden]
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

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        x = inputs[0]
        n = _rows(x, self.features_in)
        return (TupleField((node_field(n, self.irreps_in), position_field(n), edge_index_field(n))),
                node_field(n, self.irreps_out))

    def edge_features(self, pos: torch.Tensor, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spherical harmonics ``[E, irreps_sh.dim]`` of r̂_ij and the radial basis ``[E, num_basis]`` of |r_ij|."""
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
        check_positions(pos, x.shape[0])
        check_edge_index(edge_index, x.shape[0])
        return self.convolve(x, edge_index, *self.edge_features(pos, edge_index))

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones, a wrong feature size, positions that are 2-D, too few or NaN, edges to a node that
        does not exist, and a floating-point edge_index."""
        x, pos, edge_index = inputs
        nan = pos.clone()
        nan[0, 0] = float("nan")
        outside = edge_index.clone()
        outside[0, 0] = x.shape[0]
        return {**super().bad_inputs(*inputs),
                "one feature column too many": (_wider(x), pos, edge_index),
                "positions in the plane [N, 2]": (x, pos[:, :2], edge_index),
                "one position missing": (x, pos[:-1], edge_index),
                "a NaN position": (x, nan, edge_index),
                f"an edge from node {x.shape[0]} of {x.shape[0]}": (x, pos, outside),
                "a floating-point edge_index": (x, pos, edge_index.double())}

    def extra_repr(self) -> str:
        return f"{self.irreps_in} → {self.irreps_out}, lmax={self.irreps_sh.lmax}, radius={self.radius:g}"

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS, "3x0e + 1x0o + 2x1o + 2x1e + 1x2e + 1x2o", lmax=2, radius=2.0,
                        avg_num_neighbors=3.0)
        return layer, random_point_cloud(generator, 7, layer.irreps_in.dim, radius=2.0)


class GraphReadout(EquivariantModule):
    """Per-graph output: y_b = ⊕_{i ∈ graph b} W x_i (sum, or mean with ``reduce="mean"``), W an :class:`IrrepsLinear`.

    Summation over a graph's points is permutation-invariant and, being linear, commutes with D(g); the
    per-point bias of the ``0e`` outputs makes a summed energy extensive (one offset per point). A graph without
    points reads out the empty sum 0. Inside a :class:`~gdl.core.Blueprint` it reads the context entry ``batch``.

    The number of graphs B is ``num_graphs`` when given (torch-geometric's ``data.num_graphs``; a context entry of
    a :class:`~gdl.core.Blueprint`), else ``batch.max() + 1``, read from the tensor (a device sync, and a
    ``torch.compile`` graph break).

    Args:
        irreps_in: type of the point features; it must contain every irrep of ``irreps_out``.
        irreps_out: type of the per-graph output.
        reduce: ``"sum"`` (extensive targets: energies, dipoles) or ``"mean"`` (intensive ones: orbital energies).

    Shapes:
        x ``[N, irreps_in.dim]``, batch ``[N]`` graph ids (``None``: one graph), num_graphs (an int or ``None``) →
        ``[B, irreps_out.dim]``.
    """

    context_keys = ("batch", "num_graphs")

    def __init__(self, irreps_in: Any, irreps_out: Any, reduce: str = "sum"):
        super().__init__()
        self.irreps_in, self.irreps_out = as_irreps(irreps_in, "irreps_in"), as_irreps(irreps_out, "irreps_out")
        missing = [str(ir) for _, ir in self.irreps_out if ir not in self.irreps_in]
        if missing:
            raise ValueError(f"a linear readout maps each irrep to itself, but irreps_out {self.irreps_out} has "
                             f"{', '.join(missing)}, which irreps_in {self.irreps_in} lacks")
        self.reduce = check_choice(reduce, ("sum", "mean"), "reduce")
        self.features_in = IrrepsField(Euclidean(3), self.irreps_in)
        self.linear = _ExactConstants(lambda: o3.Linear(self.irreps_in, self.irreps_out, biases=True))

    def _output_type(self, num_nodes: int) -> FieldType:
        return graph_level_field(num_nodes, self.irreps_out)

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        """``x`` alone (one graph), ``(x, batch)`` or ``(x, batch, num_graphs)``; ``batch`` a tensor of graph ids or
        ``None``, ``num_graphs`` an int or ``None``."""
        if not 1 <= len(inputs) <= 3:
            raise TypeError(f"{type(self).__name__}.field_types describes (x), (x, batch) or (x, batch, num_graphs), "
                            f"got {len(inputs)} inputs")
        n = _rows(inputs[0], self.features_in)
        parts = [node_field(n, self.irreps_in)]
        if len(inputs) > 1:
            parts.append(_batch_type(n, inputs[1]))
        if len(inputs) > 2:
            parts.append(GraphCountField(parts[0].group))
        return (parts[0] if len(parts) == 1 else TupleField(tuple(parts))), self._output_type(n)

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
        if num_graphs is not None:
            check_int(num_graphs, "num_graphs", minimum=0)
        if batch is not None:
            check_batch(batch, x.shape[0], num_graphs)
        return self.pool(x, batch, num_graphs)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones, a wrong feature size, and graph ids of the wrong length, dtype or sign."""
        x, batch, *rest = tuple(inputs) + (None,) * (2 - len(inputs))
        bad = {**super().bad_inputs(*inputs), "one feature column too many": (_wider(x), *inputs[1:])}
        if batch is not None:
            negative = batch.clone()
            negative[0] = -1
            bad.update({"one graph id missing": (x, batch[:-1], *rest), "floating-point graph ids": (x, batch.double(), *rest),
                        "a negative graph id": (x, negative, *rest),
                        "num_graphs smaller than the ids": (x, batch, int(batch.max())),
                        "a fractional num_graphs": (x, batch, 2.5)})
        return bad

    def extra_repr(self) -> str:
        return f"{self.irreps_in} → {self.irreps_out}, reduce={self.reduce!r}"

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS, "2x0e + 1x0o + 1x1o + 1x1e + 1x2e")
        return layer, _example_features(layer, generator, rows=7) + (torch.tensor([0, 1, 1, 0, 2, 1, 2]), 3)


class InvariantReadout(GraphReadout):
    """An invariant per-graph scalar (energy-like): :class:`GraphReadout` to ``channels × 0e``.

    Shapes:
        x ``[N, irreps_in.dim]`` → ``[B, channels]``, unchanged by any rotation, reflection, translation or relabelling.
    """

    def __init__(self, irreps_in: Any, channels: int = 1, reduce: str = "sum"):
        super().__init__(irreps_in, f"{check_int(channels, 'channels')}x0e", reduce)

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS, channels=2, reduce="mean")
        return layer, _example_features(layer, generator) + (torch.tensor([1, 0, 0, 1, 1, 0]), 2)


class VectorReadout(GraphReadout):
    """An equivariant per-graph polar vector (dipole/force-like): :class:`GraphReadout` to ``1x1o``.

    In e3nn's basis D¹(R) = R for ``1o``, so the output is a Cartesian vector (x, y, z) with the
    :class:`~gdl.symmetries.VectorField` action v ↦ v Rᵀ under E(3) (reflections included; translations do nothing).

    Shapes:
        x ``[N, irreps_in.dim]`` → ``[B, 3]``.
    """

    def __init__(self, irreps_in: Any, reduce: str = "sum"):
        super().__init__(irreps_in, "1x1o", reduce)

    def _output_type(self, num_nodes: int) -> FieldType:
        return ProductField((TrivialField(Permutations(num_nodes)), VectorField()))

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            layer = cls(EXAMPLE_IRREPS)
        return layer, _example_features(layer, generator)


class AtomEmbedding(EquivariantModule):
    """Atom types as features: atomic numbers ``z [N]`` → one-hot even scalars ``[N, T]`` (``T x 0e``).

    Permuting the atoms permutes the rows; rigid motions do nothing (atom types are invariant). Unknown atomic
    numbers are refused by name (a value-reading check, see :func:`gdl.core.checks.checking`).

    Args:
        atom_types: the distinct atomic numbers the model knows, e.g. ``(1, 6, 7, 8, 9)`` for QM9.

    Shapes:
        ``[N]`` int64 → ``[N, len(atom_types)]`` (in the module's floating dtype).
    """

    def __init__(self, atom_types: Sequence[int]):
        super().__init__()
        atom_types = tuple(check_int(z, "each atomic number in atom_types", minimum=0) for z in atom_types)
        if not atom_types or len(set(atom_types)) != len(atom_types):
            raise ValueError(f"atom_types must be distinct non-negative atomic numbers, got {list(atom_types)}")
        self.atom_types = atom_types
        lookup = torch.full((max(atom_types) + 1,), -1, dtype=torch.long)
        lookup[torch.tensor(atom_types)] = torch.arange(len(atom_types))
        self.register_buffer("type_of_atomic_number", lookup, persistent=False)
        self.register_buffer("one_hot", torch.eye(len(atom_types)), persistent=False)
        self.irreps_out = o3.Irreps(f"{len(atom_types)}x0e")

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        (z,) = inputs
        n = self._check(z)
        return node_label_field(n, "z"), node_field(n, self.irreps_out)

    @staticmethod
    def _check(z: Any) -> int:
        if not isinstance(z, torch.Tensor) or z.dtype != torch.long or z.dim() != 1:
            given = f"{z.dtype} {list(z.shape)}" if isinstance(z, torch.Tensor) else type(z).__name__
            raise TypeError(f"z must hold the atomic numbers, an int64 tensor [N], got {given}")
        return z.shape[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self._check(z)
        lookup = self.type_of_atomic_number
        if checking() and z.numel():
            unknown = (z < 0) | (z >= lookup.numel())
            unknown = unknown | (lookup[z.clamp(0, lookup.numel() - 1)] < 0)
            if bool(unknown.any()):
                raise ValueError(f"z holds atomic numbers the model does not know: expected some of atom_types = "
                                 f"{self.atom_types}, got {sorted(set(z[unknown].tolist()))}")
        return self.one_hot[lookup[z]]

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones (a 2-D z, a floating z) and an atomic number that is not in ``atom_types``."""
        (z,) = inputs
        unknown = z.clone()
        unknown[0] = max(self.atom_types) + 1
        return {**super().bad_inputs(*inputs), "an unknown atomic number": (unknown,)}

    def extra_repr(self) -> str:
        return f"atom_types={self.atom_types}"

    @classmethod
    def example(cls, generator=None):
        return cls((1, 6, 8)), (torch.tensor([6, 1, 1, 8, 6, 1]),)


def _is_graph_data(value: Any) -> bool:
    """Whether ``value`` is a torch-geometric ``Data``/``Batch`` (or any object with ``pos``), not a tensor."""
    return not isinstance(value, torch.Tensor) and hasattr(value, "pos")


class TensorFieldNetwork(Blueprint):
    """Atoms (or points) in, one irreps-typed vector per graph out: embed → L × (PointConvolution → Gate) → readout.

    The blueprint of book §3.5 for geometric graphs, as a :class:`~gdl.core.Blueprint` whose context is the point
    cloud's structure: equivariant layers (point convolutions with their self-interactions, reading ``pos`` and
    ``edge_index``), gated nonlinearities, and an invariant/equivariant pooling over each graph (reading
    ``batch`` and ``num_graphs``). Its group is the intersection of its layers' groups, S_N × E(3) for N points. Node inputs are
    either atomic numbers ``z`` (:class:`AtomEmbedding` over ``atom_types``, as ``len(atom_types) × 0e``) or
    features ``x`` of type ``irreps_node_in``. Each layer keeps the irreps of ``irreps_hidden`` that its tensor
    products can reach (parity-odd irreps need a few layers to appear).

    Two ways to call it:

    * ``network(z_or_x, pos, edge_index, batch, num_graphs)`` (tensors; ``batch`` may be ``None`` for one graph,
      ``num_graphs`` an int or ``None`` to read ``batch.max() + 1``, and may be left out): the Blueprint's own
      signature, the one the registry sweep checks;
    * ``network(data)`` for a torch-geometric ``Data``/``Batch`` with ``pos``, ``z`` or ``x`` and optionally
      ``edge_index`` (e.g. the cached radius graph of :func:`gdl.datasets.load_qm9`; without it the radius graph of
      ``data.pos`` is built here, a data-dependent step at which ``torch.compile`` breaks the graph), ``batch`` and
      ``num_graphs``.

    Args:
        irreps_out: per-graph output, e.g. ``"1x0e"`` (an energy), ``"1x1o"`` (a dipole), ``"7x0e + 1x0o"``.
        irreps_hidden: the hidden point features (after each gate).
        num_layers: number of convolution + gate blocks.
        lmax, radius, num_basis, radial_hidden, avg_num_neighbors: as in :class:`PointConvolution`.
        atom_types: the atomic numbers the model knows (e.g. ``(1, 6, 7, 8, 9)`` for QM9); reads ``z``.
        irreps_node_in: instead of ``atom_types``: the type of ``x``.
        reduce: ``"sum"`` or ``"mean"`` over each graph's points.

    Shapes:
        ``z [N]`` or ``x [N, irreps_node_in.dim]``, ``pos [N, 3]``, ``edge_index [2, E]``, ``batch [N]``, B →
        ``[B, irreps_out.dim]``.
    """

    def __init__(self, irreps_out: Any, irreps_hidden: Any = "32x0e + 8x0o + 8x1o + 8x1e + 4x2e + 4x2o",
                 num_layers: int = 3, lmax: int = 2, radius: float = 5.0, num_basis: int = 8,
                 radial_hidden: Sequence[int] = (32,), avg_num_neighbors: float = 10.0,
                 atom_types: Sequence[int] | None = None, irreps_node_in: Any = None, reduce: str = "sum"):
        if (atom_types is None) == (irreps_node_in is None):
            raise ValueError("give exactly one node input: atom_types (reads z) or irreps_node_in (reads x); "
                             f"got atom_types={atom_types!r}, irreps_node_in={irreps_node_in!r}")
        hidden = as_irreps(irreps_hidden, "irreps_hidden")
        layers: list[EquivariantModule] = []
        if atom_types is not None:
            embedding = AtomEmbedding(atom_types)
            layers.append(embedding)
            irreps = node_in = embedding.irreps_out
        else:
            irreps = node_in = as_irreps(irreps_node_in, "irreps_node_in")
        convolution = dict(lmax=lmax, radius=radius, num_basis=num_basis, radial_hidden=radial_hidden,
                           avg_num_neighbors=avg_num_neighbors)
        for _ in range(check_int(num_layers, "num_layers")):
            reachable = reachable_irreps(irreps, o3.Irreps.spherical_harmonics(lmax))
            gate = Gate(o3.Irreps([(mul, ir) for mul, ir in hidden if ir in reachable]))
            layers += [PointConvolution(irreps, gate.irreps_in, **convolution), gate]
            irreps = gate.irreps_out
        layers.append(GraphReadout(irreps, irreps_out, reduce=reduce))
        super().__init__(*layers, context=("pos", "edge_index", "batch", "num_graphs"))
        self.radius = _check_positive(radius, "radius")
        self.irreps_hidden, self.irreps_node_in = hidden, node_in
        self.irreps_in = node_in
        self.atom_types = None if atom_types is None else self.layers[0].atom_types
        self.irreps_out = self.readout.irreps_out
        self.features_in = IrrepsField(Euclidean(3), node_in)

    # -- the layers by role ----------------------------------------------------------------------------------------
    @property
    def convolutions(self) -> list[PointConvolution]:
        return [layer for layer in self.layers if isinstance(layer, PointConvolution)]

    @property
    def gates(self) -> list[Gate]:
        return [layer for layer in self.layers if isinstance(layer, Gate)]

    @property
    def readout(self) -> GraphReadout:
        return self.layers[-1]

    # -- torch-geometric data ------------------------------------------------------------------------------------
    def inputs_from_data(self, data: Any) -> tuple:
        """``(z or x, pos, edge_index, batch, num_graphs)`` of a ``Data``/``Batch`` (the radius graph when it has no
        edges; ``num_graphs`` is ``data.num_graphs`` for a batch, ``None`` for one graph)."""
        pos = check_positions(data.pos)
        name = "z" if self.atom_types is not None else "x"
        signal = getattr(data, name, None)
        if signal is None:
            raise TypeError(f"this TensorFieldNetwork reads data.{name}, which the given {type(data).__name__} "
                            f"does not have; got attributes {sorted(data.keys()) if hasattr(data, 'keys') else '?'}")
        batch = getattr(data, "batch", None)
        edge_index = getattr(data, "edge_index", None)
        if edge_index is None:
            edge_index = radius_graph(pos, self.radius, batch)
        num_graphs = int(data.num_graphs) if batch is not None and hasattr(data, "num_graphs") else None
        return signal, pos, edge_index, batch, num_graphs

    def forward(self, *inputs: Any) -> torch.Tensor:
        if len(inputs) == 1 and _is_graph_data(inputs[0]):
            inputs = self.inputs_from_data(inputs[0])
        elif len(inputs) == 1:
            raise TypeError(f"TensorFieldNetwork expects (z or x, pos, edge_index, batch, num_graphs) or a "
                            f"torch_geometric Data/Batch with pos, got {type(inputs[0]).__name__}")
        elif len(inputs) == 4:  # num_graphs left out: read from batch
            inputs = (*inputs, None)
        return super().forward(*inputs)

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        """For tensors, the Blueprint's types (signal and context); for a ``Data``/``Batch``, the graph's action:
        S_N permutes its node attributes and relabels ``edge_index``, E(3) moves ``pos`` (and rotates ``x``)."""
        if not (len(inputs) == 1 and _is_graph_data(inputs[0])):
            return super().field_types(*inputs)
        n = int(inputs[0].pos.shape[0])
        entries: dict[str, FieldType] = {"pos": PointField(Euclidean(3))}
        if self.atom_types is None:
            entries["x"] = IrrepsField(Euclidean(3), self.irreps_node_in)
        return (ProductField((GraphField(Permutations(n)), RecordField(entries))), self.readout._output_type(n))

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones, an unknown atom (or a wrong feature size), NaN positions, an edge to a missing node and
        graph ids of the wrong length."""
        signal, pos, edge_index, batch, num_graphs = inputs
        nan = pos.clone()
        nan[-1, 1] = float("nan")
        outside = edge_index.clone()
        outside[1, 0] = pos.shape[0]
        bad = dict(super().bad_inputs(*inputs))
        if self.atom_types is not None:
            unknown = signal.clone()
            unknown[0] = max(self.atom_types) + 1
            bad["an unknown atomic number"] = (unknown, pos, edge_index, batch, num_graphs)
        else:
            bad["one feature column too many"] = (_wider(signal), pos, edge_index, batch, num_graphs)
        bad.update({"a NaN position": (signal, nan, edge_index, batch, num_graphs),
                    f"an edge to node {pos.shape[0]} of {pos.shape[0]}": (signal, pos, outside, batch, num_graphs)})
        if batch is not None:
            bad["one graph id missing"] = (signal, pos, edge_index, batch[:-1], num_graphs)
            bad["num_graphs smaller than the ids"] = (signal, pos, edge_index, batch, int(batch.max()))
        return bad

    def export(self) -> nn.Module:
        raise NotImplementedError(f"{type(self).__name__} does not implement export(): its e3nn tensor products "
                                  "have no plain-torch form in gdl")

    @classmethod
    def example(cls, generator=None):
        with seeded(generator):
            network = cls("2x0e + 1x0o + 1x1o + 1x2e", irreps_hidden="8x0e + 2x0o + 2x1o + 2x1e + 1x2e + 1x2o",
                          num_layers=3, radius=2.0, radial_hidden=(16,), avg_num_neighbors=3.0, atom_types=(1, 6, 8))
        return network, random_molecules(generator, sizes=(5, 4), atom_types=(1, 6, 8), radius=2.0) + (2,)
