r"""Representations and the equivariant-basis solver (foundation floor, book §3.5, §4.3).

* :mod:`gdl.representations.base`: :class:`Representation` ρ: G → GL(V) and its algebra: ⊕, ⊗, dual, tensor
  powers T(p, q), restriction; :func:`check_representation` for hand-written ones.
* :mod:`gdl.representations.standard`: the standard (matrix / permutation), determinant (sign, parity), regular
  and quotient representations that every finite or matrix group has.
* :mod:`gdl.representations.solver`: :func:`equivariant_basis` (ρ_in, ρ_out) → an orthonormal basis of
  Hom_G(ρ_in, ρ_out), the most general equivariant linear map.
* :mod:`gdl.representations.field`, :mod:`gdl.representations.layers`: field types that act by ρ(g), the
  :class:`EquivariantLinear` layer solved from them, gated nonlinearities and the EMLP (Finzi et al. 2021).

The irreducible representations of C_n, D_n, SO(2), O(2) and SO(3)/O(3) (Wigner-D through e3nn) live with their
groups in :mod:`gdl.groups`; the Lorentz group in :mod:`gdl.symmetries`.
"""

from .base import (
    DirectSum,
    Dual,
    MatrixRepresentation,
    Representation,
    Restriction,
    TensorProduct,
    Trivial,
    character_inner_product,
    check_representation,
    tensor_power,
)
from .field import RepresentationField
from .layers import EMLP, EMLPBlock, EquivariantBilinear, EquivariantLinear, ExactBasis, GatedNonlinearity, gated
from .solver import BasisBlock, basis_dimension, constraint_residual, equivariant_basis, equivariant_blocks, invariant_basis
from .standard import Determinant, QuotientRepresentation, RegularRepresentation, StandardRepresentation, permutation_representation

__all__ = [
    "Representation", "MatrixRepresentation", "Trivial", "DirectSum", "TensorProduct", "Dual", "Restriction",
    "tensor_power", "check_representation", "character_inner_product",
    "StandardRepresentation", "Determinant", "RegularRepresentation", "QuotientRepresentation",
    "permutation_representation",
    "RepresentationField", "EquivariantLinear", "EquivariantBilinear", "GatedNonlinearity", "gated", "EMLPBlock", "EMLP", "ExactBasis",
    "equivariant_basis", "equivariant_blocks", "BasisBlock", "invariant_basis", "basis_dimension", "constraint_residual",
]
