r"""Representations ρ: G → GL(V) as objects (book §3.1, §4.3).

A representation assigns to every group element g an invertible matrix ρ(g) ∈ R^{d×d} with

.. math::

    \rho(gh) = \rho(g)\,\rho(h), \qquad \rho(e) = I_d.

For a Lie group, ρ also gives the matrices dρ(X) of its Lie algebra 𝔤 on a basis X_1, …, X_k fixed by the group
(:attr:`gdl.core.Group.lie_algebra_dimension`), with ρ(exp(tX)) = exp(t dρ(X)). Together with the group's discrete
generators (:meth:`gdl.core.Group.discrete_generators`) these are all the equivariant-basis solver
(:mod:`gdl.representations.solver`) needs: W commutes with every ρ(g) iff it commutes with ρ of the discrete
generators and with dρ of the Lie basis.

New representations come from old ones:

.. math::

    (\rho_1 \oplus \rho_2)(g) = \begin{pmatrix} \rho_1(g) & 0 \\ 0 & \rho_2(g) \end{pmatrix}, \quad
    (\rho_1 \otimes \rho_2)(g) = \rho_1(g) \otimes \rho_2(g), \quad
    \rho^*(g) = \rho(g^{-1})^\top,

with :math:`d(\rho_1 \otimes \rho_2)(X) = d\rho_1(X) \otimes I + I \otimes d\rho_2(X)` and
:math:`d\rho^*(X) = -d\rho(X)^\top`. In code: ``ρ1 + ρ2``, ``ρ1 * ρ2`` (or ``ρ1 @ ρ2``), ``3 * ρ`` (three copies),
``ρ ** k`` (k-th tensor power), ``ρ.dual()``, :func:`tensor_power` T(p, q) = V^{⊗p} ⊗ (V^*)^{⊗q}, and
``ρ.restrict(H)`` for a subgroup H ⊆ G. Every representation is a frozen dataclass, so equal descriptions compare
(and cache) equal.

Matrices are float64; :meth:`Representation.act` applies ρ(g) to a stack of vectors without forming the matrix
where the structure allows it (tensor products act factor by factor).
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from gdl.core import Group, GroupElement

__all__ = ["Representation", "MatrixRepresentation", "Trivial", "DirectSum", "TensorProduct", "Dual", "Restriction",
           "tensor_power", "check_representation", "character_inner_product"]


class Representation(abc.ABC):
    r"""A finite-dimensional real representation ρ: G → GL(d, R).

    Subclasses are frozen dataclasses with a ``group`` field; they implement :attr:`dim` and :meth:`matrix`, and for
    Lie groups :meth:`lie_algebra`.

    Example:
        >>> from gdl.symmetries import Permutations
        >>> from gdl.representations import permutation_representation, Trivial
        >>> V = permutation_representation(Permutations(4))
        >>> (V * V).dim, (V + Trivial(V.group)).dim, (2 * V).dim
        (16, 5, 8)
    """

    group: Group

    # -- what a representation is -----------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """The dimension d of the vector space V."""

    @abc.abstractmethod
    def matrix(self, g: GroupElement) -> torch.Tensor:
        """ρ(g), float64 ``[d, d]``; ``g`` must belong to :attr:`group` (else ``TypeError``)."""

    def lie_algebra(self) -> torch.Tensor:
        r"""dρ(X_a) on the group's Lie-algebra basis, float64 ``[k, d, d]`` with k = ``group.lie_algebra_dimension``.

        Discrete groups return an empty ``[0, d, d]`` tensor.
        """
        if self.group.lie_algebra_dimension == 0:
            return torch.zeros(0, self.dim, self.dim, dtype=torch.float64)
        raise NotImplementedError(f"{self!r} does not give dρ on the Lie algebra of {self.group!r}; "
                                  "pass lie_algebra_matrices= to MatrixRepresentation")

    def permutation(self, g: GroupElement) -> torch.Tensor | None:
        """If ρ(g) is a permutation matrix, the int64 ``[d]`` index π with (ρ(g) v)_i = v_{π(i)}; else ``None``."""
        return _permutation_of(self.matrix(g))

    def act(self, g: GroupElement, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        """ρ(g) V (or ρ(g)ᵀ V) for a stack of column vectors ``V [d, m]``."""
        matrix = self.matrix(g).to(vectors)
        return (matrix.T if transpose else matrix) @ vectors

    def act_lie(self, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        """dρ(X_a) V (or its transpose) for every basis element a: ``[d, m]`` → ``[k, d, m]``."""
        generators = self.lie_algebra().to(vectors)
        return (generators.transpose(1, 2) if transpose else generators) @ vectors

    # -- derived quantities -----------------------------------------------------------------------------------
    def __call__(self, g: GroupElement | Sequence[GroupElement]) -> torch.Tensor:
        """ρ(g) ``[d, d]``, or ``[B, d, d]`` for a list of B elements."""
        if isinstance(g, GroupElement):
            return self.matrix(g)
        return torch.stack([self.matrix(h) for h in g]) if len(g) else torch.zeros(0, self.dim, self.dim,
                                                                                     dtype=torch.float64)

    def character(self, g: GroupElement) -> float:
        r"""χ(g) = tr ρ(g)."""
        return float(torch.trace(self.matrix(g)))

    def summands(self) -> tuple["Representation", ...]:
        """The direct summands ρ = ρ₁ ⊕ … ⊕ ρ_k (``(self,)`` unless this is a :class:`DirectSum`)."""
        return (self,)

    @property
    def is_trivial(self) -> bool:
        """Whether every element acts as the identity (a :class:`Trivial` representation)."""
        return False

    # -- operations ---------------------------------------------------------------------------------------------
    def __add__(self, other: "Representation") -> "DirectSum":
        if not isinstance(other, Representation):
            return NotImplemented
        return DirectSum(self.summands() + other.summands())

    def __mul__(self, other: Any) -> "Representation":
        if isinstance(other, Representation):
            if other.group == self.group and isinstance(other, Trivial) and other.dim == 1:
                return self  # ρ ⊗ 1 = ρ: one cached solve for both
            if other.group == self.group and isinstance(self, Trivial) and self.dim == 1:
                return other
            return TensorProduct((self, other))
        if isinstance(other, int) and not isinstance(other, bool):
            return self._copies(other)
        return NotImplemented

    def __rmul__(self, other: Any) -> "Representation":
        if isinstance(other, int) and not isinstance(other, bool):
            return self._copies(other)
        return NotImplemented

    __matmul__ = __mul__

    def _copies(self, count: int) -> "Representation":
        if count < 1:
            raise ValueError(f"a multiplicity must be a positive integer, got {count} copies of {self!r}")
        return self if count == 1 else DirectSum(self.summands() * count)

    def __pow__(self, power: int) -> "Representation":
        """The tensor power ρ^{⊗k} (k ≥ 1; ``ρ ** 0`` is the trivial representation)."""
        if not isinstance(power, int) or isinstance(power, bool) or power < 0:
            raise ValueError(f"a tensor power needs a non-negative integer, got {power!r}")
        if power == 0:
            return Trivial(self.group)
        return self if power == 1 else TensorProduct((self,) * power)

    def dual(self) -> "Representation":
        r"""ρ*(g) = ρ(g⁻¹)ᵀ, the action on linear forms."""
        return Dual(self)

    def restrict(self, subgroup: Group) -> "Representation":
        """ρ seen as a representation of a subgroup H ⊆ G (``self`` when H = G)."""
        return self if subgroup == self.group else Restriction(self, subgroup)

    # -- checks -------------------------------------------------------------------------------------------------
    def _check_element(self, g: GroupElement) -> GroupElement:
        return self.group.check(g)


def _permutation_of(matrix: torch.Tensor) -> torch.Tensor | None:
    if not bool(((matrix == 0) | (matrix == 1)).all()):
        return None
    if not (bool((matrix.sum(0) == 1).all()) and bool((matrix.sum(1) == 1).all())):
        return None
    return matrix.argmax(1)


def _check_dim(dim: Any, what: str) -> int:
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise ValueError(f"{what} must be a positive integer, got {dim!r}")
    return dim


def _common_group(reps: Sequence[Representation], what: str) -> Group:
    for rep in reps:
        if not isinstance(rep, Representation):
            raise TypeError(f"{what} takes Representations, got {type(rep).__name__}")
    groups = {rep.group for rep in reps}
    if len(groups) != 1:
        raise TypeError(f"{what} needs representations of one group, got representations of "
                        f"{', '.join(sorted(map(repr, groups)))}")
    return reps[0].group


@dataclasses.dataclass(frozen=True)
class Trivial(Representation):
    """The trivial representation ρ(g) = I on R^d (d invariant scalars)."""

    group: Group
    multiplicity: int = 1

    def __post_init__(self):
        _check_dim(self.multiplicity, "the dimension of a trivial representation")

    @property
    def dim(self) -> int:
        return self.multiplicity

    @property
    def is_trivial(self) -> bool:
        return True

    def matrix(self, g: GroupElement) -> torch.Tensor:
        self._check_element(g)
        return torch.eye(self.dim, dtype=torch.float64)

    def permutation(self, g: GroupElement) -> torch.Tensor:
        self._check_element(g)
        return torch.arange(self.dim)

    def act(self, g: GroupElement, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        self._check_element(g)
        return vectors

    def lie_algebra(self) -> torch.Tensor:
        return torch.zeros(self.group.lie_algebra_dimension, self.dim, self.dim, dtype=torch.float64)

    def summands(self) -> tuple[Representation, ...]:
        return (Trivial(self.group),) * self.dim

    def __repr__(self) -> str:
        return "trivial" if self.dim == 1 else f"{self.dim}×trivial"


@dataclasses.dataclass(frozen=True, eq=False)
class MatrixRepresentation(Representation):
    """A representation given by a function g ↦ ρ(g) (and, for Lie groups, the matrices dρ(X_a)).

    Compared by identity. Check a hand-written one with :func:`check_representation` before solving with it.

    Args:
        group: the group G.
        dimension: d.
        function: ``g ↦ ρ(g)``, a ``[d, d]`` tensor.
        lie_algebra_matrices: dρ on the group's Lie-algebra basis ``[k, d, d]`` (Lie groups only).
        name: shown in ``repr`` and in error messages.
    """

    group: Group
    dimension: int
    function: Callable[[GroupElement], Any]
    lie_algebra_matrices: torch.Tensor | None = None
    name: str = "ρ"

    def __post_init__(self):
        _check_dim(self.dimension, "the dimension of a MatrixRepresentation")
        k = self.group.lie_algebra_dimension
        if self.lie_algebra_matrices is not None:
            matrices = torch.as_tensor(self.lie_algebra_matrices, dtype=torch.float64)
            if tuple(matrices.shape) != (k, self.dim, self.dim):
                raise ValueError(f"{self.name}: the Lie algebra of {self.group!r} needs dρ of shape "
                                 f"[{k}, {self.dim}, {self.dim}], got {list(matrices.shape)}")
            object.__setattr__(self, "lie_algebra_matrices", matrices)

    def matrix(self, g: GroupElement) -> torch.Tensor:
        self._check_element(g)
        value = torch.as_tensor(self.function(g), dtype=torch.float64)
        if tuple(value.shape) != (self.dim, self.dim):
            raise ValueError(f"{self.name}(g) must be a [{self.dim}, {self.dim}] matrix, got shape {list(value.shape)} "
                             f"for g = {g!r}")
        return value

    def lie_algebra(self) -> torch.Tensor:
        if self.lie_algebra_matrices is not None:
            return self.lie_algebra_matrices
        return super().lie_algebra()

    @property
    def dim(self) -> int:
        return self.dimension

    def __repr__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class DirectSum(Representation):
    r"""ρ₁ ⊕ … ⊕ ρ_k: block-diagonal matrices on V₁ ⊕ … ⊕ V_k (build it with ``+``)."""

    parts: tuple[Representation, ...]

    def __post_init__(self):
        flat: list[Representation] = []
        for part in self.parts:
            flat.extend(part.summands() if isinstance(part, Representation) else (part,))
        if not flat:
            raise ValueError("a direct sum needs at least one summand")
        _common_group(flat, "a direct sum")
        object.__setattr__(self, "parts", tuple(flat))
        object.__setattr__(self, "_dim", sum(part.dim for part in flat))  # not a field: eq and hash ignore it

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.parts[0].group

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def is_trivial(self) -> bool:
        return all(part.is_trivial for part in self.parts)

    @property
    def offsets(self) -> list[int]:
        """Start index of each summand in V."""
        return [0] + list(itertools.accumulate(part.dim for part in self.parts))[:-1]

    def summands(self) -> tuple[Representation, ...]:
        return self.parts

    def matrix(self, g: GroupElement) -> torch.Tensor:
        return torch.block_diag(*(part.matrix(g) for part in self.parts))

    def lie_algebra(self) -> torch.Tensor:
        blocks = [part.lie_algebra() for part in self.parts]
        return torch.stack([torch.block_diag(*(b[a] for b in blocks)) for a in range(self.group.lie_algebra_dimension)]) \
            if self.group.lie_algebra_dimension else super().lie_algebra()

    def permutation(self, g: GroupElement) -> torch.Tensor | None:
        pieces = []
        for offset, part in zip(self.offsets, self.parts):
            perm = part.permutation(g)
            if perm is None:
                return None
            pieces.append(perm + offset)
        return torch.cat(pieces)

    def act(self, g: GroupElement, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        chunks = vectors.split([part.dim for part in self.parts])
        return torch.cat([part.act(g, chunk, transpose) for part, chunk in zip(self.parts, chunks)])

    def act_lie(self, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        chunks = vectors.split([part.dim for part in self.parts])
        return torch.cat([part.act_lie(chunk, transpose) for part, chunk in zip(self.parts, chunks)], dim=1)

    def __repr__(self) -> str:
        counted: list[tuple[Representation, int]] = []
        for part in self.parts:
            if counted and counted[-1][0] == part:
                counted[-1] = (part, counted[-1][1] + 1)
            else:
                counted.append((part, 1))
        return " ⊕ ".join(f"{n}×{p!r}" if n > 1 else repr(p) for p, n in counted)


def _kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.kron(a.contiguous(), b.contiguous())


@dataclasses.dataclass(frozen=True)
class TensorProduct(Representation):
    r"""ρ₁ ⊗ … ⊗ ρ_k on V₁ ⊗ … ⊗ V_k (row-major: the last factor's index varies fastest; build it with ``*``).

    dρ(X) = Σ_i I ⊗ … ⊗ dρ_i(X) ⊗ … ⊗ I. :meth:`act` applies the factors one axis at a time, so a tensor power of a
    d-dimensional representation acts on [d^k, m] vectors in O(k d^{k+1} m) without forming a d^k × d^k matrix.
    """

    factors: tuple[Representation, ...]

    def __post_init__(self):
        flat: list[Representation] = []
        for factor in self.factors:
            flat.extend(factor.factors if isinstance(factor, TensorProduct) else (factor,))
        if len(flat) < 2:
            raise ValueError(f"a tensor product needs at least two factors, got {len(flat)}")
        _common_group(flat, "a tensor product")
        object.__setattr__(self, "factors", tuple(flat))
        object.__setattr__(self, "_dim", math.prod(f.dim for f in flat))  # not a field: eq and hash ignore it

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.factors[0].group

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def is_trivial(self) -> bool:
        return all(f.is_trivial for f in self.factors)

    def matrix(self, g: GroupElement) -> torch.Tensor:
        return functools.reduce(_kron, [f.matrix(g) for f in self.factors])

    def lie_algebra(self) -> torch.Tensor:
        k = self.group.lie_algebra_dimension
        if k == 0:
            return super().lie_algebra()
        eyes = [torch.eye(f.dim, dtype=torch.float64) for f in self.factors]
        total = torch.zeros(k, self.dim, self.dim, dtype=torch.float64)
        for i, factor in enumerate(self.factors):
            algebra = factor.lie_algebra()
            for a in range(k):
                total[a] += functools.reduce(_kron, eyes[:i] + [algebra[a]] + eyes[i + 1:])
        return total

    def permutation(self, g: GroupElement) -> torch.Tensor | None:
        perms = [f.permutation(g) for f in self.factors]
        if any(p is None for p in perms):
            return None
        index = torch.zeros(1, dtype=torch.long)
        for factor, perm in zip(self.factors, perms):
            index = (index[:, None] * factor.dim + perm[None, :]).reshape(-1)
        return index

    def _apply_factorwise(self, vectors: torch.Tensor, apply: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        dims = [f.dim for f in self.factors]
        columns = vectors.shape[-1]
        tensor = vectors.reshape(*dims, columns)
        for axis in range(len(dims)):
            moved = tensor.movedim(axis, 0)
            shape = moved.shape
            moved = apply(axis, moved.reshape(shape[0], -1)).reshape(shape)
            tensor = moved.movedim(0, axis)
        return tensor.reshape(self.dim, columns)

    def act(self, g: GroupElement, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        return self._apply_factorwise(vectors, lambda axis, v: self.factors[axis].act(g, v, transpose))

    def act_lie(self, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        k = self.group.lie_algebra_dimension
        dims = [f.dim for f in self.factors]
        columns = vectors.shape[-1]
        total = torch.zeros(k, self.dim, columns, dtype=vectors.dtype)
        tensor = vectors.reshape(*dims, columns)
        for axis, factor in enumerate(self.factors):
            moved = tensor.movedim(axis, 0)
            shape = moved.shape
            acted = factor.act_lie(moved.reshape(shape[0], -1), transpose)  # [k, d_axis, rest]
            acted = acted.reshape(k, *shape).movedim(1, axis + 1)
            total += acted.reshape(k, self.dim, columns)
        return total

    def __repr__(self) -> str:
        parts = []
        for factor in self.factors:
            text = repr(factor)
            parts.append(f"({text})" if " " in text else text)
        return " ⊗ ".join(parts)


@dataclasses.dataclass(frozen=True)
class Dual(Representation):
    r"""ρ*(g) = ρ(g⁻¹)ᵀ on V* (linear forms), with dρ*(X) = −dρ(X)ᵀ; equal to ρ for orthogonal ρ."""

    base: Representation

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.base.group

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def is_trivial(self) -> bool:
        return self.base.is_trivial

    def matrix(self, g: GroupElement) -> torch.Tensor:
        return self.base.matrix(self.group.inverse(self._check_element(g))).T.contiguous()

    def lie_algebra(self) -> torch.Tensor:
        return -self.base.lie_algebra().transpose(1, 2).contiguous()

    def act(self, g: GroupElement, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        return self.base.act(self.group.inverse(self._check_element(g)), vectors, not transpose)

    def act_lie(self, vectors: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        return -self.base.act_lie(vectors, not transpose)

    def dual(self) -> Representation:
        return self.base

    def __repr__(self) -> str:
        text = repr(self.base)
        return f"({text})*" if " " in text else f"{text}*"


@dataclasses.dataclass(frozen=True)
class Restriction(Representation):
    """ρ restricted to a subgroup H ⊆ G: the same matrices, on H's elements only."""

    base: Representation
    subgroup: Group

    def __post_init__(self):
        if not self.subgroup.is_subgroup_of(self.base.group):
            raise TypeError(f"cannot restrict {self.base!r} to {self.subgroup!r}: it is not a subgroup of "
                            f"{self.base.group!r}")
        if self.subgroup.lie_algebra_dimension not in (0, self.base.group.lie_algebra_dimension):
            raise TypeError(f"restricting {self.base!r} from {self.base.group!r} to {self.subgroup!r} would need a "
                            "map between their Lie algebras; build the representation of the subgroup directly")

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.subgroup

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def is_trivial(self) -> bool:
        return self.base.is_trivial

    def matrix(self, g: GroupElement) -> torch.Tensor:
        return self.base.matrix(self._check_element(g))

    def lie_algebra(self) -> torch.Tensor:
        return self.base.lie_algebra() if self.subgroup.lie_algebra_dimension else super().lie_algebra()

    def __repr__(self) -> str:
        return f"Res({self.base!r} → {self.subgroup!r})"


def tensor_power(rep: Representation, p: int, q: int = 0) -> Representation:
    r"""T(p, q) = V^{⊗p} ⊗ (V^*)^{⊗q}: p-contravariant, q-covariant tensors (T(0, 0) is the trivial representation)."""
    for value, name in ((p, "p"), (q, "q")):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"tensor_power needs non-negative integers p, q, got {name}={value!r}")
    factors = (rep,) * p + (rep.dual(),) * q
    if not factors:
        return Trivial(rep.group)
    return factors[0] if len(factors) == 1 else TensorProduct(factors)


def check_representation(rep: Representation, elements: Sequence[GroupElement] | None = None, *,
                         tolerance: float = 1e-9, samples: int = 8, seed: int = 0) -> None:
    r"""Raise ``ValueError`` unless ρ is a representation: ρ(e) = I and ρ(gh) = ρ(g)ρ(h) on the given elements, or
    on the discrete generators and ``samples`` random draws, all pairs (relative error ≤ ``tolerance``).

    For Lie groups it also checks that dρ has the shape the group's Lie algebra needs.
    """
    if not isinstance(rep, Representation):
        raise TypeError(f"check_representation takes a Representation, got {type(rep).__name__}")
    group = rep.group
    if elements is None:
        generator = torch.Generator().manual_seed(seed)
        elements = list(group.discrete_generators()) + list(group.sample(samples, generator))
    identity = rep.matrix(group.identity())
    eye = torch.eye(rep.dim, dtype=torch.float64)
    if not torch.allclose(identity, eye, rtol=0, atol=tolerance):
        raise ValueError(f"{rep!r} is not a representation: ρ(e) should be the identity, got max |ρ(e) − I| = "
                         f"{float((identity - eye).abs().max()):.3g}")
    matrices = [rep.matrix(g) for g in elements]
    for g, a in zip(elements, matrices):
        for h, b in zip(elements, matrices):
            product = rep.matrix(group.compose(g, h))
            error = float((product - a @ b).abs().max()) / max(1.0, float(product.abs().max()))
            if error > tolerance:
                hint = ""
                if isinstance(rep, MatrixRepresentation):
                    raw = rep.function(g)
                    if isinstance(raw, torch.Tensor) and raw.dtype != torch.float64:
                        hint = (f"; the function returns {raw.dtype} matrices, whose round-off alone exceeds the "
                                "tolerance: compute ρ(g) in float64")
                raise ValueError(f"{rep!r} is not a representation of {group!r}: ρ(gh) ≠ ρ(g)ρ(h) for g = {g!r}, "
                                 f"h = {h!r} (relative error {error:.3g} > {tolerance:g}){hint}")
    algebra = rep.lie_algebra()
    if tuple(algebra.shape) != (group.lie_algebra_dimension, rep.dim, rep.dim):
        raise ValueError(f"{rep!r}: dρ should have shape [{group.lie_algebra_dimension}, {rep.dim}, {rep.dim}], "
                         f"got {list(algebra.shape)}")


def character_inner_product(rep_a: Representation, rep_b: Representation) -> float:
    r"""⟨χ_a, χ_b⟩ = (1/|G|) Σ_g χ_a(g) χ_b(g) for a finite group: dim Hom_G(ρ_a, ρ_b) for real representations."""
    group = _common_group([rep_a, rep_b], "character_inner_product")
    elements = group.elements()
    return sum(rep_a.character(g) * rep_b.character(g) for g in elements) / len(elements)
