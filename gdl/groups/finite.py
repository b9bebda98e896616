"""The finite rotation groups of the plane C_n ⊂ D_n, the wallpaper-type groups Z² ⋊ C4 (p4) and Z² ⋊ D4 (p4m),
and the fields they act on: images (trivial representation) and functions on the group (regular representation).
Book §4.3 (groups and their representations), §5.2 (group convolutions).

Conventions. Pixel positions p = (row, col) are measured from the centre c = ((N−1)/2, (N−1)/2) of a square
N × N grid. The rotation r^k ∈ C_n turns the plane counter-clockwise (as displayed with row 0 at the top) by
2πk/n and the reflection m mirrors the columns:

    A(r^k) = [[cos φ, −sin φ], [sin φ, cos φ]],  φ = 2πk/n,        A(m) = [[1, 0], [0, −1]]       (on (row, col) − c)

An element of D_n is stored as ``(flip, k)`` ∈ {0, 1} × Z_n and means r^k m^flip (first mirror, then rotate), so

    (f₁, k₁)(f₂, k₂) = (f₁ ⊕ f₂, k₁ + (−1)^{f₁} k₂ mod n),           since m r^k = r^{−k} m.

Elements are enumerated as index(f, k) = f·n + k; C_n = {(0, k)} ⊂ D_n.

Actions on signals ``x`` over the grid (book eq. 3): (ρ(g) x)(p) = x(A(g)⁻¹ p).

* n ∈ {1, 2, 4}: A(g) maps the pixel grid onto itself, ρ(g) is a permutation of pixels (``torch.flip`` then
  ``torch.rot90``) and everything below is exact. Rotations need a square grid (H = W); C2 and D1, D2 do not.
* other n: ρ(g) rotates by bilinear interpolation about the grid centre (``grid_sample``, zeros outside), except for
  the elements whose angle is a multiple of 90°, which stay exact. The action is then only approximately a
  representation (ρ(a)ρ(b) ≈ ρ(ab)), and layers over such groups declare a measured ``equivariance_tolerance``.

Grid translations. On a periodic N × N grid (a torus, as in :mod:`gdl.grids`) the maps p ↦ A p (about the centre,
n ∈ {1, 2, 4}) are lattice automorphisms, so shifts t ∈ Z² and point-group elements generate the semidirect product

    Z² ⋊ H,   (t₁, h₁)(t₂, h₂) = (t₁ + A(h₁) t₂,  h₁h₂),        ρ(t, h) x = roll(ρ(h) x, t).

This is exact on the torus with circular padding; with zero padding only the point group H (rotations about the
centre) remains a symmetry. gdl offers both: a layer with circular padding respects Z² ⋊ H, one with zero padding
the subgroup H, and a :class:`~gdl.core.Blueprint` of the two respects their intersection H.

Fields (``stride`` s: a field sampled every s input pixels, after pooling; shifts then move it by t / s):

* :class:`ImageField` ``[B, C, H, W]``: C scalar channels, ρ(t, h) x = roll(ρ(h) x, t/s) (trivial representation of H
  on the channels).
* :class:`RegularField` ``[B, C, |H|, H, W]``: C functions on the group (book §5.2), acted on by the regular
  representation: (ρ(t, h) f)(h', p) = f(h⁻¹h', A(h)⁻¹(p − t)): the spatial axes move as for images and the group
  axis is permuted, new index i ← old index of h⁻¹ h_i.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, ClassVar

import torch

from gdl.core import FieldType, Group, GroupElement
from gdl.core.checks import check_int
from gdl.grids.translations import Translations

__all__ = ["DihedralGroup", "CyclicGroup", "SemidirectProduct", "p4", "p4m", "ImageField", "RegularField",
           "point_group_of", "act_on_grid", "interpolate_on_grid", "rotation_matrices", "cubic_weights"]

#: point groups whose elements map the square pixel grid onto itself (rotations by multiples of 90°)
EXACT_ORDERS = (1, 2, 4)


def _check_order(n: Any) -> int:
    return check_int(n, "the number of rotations n")


@dataclasses.dataclass(frozen=True)
class DihedralGroup(Group):
    """D_n: the n rotations by multiples of 2π/n and the n reflections of the plane that map a regular n-gon to itself.

    Args:
        n: number of rotations (D_n has order 2n).

    Example:
        >>> D4 = DihedralGroup(4)
        >>> r, m = D4.element(rotation=1), D4.element(flip=1)
        >>> m * r == D4.element(rotation=3) * m, D4.order, len(D4.elements())
        (True, 8, 8)
    """

    n: int
    reflections: ClassVar[bool] = True

    def __post_init__(self):
        _check_order(self.n)

    @property
    def order(self) -> int:  # type: ignore[override]
        return self.n * (2 if self.reflections else 1)

    @property
    def exact_on_grid(self) -> bool:
        """Whether every element maps the square pixel grid onto itself (n ∈ {1, 2, 4})."""
        return self.n in EXACT_ORDERS

    @property
    def needs_square_grid(self) -> bool:
        """Whether some element turns rows into columns (any rotation other than by 0 or 180°)."""
        return self.n not in (1, 2)

    # -- elements ---------------------------------------------------------------
    def element(self, rotation: int = 0, flip: int = 0) -> GroupElement:
        """r^rotation m^flip: mirror the columns (if ``flip``), then rotate by 2π·rotation/n."""
        check_int(rotation, "rotation (a multiple of 2π/n)", minimum=None)  # negative turns too
        if check_int(flip, "flip", minimum=0) > 1:
            raise ValueError(f"flip must be 0 or 1, got {flip!r}")
        if flip and not self.reflections:
            raise ValueError(f"{self!r} contains no reflections; use DihedralGroup({self.n}) for flip=1")
        return self._element((int(flip), rotation % self.n))

    def identity(self) -> GroupElement:
        return self._element((0, 0))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        (f1, k1), (f2, k2) = self.check(a).data, self.check(b).data
        return self._element((f1 ^ f2, (k1 + (-k2 if f1 else k2)) % self.n))

    def inverse(self, a: GroupElement) -> GroupElement:
        flip, k = self.check(a).data
        return self._element((flip, k if flip else (-k) % self.n))

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        everything = self.elements()
        return [everything[int(i)] for i in torch.randint(0, self.order, (n,), generator=generator)]

    def elements(self) -> list[GroupElement]:
        """All elements in index order: r⁰ … r^{n−1}, then m, r m, …, r^{n−1} m."""
        flips = (0, 1) if self.reflections else (0,)
        return [self._element((f, k)) for f in flips for k in range(self.n)]

    def discrete_generators(self) -> list[GroupElement]:
        """The rotation r by 2π/n and, for D_n, the reflection m (none for C_1)."""
        rotation = [self.element(rotation=1)] if self.n > 1 else []
        return rotation + ([self.element(flip=1)] if self.reflections else [])

    def component_representatives(self) -> list[GroupElement]:
        """The reflection m for D_n (always added to the harness's draws, so a layer that is equivariant to the
        rotations only fails even with no random draws); none for C_n."""
        return [self.element(flip=1)] if self.reflections else []

    def index(self, g: GroupElement) -> int:
        """Position of g in :meth:`elements` (its slot on the group axis of a :class:`RegularField`)."""
        flip, k = self.check(g).data
        return flip * self.n + k

    def describe(self, g: GroupElement) -> str:
        flip, k = g.data
        return f"rotation={360 * k / self.n:g}°" + (", flip" if flip else "")

    def contains(self, g: object) -> bool:
        return (isinstance(g, GroupElement) and isinstance(g.group, DihedralGroup) and g.group.n == self.n
                and (self.reflections or g.data[0] == 0))

    def is_subgroup_of(self, other: Group) -> bool:
        if isinstance(other, SemidirectProduct):  # the stabiliser of the grid centre
            return self.is_subgroup_of(other.point_group)
        return isinstance(other, DihedralGroup) and other.n == self.n and (other.reflections or not self.reflections)

    def intersection(self, other: Group) -> Group:
        if isinstance(other, SemidirectProduct):
            return self.intersection(other.point_group)
        return super().intersection(other)

    # -- how elements act ---------------------------------------------------------
    def matrix(self, g: GroupElement) -> torch.Tensor:
        """A(g) on (row, col) offsets from the grid centre, float64 ``[2, 2]`` (entries exact for angles k·90°)."""
        flip, k = self.check(g).data
        quarter_turns, rest = divmod(4 * k, self.n)
        if rest == 0:  # exact integer entries for multiples of 90°
            cos, sin = [(1, 0), (0, 1), (-1, 0), (0, -1)][quarter_turns % 4]
        else:
            angle = 2 * math.pi * k / self.n
            cos, sin = math.cos(angle), math.sin(angle)
        rotation = torch.tensor([[cos, -sin], [sin, cos]], dtype=torch.float64)
        return rotation @ torch.diag(torch.tensor([1.0, -1.0 if flip else 1.0], dtype=torch.float64))

    def regular_permutations(self) -> torch.Tensor:
        """``P [|G|, |G|]`` int64 with P[a, i] = index(a⁻¹ g_i): (ρ_reg(a) f)[i] = f[P[a, i]]."""
        return _regular_permutations(self).clone()

    def __repr__(self) -> str:
        return f"{'D' if self.reflections else 'C'}{self.n}"


@functools.cache
def _regular_permutations(group: DihedralGroup) -> torch.Tensor:
    everything = group.elements()
    return torch.tensor([[group.index(group.inverse(a) * g) for g in everything] for a in everything], dtype=torch.long)


@dataclasses.dataclass(frozen=True, repr=False)
class CyclicGroup(DihedralGroup):
    """C_n: the n rotations of the plane by multiples of 2π/n (a subgroup of D_n)."""

    reflections: ClassVar[bool] = False


@dataclasses.dataclass(frozen=True)
class SemidirectProduct(Group):
    """Z² ⋊ H: shifts of a periodic grid and rotations/reflections about its centre (H = C_n or D_n, n ∈ {1, 2, 4}).

    Elements are pairs (t, h) of a shift t ∈ ``translations`` and h ∈ ``point_group``, acting by x ↦ roll(ρ(h) x, t);

        (t₁, h₁)(t₂, h₂) = (t₁ + A(h₁) t₂, h₁h₂),      (t, h)⁻¹ = (−A(h)⁻¹ t, h⁻¹).

    ``Translations(step=s)`` gives the subgroup (sZ)² ⋊ H that a network with total pooling stride s respects.
    :meth:`sample` draws shifts as :class:`~gdl.grids.Translations` does and point-group elements in random order
    *without replacement* (repeating once exhausted), so that n ≥ |H| samples visit every rotation and reflection.

    Example:
        >>> G = p4()
        >>> g = G.element(shift=(1, 0), rotation=1)
        >>> (g * g).data[0].data.tolist(), g * g.inverse() == G.identity()
        ([1, 1], True)
    """

    translations: Translations = Translations(2)
    point_group: DihedralGroup = CyclicGroup(4)

    def __post_init__(self):
        if not isinstance(self.translations, Translations) or self.translations.ndim != 2:
            raise TypeError(f"SemidirectProduct needs Translations(ndim=2), got {self.translations!r}")
        if not isinstance(self.point_group, DihedralGroup):
            raise TypeError(f"the point group must be a CyclicGroup or DihedralGroup, got {self.point_group!r}")
        if not self.point_group.exact_on_grid:
            raise ValueError(f"Z² ⋊ {self.point_group!r} is not a symmetry of the square lattice: only rotations by "
                             f"multiples of 90° (n ∈ {EXACT_ORDERS}) map the grid onto itself, got n = {self.point_group.n}")

    def element(self, shift: Any = (0, 0), rotation: int = 0, flip: int = 0) -> GroupElement:
        """The element (t, r^rotation m^flip): rotate/reflect about the grid centre, then shift by t."""
        return self._element((self.translations.element(shift), self.point_group.element(rotation, flip)))

    def identity(self) -> GroupElement:
        return self._element((self.translations.identity(), self.point_group.identity()))

    def _act_on_shift(self, h: GroupElement, t: GroupElement) -> GroupElement:
        moved = self.point_group.matrix(h).round().to(torch.long) @ t.data
        return self.translations._element(moved)

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        (t1, h1), (t2, h2) = self.check(a).data, self.check(b).data
        return self._element((t1 * self._act_on_shift(h1, t2), h1 * h2))

    def inverse(self, a: GroupElement) -> GroupElement:
        t, h = self.check(a).data
        h_inverse = h.inverse()
        return self._element((self._act_on_shift(h_inverse, t).inverse(), h_inverse))

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        if n == 0:
            return []
        shifts = self.translations.sample(n, generator)
        points = self.point_group.elements()
        rounds = -(-n // len(points))
        order = torch.cat([torch.randperm(len(points), generator=generator) for _ in range(rounds)])[:n]
        return [self._element((t, points[int(i)])) for t, i in zip(shifts, order)]

    def component_representatives(self) -> list[GroupElement]:
        """A quarter turn (for n > 1) and, for D_n, a flip, each combined with a shift by (step, −2·step).

        Z² ⋊ H is discrete and a random draw may miss the reflections (or, with few draws, the rotations): the
        harness always adds these, so a layer equivariant to rotations but not to flips (or to shifts but not to
        rotations) fails even with ``n_samples=0``.
        """
        step = self.translations.step
        shift = (step, -2 * step)
        elements = [self.element(shift, rotation=1)] if self.point_group.n > 1 else []
        if self.point_group.reflections:
            elements.append(self.element(shift, flip=1))
        return elements

    def equal(self, a: GroupElement, b: GroupElement) -> bool:
        return a.data[0] == b.data[0] and a.data[1] == b.data[1]

    def describe(self, g: GroupElement) -> str:
        t, h = g.data
        return f"{self.translations.describe(t)}, {self.point_group.describe(h)}"

    def contains(self, g: object) -> bool:
        return (isinstance(g, GroupElement) and isinstance(g.group, SemidirectProduct)
                and isinstance(g.data, tuple) and len(g.data) == 2
                and self.translations.contains(g.data[0]) and self.point_group.contains(g.data[1]))

    def is_subgroup_of(self, other: Group) -> bool:
        return (isinstance(other, SemidirectProduct) and self.translations.is_subgroup_of(other.translations)
                and self.point_group.is_subgroup_of(other.point_group))

    def intersection(self, other: Group) -> Group:
        if isinstance(other, SemidirectProduct):
            return SemidirectProduct(self.translations.intersection(other.translations),
                                     self.point_group.intersection(other.point_group))  # type: ignore[arg-type]
        if isinstance(other, DihedralGroup):
            return other.intersection(self.point_group)
        return super().intersection(other)

    def __repr__(self) -> str:
        step = self.translations.step
        lattice = "Z²" if step == 1 else f"({step}Z)²"
        return f"{lattice}⋊{self.point_group!r}"


def p4(step: int = 1) -> SemidirectProduct:
    """p4 = Z² ⋊ C4: shifts (by multiples of ``step``) and rotations by multiples of 90° (Cohen & Welling 2016)."""
    return SemidirectProduct(Translations(2, step=step), CyclicGroup(4))


def p4m(step: int = 1) -> SemidirectProduct:
    """p4m = Z² ⋊ D4: shifts, rotations by multiples of 90° and reflections."""
    return SemidirectProduct(Translations(2, step=step), DihedralGroup(4))


def point_group_of(group: Group) -> DihedralGroup:
    """H for a group H or Z² ⋊ H; ``TypeError`` for any other group."""
    if isinstance(group, DihedralGroup):
        return group
    if isinstance(group, SemidirectProduct):
        return group.point_group
    raise TypeError(f"expected a CyclicGroup, DihedralGroup or SemidirectProduct (Z² ⋊ H), got {group!r}")


def act_on_grid(x: torch.Tensor, h: GroupElement) -> torch.Tensor:
    """ρ(h) x: rotate/reflect the last two axes of ``x`` about the grid centre, (ρ(h) x)(p) = x(A(h)⁻¹ p).

    Exact (``torch.flip`` then ``torch.rot90``, any dtype) for angles that are multiples of 90°; cubic
    interpolation (:func:`interpolate_on_grid`: square grids, floating dtypes, border values outside the grid)
    otherwise. This one function moves images and feature maps, and the filter taps of exact point groups in
    :mod:`gdl.groups.gconv`.

    Shapes:
        ``[..., H, W]`` → ``[..., H, W]``.
    """
    group: DihedralGroup = h.group
    flip, k = h.data
    quarter_turns, rest = divmod(4 * k, group.n)
    if rest == 0:
        if flip:
            x = x.flip(-1)
        return torch.rot90(x, quarter_turns, dims=(-2, -1)) if quarter_turns % 4 else x
    if x.shape[-2] != x.shape[-1]:
        raise ValueError(f"rotating by {group.describe(h)} needs a square grid (H = W), got {list(x.shape[-2:])}")
    return interpolate_on_grid(x, group.matrix(h))


def cubic_weights(offset: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = −½ (Catmull–Rom), third-order accurate; zero for |s| ≥ 2."""
    s = offset.abs()
    inner = 1.5 * s**3 - 2.5 * s**2 + 1
    outer = -0.5 * s**3 + 2.5 * s**2 - 4 * s + 2
    return torch.where(s <= 1, inner, torch.where(s < 2, outer, torch.zeros_like(s)))


def _cubic_sampling(size: int, inverses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather index ``[M, N², 16]`` and float64 weights ``[M, N², 16]`` of x(A⁻¹ p) by cubic convolution.

    ``inverses [M, 2, 2]`` are the matrices A⁻¹; source points outside the grid take the nearest border value.
    """
    centre = (size - 1) / 2
    axis = torch.arange(size, dtype=torch.float64)
    targets = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2) - centre
    sources = targets @ inverses.transpose(-1, -2) + centre  # [M, N², 2] (row, col)
    neighbours = sources.floor()[..., None] + torch.arange(-1, 3, dtype=torch.float64)  # [M, N², 2, 4]
    weights = cubic_weights(sources[..., None] - neighbours)
    rows, cols = neighbours.clamp(0, size - 1).long().unbind(-2)  # [M, N², 4] each
    index = (rows[..., :, None] * size + cols[..., None, :]).flatten(-2)
    return index, (weights[..., 0, :, None] * weights[..., 1, None, :]).flatten(-2)


@functools.lru_cache(maxsize=64)
def _cached_cubic_sampling(size: int, matrix: tuple[float, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    index, weights = _cubic_sampling(size, torch.linalg.inv(torch.tensor(matrix, dtype=torch.float64).view(1, 2, 2)))
    return index[0], weights[0]


def interpolate_on_grid(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """(ρ(A) x)(p) = x(A⁻¹ p) for 2 × 2 matrices A on (row, col) offsets from the centre of a square grid.

    Cubic convolution (Keys 1981, a = −½: exact for quadratics, error O(h³) for smooth signals) on the 4 × 4
    neighbours of each source point; source points outside the grid take the value of the nearest border pixel
    (so constant backgrounds, such as a bias, are preserved). One gather and one weighted sum. Used for rotations
    by angles that are not multiples of 90° (point groups C_n, D_n with n ∉ {1, 2, 4}, and the uniformly rotated
    test digits of ``rotated_mnist``). Where A⁻¹ p is a pixel centre the weights are (0, 1, 0, 0): the value is copied.

    Args:
        x: ``[..., N, N]``.
        matrix: one A ``[2, 2]`` for every item, or one per item of the first axis ``[x.shape[0], 2, 2]``.

    Shapes:
        ``[..., N, N]`` → ``[..., N, N]``.
    """
    size = x.shape[-1]
    if x.dim() < 2 or x.shape[-2] != size:
        raise ValueError(f"interpolated rotations need a square grid [..., N, N], got shape {list(x.shape)}")
    matrix = torch.as_tensor(matrix, dtype=torch.float64)
    if matrix.shape == (2, 2):
        index, weights = _cached_cubic_sampling(size, tuple(float(v) for v in matrix.reshape(4)))
        gathered = x.reshape(*x.shape[:-2], size * size)[..., index.to(x.device)]  # [..., N², 16]
        return (gathered * weights.to(device=x.device, dtype=x.dtype)).sum(-1).reshape(x.shape)
    if x.dim() < 3 or matrix.shape != (x.shape[0], 2, 2):
        raise ValueError(f"matrix must be [2, 2] or one [2, 2] per item, [{x.shape[0]}, 2, 2], got {list(matrix.shape)}")
    index, weights = _cubic_sampling(size, torch.linalg.inv(matrix))  # [B, N², 16]
    flat = x.reshape(x.shape[0], -1, size * size)  # [B, C, N²]
    gathered = flat.gather(-1, index.to(x.device).flatten(1)[:, None, :].expand(-1, flat.shape[1], -1))
    gathered = gathered.view(*flat.shape, 16)
    return (gathered * weights.to(device=x.device, dtype=x.dtype)[:, None]).sum(-1).reshape(x.shape)


def rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """Counter-clockwise rotations by ``angles`` (radians) on (row, col) offsets, ``[..., 2, 2]`` float64."""
    angles = torch.as_tensor(angles, dtype=torch.float64)
    cos, sin = angles.cos(), angles.sin()
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)


def _grid_name(group: DihedralGroup, channels: int, regular: bool) -> str:
    return f"[B, {channels}, {group.order}, H, W]" if regular else f"[B, {channels}, H, W]"


@dataclasses.dataclass(frozen=True)
class _PlanarField(FieldType):
    """Shared validation and action of :class:`ImageField` and :class:`RegularField`."""

    channels: int
    group: Group = dataclasses.field(default_factory=p4)
    stride: int = 1
    #: entrywise σ commutes with permutations of pixels and of the group axis. For point groups acting by
    #: interpolation (n ∉ {1, 2, 4}) the spatial action is itself approximate, for pointwise maps as for every
    #: other layer; networks over such groups declare the measured error as their ``equivariance_tolerance``.
    supports_pointwise = True
    regular: ClassVar[bool] = False

    def __post_init__(self):
        check_int(self.channels, "channels")
        point_group_of(self.group)
        check_int(self.stride, "stride")
        if isinstance(self.group, SemidirectProduct) and self.group.translations.step % self.stride:
            raise ValueError(f"a field sampled with stride {self.stride} admits only shifts by multiples of {self.stride}, "
                             f"but the group {self.group!r} has step {self.group.translations.step}")

    @property
    def point_group(self) -> DihedralGroup:
        return point_group_of(self.group)

    @property
    def shape_name(self) -> str:
        return _grid_name(self.point_group, self.channels, self.regular)

    def validate(self, value: Any) -> None:
        name, expected = type(self).__name__, self.shape_name
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} expects a tensor {expected}, got {type(value).__name__}")
        rank = 5 if self.regular else 4
        if value.dim() != rank:
            hint = ""
            if value.dim() == 5 and not self.regular:
                hint = " (this looks like a function on the group [B, C, |G|, H, W]; an image is expected here)"
            elif value.dim() == 4 and self.regular:
                hint = " (this looks like an image [B, C, H, W]; lift it to the group first, e.g. with LiftingConv)"
            raise ValueError(f"{name} expects a tensor {expected} of rank {rank}, got rank {value.dim()} "
                             f"with shape {list(value.shape)}{hint}")
        if value.shape[1] != self.channels:
            raise ValueError(f"{name} expects {self.channels} channels ({expected}), got {value.shape[1]} "
                             f"in shape {list(value.shape)}")
        if self.regular and value.shape[2] != self.point_group.order:
            raise ValueError(f"{name} over {self.group!r} expects a group axis of size |{self.point_group!r}| = "
                             f"{self.point_group.order} ({expected}), got {value.shape[2]} in shape {list(value.shape)}")
        if not value.is_floating_point():
            raise TypeError(f"{name} expects a floating-point tensor, got {value.dtype}")
        if self.point_group.needs_square_grid and value.shape[-1] != value.shape[-2]:
            raise ValueError(f"{name} over {self.group!r} rotates its grid by 90° and needs a square grid (H = W), "
                             f"got H = {value.shape[-2]}, W = {value.shape[-1]}")

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        """ρ(t, h) x = roll(ρ(h) x, t / stride); the group axis of a regular field is permuted by h too."""
        self.group.check(g)
        self.validate(value)
        if isinstance(self.group, SemidirectProduct):
            shift, h = g.data
        else:
            shift, h = None, g
        moved = act_on_grid(value, h)
        if self.regular:
            permutation = _regular_permutations(self.point_group)[self.point_group.index(h)]
            moved = moved.index_select(2, permutation.to(value.device))
        if shift is not None:
            moved = torch.roll(moved, shifts=tuple(int(t) // self.stride for t in shift.data), dims=(-2, -1))
        return moved


@dataclasses.dataclass(frozen=True)
class ImageField(_PlanarField):
    """C scalar channels on a square grid, ``[B, C, H, W]``: ρ(t, h) x = roll(ρ(h) x, t/stride).

    Args:
        channels: C.
        group: Z² ⋊ H (periodic grids, e.g. :func:`p4`) or H alone (rotations about the centre, e.g. ``CyclicGroup(4)``).
        stride: sample spacing in input pixels (a shift by t moves the field by t / stride).
    """


@dataclasses.dataclass(frozen=True)
class RegularField(_PlanarField):
    """C functions on Z² ⋊ H (or on H × grid), ``[B, C, |H|, H, W]``, moved by the regular representation.

    (ρ(t, h) f)[b, c, i, p] = f[b, c, index(h⁻¹ h_i), A(h)⁻¹ (p − t)]: rotate the grid, permute the group axis.

    Args:
        channels: C.
        group: Z² ⋊ H or H.
        stride: sample spacing in input pixels.
    """

    regular: ClassVar[bool] = True
