r"""The irreducible representations of SO(3) and O(3) as solver-ready :class:`~gdl.representations.Representation`
objects (book §4.3, §5.5), in e3nn's conventions.

The real irrep of degree ℓ of SO(3) has dimension 2ℓ + 1 and acts by the real Wigner-D matrix D^ℓ(R). O(3) =
SO(3) × {±I} has two irreps per degree, told apart by the parity p = ±1 (e3nn's ``ℓe`` and ``ℓo``):

.. math::

    \rho_{\ell p}(g) = D^\ell(\det(g)\, g)\; p^{[\det g = -1]}, \qquad
    d\rho_\ell(L_k) = \sum_a (A^{-1})_{ka}\, X^\ell_a ,

where :math:`X^\ell_a` (a = x, y, z) are e3nn's real 𝔰𝔬(3) generators of degree ℓ (``e3nn.o3.so3_generators(ℓ)``),
:math:`L_k` gdl's basis of 𝔰𝔬(3) (``Orthogonal(3).lie_algebra()``: :math:`L_{ij} = E_{ji} - E_{ij}`, i < j) and A the
signed permutation with :math:`P^\top X^1_a P = \sum_k A_{ak} L_k`, found once from ℓ = 1.

**Basis.** e3nn's degree-1 irrep is D^1(R) = P R Pᵀ for a fixed permutation matrix P of the Cartesian axes, found
once by comparing e3nn's ``D_from_matrix`` with R (:func:`cartesian_basis_change`). Older e3nn releases ordered
ℓ = 1 as (y, z, x); e3nn ≥ 0.5 (the one gdl uses) orders it (x, y, z), so P = I there and ``WignerD(O(3), 1, -1)``
*is* the standard representation. The code never assumes which.

**Precision.** e3nn builds its generators in torch's default dtype (float32 errors of ~1e-7 in D^ℓ). Here D^ℓ is
:math:`\exp(\alpha X_y)\exp(\beta X_x)\exp(\gamma X_y)` (e3nn's Y-X-Y Euler convention) with float64 generators
(:func:`gdl.groups.irreps.representation_matrix` builds the same ones), Euler angles from ``atan2`` only, which
is well conditioned at every β, the poles β ≈ 0, π included, and batched ``matrix_exp`` calls (torch's single-matrix
path has a float64 error of ~1e-10 at small norms, pytorch/pytorch#196592). The result equals e3nn's
``o3.Irrep(ℓ, p).D_from_matrix(g)`` to its float32 round-off and is a homomorphism to float64 round-off.

e3nn is imported lazily, inside the functions that need it, so ``import gdl.groups`` stays light.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import torch

from gdl.core import Group, GroupElement, check_int
from gdl.representations import DirectSum, Representation
from gdl.symmetries import Orthogonal

__all__ = ["WignerD", "irreps_representation", "cartesian_basis_change", "generator_basis_change"]


def _check_group(group: Any, what: str) -> Orthogonal:
    if not (isinstance(group, Orthogonal) and group.n == 3):
        raise TypeError(f"{what} is a representation of SpecialOrthogonal(3) or Orthogonal(3), got {group!r}")
    return group


@functools.cache
def _e3nn_generators(degree: int) -> torch.Tensor:
    """e3nn's real 𝔰𝔬(3) generators X_x, X_y, X_z of degree ℓ in float64 ``[3, 2ℓ+1, 2ℓ+1]``."""
    from gdl.groups.irreps import _so3_generators  # e3nn's formula, in float64

    return _so3_generators(degree)


@functools.cache
def cartesian_basis_change() -> torch.Tensor:
    r"""The permutation matrix P with e3nn's D^1(R) = P R Pᵀ (``Irrep("1o").D_from_matrix``), float64 ``[3, 3]``.

    Found by trying the six permutations on a generic rotation (e3nn's float32 round-off is far below the gap
    between them). P = I for e3nn ≥ 0.5.
    """
    import itertools

    from e3nn import o3

    rotation = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.3, 0.7], [0.3, 0.0, -1.1], [-0.7, 1.1, 0.0]],
                                                    dtype=torch.float64))
    reference = o3.Irrep(1, -1).D_from_matrix(rotation).to(torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    for order in itertools.permutations(range(3)):
        permutation = eye[list(order)]
        if float((permutation @ rotation @ permutation.T - reference).abs().max()) < 1e-4:
            return permutation
    raise RuntimeError("e3nn's degree-1 irrep is not a permutation of the Cartesian axes; gdl.groups.representations "
                       "needs updating for this e3nn version")


@functools.cache
def generator_basis_change() -> torch.Tensor:
    r"""The signed permutation A ``[3, 3]`` with :math:`P^\top X^1_a P = \sum_k A_{ak} L_k` (X: e3nn's generators,
    L: ``Orthogonal(3).lie_algebra()``, P: :func:`cartesian_basis_change`); exact (entries 0, ±1)."""
    permutation = cartesian_basis_change()
    gdl_basis = Orthogonal(3).lie_algebra()
    e3nn_in_gdl_axes = permutation.T @ _e3nn_generators(1) @ permutation
    # ⟨L_j, L_k⟩_F = 2 δ_jk, so the coefficients are Frobenius products / 2
    coefficients = torch.einsum("aij,kij->ak", e3nn_in_gdl_axes, gdl_basis) / 2
    rounded = coefficients.round()
    if (float((coefficients - rounded).abs().max()) > 1e-12
            or not torch.equal(rounded.abs().sum(0), torch.ones(3, dtype=torch.float64))
            or not torch.equal(rounded.abs().sum(1), torch.ones(3, dtype=torch.float64))):
        raise RuntimeError(f"e3nn's so(3) generators are not a signed permutation of gdl's basis: {coefficients}")
    reconstructed = torch.einsum("ak,kij->aij", rounded, gdl_basis)
    if float((reconstructed - e3nn_in_gdl_axes).abs().max()) > 1e-12:
        raise RuntimeError("e3nn's so(3) generators do not lie in the span of gdl's basis")
    return rounded


def _matrix_exp(matrices: torch.Tensor) -> torch.Tensor:
    """exp of a stack ``[B, n, n]`` (B ≥ 2) in float64 to round-off.

    torch's single-matrix path picks a low-degree Taylor polynomial by norm, and its degree-8 one has a wrong
    coefficient (pytorch/pytorch#196592: errors ~1e-10 in float64 for norms near 0.04); a batch always takes the
    degree-18 path, which is exact to round-off.
    """
    if matrices.shape[0] < 2:
        return torch.linalg.matrix_exp(torch.cat([matrices, matrices]))[:matrices.shape[0]]
    return torch.linalg.matrix_exp(matrices)


def _yxy_euler_angles(matrix: torch.Tensor) -> tuple[float, float, float]:
    r"""(α, β, γ) with M = R_y(α) R_x(β) R_y(γ), R_a(θ) = exp(θ X^1_a) (e3nn's convention), from atan2 only.

    M e_y = (sin α sin β, cos β, cos α sin β) gives α and β; γ comes from the remainder R_x(β)ᵀ R_y(α)ᵀ M = R_y(γ),
    so an error in α where β ≈ 0 (α is then ill-defined) is absorbed by γ.
    """
    generators = _e3nn_generators(1)
    column = matrix[:, 1]
    beta = torch.atan2(torch.hypot(column[0], column[2]), column[1])
    alpha = torch.atan2(column[0], column[2])
    undo_x, undo_y = _matrix_exp(torch.stack([-beta * generators[0], -alpha * generators[1]]))
    remainder = undo_x @ undo_y @ matrix
    gamma = torch.atan2(remainder[0, 2], remainder[0, 0])
    return float(alpha), float(beta), float(gamma)


@functools.cache
def _lie_algebra(degree: int) -> torch.Tensor:
    inverse = torch.linalg.inv(generator_basis_change())
    return torch.einsum("ka,aij->kij", inverse, _e3nn_generators(degree)).contiguous()


@dataclasses.dataclass(frozen=True)
class WignerD(Representation):
    r"""The real irrep ρ_{ℓp} of SO(3) or O(3) on R^{2ℓ+1}, in e3nn's basis and conventions.

    .. math::

        \rho_{\ell p}(g) = D^\ell(\det(g)\, g)\; p^{[\det g = -1]}

    Args:
        group: ``SpecialOrthogonal(3)`` or ``Orthogonal(3)``.
        degree: ℓ ≥ 0.
        parity: p = ±1 (e3nn's ``e`` = +1, ``o`` = −1). Only O(3) sees it; for SO(3) it is stored as +1, so that
            ``WignerD(SO(3), ℓ, -1) == WignerD(SO(3), ℓ)``. The vector (standard) representation of O(3) is ℓ = 1,
            p = −1 (``1o``); p = +1 there is the pseudovector (``1e``, angular momentum).

    :meth:`lie_algebra` is dρ on ``Orthogonal(3).lie_algebra()``, in its order; ρ_{1,−1} = P · standard · Pᵀ with P =
    :func:`cartesian_basis_change`.

    Shapes:
        ``matrix(g)``: float64 ``[2ℓ+1, 2ℓ+1]``; ``lie_algebra()``: float64 ``[3, 2ℓ+1, 2ℓ+1]``.

    Example:
        >>> from gdl.representations import basis_dimension
        >>> from gdl.symmetries import SpecialOrthogonal
        >>> G = SpecialOrthogonal(3)
        >>> [basis_dimension(WignerD(G, 1) * WignerD(G, 2), WignerD(G, L)) for L in range(5)]  # |1 − 2| ≤ L ≤ 1 + 2
        [0, 1, 1, 1, 0]
    """

    group: Group
    degree: int
    parity: int = 1

    def __post_init__(self):
        _check_group(self.group, "WignerD")
        check_int(self.degree, "the degree ℓ of a Wigner-D representation", minimum=0)
        if self.parity not in (1, -1) or isinstance(self.parity, bool):
            raise ValueError(f"the parity of an O(3) irrep must be +1 (even, 'e') or −1 (odd, 'o'), got {self.parity!r}")
        if self.group.special:  # type: ignore[attr-defined]
            object.__setattr__(self, "parity", 1)
        object.__setattr__(self, "parity", int(self.parity))

    @property
    def dim(self) -> int:
        return 2 * self.degree + 1

    @property
    def is_trivial(self) -> bool:
        return self.degree == 0 and self.parity == 1

    def matrix(self, g: GroupElement) -> torch.Tensor:
        rotation = self._check_element(g).data.to(torch.float64)
        reflected = float(torch.linalg.det(rotation)) < 0
        if reflected:
            rotation = -rotation
        if self.degree == 0:
            return torch.full((1, 1), float(self.parity if reflected else 1), dtype=torch.float64)
        permutation = cartesian_basis_change()
        alpha, beta, gamma = _yxy_euler_angles(permutation @ rotation @ permutation.T)
        generators = _e3nn_generators(self.degree)
        first, second, third = _matrix_exp(torch.stack([alpha * generators[1], beta * generators[0],
                                                        gamma * generators[1]]))
        wigner = first @ second @ third
        return wigner * (self.parity if reflected else 1)

    def lie_algebra(self) -> torch.Tensor:
        r"""dρ_ℓ(L_k) = Σ_a (A⁻¹)_{ka} X^ℓ_a, float64 ``[3, 2ℓ+1, 2ℓ+1]``, on ``Orthogonal(3).lie_algebra()``."""
        return _lie_algebra(self.degree).clone()

    def dual(self) -> Representation:
        """ρ itself: D^ℓ is orthogonal, so ρ(g⁻¹)ᵀ = ρ(g)."""
        return self

    def __repr__(self) -> str:
        if self.group.special:  # type: ignore[attr-defined]
            return f"D{self.degree}"
        return f"{self.degree}{'e' if self.parity == 1 else 'o'}"


def irreps_representation(irreps: Any, group: Group) -> DirectSum:
    r"""The representation of SO(3) / O(3) that e3nn's ``Irreps`` describe: ⊕_k mul_k × ρ_{ℓ_k p_k}.

    Its matrices are those of :class:`gdl.groups.IrrepsField` ``(group, irreps).representation(g)``, so a layer typed
    by irreps and a basis solved with :func:`gdl.representations.equivariant_basis` agree on every element.

    Args:
        irreps: ``"2x0e + 1x1o"``, an ``e3nn.o3.Irreps`` or a list of (mul, irrep) pairs; at least one copy of one
            irrep.
        group: ``SpecialOrthogonal(3)`` (parities ignored) or ``Orthogonal(3)``.

    Example:
        >>> from gdl.symmetries import Orthogonal
        >>> rep = irreps_representation("2x0e + 1x1o", Orthogonal(3))
        >>> rep, rep.dim
        (2×0e ⊕ 1o, 5)
    """
    from gdl.groups.irreps import as_irreps

    _check_group(group, "irreps_representation")
    parsed = as_irreps(irreps)
    parts = [WignerD(group, ir.l, ir.p) for mul, ir in parsed for _ in range(mul)]
    if not parts:
        raise ValueError(f"irreps_representation needs at least one irrep, got {irreps!r} (dimension 0)")
    return DirectSum(tuple(parts))
