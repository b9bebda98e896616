r"""The representations every finite or matrix group has (book §4.3).

* :class:`StandardRepresentation`: a matrix group acting on R^n by its own matrices (O(n), SO(n), the Lorentz group;
  C_n and D_n by ``group.matrix(g)`` on the plane), dρ = the group's Lie algebra; for S_n, the permutation
  matrices, (ρ(σ) x)_i = x_{σ(i)} in gdl's convention
  ``x' = x[perm]``.
* :class:`Determinant`: ρ(g) = det(standard(g)), the sign of a permutation, det of an orthogonal matrix (parity).
* :class:`RegularRepresentation` of a finite group on R^{|G|}: (ρ(a) f)(g) = f(a⁻¹g).
* :class:`QuotientRepresentation` of a finite group on R^{|G/H|}: (ρ(a) f)(gH) = f(a⁻¹gH).

.. math::

    \chi_\text{reg}(g) = |G|\,[g = e], \qquad \chi_{G/H}(g) = \#\{gH' = H' : H' \in G/H\}.
"""

from __future__ import annotations

import dataclasses
import functools

import torch

from gdl.core import Group, GroupElement
from gdl.symmetries import Permutations

from .base import Representation

__all__ = ["StandardRepresentation", "Determinant", "RegularRepresentation", "QuotientRepresentation",
           "permutation_representation"]


def _defining_matrix(group: Group, g: GroupElement) -> torch.Tensor:
    group.check(g)
    if isinstance(group, Permutations):
        return torch.eye(group.n, dtype=torch.float64)[g.data]
    if callable(getattr(group, "matrix", None)):  # groups that say how they act on R^n (C_n, D_n on the plane)
        return group.matrix(g).to(torch.float64)
    data = g.data
    if not isinstance(data, torch.Tensor) or data.dim() != 2 or data.shape[0] != data.shape[1]:
        raise TypeError(f"{group!r} is not a matrix group (its elements are not square matrices); "
                        "give its representation as a MatrixRepresentation")
    return data.to(torch.float64)


@dataclasses.dataclass(frozen=True)
class StandardRepresentation(Representation):
    """A matrix group (O(n), SO(n), O(1,3), S_n as permutation matrices) acting on R^n by its own matrices."""

    group: Group

    def __post_init__(self):  # the dimension once (not a field: eq and hash ignore it)
        object.__setattr__(self, "_dim", _defining_matrix(self.group, self.group.identity()).shape[0])

    @property
    def dim(self) -> int:
        return self._dim

    def matrix(self, g: GroupElement) -> torch.Tensor:
        return _defining_matrix(self.group, g)

    def permutation(self, g: GroupElement) -> torch.Tensor | None:
        if isinstance(self.group, Permutations):
            return self.group.check(g).data
        return super().permutation(g)

    def act(self, g: GroupElement, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        if isinstance(self.group, Permutations):
            perm = self.group.check(g).data
            return vectors[torch.argsort(perm)] if transpose else vectors[perm]
        return super().act(g, vectors, transpose)

    def lie_algebra(self) -> torch.Tensor:
        if self.group.lie_algebra_dimension == 0:
            return super().lie_algebra()
        return self.group.lie_algebra()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return "V"


def permutation_representation(group: Permutations) -> StandardRepresentation:
    """S_n on R^n by permutation matrices: a set of n scalars (Deep Sets' input)."""
    if not isinstance(group, Permutations):
        raise TypeError(f"permutation_representation needs a Permutations group, got {group!r}")
    return StandardRepresentation(group)


@dataclasses.dataclass(frozen=True)
class Determinant(Representation):
    """ρ(g) = det(A(g)) on R: the sign of a permutation, the parity of an orthogonal or Lorentz matrix."""

    group: Group

    @property
    def dim(self) -> int:
        return 1

    def matrix(self, g: GroupElement) -> torch.Tensor:
        return torch.linalg.det(_defining_matrix(self.group, g)).round().reshape(1, 1)

    def lie_algebra(self) -> torch.Tensor:
        return torch.zeros(self.group.lie_algebra_dimension, 1, 1, dtype=torch.float64)

    def __repr__(self) -> str:
        return "det"


@functools.cache
def _multiplication_table(group: Group) -> torch.Tensor:
    """T[a, i] = index of a·g_i in ``group.elements()`` ``[|G|, |G|]`` int64."""
    elements = group.elements()

    def index(h: GroupElement) -> int:
        return next(i for i, g in enumerate(elements) if group.equal(g, h))

    return torch.tensor([[index(group.compose(a, g)) for g in elements] for a in elements], dtype=torch.long)


def _element_index(group: Group, g: GroupElement) -> int:
    group.check(g)
    return next(i for i, h in enumerate(group.elements()) if group.equal(g, h))


def _finite(group: Group, what: str) -> Group:
    if group.order is None:
        raise TypeError(f"the {what} representation needs a finite group, got {group!r}")
    if group.order > 2048:
        raise ValueError(f"the {what} representation of {group!r} would have {group.order} dimensions (at most 2048)")
    return group


@dataclasses.dataclass(frozen=True)
class RegularRepresentation(Representation):
    r"""A finite group on functions f: G → R, :math:`(\rho(a) f)(g) = f(a^{-1} g)`, basis ordered as
    ``group.elements()``. Its matrices are permutations: ρ(a) e_g = e_{ag}."""

    group: Group

    def __post_init__(self):
        _finite(self.group, "regular")

    @property
    def dim(self) -> int:
        return self.group.order  # type: ignore[return-value]

    def permutation(self, g: GroupElement) -> torch.Tensor:
        a_inverse = _element_index(self.group, self.group.inverse(g))
        return _multiplication_table(self.group)[a_inverse]

    def matrix(self, g: GroupElement) -> torch.Tensor:
        return torch.eye(self.dim, dtype=torch.float64)[self.permutation(g)]

    def __repr__(self) -> str:
        return "regular"


@dataclasses.dataclass(frozen=True)
class QuotientRepresentation(Representation):
    r"""A finite group on functions on the cosets G/H, :math:`(\rho(a) f)(gH) = f(a^{-1} g H)`.

    Args:
        group: G (finite).
        subgroup: H ⊆ G (``subgroup.is_subgroup_of(group)``); cosets are ordered by their first element in
            ``group.elements()``.
    """

    group: Group
    subgroup: Group

    def __post_init__(self):
        _finite(self.group, "quotient")
        if not self.subgroup.is_subgroup_of(self.group):
            raise TypeError(f"{self.subgroup!r} is not a subgroup of {self.group!r}")

    @property
    def dim(self) -> int:
        return int(self._cosets().max()) + 1

    def _cosets(self) -> torch.Tensor:
        return _coset_labels(self.group, self.subgroup)

    def permutation(self, g: GroupElement) -> torch.Tensor:
        labels = self._cosets()
        table = _multiplication_table(self.group)[_element_index(self.group, self.group.inverse(g))]
        representatives = torch.tensor([int((labels == c).nonzero()[0]) for c in range(self.dim)])
        return labels[table[representatives]]

    def matrix(self, g: GroupElement) -> torch.Tensor:
        return torch.eye(self.dim, dtype=torch.float64)[self.permutation(g)]

    def __repr__(self) -> str:
        return f"quotient({self.group!r}/{self.subgroup!r})"


@functools.cache
def _coset_labels(group: Group, subgroup: Group) -> torch.Tensor:
    """label[i] = the index of the coset g_i H, numbered by first appearance in ``group.elements()``."""
    elements = group.elements()
    members = [h for h in group.elements() if subgroup.contains(h)]
    table = _multiplication_table(group)
    member_index = [next(i for i, g in enumerate(elements) if group.equal(g, h)) for h in members]
    labels = torch.full((len(elements),), -1, dtype=torch.long)
    count = 0
    for i in range(len(elements)):
        if labels[i] < 0:
            labels[table[i, member_index]] = count  # g_i h for h ∈ H
            count += 1
    return labels
