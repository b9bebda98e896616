"""Isometry groups of manifolds and how they act on manifold-valued data (book §3.1, §4.4).

A layer on a Riemannian manifold M is checked against the isometries of M: maps that preserve geodesic distances.
A distance-based layer is *invariant* under them, d(g·x, g·y) = d(x, y). gdl describes each group as a
:class:`gdl.core.Group` and each kind of manifold-valued input as a field type:

====================  ====================================  ============================  ==========================
manifold (geoopt)     group                                 action ρ(g) on a point        field type
====================  ====================================  ============================  ==========================
Poincaré ball Dⁿ_K    :class:`HyperbolicIsometries` (a, R)  x ↦ a ⊕_K (R x)               :class:`PoincareBallField`
hyperboloid Hⁿ_K      :class:`HyperbolicIsometries` (a, R)  x ↦ L(a, R) x                 :class:`LorentzField`
sphere Sⁿ⁻¹           SO(n) or O(n)                         x ↦ R x                       :class:`SphereField`
Stiefel St(n, p)      O(p) (right) or O(n) (left)           X ↦ X Qᵀ or X ↦ R X           :class:`StiefelField`
SPD cone Sym⁺(n)      O(n), positive scalings s > 0         Σ ↦ R Σ Rᵀ, Σ ↦ s Σ           :class:`SPDField`
Sym(n) = log Sym⁺(n)  O(n), positive scalings s > 0         S ↦ R S Rᵀ, S ↦ S + log(s) I  :class:`LogSPDField`
====================  ====================================  ============================  ==========================

Hyperbolic isometries. Every isometry of the Poincaré ball is a rotation/reflection R ∈ O(n) about the origin
followed by a Möbius translation τ_a(x) = a ⊕ x, where ⊕ is Möbius addition (curvature K = −c)

    a ⊕ x = ((1 + 2c⟨a, x⟩ + c‖x‖²) a + (1 − c‖a‖²) x) / (1 + 2c⟨a, x⟩ + c²‖a‖²‖x‖²).

Elements are pairs g = (a, R) acting by g·x = a ⊕ R x. Rotations are automorphisms of ⊕ and the gyration
gyr[u, v] ∈ SO(n) measures its failure to be associative, u ⊕ (v ⊕ w) = (u ⊕ v) ⊕ gyr[u, v] w (Ungar 2005), so

    (a, R) · (b, S) = (a ⊕ R b,  gyr[a, R b] R S),        (a, R)⁻¹ = (−Rᵀ a, Rᵀ),

which :meth:`HyperbolicIsometries.compose` implements with geoopt's ``mobius_add`` and ``gyration``. In the Lorentz
model the same element is the matrix L(a, R) = B(a) diag(1, R) ∈ O⁺(n, 1), B(a) the pure boost that carries the
hyperboloid's base point to the image of a, and composition is the matrix product (tested against the law above).
The subgroup of rotations about the origin is O(n) (a = 0); elements of ``Orthogonal(n)``/``SpecialOrthogonal(n)``
act on ball and hyperboloid fields too.

Every field type here validates its points (:func:`gdl.geodesics.manifolds.check_points`): a point off its manifold
raises ``ValueError`` naming the manifold and the violation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import geoopt
import torch

from gdl.core import FieldType, Group, GroupElement
from gdl.core.checks import check_choice, check_int
from gdl.symmetries.euclidean import (
    EQUALITY_TOLERANCE,
    Orthogonal,
    SpecialOrthogonal,
    generic_reflection,
    random_rotation_matrices,
)
from gdl.symmetries.permutations import Permutations

from .manifolds import check_points, hyperbolic_c, lorentz_model, poincare_ball, poincare_to_lorentz

__all__ = ["HyperbolicIsometries", "PositiveScalings", "PoincareBallField", "LorentzField", "SphereField",
           "StiefelField", "SPDField", "LogSPDField", "ManifoldField", "translation_and_rotation", "lorentz_matrix",
           "gyration_matrix"]

_ORTHOGONAL = (Orthogonal, SpecialOrthogonal)


def _orthogonal(matrix: Any, n: int) -> torch.Tensor:
    return Orthogonal(n).element(matrix).data


def gyration_matrix(u: torch.Tensor, v: torch.Tensor, curvature: float = -1.0) -> torch.Tensor:
    """The matrix of gyr[u, v] w = ⊖(u ⊕ v) ⊕ (u ⊕ (v ⊕ w)) (linear in w, orthogonal): ``[n]``, ``[n]`` → ``[n, n]``."""
    ball = _ball(float(curvature))
    n = u.shape[-1]
    basis = torch.eye(n, dtype=u.dtype)
    return ball.gyration(u.expand(n, n), v.expand(n, n), basis).T  # rows are gyr(e_i); columns of the matrix


@functools.lru_cache(maxsize=16)
def _ball(curvature: float) -> geoopt.PoincareBall:
    return poincare_ball(curvature)


@dataclasses.dataclass(frozen=True)
class HyperbolicIsometries(Group):
    """Isom(Hⁿ_K) ≅ O⁺(n, 1): Möbius translations and rotations/reflections of the Poincaré ball, g·x = a ⊕ R x.

    Args:
        n: dimension of the hyperbolic space.
        curvature: K < 0.
        translation_scale: σ of sampled translations a = exp₀(v), v ~ N(0, σ² I) (hyperbolic distance d(0, a) =
            2‖v‖ / √c); not part of the group's identity.

    Elements hold float64 ``(a [n], R [n, n])``. Sampling is Haar on O(n) for R. The group has two components
    (det R = ±1: orientation-preserving maps and those composed with a reflection); :meth:`component_representatives`
    gives a reflection with a translation, which the equivariance harness always tries.

    Example:
        >>> import torch
        >>> G = HyperbolicIsometries(2)
        >>> g, h = G.sample(2, torch.Generator().manual_seed(0))
        >>> (g * h) * g.inverse() == g * (h * g.inverse()), g * g.inverse() == G.identity()
        (True, True)
    """

    n: int = 2
    curvature: float = -1.0
    translation_scale: float = dataclasses.field(default=0.25, compare=False, repr=False)

    def __post_init__(self):
        check_int(self.n, "the dimension n of HyperbolicIsometries")
        object.__setattr__(self, "curvature", -hyperbolic_c(self.curvature))

    @property
    def c(self) -> float:
        return -self.curvature

    @property
    def ball(self) -> geoopt.PoincareBall:
        return _ball(self.curvature)

    def element(self, translation: Any = None, rotation: Any = None) -> GroupElement:
        """g·x = translation ⊕ rotation · x (defaults: 0 and I); ``ValueError`` if a ∉ ball or R ∉ O(n)."""
        a = torch.zeros(self.n, dtype=torch.float64) if translation is None else torch.as_tensor(translation, dtype=torch.float64)
        if a.shape != (self.n,):
            raise ValueError(f"the translation of {self!r} must be a point [{self.n}] of the ball, got shape {list(a.shape)}")
        check_points(a, "poincare", dim=self.n, curvature=self.curvature, name="the translation")
        r = torch.eye(self.n, dtype=torch.float64) if rotation is None else _orthogonal(rotation, self.n)
        return self._element((a, r))

    def identity(self) -> GroupElement:
        return self._element((torch.zeros(self.n, dtype=torch.float64), torch.eye(self.n, dtype=torch.float64)))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        (u, r), (v, s) = translation_and_rotation(self.check(a)), translation_and_rotation(self.check(b))
        rotated = r @ v
        return self._element((self.ball.mobius_add(u, rotated), gyration_matrix(u, rotated, self.curvature) @ r @ s))

    def inverse(self, a: GroupElement) -> GroupElement:
        u, r = translation_and_rotation(self.check(a))
        return self._element((-(r.T @ u), r.T.contiguous()))

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        rotations = random_rotation_matrices(n, self.n, generator)
        reflect = torch.randint(0, 2, (n,), generator=generator).bool()
        rotations[reflect, :, 0] = -rotations[reflect, :, 0]
        tangents = torch.randn(n, self.n, generator=generator, dtype=torch.float64) * self.translation_scale
        translations = self.ball.expmap0(tangents)
        return [self._element((a, r)) for a, r in zip(translations, rotations)]

    def component_representatives(self) -> list[GroupElement]:
        """One element of the det R = −1 component: the generic reflection I − 2uuᵀ after a Möbius translation
        by a = exp₀(v), v ∝ (1, −2, 3, …) (so that neither part alone is a symmetry of a test input)."""
        steps = torch.arange(1, self.n + 1, dtype=torch.float64)
        tangent = self.translation_scale * steps * (-1.0) ** (steps + 1) / steps.norm()
        return [self._element((self.ball.expmap0(tangent), generic_reflection(self.n)))]

    def equal(self, a: GroupElement, b: GroupElement) -> bool:
        return all(torch.allclose(x, y, rtol=0, atol=EQUALITY_TOLERANCE)
                   for x, y in zip(translation_and_rotation(a), translation_and_rotation(b)))

    def describe(self, g: GroupElement) -> str:
        a, r = translation_and_rotation(g)
        return f"a={[round(v, 4) for v in a.tolist()]}, det R={float(torch.linalg.det(r)):+.0f}"

    def contains(self, g: object) -> bool:
        if not isinstance(g, GroupElement):
            return False
        if isinstance(g.group, _ORTHOGONAL):
            return g.group.n == self.n
        return isinstance(g.group, HyperbolicIsometries) and g.group == self

    def intersection(self, other: Group) -> Group:
        if isinstance(other, _ORTHOGONAL) and other.n == self.n:
            return other
        return super().intersection(other)

    def __repr__(self) -> str:
        return f"Isom(H^{self.n}, K={self.curvature:g})"


def translation_and_rotation(g: GroupElement) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, R) of a hyperbolic isometry, or (0, R) of an element of O(n)/SO(n) (a rotation about the origin)."""
    if isinstance(g.group, _ORTHOGONAL):
        return torch.zeros(g.group.n, dtype=torch.float64), g.data
    return g.data


def lorentz_matrix(g: GroupElement) -> torch.Tensor:
    """L(a, R) = B(a) diag(1, R) ∈ O⁺(n, 1), ``[n + 1, n + 1]`` float64: the element acting on the hyperboloid.

    B(a) is the pure boost with B e₀ = p, p = (p₀, p̄) the image of √c a on the unit hyperboloid:
    B = [[p₀, p̄ᵀ], [p̄, I + p̄ p̄ᵀ / (1 + p₀)]]. It does not depend on c (Lorentz matrices act on every sheet).
    """
    a, r = translation_and_rotation(g)
    c = g.group.c if isinstance(g.group, HyperbolicIsometries) else 1.0
    p = poincare_to_lorentz(math.sqrt(c) * a, -1.0)
    n = a.shape[0]
    boost = torch.empty(n + 1, n + 1, dtype=torch.float64)
    boost[0, 0], boost[0, 1:], boost[1:, 0] = p[0], p[1:], p[1:]
    boost[1:, 1:] = torch.eye(n, dtype=torch.float64) + torch.outer(p[1:], p[1:]) / (1 + p[0])
    return boost @ torch.block_diag(torch.ones(1, dtype=torch.float64), r)


@dataclasses.dataclass(frozen=True)
class PositiveScalings(Group):
    """The multiplicative group R_{>0}: elements s > 0 (float64 scalars), s·t = st, sampled as s = exp(σ z).

    It acts on SPD matrices by Σ ↦ sΣ (a homothety of the cone) and on their logarithms by S ↦ S + log(s) I.
    """

    log_scale: float = dataclasses.field(default=0.5, compare=False, repr=False)

    def element(self, scale: Any) -> GroupElement:
        s = torch.as_tensor(scale, dtype=torch.float64)
        if s.numel() != 1 or not bool(torch.isfinite(s)) or float(s) <= 0:
            raise ValueError(f"a positive scaling must be one finite number s > 0, got {s.tolist()}")
        return self._element(s.reshape(()))

    def identity(self) -> GroupElement:
        return self._element(torch.tensor(1.0, dtype=torch.float64))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        return self._element(self.check(a).data * self.check(b).data)

    def inverse(self, a: GroupElement) -> GroupElement:
        return self._element(1.0 / self.check(a).data)

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        logs = torch.randn(n, generator=generator, dtype=torch.float64) * self.log_scale
        return [self._element(s) for s in logs.exp()]

    def equal(self, a: GroupElement, b: GroupElement) -> bool:
        return bool(torch.isclose(a.data, b.data, rtol=EQUALITY_TOLERANCE, atol=0))

    def describe(self, g: GroupElement) -> str:
        return f"s={float(g.data):.6g}"

    def __repr__(self) -> str:
        return "R>0"


class ManifoldField(FieldType):
    """Base of the manifold-valued field types: points of one manifold, moved by one isometry group.

    Subclasses define :attr:`kind` (for :func:`~gdl.geodesics.manifolds.check_points`), :meth:`manifold` (a new
    geoopt manifold, float64 parameters, for a layer to own) and the isometric action :meth:`_act`;
    :meth:`transform` checks the element and the points, and relabels a point set when the group is
    ``Permutations(N)``. ``point_dims`` is the number of trailing axes of one point.
    """

    kind: str = ""
    point_dims: int = 1

    def manifold(self) -> geoopt.Manifold:
        raise NotImplementedError

    def _act(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        raise NotImplementedError

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        self.group.check(g)
        self.validate(value)
        if isinstance(self.group, Permutations):
            return self._permute(value, g)
        return self._act(value, g)

    def _check_group(self, allowed: tuple[type, ...]) -> None:
        if not isinstance(self.group, allowed):
            names = ", ".join(t.__name__ for t in allowed)
            raise TypeError(f"{type(self).__name__} is acted on by {names}; got {self.group!r}")

    def _permute(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        axis = value.dim() - self.point_dims - 1
        if axis < 0 or value.shape[axis] != self.group.n:  # type: ignore[attr-defined]
            raise ValueError(f"{type(self).__name__} over {self.group!r} expects {self.group.n} points on axis "  # type: ignore[attr-defined]
                             f"{axis - value.dim()}, got shape {list(value.shape)}")
        return value.index_select(axis, g.data.to(value.device))


def _dimension(explicit: int | None, group: Group, field: str) -> int | None:
    implied = getattr(group, "n", None) if not isinstance(group, Permutations) else None
    if explicit is not None and implied is not None and explicit != implied:
        raise ValueError(f"{field}: dim = {explicit} does not match the dimension of {group!r}")
    return explicit if explicit is not None else implied


@dataclasses.dataclass(frozen=True)
class _HyperbolicField(ManifoldField):
    """Shared fields of :class:`PoincareBallField` and :class:`LorentzField`: the group, n and the curvature.

    Acted on by ``HyperbolicIsometries(n, K)``, ``Orthogonal(n)``/``SpecialOrthogonal(n)`` (rotations about the
    origin) or ``Permutations(N)`` (a point set, relabelled). ``curvature=None`` takes the group's
    (``HyperbolicIsometries``) or −1; a curvature that differs from the group's raises ``ValueError``.
    """

    group: Group
    dim: int | None = None
    curvature: float | None = None

    def __post_init__(self):
        self._check_group((HyperbolicIsometries, *_ORTHOGONAL, Permutations))
        if self.curvature is None:
            object.__setattr__(self, "curvature", getattr(self.group, "curvature", -1.0))
        object.__setattr__(self, "curvature", -hyperbolic_c(self.curvature))
        if isinstance(self.group, HyperbolicIsometries) and self.group.curvature != self.curvature:
            raise ValueError(f"{type(self).__name__}(curvature={self.curvature:g}) cannot be moved by {self.group!r}: "
                             "the curvatures differ")
        object.__setattr__(self, "dim", _dimension(self.dim, self.group, type(self).__name__))

    def validate(self, value: Any) -> None:
        check_points(value, self.kind, dim=self.dim, curvature=self.curvature, name=f"{type(self).__name__} points")

    def restrict(self, subgroup: Group) -> FieldType:
        if isinstance(self.group, HyperbolicIsometries) and isinstance(subgroup, _ORTHOGONAL) and subgroup.n == self.dim:
            return dataclasses.replace(self, group=subgroup)
        return super().restrict(subgroup)


@dataclasses.dataclass(frozen=True)
class PoincareBallField(_HyperbolicField):
    """Points ``[..., n]`` of the Poincaré ball Dⁿ_K, moved by isometries (or by permutations of a point set).

    Args:
        group: ``HyperbolicIsometries(n, K)`` (x ↦ a ⊕ R x), ``Orthogonal(n)``/``SpecialOrthogonal(n)`` (rotations
            about the origin, x ↦ R x) or ``Permutations(N)`` (a set of N points ``[..., N, n]``, relabelled).
        dim: n (implied by an isometry group; needed for ``Permutations``, ``None`` there accepts any).
        curvature: K < 0; ``None``: the group's (``HyperbolicIsometries``) or −1. It must equal the group's.
    """

    kind = "poincare"

    def manifold(self) -> geoopt.PoincareBall:
        return poincare_ball(self.curvature)

    def _act(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        a, r = translation_and_rotation(g)
        rotated = value @ r.T.to(value)
        if isinstance(g.group, _ORTHOGONAL):
            return rotated
        return _ball(self.curvature).mobius_add(a.to(value), rotated)


@dataclasses.dataclass(frozen=True)
class LorentzField(_HyperbolicField):
    """Points ``[..., n + 1]`` of the hyperboloid Hⁿ_K (geoopt's ``Lorentz``), moved by x ↦ L(a, R) x.

    Args:
        group: ``HyperbolicIsometries(n, K)``, ``Orthogonal(n)``/``SpecialOrthogonal(n)`` (L = diag(1, R)) or
            ``Permutations(N)``.
        dim: the intrinsic dimension n (points have n + 1 coordinates).
        curvature: K < 0; ``None``: the group's (``HyperbolicIsometries``) or −1. It must equal the group's.
    """

    kind = "lorentz"

    def manifold(self) -> geoopt.Lorentz:
        return lorentz_model(self.curvature)

    def _act(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        return value @ lorentz_matrix(g).T.to(value)


@dataclasses.dataclass(frozen=True)
class SphereField(ManifoldField):
    """Unit vectors ``[..., n]`` on the sphere Sⁿ⁻¹ ⊂ Rⁿ, rotated by x ↦ R x (or a point set, permuted).

    Args:
        group: ``SpecialOrthogonal(n)`` (the default symmetry), ``Orthogonal(n)`` or ``Permutations(N)``.
        dim: n, the ambient dimension (implied by the rotation group).
    """

    group: Group
    dim: int | None = None
    kind = "sphere"

    def __post_init__(self):
        self._check_group((*_ORTHOGONAL, Permutations))
        object.__setattr__(self, "dim", _dimension(self.dim, self.group, "SphereField"))

    def manifold(self) -> geoopt.Sphere:
        return geoopt.Sphere()

    def validate(self, value: Any) -> None:
        check_points(value, "sphere", dim=self.dim, name="SphereField points")

    def _act(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        return value @ g.data.T.to(value)


@dataclasses.dataclass(frozen=True)
class StiefelField(ManifoldField):
    """Orthonormal frames X ``[..., n, p]`` (XᵀX = I_p) on the Stiefel manifold St(n, p).

    Two isometry groups act (both preserve XᵀX = I and geoopt's metrics):

    * ``side="right"``, group O(p): a change of basis inside the spanned subspace, X ↦ X Q⁻¹ = X Qᵀ. (The right
      action X·Q is turned into a left action with Q⁻¹, so that ρ(Q₁Q₂) = ρ(Q₁)ρ(Q₂).) The subspace span(X), the
      point of the Grassmannian, and the projector X Xᵀ are invariant.
    * ``side="left"``, group O(n): a rotation of the ambient space, X ↦ R X.

    Args:
        group: ``Orthogonal(p)``/``SpecialOrthogonal(p)`` (right) or ``Orthogonal(n)``/``SpecialOrthogonal(n)`` (left).
        n, p: the frame's shape (p ≤ n).
        side: ``"right"`` or ``"left"``.
    """

    group: Group
    n: int
    p: int
    side: str = "right"
    kind = "stiefel"
    point_dims = 2

    def __post_init__(self):
        self._check_group(_ORTHOGONAL)
        check_int(self.n, "n")
        check_int(self.p, "p")
        if self.p > self.n:
            raise ValueError(f"StiefelField needs 1 ≤ p ≤ n, got n = {self.n}, p = {self.p}")
        check_choice(self.side, ("right", "left"), "side ('right': O(p) acting on columns, 'left': O(n))")
        expected = self.p if self.side == "right" else self.n
        if self.group.n != expected:  # type: ignore[attr-defined]
            raise ValueError(f"the {self.side} action on St({self.n}, {self.p}) is by O({expected}), got {self.group!r}")

    def manifold(self) -> geoopt.Stiefel:
        return geoopt.EuclideanStiefel()

    def validate(self, value: Any) -> None:
        check_points(value, "stiefel", dim=self.n, columns=self.p, name="StiefelField frames")

    def _act(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        q = g.data.to(value)
        return value @ q.T if self.side == "right" else q @ value


@dataclasses.dataclass(frozen=True)
class SPDField(ManifoldField):
    """Symmetric positive definite matrices Σ ``[..., n, n]`` (covariances), moved by congruence or scaling.

    ``Orthogonal(n)``/``SpecialOrthogonal(n)`` act by Σ ↦ R Σ Rᵀ (a rotation of the underlying variables),
    ``PositiveScalings()`` by Σ ↦ s Σ. Both are isometries of the affine-invariant metric
    d(Σ₁, Σ₂) = ‖log(Σ₁^{-1/2} Σ₂ Σ₁^{-1/2})‖_F (geoopt's ``SymmetricPositiveDefinite``).

    Args:
        group: one of the groups above.
        dim: n (implied by a rotation group).
    """

    group: Group
    dim: int | None = None
    kind = "spd"
    point_dims = 2

    def __post_init__(self):
        self._check_group((*_ORTHOGONAL, PositiveScalings))
        object.__setattr__(self, "dim", _dimension(self.dim, self.group, "SPDField"))

    def manifold(self) -> geoopt.SymmetricPositiveDefinite:
        return geoopt.SymmetricPositiveDefinite()

    def validate(self, value: Any) -> None:
        check_points(value, "spd", dim=self.dim, name="SPDField matrices")

    def _act(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        if isinstance(self.group, PositiveScalings):
            return value * g.data.to(value)
        r = g.data.to(value)
        return r @ value @ r.T


@dataclasses.dataclass(frozen=True)
class LogSPDField(ManifoldField):
    """Matrix logarithms S = log Σ ``[..., n, n]`` of SPD matrices: the log-Euclidean chart Sym⁺(n) → Sym(n).

    The logarithm carries the actions on :class:`SPDField` to log(R Σ Rᵀ) = R S Rᵀ and log(s Σ) = S + log(s) I: the
    multiplicative scaling becomes a translation along the identity.

    Args:
        group: ``Orthogonal(n)``/``SpecialOrthogonal(n)`` or ``PositiveScalings()``.
        dim: n (implied by a rotation group).
    """

    group: Group
    dim: int | None = None
    kind = "symmetric"
    point_dims = 2

    def __post_init__(self):
        self._check_group((*_ORTHOGONAL, PositiveScalings))
        object.__setattr__(self, "dim", _dimension(self.dim, self.group, "LogSPDField"))

    def validate(self, value: Any) -> None:
        check_points(value, "symmetric", dim=self.dim, name="LogSPDField matrices")

    def _act(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        if isinstance(self.group, PositiveScalings):
            eye = torch.eye(value.shape[-1], dtype=value.dtype, device=value.device)
            return value + torch.log(g.data).to(value) * eye
        r = g.data.to(value)
        return r @ value @ r.T
