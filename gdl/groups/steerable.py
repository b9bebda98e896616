r"""Steerable convolutions on the plane (book §5.2; Weiler & Cesa 2019, "General E(2)-Equivariant Steerable CNNs").

A steerable feature field of type ρ is a map x: Z² → R^d on which g ∈ G ∈ {C_n, D_n, SO(2), O(2)} acts by moving
the grid and mixing the channels,

.. math::

    (g \cdot x)(p) = \rho(g)\, x(A(g)^{-1} p),

(:class:`SteerableField`, A(g) the matrix of g on (row, col) offsets from the grid centre). A convolution
:math:`y(p) = \sum_q k(q)\, x(p + q)` maps ρ_in-fields to ρ_out-fields equivariantly iff its kernel
k: R² → R^{d_out × d_in} is *steerable*,

.. math::

    k(A(g)\, q) = \rho_\text{out}(g)\, k(q)\, \rho_\text{in}(g)^{-1} \qquad \forall g \in G,\ q \in \mathbb R^2.

**Solving the constraint.** On a ring of radius r write the angular dependence as a band-limited Fourier series,
:math:`k(r, \varphi) = \sum_j W_j\, f_j(\varphi)` with f = (1, cos φ, sin φ, …, cos Mφ, sin Mφ) and φ = atan2(col, row).
A(g) = R(θ)F^f maps φ to (−1)^f φ + θ, so f(A(g) q) = Ψ(g) f(q) with Ψ = ψ_0 ⊕ ψ_1 ⊕ … ⊕ ψ_M
(:class:`~gdl.groups.planar_representations.CircularHarmonic`, the O(2) frequencies pulled back to G through A).
Reading W as a linear map V_in ⊗ R^{2M+1} → V_out, k(q) v = W (v ⊗ f(q)), the constraint becomes
:math:`W \in \operatorname{Hom}_G(\rho_\text{in} \otimes \Psi, \rho_\text{out})`: no weight sharing is derived by
hand, :func:`gdl.representations.equivariant_basis` solves it, once per harmonic ψ_m (``TensorProduct((ρ_in, ψ_m))``
is row-major, so the solved basis ``[s, d_out, d_in·dim ψ_m]`` reshapes to W[s, o, i, j] with j the harmonic's
component). Each ring contributes

.. math::

    k_{r,m,s}(q) = \exp\!\Big(-\frac{(|q| - r)^2}{2\sigma_r^2}\Big) \sum_j W_{s}[\,\cdot, \cdot, j]\, f_{m,j}(\varphi(q)),

sampled on the K × K taps (at q = 0 only frequency 0 is defined: the harmonics m ≥ 1 vanish there, as the
constraint at the fixed point q = 0 demands). The samples of every ring and frequency are stacked and
orthonormalised (Gram–Schmidt in ring/frequency order, by QR), dropping elements that vanish on the grid
(sin 4φ on the 8 taps of a 3 × 3 kernel, say): :func:`steerable_kernel_basis`.

**Rings and band limits** (escnn's defaults, ``escnn.nn.R2Conv``): rings at radii r = 0, 1, …, (K−1)/2 with widths
σ = 0.6 (0.4 on the outermost ring, 0.005 at r = 0, which is the centre tap alone). With
``frequency_cutoff="escnn"`` (the default) ring r carries the frequencies

.. math::

    M_r = \min\big(M,\ c(r)\big), \qquad c(0) = 0, \quad c(R) = \min(2R, 2) \text{ on the outer ring } R = (K-1)/2,
    \quad c(r) = \min\big(2r,\ 2r - (r + 1) \bmod 2\big) \text{ inside},

(escnn's ``_manual_fco1``: 2 on ring 1, 3 on ring 2, 6 on ring 3, …, at most 2 on the outermost ring, whose corner
taps rotate off the grid); M = ``maximum_frequency`` (default: no further cap). ``frequency_cutoff="grid"`` uses
c(r) = 4r instead, every frequency that the ≈ 8r taps around ring r resolve: for C_4 and D_4 the basis then spans
*every* equivariant kernel on the K × K grid, the space of :class:`gdl.groups.GroupConv` (tested). A band limit above
the largest c(r) is refused.

**Exactness.** For C_n, D_n with n ∈ {1, 2, 4} every A(g) maps the taps onto the taps, the sampled kernels satisfy the
constraint on the grid exactly, rotations of the field are ``torch.rot90``/``flip`` and the layers are exactly
equivariant (to round-off, 1e-9 in float64). For other n and for SO(2), O(2) the action itself is cubic
interpolation (:func:`~gdl.groups.finite.interpolate_on_grid`) and the layers declare the error they were measured
at on smooth inputs (:data:`STEERABLE_INTERPOLATION_TOLERANCE`, ``tests/test_steerable.py``). Over C_8, holding the
same filters as an interpolated :class:`~gdl.groups.GroupConv` (its bank projected onto the steerable kernels with
:meth:`SteerableConv.load_kernel`), a steerable layer is more equivariant (5–10× at K = 3, ≈ 15 % at K = 5, a tie at
K = 7, where the resampling of the signals dominates); at random initialisation it is better at K = 3 and 2–4× worse
at K = 5, 7, whose frequency-2/3 kernels get as much weight as the isotropic ones.

**Layers** (all vectorised: no loop over group elements, basis elements or pixels in ``forward``):

* :class:`SteerableConv`: coefficients on the basis; the kernel is expanded at each forward (one einsum per
  distinct pair of input and output summands; one in total for n × ρ → m × σ layers) and applied by **one**
  ``F.conv2d``; the bias lives on the invariant vectors of ρ_out (its trivial summands, and the constant vector of a
  regular or quotient summand); :meth:`SteerableConv.export` is a plain ``nn.Conv2d``.
* :class:`NormNonlinearity`, :class:`SteerableGate`: nonlinearities for any orthogonal field;
  :class:`PointwiseNonlinearity` for permutation (regular, quotient, trivial) fields.
* :class:`SteerableInvariantPool`: block norms and trivial channels, averaged over the grid: invariant features.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from gdl.core import EquivariantModule, FieldType, Group, GroupElement, TrivialField, resolve_activation, seeded
from gdl.core.checks import check_choice, check_int
from gdl.grids.conv import check_grid_extent
from gdl.representations import (
    ExactBasis,
    QuotientRepresentation,
    RegularRepresentation,
    Representation,
    TensorProduct,
    Trivial,
    equivariant_basis,
    invariant_basis,
)

from .finite import CyclicGroup, DihedralGroup, act_on_grid, interpolate_on_grid
from .planar_representations import CircularHarmonic, FrequencyIrrep, SignIrrep, check_planar_group

__all__ = ["SteerableField", "move_grid", "SteerableConv", "NormNonlinearity", "SteerableGate", "PointwiseNonlinearity",
           "SteerableInvariantPool", "steerable_kernel_basis", "ring_parameters", "FREQUENCY_CUTOFFS",
           "STEERABLE_INTERPOLATION_TOLERANCE", "NONLINEARITY_INTERPOLATION_TOLERANCE"]

#: per-ring band-limit rules: escnn's default (``_manual_fco1``), or every frequency the taps of a ring resolve
FREQUENCY_CUTOFFS = ("escnn", "grid")
#: paddings of :class:`SteerableConv`: zeros around the grid ("same" size) or periodic
PADDINGS = ("same", "circular")
#: max |f(g·x) − g·f(x)| that steerable convolutions and the invariant pool over interpolated groups (C_n, D_n with
#: n ∉ {1, 2, 4}, SO(2), O(2)) promise on smooth inputs of unit scale (:func:`gdl.testing.fixtures.smooth_disc_images`,
#: 25 × 25, values up to ≈ 7; nn.Conv2d's initial variance), the same in float64 and float32 (the error is the grid's
#: resampling, not round-off). Measured in tests/test_steerable.py over C8, C16, D8, SO(2), O(2), K = 3, 5, 7: convs
#: up to 4.4e-2 (relative to the output: ≤ 1.2e-2), the pool up to 3.4e-4; quarter turns and flips stay exact.
STEERABLE_INTERPOLATION_TOLERANCE = {torch.float64: 8e-2, torch.float32: 8e-2}
#: the same for the nonlinearities, whose kinks (relu at |v| + b = 0, |v| at v = 0) do not commute with the
#: interpolation of the grid: measured up to 1.3e-1 on the same inputs (norm and gated nonlinearities)
NONLINEARITY_INTERPOLATION_TOLERANCE = {torch.float64: 2e-1, torch.float32: 2e-1}
#: tolerance of the entries of A(g) that make an element of SO(2)/O(2) a quarter turn (acted on exactly)
_QUARTER_TURN_TOLERANCE = 1e-12
#: basis entries below this are round-off of exact zeros (or Gaussian tails beyond e^{-30}) and are set to 0
_ROUND_OFF = 1e-13
#: a sampled kernel whose Gram–Schmidt residual is below this fraction of the largest sample vanishes on the grid
_VANISHING = 1e-9


# -- where a group is exact ----------------------------------------------------------------------------------------

def _is_exact(group: Group) -> bool:
    """Whether every element maps the square grid onto itself (C_n, D_n with n ∈ {1, 2, 4})."""
    return isinstance(group, DihedralGroup) and group.exact_on_grid


def _needs_square_grid(group: Group) -> bool:
    return not isinstance(group, DihedralGroup) or group.needs_square_grid


def _quarter_turn(group: Group, g: GroupElement) -> GroupElement | None:
    """The element of D_4 with the same matrix as g ∈ SO(2)/O(2), when A(g) is a quarter turn (with a flip); else None."""
    matrix = g.data.to(torch.float64)
    rounded = matrix.round()
    if float((matrix - rounded).abs().max()) > _QUARTER_TURN_TOLERANCE:
        return None
    flip = int(float(torch.linalg.det(rounded)) < 0)
    cos, sin = int(rounded[0, 0]), int(rounded[1, 0])  # A e_0 = R(θ) e_0
    quarter_turns = {(1, 0): 0, (0, 1): 1, (-1, 0): 2, (0, -1): 3}[(cos, sin)]
    return DihedralGroup(4).element(rotation=quarter_turns, flip=flip)


def move_grid(value: torch.Tensor, group: Group, g: GroupElement) -> torch.Tensor:
    r"""(g · x)(p) = x(A(g)⁻¹ p) on the last two axes (about the grid centre), channels untouched.

    Exact (``torch.flip``/``torch.rot90``) where A(g) is a multiple of 90° (with or without the flip), for C_n and
    D_n as for SO(2) and O(2); cubic interpolation (:func:`~gdl.groups.finite.interpolate_on_grid`) otherwise.

    Shapes:
        ``[..., N, N]`` → ``[..., N, N]`` (non-square grids only for exact elements).
    """
    if isinstance(group, DihedralGroup):
        return act_on_grid(value, g)
    quarter = _quarter_turn(group, g)
    if quarter is not None:
        return act_on_grid(value, quarter)
    return interpolate_on_grid(value, g.data)


# -- field type ------------------------------------------------------------------------------------------------------

def _is_permutation_representation(rep: Representation) -> bool:
    """Whether ρ(g) permutes the channels for every g (checked on the generators; Lie groups: dρ = 0)."""
    if rep.group.lie_algebra_dimension and bool(rep.lie_algebra().abs().max() > 0):
        return False
    return all(rep.permutation(g) is not None for g in rep.group.discrete_generators())


def _is_orthogonal(rep: Representation) -> bool:
    """Whether ρ(g) is orthogonal for every g (checked on the generators and, for Lie groups, dρ antisymmetric)."""
    eye = torch.eye(rep.dim, dtype=torch.float64)
    for g in rep.group.discrete_generators():
        matrix = rep.matrix(g)
        if float((matrix @ matrix.T - eye).abs().max()) > 1e-10:
            return False
    if rep.group.lie_algebra_dimension:
        algebra = rep.lie_algebra()
        if float((algebra + algebra.transpose(1, 2)).abs().max()) > 1e-10:
            return False
    return True


@dataclasses.dataclass(frozen=True)
class SteerableField(FieldType):
    r"""A ρ-field on a square grid, ``[B, d, N, N]`` (d = ρ.dim), acted on by :math:`(g \cdot x)(p) = \rho(g)\,
    x(A(g)^{-1} p)` about the grid centre.

    Args:
        representation: ρ, a representation of C_n, D_n, SO(2) or O(2) (a direct sum of fields: channels in the
            order of its summands).

    Example:
        >>> from gdl.groups import CyclicGroup
        >>> from gdl.representations import RegularRepresentation
        >>> field = SteerableField(4 * RegularRepresentation(CyclicGroup(8)))
        >>> field.shape_name, field.supports_pointwise
        ('[B, 32, N, N]', True)
    """

    representation: Representation

    def __post_init__(self):
        if not isinstance(self.representation, Representation):
            raise TypeError(f"SteerableField needs a Representation, got {type(self.representation).__name__}")
        check_planar_group(self.representation.group, "SteerableField")
        # computed once (some representations count their dimension, e.g. cosets); not a field, so not compared
        object.__setattr__(self, "_dim", self.representation.dim)

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.representation.group

    @property
    def dim(self) -> int:
        """d = ρ.dim, the number of channels."""
        return self._dim

    @property
    def supports_pointwise(self) -> bool:  # type: ignore[override]
        """Whether ρ permutes channels (regular, quotient, trivial fields), so that entrywise σ commutes with it."""
        return _is_permutation_representation(self.representation)

    @property
    def exact(self) -> bool:
        """Whether the action is exact (C_n, D_n with n ∈ {1, 2, 4}); else the grid is interpolated."""
        return _is_exact(self.group)

    @property
    def shape_name(self) -> str:
        return f"[B, {self.dim}, N, N]"

    def validate(self, value: Any) -> None:
        name = f"SteerableField({self.representation!r})"
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} expects a tensor {self.shape_name}, got {type(value).__name__}")
        if value.dim() != 4:
            raise ValueError(f"{name} expects a tensor {self.shape_name} of rank 4, got rank {value.dim()} with shape "
                             f"{list(value.shape)}")
        if not value.is_floating_point():
            raise TypeError(f"{name} expects a floating-point tensor, got {value.dtype}")
        if value.shape[1] != self.dim:
            raise ValueError(f"{name} expects {self.dim} channels ({self.shape_name}), got {value.shape[1]} in shape "
                             f"{list(value.shape)}")
        if _needs_square_grid(self.group) and value.shape[-1] != value.shape[-2]:
            raise ValueError(f"{name} over {self.group!r} rotates its grid and needs a square grid (H = W), got "
                             f"H = {value.shape[-2]}, W = {value.shape[-1]}")

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        """ρ(g) applied to the channels of the grid moved by A(g): exact for quarter turns and flips, interpolated
        otherwise (:func:`move_grid`)."""
        self.group.check(g)
        self.validate(value)
        moved = move_grid(value, self.group, g)
        permutation = self.representation.permutation(g)
        if permutation is not None:  # (ρ(g) v)_i = v_{π(i)}: exact in every dtype
            return moved.index_select(1, permutation.to(value.device))
        return torch.einsum("ij,bjhw->bihw", self.representation.matrix(g).to(moved), moved)

    def restrict(self, subgroup: Group) -> "SteerableField":
        if subgroup == self.group:
            return self
        return SteerableField(self.representation.restrict(subgroup))

    def __repr__(self) -> str:
        return f"SteerableField({self.representation!r})"


def _as_steerable_field(value: Any, name: str) -> SteerableField:
    if isinstance(value, SteerableField):
        return value
    if isinstance(value, Representation):
        return SteerableField(value)
    raise TypeError(f"{name} must be a Representation or a SteerableField, got {type(value).__name__}")


# -- the kernel basis ------------------------------------------------------------------------------------------------

def ring_parameters(kernel_size: int, maximum_frequency: int | None = None,
                    frequency_cutoff: str = "escnn") -> list[tuple[float, float, int]]:
    r"""The rings of a K × K steerable kernel: ``(radius r, width σ_r, band limit M_r)`` for r = 0, 1, …, (K−1)/2.

    σ = 0.6 (0.4 on the outermost ring, 0.005 at r = 0); M_r = min(M, c(r)) with escnn's cutoff c (or c(r) = 4r
    for ``frequency_cutoff="grid"``), see the module docstring.

    Raises:
        ValueError: an even or non-positive kernel size, an unknown cutoff, or a ``maximum_frequency`` above what any
            ring of a K × K kernel carries (the message names the largest allowed).
    """
    check_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(f"a steerable kernel needs an odd kernel_size (centred on a tap, so that rotations about the "
                         f"centre map taps to the plane around it), got {kernel_size}")
    check_choice(frequency_cutoff, FREQUENCY_CUTOFFS, "frequency_cutoff")
    check_int(maximum_frequency, "maximum_frequency", minimum=0, allow_none=True)
    outer = (kernel_size - 1) // 2
    rings = []
    for r in range(outer + 1):
        if frequency_cutoff == "grid":
            cutoff = 4 * r
        else:
            cutoff = 0 if r == 0 else min(2 * r, 2 if r == outer else 2 * r - (r + 1) % 2)
        width = 0.005 if r == 0 else 0.4 if r == outer else 0.6
        rings.append((float(r), width, cutoff))
    largest = max(cutoff for _, _, cutoff in rings)
    if maximum_frequency is not None and maximum_frequency > largest:
        raise ValueError(f"a {kernel_size}×{kernel_size} kernel carries angular frequencies up to {largest} "
                         f"(frequency_cutoff={frequency_cutoff!r}, rings at radii 0 … {outer}); got maximum_frequency="
                         f"{maximum_frequency}, too high for kernel_size {kernel_size}")
    top = largest if maximum_frequency is None else maximum_frequency
    return [(r, width, min(top, cutoff)) for r, width, cutoff in rings]


def _harmonics(kernel_size: int, frequency: int) -> torch.Tensor:
    """f_m on the taps, float64 ``[dim ψ_m, K, K]``: 1, or (cos mφ, sin mφ) with φ = atan2(col, row), 0 at the centre."""
    offsets = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    row, col = torch.meshgrid(offsets, offsets, indexing="ij")
    if frequency == 0:
        return torch.ones(1, kernel_size, kernel_size, dtype=torch.float64)
    angle = torch.atan2(col, row)
    centre = (row == 0) & (col == 0)
    values = torch.stack([torch.cos(frequency * angle), torch.sin(frequency * angle)])
    return torch.where(centre, torch.zeros_like(values), values)


def _radial_profile(kernel_size: int, radius: float, width: float) -> torch.Tensor:
    """exp(−(|q| − r)² / 2σ²) on the taps, float64 ``[K, K]``."""
    offsets = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    row, col = torch.meshgrid(offsets, offsets, indexing="ij")
    return torch.exp(-(torch.hypot(row, col) - radius) ** 2 / (2 * width**2))


def _orthonormalise(samples: torch.Tensor) -> torch.Tensor:
    """Gram–Schmidt (by QR) of ``[N, ...]`` sampled kernels in order, dropping those that vanish on the grid."""
    if samples.shape[0] == 0:
        return samples
    flat = samples.reshape(samples.shape[0], -1)
    # a solved W has unit norm and the profiles and harmonics are of order 1: a sample is of order 1 (≳ 0.01 for
    # the sharpest ring) unless it vanishes on the grid, where it is round-off (sin 4φ on a 3 × 3 kernel: 1e-16)
    scale = max(1.0, float(flat.norm(dim=1).max()))
    _, r = torch.linalg.qr(flat.T)  # |R_jj| = distance of sample j from the span of samples 0 … j − 1
    keep = torch.zeros(flat.shape[0], dtype=torch.bool)
    keep[:r.shape[0]] = r.diagonal().abs() > _VANISHING * scale  # beyond the tap count every sample is dependent
    kept = flat[keep]
    if kept.shape[0] == 0:
        return samples[:0]
    q, r = torch.linalg.qr(kept.T)
    q = q * torch.sign(r.diagonal())[None, :]  # positive diagonal: the Gram–Schmidt basis, independent of LAPACK's sign
    return q.T.reshape(-1, *samples.shape[1:]).contiguous()


def _hom_basis(rep_in: Representation, rep_out: Representation) -> torch.Tensor:
    """:func:`~gdl.representations.equivariant_basis`, an empty space allowed."""
    return equivariant_basis(rep_in, rep_out, allow_empty=True)


@functools.lru_cache(maxsize=256)
def _block_basis(rep_in: Representation, rep_out: Representation, kernel_size: int, maximum_frequency: int | None,
                 frequency_cutoff: str) -> torch.Tensor:
    """The orthonormal steerable basis from one summand ρ_in to one summand ρ_out, ``[b, d_out, d_in, K, K]``."""
    group = rep_in.group
    pieces = []
    for radius, width, band_limit in ring_parameters(kernel_size, maximum_frequency, frequency_cutoff):
        profile = _radial_profile(kernel_size, radius, width)
        for m in range(band_limit + 1):
            source = rep_in if m == 0 else TensorProduct((rep_in, CircularHarmonic(group, m)))
            solution = _hom_basis(source, rep_out)  # [s, d_out, d_in · dim ψ_m]
            if solution.shape[0] == 0:
                continue
            harmonics = _harmonics(kernel_size, m) * profile  # [dim ψ_m, K, K]
            weights = solution.reshape(solution.shape[0], rep_out.dim, rep_in.dim, harmonics.shape[0])
            pieces.append(torch.einsum("soij,juv->soiuv", weights, harmonics))
    if not pieces:
        return torch.zeros(0, rep_out.dim, rep_in.dim, kernel_size, kernel_size, dtype=torch.float64)
    basis = _orthonormalise(torch.cat(pieces))
    # entries that vanish in exact arithmetic come out as round-off (1e-17 … 1e-40): zero them, or in float32 they are
    # denormal numbers that slow the kernel expansion down 30-fold (Gaussian tails below this are negligible too)
    return torch.where(basis.abs() < _ROUND_OFF, torch.zeros_like(basis), basis)


def _check_reps(rep_in: Any, rep_out: Any, what: str) -> tuple[Representation, Representation]:
    for rep, name in ((rep_in, "rep_in"), (rep_out, "rep_out")):
        if not isinstance(rep, Representation):
            raise TypeError(f"{what}: {name} must be a Representation, got {type(rep).__name__}")
    check_planar_group(rep_in.group, what)
    if rep_in.group != rep_out.group:
        raise TypeError(f"{what} needs representations of one group, got ρ_in = {rep_in!r} of {rep_in.group!r} and "
                        f"ρ_out = {rep_out!r} of {rep_out.group!r}")
    return rep_in, rep_out


def _summand_layout(rep: Representation) -> list[tuple[Representation, int]]:
    """``(summand, channel offset)`` for each summand of ρ, in order."""
    layout, offset = [], 0
    for part in rep.summands():
        layout.append((part, offset))
        offset += part.dim
    return layout


def steerable_kernel_basis(rep_in: Representation, rep_out: Representation, kernel_size: int,
                           maximum_frequency: int | None = None, frequency_cutoff: str = "escnn") -> torch.Tensor:
    r"""An orthonormal basis of the steerable K × K kernels from ρ_in- to ρ_out-fields.

    Every element satisfies :math:`k(A(g) q) = \rho_\text{out}(g) k(q) \rho_\text{in}(g)^{-1}` for its continuous
    form; on the grid exactly for C_n, D_n with n ∈ {1, 2, 4}. Solved per pair of summands of ρ_in and ρ_out (each
    pair cached), zero between other pairs; see the module docstring for the rings and band limits.

    Args:
        rep_in, rep_out: representations of one group C_n, D_n, SO(2) or O(2).
        kernel_size: odd K.
        maximum_frequency: cap M on the angular frequency of every ring (default: the rings' own cutoffs).
        frequency_cutoff: ``"escnn"`` (escnn's per-ring rule) or ``"grid"`` (c(r) = 4r: every resolvable frequency).

    Returns:
        float64 ``[b, d_out, d_in, K, K]``, orthonormal in the Frobenius inner product (b may be 0).

    Raises:
        TypeError: not representations, or of different (or non-planar) groups.
        ValueError: an even kernel size or a band limit too high for it.

    Example:
        >>> from gdl.groups import CyclicGroup
        >>> from gdl.representations import RegularRepresentation
        >>> regular = RegularRepresentation(CyclicGroup(4))
        >>> steerable_kernel_basis(regular, regular, 3).shape[0], steerable_kernel_basis(regular, regular, 3,
        ...     frequency_cutoff="grid").shape[0]  # the grid cutoff spans every C4-equivariant 3×3 kernel: 4·9
        (24, 36)
    """
    rep_in, rep_out = _check_reps(rep_in, rep_out, "steerable_kernel_basis")
    ring_parameters(kernel_size, maximum_frequency, frequency_cutoff)  # validates
    pieces = []
    for sigma, out_offset in _summand_layout(rep_out):
        for rho, in_offset in _summand_layout(rep_in):
            block = _block_basis(rho, sigma, kernel_size, maximum_frequency, frequency_cutoff)
            full = torch.zeros(block.shape[0], rep_out.dim, rep_in.dim, kernel_size, kernel_size, dtype=torch.float64)
            full[:, out_offset:out_offset + sigma.dim, in_offset:in_offset + rho.dim] = block
            pieces.append(full)
    return torch.cat(pieces)


# -- the convolution -------------------------------------------------------------------------------------------------

class _KindPair(NamedTuple):
    """One pair of summand kinds (σ_out, ρ_in) of a :class:`SteerableConv`: its basis buffer, the copies of each kind,
    the number b of basis elements and the summands' dimensions; its channels are the buffers ``rows_i``, ``cols_i``."""

    basis: str
    out_copies: int
    in_copies: int
    size: int
    out_dim: int
    in_dim: int


class SteerableConv(ExactBasis, EquivariantModule):
    r"""A G-steerable convolution between ρ_in- and ρ_out-fields (Weiler & Cesa 2019) for G = C_n, D_n, SO(2), O(2).

    .. math::

        y(p) = \beta + \sum_{q} k(q)\, x(p + q), \qquad k = \sum_{a} w_a\, k_a, \qquad
        k_a(A(g) q) = \rho_\text{out}(g)\, k_a(q)\, \rho_\text{in}(g)^{-1},

    with the k_a from :func:`steerable_kernel_basis` and β = Σ_j b_j v_j on the invariant vectors v_j of ρ_out (so
    ρ_out(g) β = β). The kernel is expanded from the coefficients at each forward (one einsum per distinct pair of
    input and output summands) and applied by one ``F.conv2d``.

    Args:
        in_rep: ρ_in, a :class:`~gdl.representations.Representation` of a planar group or a :class:`SteerableField`.
        out_rep: ρ_out (same group).
        kernel_size: odd K.
        padding: ``"same"`` (zeros outside the grid: rotations about the centre) or ``"circular"`` (a periodic grid).
        bias: learn β on the invariant vectors of ρ_out (no bias when there are none).
        maximum_frequency: cap on the angular frequency of the kernels (default: the rings' cutoffs).
        frequency_cutoff: ``"escnn"`` or ``"grid"`` (see :func:`ring_parameters`).

    Shapes:
        ``[B, ρ_in.dim, N, N]`` → ``[B, ρ_out.dim, N, N]``.

    Example:
        >>> import torch
        >>> from gdl.groups import CyclicGroup
        >>> from gdl.representations import RegularRepresentation, Trivial
        >>> C8 = CyclicGroup(8)
        >>> conv = SteerableConv(Trivial(C8), 4 * RegularRepresentation(C8), kernel_size=5)
        >>> conv(torch.randn(2, 1, 17, 17)).shape, conv.basis_dimension
        (torch.Size([2, 32, 17, 17]), 44)
    """

    def __init__(self, in_rep: Representation | SteerableField, out_rep: Representation | SteerableField,
                 kernel_size: int = 3, padding: str = "same", bias: bool = True, maximum_frequency: int | None = None,
                 frequency_cutoff: str = "escnn"):
        super().__init__()
        in_field, out_field = _as_steerable_field(in_rep, "in_rep"), _as_steerable_field(out_rep, "out_rep")
        rep_in, rep_out = _check_reps(in_field.representation, out_field.representation, "SteerableConv")
        ring_parameters(kernel_size, maximum_frequency, frequency_cutoff)
        check_choice(padding, PADDINGS, "padding")
        self.in_type, self.out_type = in_field, out_field
        self.kernel_size, self.padding = kernel_size, padding
        self.maximum_frequency, self.frequency_cutoff = maximum_frequency, frequency_cutoff
        if not _is_exact(rep_in.group):
            self.equivariance_tolerance = STEERABLE_INTERPOLATION_TOLERANCE
        # summands grouped by kind: one basis and one coefficient tensor [copies out, copies in, b] per pair of kinds
        self._pairs: list[_KindPair] = []
        for sigma, out_offsets in _kinds(rep_out):
            for rho, in_offsets in _kinds(rep_in):
                block = _block_basis(rho, sigma, kernel_size, maximum_frequency, frequency_cutoff)
                if block.shape[0] == 0:
                    continue
                i = len(self._pairs)
                self.register_exact(f"basis_{i}", block)
                self.register_buffer(f"rows_{i}", _channels(out_offsets, sigma.dim), persistent=False)
                self.register_buffer(f"cols_{i}", _channels(in_offsets, rho.dim), persistent=False)
                self._pairs.append(_KindPair(f"basis_{i}", len(out_offsets), len(in_offsets), block.shape[0],
                                             sigma.dim, rho.dim))
        if not self._pairs:
            raise ValueError(f"SteerableConv: there is no {kernel_size}×{kernel_size} steerable kernel from ρ_in = "
                             f"{rep_in!r} to ρ_out = {rep_out!r} over {rep_in.group!r} with these band limits "
                             f"({ring_parameters(kernel_size, maximum_frequency, frequency_cutoff)}); raise "
                             "maximum_frequency, the kernel size, or use frequency_cutoff='grid'")
        sizes = [pair.out_copies * pair.in_copies * pair.size for pair in self._pairs]
        self._sizes = sizes
        # one pair of kinds covering every channel in order: the einsum's output is the kernel itself
        self._dense = len(self._pairs) == 1 and torch.equal(self.rows_0, torch.arange(rep_out.dim)) and \
            torch.equal(self.cols_0, torch.arange(rep_in.dim))
        self.weight = nn.Parameter(torch.empty(sum(sizes)))
        invariants = invariant_basis(rep_out, allow_empty=True)  # [r, d_out]: where a bias may sit
        if bias and invariants.shape[0]:
            self.register_exact("bias_basis", invariants)
            self.bias = nn.Parameter(torch.zeros(invariants.shape[0]))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    @property
    def basis_dimension(self) -> int:
        """The number of learned kernel coefficients (the dimension of the steerable kernel space)."""
        return int(sum(self._sizes))

    def reset_parameters(self) -> None:
        r"""Every kernel entry of variance 1 / (3 ρ_in.dim K²), as ``nn.Conv2d`` (Kaiming-uniform, a = √5) initialises
        a conv of the same widths (and :class:`~gdl.groups.GroupConv` its bank); the bias zero.

        The basis is orthonormal, so a coefficient of variance s² spreads s²·b over the d_out·d_in·K² entries of its
        block: s² = d_out d_in K² / (3 b · fan_in) per pair of summand kinds, coefficients Gaussian.
        """
        fan_in = self.in_type.dim * self.kernel_size**2
        with torch.no_grad():
            for chunk, pair in zip(self.weight.split(self._sizes), self._pairs):
                variance = pair.out_dim * pair.in_dim * self.kernel_size**2 / (3.0 * pair.size * fan_in)
                chunk.normal_(0.0, math.sqrt(variance))
            if self.bias is not None:
                self.bias.zero_()

    def _bases(self) -> list[torch.Tensor]:
        return [getattr(self, pair.basis) for pair in self._pairs]

    def _masters(self, device: torch.device) -> list[torch.Tensor]:
        return [self.__dict__["_exact_masters"][pair.basis].to(device) for pair in self._pairs]

    def _expand(self, weight: torch.Tensor, bases: list[torch.Tensor]) -> torch.Tensor:
        """The kernel ``[d_out, d_in, K, K]`` from coefficients ``weight`` on ``bases`` (one einsum per pair of kinds)."""
        with torch.autocast(weight.device.type, enabled=False):  # the kernel in the weights' dtype; conv2d autocasts
            return self._expand_exact(weight, bases)

    def _expand_exact(self, weight: torch.Tensor, bases: list[torch.Tensor]) -> torch.Tensor:
        k = self.kernel_size
        blocks = []
        for chunk, basis, pair in zip(weight.split(self._sizes), bases, self._pairs):
            block = torch.einsum("oib,bxyuv->oxiyuv", chunk.view(pair.out_copies, pair.in_copies, pair.size), basis)
            blocks.append(block.reshape(pair.out_copies * pair.out_dim, pair.in_copies * pair.in_dim, k, k))
        if self._dense:
            return blocks[0]
        kernel = weight.new_zeros(self.out_type.dim, self.in_type.dim, k, k)
        for i, block in enumerate(blocks):
            rows, cols = getattr(self, f"rows_{i}"), getattr(self, f"cols_{i}")
            kernel = kernel.index_put((rows[:, None], cols[None, :]), block)
        return kernel

    def expand_kernel(self) -> torch.Tensor:
        """The kernel Σ_a w_a k_a as a ``conv2d`` weight ``[ρ_out.dim, ρ_in.dim, K, K]``."""
        return self._expand(self.weight, self._bases())

    def expand_bias(self) -> torch.Tensor | None:
        """β = Σ_j b_j v_j ``[ρ_out.dim]`` (or ``None``)."""
        return None if self.bias is None else self.bias @ self.bias_basis

    def load_kernel(self, kernel: torch.Tensor) -> float:
        """Set the coefficients to the orthogonal projection of a ``conv2d`` weight ``[ρ_out.dim, ρ_in.dim, K, K]`` onto
        the steerable kernels (the nearest equivariant kernel, in the Frobenius norm); returns the relative norm of
        the part that was dropped, |k − P k| / |k|."""
        expected = (self.out_type.dim, self.in_type.dim, self.kernel_size, self.kernel_size)
        if not isinstance(kernel, torch.Tensor) or tuple(kernel.shape) != expected:
            given = list(kernel.shape) if isinstance(kernel, torch.Tensor) else type(kernel).__name__
            raise ValueError(f"load_kernel expects a kernel of shape {list(expected)}, got {given}")
        kernel = kernel.detach().to(device=self.weight.device, dtype=torch.float64)
        masters = self._masters(kernel.device)
        chunks = []
        for i, (basis, pair) in enumerate(zip(masters, self._pairs)):
            rows, cols = getattr(self, f"rows_{i}"), getattr(self, f"cols_{i}")
            block = kernel[rows][:, cols].reshape(pair.out_copies, pair.out_dim, pair.in_copies, pair.in_dim,
                                                  self.kernel_size, self.kernel_size)
            chunks.append(torch.einsum("bxyuv,oxiyuv->oib", basis, block).reshape(-1))
        coefficients = torch.cat(chunks)  # the basis is orthonormal: coefficients are inner products
        with torch.no_grad():
            self.weight.copy_(coefficients)
            projected = self._expand(coefficients, masters)
        return float((kernel - projected).norm() / kernel.norm().clamp_min(1e-300))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        check_grid_extent(x, 2, self.kernel_size, type(self).__name__)
        anchor = self.kernel_size // 2
        if self.padding == "circular":
            return F.conv2d(F.pad(x, (anchor,) * 4, mode="circular"), self.expand_kernel(), self.expand_bias())
        return F.conv2d(x, self.expand_kernel(), self.expand_bias(), padding=anchor)

    def export(self) -> nn.Conv2d:
        """A plain ``nn.Conv2d(ρ_in.dim, ρ_out.dim, K, padding=K // 2)`` holding the current kernel and bias.

        The kernel is expanded in float64 (from the exact float64 basis) and stored in the layer's dtype, so a float64
        layer exports to round-off. A snapshot: later training of the layer does not reach it.
        """
        device = self.weight.device
        with torch.no_grad():
            kernel = self._expand(self.weight.double(), self._masters(device))
            bias = None if self.bias is None else \
                self.bias.double() @ self.__dict__["_exact_masters"]["bias_basis"].to(device)
        conv = nn.Conv2d(self.in_type.dim, self.out_type.dim, self.kernel_size, padding=self.kernel_size // 2,
                         padding_mode="zeros" if self.padding == "same" else "circular", bias=bias is not None,
                         dtype=self.weight.dtype, device=device)
        with torch.no_grad():
            conv.weight.copy_(kernel)
            if bias is not None:
                conv.bias.copy_(bias)
        return conv

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones, a wrong channel count, a non-square grid and a grid smaller than the kernel."""
        bad = _field_bad_inputs(self, inputs, super().bad_inputs(*inputs))
        (x,) = inputs
        if self.kernel_size > 1:
            bad[f"a grid smaller than the kernel ({self.kernel_size - 1} < {self.kernel_size})"] = (
                x[..., :self.kernel_size - 1, :self.kernel_size - 1],)
        return bad

    def extra_repr(self) -> str:
        return (f"{self.in_type.representation!r} → {self.out_type.representation!r}, kernel_size={self.kernel_size}, "
                f"padding={self.padding!r}, basis_dimension={self.basis_dimension}, bias={self.bias is not None}, "
                f"group={self.group!r}")

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        """D_4, ψ_0 ⊕ regular ⊕ ψ_1 → 2 × regular ⊕ sign ⊕ ψ_1 ⊕ quotient D_4/C_4, 5 × 5 (several summand kinds, a
        bias on the invariant vectors), float64."""
        group = DihedralGroup(4)
        regular = RegularRepresentation(group)
        rep_in = FrequencyIrrep(group, 0) + regular + FrequencyIrrep(group, 1)
        rep_out = 2 * regular + SignIrrep(group) + FrequencyIrrep(group, 1) + QuotientRepresentation(group, CyclicGroup(4))
        with seeded(generator):
            layer = cls(rep_in, rep_out, kernel_size=5).double()
            with torch.no_grad():
                layer.bias.normal_()
        return layer, (torch.randn(2, rep_in.dim, 9, 9, generator=generator, dtype=torch.float64),)


def _kinds(rep: Representation) -> list[tuple[Representation, list[int]]]:
    """The distinct summands of ρ in order of first appearance, each with the channel offsets of its copies."""
    kinds: dict[Representation, list[int]] = {}
    for part, offset in _summand_layout(rep):
        kinds.setdefault(part, []).append(offset)
    return list(kinds.items())


def _channels(offsets: list[int], dim: int) -> torch.Tensor:
    """The channels ``offset + (0 … dim − 1)`` of every copy, in order, int64."""
    return (torch.tensor(offsets, dtype=torch.long)[:, None] + torch.arange(dim)).reshape(-1)


def _field_bad_inputs(layer: EquivariantModule, inputs: tuple, bad: dict[str, tuple]) -> dict[str, tuple]:
    """``bad`` plus one channel too many and (groups that rotate the grid) a non-square grid."""
    (x,) = inputs
    bad = dict(bad)
    bad[f"{x.shape[1] + 1} channels instead of {x.shape[1]}"] = (torch.cat([x, x[:, :1]], dim=1),)
    if _needs_square_grid(layer.in_type.group):
        bad["a non-square grid"] = (x[..., :-1],)
    return bad


# -- nonlinearities and pooling --------------------------------------------------------------------------------------

def _block_matrix(rep: Representation) -> torch.Tensor:
    """``M [s, d]``: M[j, c] = 1 if channel c belongs to summand j (summing squares per summand)."""
    layout = _summand_layout(rep)
    matrix = torch.zeros(len(layout), rep.dim, dtype=torch.float64)
    for j, (part, offset) in enumerate(layout):
        matrix[j, offset:offset + part.dim] = 1.0
    return matrix


def _summand_of_channel(rep: Representation) -> torch.Tensor:
    """int64 ``[d]``: the summand each channel belongs to."""
    return torch.cat([torch.full((part.dim,), j, dtype=torch.long) for j, (part, _) in enumerate(_summand_layout(rep))])


def _check_orthogonal_field(field: SteerableField, layer: str) -> None:
    for part in field.representation.summands():
        if not _is_orthogonal(part):
            raise TypeError(f"{layer} needs orthogonal summands (|ρ(g) v| = |v|, so that norms are invariant); "
                            f"{part!r} of {field!r} is not orthogonal")


def _norms(x: torch.Tensor, block_matrix: torch.Tensor) -> torch.Tensor:
    """|x_j| per summand: ``[B, d, H, W]`` → ``[B, s, H, W]`` (with a floor under the square root)."""
    squares = torch.einsum("sd,bdhw->bshw", block_matrix.to(x.dtype), x * x)
    return squares.clamp_min(torch.finfo(x.dtype).tiny).sqrt()


NORM_FUNCTIONS = ("relu", "sigmoid")


def _norm_scale(norms: torch.Tensor, bias: torch.Tensor, function: str) -> torch.Tensor:
    """The factor σ(|v| + b) / |v| (``"relu"``) or σ(|v| + b) (``"sigmoid"``) per summand."""
    shifted = norms + bias[None, :, None, None]
    if function == "relu":
        return F.relu(shifted) / norms
    return torch.sigmoid(shifted)


class NormNonlinearity(ExactBasis, EquivariantModule):
    r"""Scales every summand (irrep block) of an orthogonal field by a function of its norm (Weiler & Cesa §3.3).

    .. math::

        y_j = x_j\, \frac{\mathrm{relu}(|x_j| + b_j)}{|x_j|} \quad(\texttt{"relu"}), \qquad
        y_j = x_j\, \mathrm{sigmoid}(|x_j| + b_j) \quad(\texttt{"sigmoid"}),

    with one learned b_j per summand j. ρ(g) orthogonal keeps |x_j|, so the factor is invariant and y is
    equivariant; the grid action moves the factors with the field. (A regular summand is one block: its norm is
    invariant too.)

    Args:
        field: a :class:`SteerableField` (or its representation) with orthogonal summands.
        function: ``"relu"`` or ``"sigmoid"``.
        bias: learn b (else b = 0).

    Shapes:
        unchanged: ``[B, d, N, N]``.
    """

    def __init__(self, field: SteerableField | Representation, function: str = "relu", bias: bool = True):
        super().__init__()
        field = _as_steerable_field(field, "field")
        _check_orthogonal_field(field, "NormNonlinearity")
        self.function = check_choice(function, NORM_FUNCTIONS, "function")
        self.in_type = self.out_type = field
        if not field.exact:
            self.equivariance_tolerance = NONLINEARITY_INTERPOLATION_TOLERANCE
        self.register_exact("block_matrix", _block_matrix(field.representation))
        self.register_buffer("summand_of_channel", _summand_of_channel(field.representation), persistent=False)
        count = len(field.representation.summands())
        self.bias = nn.Parameter(torch.full((count,), -0.1)) if bias else None
        self.register_buffer("zero_bias", torch.zeros(count), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        bias = self.zero_bias if self.bias is None else self.bias
        scale = _norm_scale(_norms(x, self.block_matrix), bias.to(x.dtype), self.function)
        return x * scale.index_select(1, self.summand_of_channel)

    def export(self) -> nn.Module:
        bias = self.zero_bias if self.bias is None else self.bias
        return _PlainNormNonlinearity(self.block_matrix, self.summand_of_channel, bias.detach(), self.function)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        return _field_bad_inputs(self, inputs, super().bad_inputs(*inputs))

    def extra_repr(self) -> str:
        return f"{self.in_type.representation!r}, function={self.function!r}, bias={self.bias is not None}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        group = DihedralGroup(4)
        rep = FrequencyIrrep(group, 1) + FrequencyIrrep(group, 0) + RegularRepresentation(group) + SignIrrep(group)
        layer = cls(rep).double()
        with torch.no_grad():
            layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator, dtype=torch.float64))
        return layer, (torch.randn(2, rep.dim, 7, 7, generator=generator, dtype=torch.float64),)


class _PlainNormNonlinearity(nn.Module):
    """:class:`NormNonlinearity` without types or checks."""

    def __init__(self, block_matrix: torch.Tensor, summand_of_channel: torch.Tensor, bias: torch.Tensor, function: str):
        super().__init__()
        self.register_buffer("block_matrix", block_matrix.clone())
        self.register_buffer("summand_of_channel", summand_of_channel.clone())
        self.bias = nn.Parameter(bias.clone())
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = _norm_scale(_norms(x, self.block_matrix), self.bias.to(x.dtype), self.function)
        return x * scale.index_select(1, self.summand_of_channel)


class SteerableGate(EquivariantModule):
    r"""Gated nonlinearity (Weiler et al. 2018): trivial gate channels scale the non-trivial summands.

    The input is k gates followed by the gated field ρ = ⊕_j ρ_j (k = the number of non-trivial ρ_j):

    .. math::

        y_j = x_j\, \mathrm{sigmoid}(\gamma_{i(j)}) \ (\rho_j \text{ non-trivial}), \qquad
        y_j = \sigma(x_j) \ (\rho_j \text{ trivial}),

    equivariant for any ρ (the gates are invariant scalars). Input type ``k × trivial ⊕ ρ``
    (:meth:`input_representation`), output ρ.

    Args:
        gated: ρ (a representation or :class:`SteerableField`).
        activation: σ for the trivial summands of ρ (a name of :data:`gdl.core.ACTIVATIONS` or a callable).

    Shapes:
        ``[B, k + d, N, N]`` → ``[B, d, N, N]``.
    """

    def __init__(self, gated: SteerableField | Representation, activation: str | Callable = "relu"):
        super().__init__()
        out_field = _as_steerable_field(gated, "gated")
        rep = out_field.representation
        self.out_type = out_field
        trivial = [part.is_trivial for part in rep.summands()]
        self.gate_count = trivial.count(False)
        self.in_type = SteerableField(self.input_representation(rep))
        if not out_field.exact:
            self.equivariance_tolerance = NONLINEARITY_INTERPOLATION_TOLERANCE
        self.activation_name, self.activation = resolve_activation(activation)
        gate_of_summand, next_gate = [], 0
        for is_trivial in trivial:
            gate_of_summand.append(0 if is_trivial else next_gate)
            next_gate += 0 if is_trivial else 1
        summand = _summand_of_channel(rep)
        self.register_buffer("gate_index", torch.tensor(gate_of_summand, dtype=torch.long)[summand], persistent=False)
        self.register_buffer("scalar_mask", torch.tensor(trivial)[summand][None, :, None, None], persistent=False)

    @staticmethod
    def input_representation(gated: Representation) -> Representation:
        """k × trivial ⊕ ρ, with k the number of non-trivial summands of ρ (the gates come first)."""
        count = sum(not part.is_trivial for part in gated.summands())
        return Trivial(gated.group, count) + gated if count else gated

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        return _gate(x, self.gate_count, self.gate_index, self.scalar_mask, self.activation)

    def export(self) -> nn.Module:
        return _PlainGate(self.gate_count, self.gate_index, self.scalar_mask, self.activation)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        return _field_bad_inputs(self, inputs, super().bad_inputs(*inputs))

    def extra_repr(self) -> str:
        return f"{self.out_type.representation!r}, gates={self.gate_count}, activation={self.activation_name}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        group = DihedralGroup(4)
        rep = FrequencyIrrep(group, 1) + FrequencyIrrep(group, 0) + RegularRepresentation(group) + SignIrrep(group)
        layer = cls(rep, "gelu").double()
        return layer, (torch.randn(2, layer.in_type.dim, 7, 7, generator=generator, dtype=torch.float64),)


def _gate(x: torch.Tensor, gate_count: int, gate_index: torch.Tensor, scalar_mask: torch.Tensor,
          activation: Callable) -> torch.Tensor:
    gates, values = x[:, :gate_count], x[:, gate_count:]
    if gate_count == 0:
        return activation(values)
    gated = values * torch.sigmoid(gates).index_select(1, gate_index)
    return torch.where(scalar_mask, activation(values), gated)


class _PlainGate(nn.Module):
    """:class:`SteerableGate` without types or checks."""

    def __init__(self, gate_count: int, gate_index: torch.Tensor, scalar_mask: torch.Tensor, activation: Callable):
        super().__init__()
        self.gate_count = gate_count
        self.register_buffer("gate_index", gate_index.clone())
        self.register_buffer("scalar_mask", scalar_mask.clone())
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _gate(x, self.gate_count, self.gate_index, self.scalar_mask, self.activation)


class PointwiseNonlinearity(EquivariantModule):
    r"""An entrywise σ on a permutation field (regular, quotient, trivial summands): :math:`y = \sigma(x)`.

    ρ(g) permutes channels and the grid action permutes (or, interpolated, resamples) pixels; σ commutes with
    permutations, so the layer is exactly equivariant for exact groups.

    Args:
        field: a :class:`SteerableField` (or its representation) whose ρ(g) are permutation matrices.
        activation: a name of :data:`gdl.core.ACTIVATIONS` or an entrywise callable.

    Raises:
        TypeError: ρ mixes channels (irreps of frequency ≥ 1, sign): use :class:`NormNonlinearity` or
            :class:`SteerableGate`.

    Shapes:
        unchanged: ``[B, d, N, N]``.
    """

    def __init__(self, field: SteerableField | Representation, activation: str | Callable = "relu"):
        super().__init__()
        field = _as_steerable_field(field, "field")
        if not field.supports_pointwise:
            raise TypeError(f"PointwiseNonlinearity needs a permutation field (regular, quotient or trivial summands): "
                            f"σ does not commute with the channel mixing of {field.representation!r}; use "
                            f"NormNonlinearity or SteerableGate, got {field!r}")
        self.in_type = self.out_type = field
        if not field.exact:
            self.equivariance_tolerance = NONLINEARITY_INTERPOLATION_TOLERANCE
        self.activation_name, self.activation = resolve_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        return self.activation(x)

    def export(self) -> nn.Module:
        from gdl.core import activation_module

        return activation_module(self.activation)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        return _field_bad_inputs(self, inputs, super().bad_inputs(*inputs))

    def extra_repr(self) -> str:
        return f"{self.in_type.representation!r}, activation={self.activation_name}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        group = DihedralGroup(4)
        rep = RegularRepresentation(group) + QuotientRepresentation(group, CyclicGroup(4)) + Trivial(group)
        return cls(rep, "elu"), (torch.randn(2, rep.dim, 7, 7, generator=generator, dtype=torch.float64),)


class SteerableSpatialPool(EquivariantModule):
    r"""Average pooling over k × k blocks of pixels, for a field of any representation.

    .. math::

        y(p) = \frac{1}{k^2} \sum_{u \in \{0, \dots, k-1\}^2} x(k p + u)

    is linear and acts on every channel alike, so it commutes with the channel mixing ρ(g); it commutes with the
    grid's quarter turns and flips when k divides N (the blocks are then permuted among themselves), so it is exact
    for C_4/D_4-type groups on such grids and approximate (interpolation) for the others.

    Args:
        field: a :class:`SteerableField` (or its representation).
        kernel_size: k (stride k).

    Shapes:
        ``[B, d, N, N]`` → ``[B, d, N / k, N / k]`` (N divisible by k).
    """

    def __init__(self, field: SteerableField | Representation, kernel_size: int = 2):
        super().__init__()
        field = _as_steerable_field(field, "field")
        self.in_type = self.out_type = field
        self.kernel_size = check_int(kernel_size, "kernel_size")
        if not field.exact:
            self.equivariance_tolerance = STEERABLE_INTERPOLATION_TOLERANCE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        if x.shape[-1] % self.kernel_size or x.shape[-2] % self.kernel_size:
            raise ValueError(f"SteerableSpatialPool with kernel_size {self.kernel_size} needs a grid whose sides it "
                             f"divides (else the blocks do not rotate onto blocks), got {list(x.shape[-2:])}")
        return F.avg_pool2d(x, self.kernel_size)

    def export(self) -> nn.Module:
        return nn.AvgPool2d(self.kernel_size)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        (x,) = inputs
        bad = _field_bad_inputs(self, inputs, super().bad_inputs(*inputs))
        bad["a grid the pooling size does not divide"] = (x[..., :-1, :-1],)
        return bad

    def extra_repr(self) -> str:
        return f"{self.in_type.representation!r}, kernel_size={self.kernel_size}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        group = DihedralGroup(4)
        rep = FrequencyIrrep(group, 1) + RegularRepresentation(group)
        return cls(rep).double(), (torch.randn(2, rep.dim, 8, 8, generator=generator, dtype=torch.float64),)


class SteerableInvariantPool(ExactBasis, EquivariantModule):
    r"""Invariant features of a field: trivial channels as they are, the norm of every non-trivial summand, averaged
    (or maximised) over the grid.

    .. math::

        y[b, j] = \frac{1}{N^2} \sum_p \begin{cases} x_j(p) & \rho_j \text{ trivial} \\ |x_j(p)| & \text{else}
        \end{cases} \qquad (\text{or } \max_p \text{ instead of the mean})

    Exactly invariant for exact groups (the grid action permutes pixels); orthogonal summands are required.

    Args:
        field: a :class:`SteerableField` (or its representation).
        mode: ``"mean"`` or ``"max"`` over the grid.

    Shapes:
        ``[B, d, N, N]`` → ``[B, s]`` (s summands; a :class:`~gdl.core.TrivialField`).
    """

    def __init__(self, field: SteerableField | Representation, mode: str = "mean"):
        super().__init__()
        self.mode = check_choice(mode, ("mean", "max"), "mode")
        field = _as_steerable_field(field, "field")
        _check_orthogonal_field(field, "SteerableInvariantPool")
        self.in_type = field
        parts = field.representation.summands()
        self.out_type = TrivialField(field.group, len(parts))
        if not field.exact:
            self.equivariance_tolerance = STEERABLE_INTERPOLATION_TOLERANCE
        self.register_exact("block_matrix", _block_matrix(field.representation))
        offsets = [offset for _, offset in _summand_layout(field.representation)]
        self.register_buffer("first_channel", torch.tensor(offsets, dtype=torch.long), persistent=False)
        self.register_buffer("trivial_mask", torch.tensor([p.is_trivial for p in parts])[None, :, None, None],
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        return _invariant_pool(x, self.block_matrix, self.first_channel, self.trivial_mask, self.mode)

    def export(self) -> nn.Module:
        return _PlainInvariantPool(self.block_matrix, self.first_channel, self.trivial_mask, self.mode)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        return _field_bad_inputs(self, inputs, super().bad_inputs(*inputs))

    def extra_repr(self) -> str:
        return f"{self.in_type.representation!r} → {self.out_type.channels} invariants"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        group = DihedralGroup(4)
        rep = FrequencyIrrep(group, 1) + FrequencyIrrep(group, 0) + RegularRepresentation(group) + SignIrrep(group)
        return cls(rep).double(), (torch.randn(2, rep.dim, 7, 7, generator=generator, dtype=torch.float64),)


def _invariant_pool(x: torch.Tensor, block_matrix: torch.Tensor, first_channel: torch.Tensor,
                    trivial_mask: torch.Tensor, mode: str = "mean") -> torch.Tensor:
    invariants = torch.where(trivial_mask, x.index_select(1, first_channel), _norms(x, block_matrix))
    return invariants.mean(dim=(-2, -1)) if mode == "mean" else invariants.amax(dim=(-2, -1))


class _PlainInvariantPool(nn.Module):
    """:class:`SteerableInvariantPool` without types or checks."""

    def __init__(self, block_matrix: torch.Tensor, first_channel: torch.Tensor, trivial_mask: torch.Tensor,
                 mode: str = "mean"):
        super().__init__()
        self.mode = mode
        self.register_buffer("block_matrix", block_matrix.clone())
        self.register_buffer("first_channel", first_channel.clone())
        self.register_buffer("trivial_mask", trivial_mask.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _invariant_pool(x, self.block_matrix, self.first_channel, self.trivial_mask, self.mode)
