"""Rotations, reflections and rigid motions of R^n: SO(n) ⊂ O(n) ⊂ E(n) (book §3.1, §4.3, §5.5).

* ``SpecialOrthogonal(n)`` = SO(n): matrices R with RᵀR = I, det R = +1.
* ``Orthogonal(n)`` = O(n): RᵀR = I, det R = ±1 (rotations and reflections).
* ``Euclidean(n)`` = E(n) = O(n) ⋉ R^n: pairs (R, t) acting by x ↦ R x + t,
  composed as (R₁, t₁)(R₂, t₂) = (R₁R₂, R₁t₂ + t₁).

Elements hold float64 tensors; field types cast them to the value's dtype.
SO(n) ⊂ O(n) ⊂ E(n) as subgroups (an orthogonal R is the motion (R, 0)), so a
field over E(n) also accepts rotations. Sampling is Haar-uniform on SO(n)
(QR of a Gaussian matrix with the sign correction of Mezzadri 2007), with a
fair coin for the reflection and a standard normal translation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from gdl.core import FieldType, Group, GroupElement

__all__ = ["SpecialOrthogonal", "Orthogonal", "Euclidean", "PointField", "VectorField",
           "random_rotation_matrices", "rotation_and_translation"]

ORTHOGONALITY_TOLERANCE = 1e-8
#: elements of continuous groups compare equal when their parameters agree to this (float64 round-off)
EQUALITY_TOLERANCE = 1e-10


def random_rotation_matrices(count: int, dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[count, dim, dim]`` float64 rotations, Haar-distributed on SO(dim)."""
    gaussian = torch.randn(count, dim, dim, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)  # Haar on O(dim)
    flip = torch.linalg.det(q) < 0
    q[flip, :, 0] = -q[flip, :, 0]  # into SO(dim); still Haar there
    return q


def _check_orthogonal(matrix: Any, dim: int, special: bool) -> torch.Tensor:
    matrix = torch.as_tensor(matrix, dtype=torch.float64)
    if matrix.shape != (dim, dim):
        raise ValueError(f"expected a {dim}×{dim} matrix, got shape {list(matrix.shape)}")
    deviation = float((matrix.T @ matrix - torch.eye(dim, dtype=torch.float64)).abs().max())
    if deviation > ORTHOGONALITY_TOLERANCE:
        raise ValueError(f"matrix is not orthogonal: max |RᵀR − I| = {deviation:.2e}")
    if special and float(torch.linalg.det(matrix)) < 0:
        raise ValueError("matrix is a reflection (det −1); SO(n) contains only rotations (det +1)")
    return matrix


@dataclasses.dataclass(frozen=True)
class Orthogonal(Group):
    """O(n): rotations and reflections of R^n; elements are float64 matrices ``[n, n]``."""

    n: int = 3
    special = False

    def element(self, matrix: Any) -> GroupElement:
        return self._element(_check_orthogonal(matrix, self.n, self.special))

    def identity(self) -> GroupElement:
        return self._element(torch.eye(self.n, dtype=torch.float64))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        return self._element(self.check(a).data @ self.check(b).data)

    def inverse(self, a: GroupElement) -> GroupElement:
        return self._element(self.check(a).data.T.contiguous())

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        matrices = random_rotation_matrices(n, self.n, generator)
        if not self.special:
            reflect = torch.randint(0, 2, (n,), generator=generator).bool()
            matrices[reflect, :, 0] = -matrices[reflect, :, 0]
        return [self._element(m) for m in matrices]

    def component_representatives(self) -> list[GroupElement]:
        """A generic reflection (det −1) for O(n): the Householder map I − 2uuᵀ with u ∝ (1, 2, …, n)."""
        return [] if self.special else [self._element(generic_reflection(self.n))]

    @property
    def lie_algebra_dimension(self) -> int:  # type: ignore[override]
        return self.n * (self.n - 1) // 2

    def lie_algebra(self) -> torch.Tensor:
        r"""The basis :math:`L_{ij} = E_{ji} - E_{ij}` (i < j, in lexicographic order) of 𝔰𝔬(n), float64 ``[k, n, n]``.

        For n = 2 this is the one generator J = [[0, −1], [1, 0]], with exp(θJ) the rotation by θ.
        """
        pairs = [(i, j) for i in range(self.n) for j in range(i + 1, self.n)]
        basis = torch.zeros(len(pairs), self.n, self.n, dtype=torch.float64)
        for a, (i, j) in enumerate(pairs):
            basis[a, j, i], basis[a, i, j] = 1.0, -1.0
        return basis

    def equal(self, a: GroupElement, b: GroupElement) -> bool:
        return bool(torch.allclose(a.data, b.data, rtol=0, atol=EQUALITY_TOLERANCE))

    def describe(self, g: GroupElement) -> str:
        det = float(torch.linalg.det(g.data))
        return f"det={det:+.0f}, R={[[round(v, 4) for v in row] for row in g.data.tolist()]}"

    def contains(self, g: object) -> bool:
        if not (isinstance(g, GroupElement) and type(g.group) in (Orthogonal, SpecialOrthogonal)
                and g.group.n == self.n):
            return False
        return not self.special or float(torch.linalg.det(g.data)) > 0

    def is_subgroup_of(self, other: Group) -> bool:
        if isinstance(other, (Orthogonal, Euclidean)) and other.n == self.n:
            return self.special or not getattr(other, "special", False)
        return False

    def __repr__(self) -> str:
        return f"{'SO' if self.special else 'O'}({self.n})"


@dataclasses.dataclass(frozen=True, repr=False)
class SpecialOrthogonal(Orthogonal):
    """SO(n): rotations of R^n (det +1)."""

    special = True


@dataclasses.dataclass(frozen=True)
class Euclidean(Group):
    """E(n) = O(n) ⋉ R^n: elements (R, t) acting on points by x ↦ R x + t.

    Args:
        n: dimension.
        translation_scale: standard deviation of sampled translations (not part of the group's identity).
    """

    n: int = 3
    translation_scale: float = dataclasses.field(default=1.0, compare=False, repr=False)

    def element(self, matrix: Any, translation: Any = None) -> GroupElement:
        rotation = _check_orthogonal(matrix, self.n, special=False)
        t = torch.zeros(self.n, dtype=torch.float64) if translation is None else torch.as_tensor(translation, dtype=torch.float64)
        if t.shape != (self.n,):
            raise ValueError(f"translation must have shape [{self.n}], got {list(t.shape)}")
        return self._element((rotation, t))

    def identity(self) -> GroupElement:
        return self._element((torch.eye(self.n, dtype=torch.float64), torch.zeros(self.n, dtype=torch.float64)))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        (r1, t1), (r2, t2) = rotation_and_translation(self.check(a)), rotation_and_translation(self.check(b))
        return self._element((r1 @ r2, r1 @ t2 + t1))

    def inverse(self, a: GroupElement) -> GroupElement:
        r, t = rotation_and_translation(self.check(a))
        return self._element((r.T.contiguous(), -(r.T @ t)))

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        rotations = Orthogonal(self.n).sample(n, generator)
        shifts = torch.randn(n, self.n, generator=generator, dtype=torch.float64) * self.translation_scale
        return [self._element((r.data, t)) for r, t in zip(rotations, shifts)]

    def component_representatives(self) -> list[GroupElement]:
        """A generic reflection with a translation, ``(I − 2uuᵀ, t)``: an element of the det −1 component."""
        shift = torch.linspace(-1.0, 1.0, self.n, dtype=torch.float64) * self.translation_scale
        return [self._element((generic_reflection(self.n), shift))]

    def equal(self, a: GroupElement, b: GroupElement) -> bool:
        return all(torch.allclose(x, y, rtol=0, atol=EQUALITY_TOLERANCE)
                   for x, y in zip(rotation_and_translation(a), rotation_and_translation(b)))

    def describe(self, g: GroupElement) -> str:
        r, t = rotation_and_translation(g)
        return f"det={float(torch.linalg.det(r)):+.0f}, t={[round(v, 4) for v in t.tolist()]}"

    def contains(self, g: object) -> bool:
        return (isinstance(g, GroupElement) and isinstance(g.group, (Euclidean, Orthogonal)) and g.group.n == self.n)

    def __repr__(self) -> str:
        return f"E({self.n})"


def generic_reflection(dim: int) -> torch.Tensor:
    """The Householder reflection I − 2uuᵀ, u = (1, 2, …, n)/|·|: det −1 and no axis-aligned symmetry ``[n, n]``."""
    u = torch.arange(1, dim + 1, dtype=torch.float64)
    u = u / u.norm()
    return torch.eye(dim, dtype=torch.float64) - 2 * torch.outer(u, u)


def rotation_and_translation(g: GroupElement) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, t) of an element of E(n), O(n) or SO(n) (t = 0 for the latter two)."""
    if isinstance(g.group, Euclidean):
        return g.data
    return g.data, torch.zeros(g.data.shape[0], dtype=torch.float64)


@dataclasses.dataclass(frozen=True)
class PointField(FieldType):
    """Positions ``[..., n]`` in R^n: (R, t) acts by x ↦ x Rᵀ + t."""

    group: Group = Euclidean(3)

    def validate(self, value: Any) -> None:
        _check_vectors(value, self.group.n, "PointField")  # type: ignore[attr-defined]

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        self.group.check(g)
        self.validate(value)
        r, t = rotation_and_translation(g)
        return value @ r.T.to(value) + t.to(value)


@dataclasses.dataclass(frozen=True)
class VectorField(FieldType):
    """Vectors ``[..., n]`` (velocities, forces, dipoles): (R, t) acts by v ↦ v Rᵀ (translations do nothing)."""

    group: Group = Euclidean(3)

    def validate(self, value: Any) -> None:
        _check_vectors(value, self.group.n, "VectorField")  # type: ignore[attr-defined]

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        self.group.check(g)
        self.validate(value)
        r, _ = rotation_and_translation(g)
        return value @ r.T.to(value)


def _check_vectors(value: Any, dim: int, what: str) -> None:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        given = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
        raise TypeError(f"{what} expects a floating-point tensor [..., {dim}], got {given}")
    if value.dim() == 0 or value.shape[-1] != dim:
        raise ValueError(f"{what} expects vectors in R^{dim}: a tensor [..., {dim}], got shape {list(value.shape)}")
