"""Features typed by irreducible representations of O(3), acted on by Wigner-D matrices (book §4.3, §5.5).

A feature vector of a point (an atom, a cube of a Tetris piece) is a direct sum of irreducible representations
("irreps") of O(3) = SO(3) × {±I}. The irrep ``ℓp`` has dimension 2ℓ + 1 and transforms under g ∈ O(3) as

    x_ℓp  ↦  D^ℓ(R) x_ℓp · p^{[det g = −1]},        R = det(g) · g ∈ SO(3),

where D^ℓ is the Wigner-D matrix of degree ℓ and p = ±1 the parity ("e" even, "o" odd). A feature of type
``Irreps("8x0e + 4x1o + 2x2e")`` is the concatenation of 8 scalars, 4 polar vectors (1o: in e3nn's basis D^1(R) = R,
so a ``1o`` feature is an ordinary Cartesian vector) and 2 symmetric traceless matrices, and g acts block-diagonally:

    x ↦ x · D(g)ᵀ,     D(g) = ⊕_k D^{ℓ_k}(g) p_k^{[det g = −1]},     D(gh) = D(g) D(h)   (a representation of O(3))

e3nn does the representation theory (``Irreps(...).D_from_matrix(g)``); this module states it as a gdl field
type, so that layers built from e3nn operations are checked by the registry sweep like every other gdl layer.
Under E(3) = O(3) ⋉ R³ the translation part acts trivially on such features (they are built from relative
positions), and under SO(3) the parity signs never appear.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import torch
from e3nn import o3

from gdl.core import FieldType, Group, GroupElement
from gdl.symmetries.euclidean import Euclidean, Orthogonal, rotation_and_translation

__all__ = ["IrrepsField", "as_irreps", "representation_matrix"]


def as_irreps(irreps: Any, what: str = "irreps") -> o3.Irreps:
    """Coerce ``"8x0e + 4x1o"``, an ``Irreps`` or a list of (mul, irrep) pairs to ``o3.Irreps``; ValueError otherwise."""
    try:
        return o3.Irreps(irreps)
    except (ValueError, TypeError, AssertionError) as error:
        raise ValueError(f"{what} must be e3nn irreps such as '8x0e + 4x1o', got {irreps!r} ({error})") from None


@functools.cache
def _so3_generators(degree: int) -> torch.Tensor:
    """The real so(3) generators of the degree-ℓ irrep in e3nn's basis, float64 ``[3, 2ℓ+1, 2ℓ+1]``.

    The same matrices as ``e3nn.o3.so3_generators(l)``, built in float64 whatever torch's default dtype is (e3nn
    builds them in the default dtype, which would round D(g) to float32 under a float32 default).
    """
    m = torch.arange(-degree, degree, dtype=torch.float64)
    raising = torch.diag(-torch.sqrt(degree * (degree + 1) - m * (m + 1)), diagonal=-1)
    m = torch.arange(-degree + 1, degree + 1, dtype=torch.float64)
    lowering = torch.diag(torch.sqrt(degree * (degree + 1) - m * (m - 1)), diagonal=1)
    m = torch.arange(-degree, degree + 1, dtype=torch.float64)
    su2 = torch.stack([0.5 * (raising + lowering).to(torch.complex128), torch.diag(1j * m),
                       -0.5j * (raising - lowering).to(torch.complex128)])
    basis = o3.change_basis_real_to_complex(degree, dtype=torch.float64)
    return torch.real(basis.conj().T @ su2 @ basis)


def _wigner_d(degree: int, alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """D^ℓ(α, β, γ) = exp(α X_y) exp(β X_x) exp(γ X_y) in float64 (e3nn's ``wigner_D``, without the default dtype)."""
    generators = _so3_generators(degree)
    alpha, beta, gamma = (angle % (2 * math.pi) for angle in (alpha, beta, gamma))
    return (torch.matrix_exp(alpha * generators[1]) @ torch.matrix_exp(beta * generators[0])
            @ torch.matrix_exp(gamma * generators[1]))


def representation_matrix(irreps: o3.Irreps, matrix: torch.Tensor) -> torch.Tensor:
    """D(g) ``[dim, dim]`` float64 for g ∈ O(3) given as a 3 × 3 matrix: ⊕_k D^{ℓ_k}(det(g)·g) p_k^{[det g = −1]}.

    Equals e3nn's ``irreps.D_from_matrix(g)`` (the same Euler angles and generators), computed in float64
    without touching torch's default dtype.
    """
    matrix = torch.as_tensor(matrix, dtype=torch.float64)
    sign = torch.linalg.det(matrix).sign()
    alpha, beta, gamma = o3.matrix_to_angles(sign * matrix)
    reflected = bool(sign < 0)
    blocks = []
    for mul, ir in irreps:
        block = _wigner_d(ir.l, alpha, beta, gamma) * (ir.p if reflected else 1)
        blocks.extend([block] * mul)
    if not blocks:
        return torch.zeros(0, 0, dtype=torch.float64)
    return torch.block_diag(*blocks)


def _check_o3_group(group: Any, what: str) -> Group:
    if not isinstance(group, (Orthogonal, Euclidean)) or group.n != 3:
        raise TypeError(f"{what} is acted on by SO(3), O(3) or E(3); got {group!r}")
    return group


@dataclasses.dataclass(frozen=True)
class IrrepsField(FieldType):
    """Features ``[..., irreps.dim]`` typed by e3nn irreps; g acts by x ↦ x D(g)ᵀ with D = ``irreps.D_from_matrix``.

    Args:
        group: ``SpecialOrthogonal(3)``, ``Orthogonal(3)`` or ``Euclidean(3)`` (whose translations act trivially).
        irreps: the type of each feature vector, e.g. ``"8x0e + 4x1o + 2x2e"``.

    Example:
        >>> field = IrrepsField(Orthogonal(3), "1x0e + 1x1o")
        >>> x = torch.tensor([[2.0, 1.0, 2.0, 3.0]])
        >>> field.transform(x, Orthogonal(3).element(-torch.eye(3)))  # the inversion flips the odd vector only
        tensor([[ 2., -1., -2., -3.]])
    """

    group: Group
    irreps: o3.Irreps
    #: the feature size Σ_k mul_k (2ℓ_k + 1)
    dim: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        _check_o3_group(self.group, "IrrepsField")
        object.__setattr__(self, "irreps", as_irreps(self.irreps))
        # a plain int, so that torch.compile guards on it instead of on e3nn's Irreps tuples (which it cannot guard)
        object.__setattr__(self, "dim", self.irreps.dim)

    def representation(self, g: GroupElement) -> torch.Tensor:
        """The float64 matrix D(g) ``[dim, dim]`` (block-diagonal Wigner-D matrices times parities).

        Built from float64 so(3) generators (:func:`representation_matrix`), so D(g) is exact to float64 round-off
        under any default dtype, and torch's default dtype is never changed.
        """
        rotation, _ = rotation_and_translation(self.group.check(g))
        return representation_matrix(self.irreps, rotation)

    def validate(self, value: Any) -> None:
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            given = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
            raise TypeError(f"IrrepsField({self.irreps}) expects a floating-point tensor [..., {self.dim}], got {given}")
        if value.dim() == 0 or value.shape[-1] != self.dim:
            raise ValueError(f"IrrepsField({self.irreps}) expects features [..., {self.dim}] (the dimension of "
                             f"{self.irreps}), got shape {list(value.shape)}")

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        self.validate(value)
        return value @ self.representation(g).T.to(value)

    def __repr__(self) -> str:
        return f"IrrepsField({self.group!r}, {self.irreps})"
