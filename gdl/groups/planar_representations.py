r"""The irreducible representations of the planar groups C_n ⊂ D_n and SO(2) ⊂ O(2) (book §4.3; Weiler & Cesa 2019).

Every element g of these groups acts on the plane by a matrix on (row, col) offsets,

.. math::

    A(g) = R(\theta)\, F^{f}, \qquad R(\theta) = \begin{pmatrix} \cos\theta & -\sin\theta \\ \sin\theta & \cos\theta
    \end{pmatrix}, \qquad F = \begin{pmatrix} 1 & 0 \\ 0 & -1 \end{pmatrix},

with θ(r^k m^f) = 2πk/n, f ∈ {0, 1} for D_n ∋ (f, k) (:meth:`gdl.groups.DihedralGroup.matrix`), and A(g) = g itself
for SO(2), O(2) (:mod:`gdl.symmetries`; then θ and f are read off the matrix, f = [det A = −1]). The real irreducible
representations are the *frequency* representations and a few one-dimensional ones:

.. math::

    \psi_m(g) = R(m\,\theta(g))\, F^{f(g)} \quad (m \ge 1,\ \text{2-dimensional}), \qquad
    \psi_0(g) = 1, \qquad \operatorname{sign}(g) = \det A(g) = (-1)^{f(g)},

and, for even n, the "half-turn" characters (−1)^k of C_n (:class:`FrequencyIrrep` at m = n/2) and
(−1)^k (±1)^f of D_n (:class:`HalfTurnIrrep`). Frequencies alias on the finite groups (ψ_{m+n} = ψ_m,
ψ_{n−m} ≅ ψ_m), so :func:`planar_irreps` lists m ≤ n/2 only:

* C_n: ψ_0, ψ_1, …, ψ_{⌈n/2⌉−1} (2-dim, of complex type: dim End = 2), and (−1)^k for even n;
* D_n: ψ_0, sign, ψ_1, …, ψ_{⌈n/2⌉−1} (2-dim, of real type: dim End = 1), and (−1)^k, (−1)^{k+f} for even n;
* SO(2), O(2): ψ_0, (sign,) ψ_1, …, ψ_M up to a chosen ``maximum_frequency`` M, with the Lie algebra
  dψ_m(J) = m J for the generator J = [[0, −1], [1, 0]] (0 on the one-dimensional ones).

For C_n and D_n the angle 2πkm/n is reduced modulo n and entries are exact integers when it is a multiple of 90°
(as :meth:`gdl.groups.DihedralGroup.matrix` does), so C_4, D_4 representations are exact signed permutations.

:class:`CircularHarmonic` is ψ_m for *any* m ≥ 1 on any of the four groups, with no claim of irreducibility: the
action g ↦ ψ_m(g) of G on the circular harmonics (cos mφ, sin mφ), f(A(g) x) = ψ_m(g) f(x), which the steerable
kernels of :mod:`gdl.groups.steerable` are built from.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from gdl.core import Group, GroupElement
from gdl.core.checks import check_int
from gdl.representations import Representation
from gdl.symmetries import Orthogonal

from .finite import DihedralGroup

__all__ = ["FrequencyIrrep", "SignIrrep", "HalfTurnIrrep", "CircularHarmonic", "planar_irreps", "irreps", "check_planar_group",
           "planar_rotation", "is_planar_group"]

#: the generator J of 𝔰𝔬(2) (Orthogonal(2).lie_algebra()[0]): exp(θJ) = R(θ)
GENERATOR = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)


def is_planar_group(group: Any) -> bool:
    """Whether ``group`` is C_n, D_n, SO(2) or O(2)."""
    return isinstance(group, DihedralGroup) or (isinstance(group, Orthogonal) and group.n == 2)


def check_planar_group(group: Any, what: str = "a planar representation") -> Group:
    """Return ``group`` if it is C_n, D_n, SO(2) or O(2); else raise ``TypeError`` naming what was given."""
    if not is_planar_group(group):
        raise TypeError(f"{what} needs one of the planar groups CyclicGroup(n), DihedralGroup(n), "
                        f"SpecialOrthogonal(2), Orthogonal(2), got {group!r}")
    return group


def _has_reflections(group: Group) -> bool:
    return group.reflections if isinstance(group, DihedralGroup) else not group.special


def _exact_cos_sin(turns: int, n: int) -> tuple[float, float]:
    """cos, sin of 2π·turns/n, exact integers when the angle is a multiple of 90°."""
    turns %= n
    quarter_turns, rest = divmod(4 * turns, n)
    if rest == 0:
        return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][quarter_turns % 4]
    angle = 2 * math.pi * turns / n
    return math.cos(angle), math.sin(angle)


def planar_rotation(group: Group, g: GroupElement) -> tuple[int, float]:
    """``(f, θ)`` with A(g) = R(θ) F^f: the reflection bit and the angle in radians (θ ∈ (−π, π] for SO(2)/O(2),
    2πk/n for C_n, D_n)."""
    group.check(g)
    if isinstance(group, DihedralGroup):
        flip, k = g.data
        return int(flip), 2 * math.pi * k / group.n
    matrix = g.data.to(torch.float64)
    flip = int(float(torch.linalg.det(matrix)) < 0)
    first_column = matrix[:, 0]  # A e_0 = R(θ) F^f e_0 = R(θ) e_0 = (cos θ, sin θ)
    return flip, math.atan2(float(first_column[1]), float(first_column[0]))


def _frequency_cos_sin(group: Group, g: GroupElement, frequency: int) -> tuple[int, float, float]:
    """``(f, cos mθ, sin mθ)`` for A(g) = R(θ) F^f (exact for C_n, D_n at multiples of 90°)."""
    group.check(g)
    if isinstance(group, DihedralGroup):
        flip, k = g.data
        cos, sin = _exact_cos_sin(k * frequency, group.n)
        return int(flip), cos, sin
    flip, angle = planar_rotation(group, g)
    return flip, math.cos(frequency * angle), math.sin(frequency * angle)


def _frequency_matrix(group: Group, g: GroupElement, frequency: int) -> torch.Tensor:
    r"""ψ_m(g) = R(mθ) F^f, float64 ``[2, 2]``."""
    flip, cos, sin = _frequency_cos_sin(group, g, frequency)
    sign = -1.0 if flip else 1.0
    return torch.tensor([[cos, -sin * sign], [sin, cos * sign]], dtype=torch.float64)


def _check_frequency(frequency: Any) -> int:
    return check_int(frequency, "frequency", minimum=0)


@dataclasses.dataclass(frozen=True)
class CircularHarmonic(Representation):
    r"""ψ_m(g) = R(m θ(g)) F^{f(g)} on R² for any m ≥ 1: how G moves the circular harmonics (cos mφ, sin mφ).

    With φ = atan2(col, row), A(g) = R(θ)F^f maps φ to (−1)^f φ + θ, so
    :math:`(\cos m\varphi', \sin m\varphi') = \psi_m(g)\,(\cos m\varphi, \sin m\varphi)`. Irreducible for SO(2),
    O(2) and for m < n/2 on C_n, D_n (then equal to :class:`FrequencyIrrep`); aliased or reducible otherwise.
    dψ_m(J) = m J on the Lie algebra of SO(2), O(2).

    Args:
        group: C_n, D_n, SO(2) or O(2).
        frequency: m ≥ 1.
    """

    group: Group
    frequency: int

    def __post_init__(self):
        check_planar_group(self.group, type(self).__name__)
        check_int(self.frequency, "frequency")

    @property
    def dim(self) -> int:
        return 2

    def matrix(self, g: GroupElement) -> torch.Tensor:
        return _frequency_matrix(self.group, g, self.frequency)

    def lie_algebra(self) -> torch.Tensor:
        if self.group.lie_algebra_dimension == 0:
            return super().lie_algebra()
        return (self.frequency * GENERATOR)[None].clone()

    def __repr__(self) -> str:
        return f"harmonic{self.frequency}"


@dataclasses.dataclass(frozen=True)
class FrequencyIrrep(Representation):
    r"""The frequency-m irrep ψ_m of C_n, D_n, SO(2) or O(2).

    .. math::

        \psi_0(g) = 1, \qquad \psi_m(g) = R(m\,\theta(g))\, F^{f(g)} \ (m \ge 1), \qquad
        \psi_{n/2}(r^k) = (-1)^k \ \text{on } C_n,\ n \text{ even}.

    Args:
        group: the group.
        frequency: m ≥ 0; for C_n at most n/2, for D_n below n/2 (D_n's m = n/2 splits into the two
            :class:`HalfTurnIrrep`).

    Raises:
        ValueError: a frequency that aliases to a lower one (or is reducible) on a finite group.

    Example:
        >>> from gdl.groups import CyclicGroup
        >>> psi = FrequencyIrrep(CyclicGroup(4), 1)
        >>> psi.matrix(CyclicGroup(4).element(rotation=1)).tolist()
        [[0.0, -1.0], [1.0, 0.0]]
    """

    group: Group
    frequency: int

    def __post_init__(self):
        check_planar_group(self.group, "FrequencyIrrep")
        m = _check_frequency(self.frequency)
        if isinstance(self.group, DihedralGroup):
            n = self.group.n
            limit = n / 2 if not self.group.reflections else (n - 1) / 2
            if m > limit:
                hint = (f"; for m = n/2 use HalfTurnIrrep({self.group!r}, ±1)" if self.group.reflections and 2 * m == n
                        else f"; frequencies alias modulo n (ψ_m ≅ ψ_(m mod n) ≅ ψ_(n − m)), use "
                             f"m = {min(m % n, n - m % n)}")
                raise ValueError(f"{self.group!r} has frequency irreps m = 0 … {math.floor(limit)}, got frequency "
                                 f"{m}{hint}")

    @property
    def _half_turn(self) -> bool:
        return isinstance(self.group, DihedralGroup) and self.frequency > 0 and 2 * self.frequency == self.group.n

    @property
    def dim(self) -> int:
        return 1 if self.frequency == 0 or self._half_turn else 2

    @property
    def is_trivial(self) -> bool:
        return self.frequency == 0

    def matrix(self, g: GroupElement) -> torch.Tensor:
        if self.frequency == 0:
            self.group.check(g)
            return torch.ones(1, 1, dtype=torch.float64)
        if self._half_turn:
            return torch.tensor([[-1.0 if self.group.check(g).data[1] % 2 else 1.0]], dtype=torch.float64)
        return _frequency_matrix(self.group, g, self.frequency)

    def lie_algebra(self) -> torch.Tensor:
        if self.group.lie_algebra_dimension == 0:
            return super().lie_algebra()
        if self.frequency == 0:
            return torch.zeros(1, 1, 1, dtype=torch.float64)
        return (self.frequency * GENERATOR)[None].clone()

    def __repr__(self) -> str:
        return f"ψ{self.frequency}"


@dataclasses.dataclass(frozen=True)
class SignIrrep(Representation):
    r"""sign(g) = det A(g) = (−1)^{f(g)}: +1 on rotations, −1 on reflections (D_n, O(2)); dsign = 0."""

    group: Group

    def __post_init__(self):
        check_planar_group(self.group, "SignIrrep")
        if not _has_reflections(self.group):
            raise TypeError(f"SignIrrep needs a group with reflections (DihedralGroup(n), Orthogonal(2)); on "
                            f"{self.group!r} it would be the trivial representation, got {self.group!r}")

    @property
    def dim(self) -> int:
        return 1

    def matrix(self, g: GroupElement) -> torch.Tensor:
        flip, _ = planar_rotation(self.group, g)
        return torch.tensor([[-1.0 if flip else 1.0]], dtype=torch.float64)

    def lie_algebra(self) -> torch.Tensor:
        if self.group.lie_algebra_dimension == 0:
            return super().lie_algebra()
        return torch.zeros(1, 1, 1, dtype=torch.float64)

    def __repr__(self) -> str:
        return "sign"


@dataclasses.dataclass(frozen=True)
class HalfTurnIrrep(Representation):
    r"""The one-dimensional irreps of D_n (n even) into which ψ_{n/2} splits: ρ(r^k m^f) = (−1)^k s^f, s = ±1.

    Args:
        group: ``DihedralGroup(n)`` with n even.
        reflection_sign: s, the value on the reflection m (+1: ρ(m) = 1, −1: ρ(m) = −1).
    """

    group: Group
    reflection_sign: int = 1

    def __post_init__(self):
        if not (isinstance(self.group, DihedralGroup) and self.group.reflections and self.group.n % 2 == 0):
            raise TypeError(f"HalfTurnIrrep needs DihedralGroup(n) with n even (for CyclicGroup(n) use "
                            f"FrequencyIrrep(group, n // 2)), got {self.group!r}")
        if self.reflection_sign not in (1, -1) or isinstance(self.reflection_sign, bool):
            raise ValueError(f"reflection_sign must be +1 or −1, got {self.reflection_sign!r}")

    @property
    def dim(self) -> int:
        return 1

    def matrix(self, g: GroupElement) -> torch.Tensor:
        flip, k = self.group.check(g).data
        value = (-1) ** (k % 2) * self.reflection_sign ** flip
        return torch.tensor([[float(value)]], dtype=torch.float64)

    def __repr__(self) -> str:
        return f"halfturn{'+' if self.reflection_sign > 0 else '−'}"


def planar_irreps(group: Group, maximum_frequency: int | None = None) -> list[Representation]:
    r"""Every real irrep of C_n or D_n, or those of SO(2), O(2) up to ``maximum_frequency``.

    Order: ψ_0, (sign,) ψ_1, …, then the half-turn ones. For C_n, D_n the list is complete: the regular
    representation contains each irrep ρ dim(ρ)/dim End(ρ) times, Σ_ρ dim(ρ)²/dim End(ρ) = |G|. SO(2), O(2) need
    ``maximum_frequency`` M (their irreps are ψ_0, (sign,) ψ_1, ψ_2, … without end).

    Raises:
        TypeError: not a planar group.
        ValueError: ``maximum_frequency`` missing for SO(2)/O(2), or given for a finite group.
    """
    check_planar_group(group, "planar_irreps")
    if isinstance(group, DihedralGroup):
        if maximum_frequency is not None:
            raise ValueError(f"{group!r} is finite: its irreps are all listed, so maximum_frequency must be None, "
                             f"got {maximum_frequency!r}")
        n = group.n
        found: list[Representation] = [FrequencyIrrep(group, 0)]
        if group.reflections:
            found.append(SignIrrep(group))
        found += [FrequencyIrrep(group, m) for m in range(1, (n + 1) // 2)]
        if n % 2 == 0:
            found += ([HalfTurnIrrep(group, 1), HalfTurnIrrep(group, -1)] if group.reflections
                      else [FrequencyIrrep(group, n // 2)])
        return found
    if maximum_frequency is None:
        raise ValueError(f"{group!r} has infinitely many irreps: give maximum_frequency (an integer ≥ 0), got None")
    top = check_int(maximum_frequency, "maximum_frequency", minimum=0)
    found = [FrequencyIrrep(group, 0)]
    if _has_reflections(group):
        found.append(SignIrrep(group))
    return found + [FrequencyIrrep(group, m) for m in range(1, top + 1)]


#: the name inside this module (``gdl.groups.irreps`` is the e3nn irreps module, so the package exports
#: :func:`planar_irreps`)
irreps = planar_irreps
