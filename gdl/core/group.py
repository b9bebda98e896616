"""Groups: the symmetries a layer respects (book §3.1).

A :class:`Group` is a set with an associative composition ``a · b``, an
identity ``e`` and inverses ``a⁻¹``. In gdl a group is a small immutable
description (``Translations(ndim=2)``, later ``CyclicGroup(4)``, ``SO3()``)
and its elements are :class:`GroupElement` objects that remember the group they
were made in, so that handing a layer an element of the wrong group is caught
with a clear ``TypeError`` instead of producing a silently wrong answer.

How an element *acts* on data is not the group's business: that is what field
types (:mod:`gdl.core.field`) describe. The same rotation acts on positions,
on vector features and on images in different ways.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch

__all__ = ["Group", "GroupElement", "ProductGroup", "tensors_equal"]


def tensors_equal(a: Any, b: Any) -> bool:
    """Exact structural equality of nested tuples/lists of tensors and numbers."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a, b.to(a.dtype)))
    if isinstance(a, GroupElement) and isinstance(b, GroupElement):
        return a == b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(tensors_equal(x, y) for x, y in zip(a, b))
    return a == b


class GroupElement:
    """One element ``g`` of a :class:`Group`.

    Args:
        group: the group ``g`` was made in (it validates and composes ``g``).
        data: the group's own parameterisation of ``g``: an integer shift vector
            for translations, a rotation matrix for SO(3), a tuple of elements
            for a product group. Treat it as read-only.

    ``a * b`` composes (``a`` after ``b``), ``a.inverse()`` inverts and ``==``
    compares exactly.
    """

    __slots__ = ("group", "data")

    def __init__(self, group: "Group", data: Any):
        self.group = group
        self.data = data

    def __mul__(self, other: "GroupElement") -> "GroupElement":
        return self.group.compose(self, other)

    def inverse(self) -> "GroupElement":
        return self.group.inverse(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroupElement):
            return NotImplemented
        return self.group.contains(other) and self.group.equal(self, other)

    __hash__ = None  # mutable tensor payloads: elements are not dictionary keys

    def __repr__(self) -> str:
        return f"{self.group!r}.element({self.group.describe(self)})"


class Group(abc.ABC):
    """A symmetry group G.

    Subclasses are frozen dataclasses (so two descriptions of the same group
    compare equal) and implement :meth:`identity`, :meth:`compose`,
    :meth:`inverse`, :meth:`sample` and, for finite groups, :meth:`elements`.
    """

    #: number of elements, ``None`` for infinite groups
    order: int | None = None

    # -- the group law ---------------------------------------------------------
    @abc.abstractmethod
    def identity(self) -> GroupElement:
        """The neutral element ``e`` with ``e · g = g · e = g``."""

    @abc.abstractmethod
    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        """The product ``a · b`` (apply ``b`` first, then ``a``)."""

    @abc.abstractmethod
    def inverse(self, a: GroupElement) -> GroupElement:
        """The element ``a⁻¹`` with ``a · a⁻¹ = e``."""

    @abc.abstractmethod
    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        """``n`` elements drawn at random (reproducibly when ``generator`` is seeded).

        For compact groups the draw is from the Haar measure; for infinite
        discrete groups (translations of Z^d) the subclass documents its range.
        """

    def component_representatives(self) -> list[GroupElement]:
        """One element from each connected component other than the identity's (reflections, parity, flips).

        A random draw from a group with several components may miss some of them; the equivariance harness always
        adds these elements to its sample, so that a layer that is only SO(n)- but not O(n)-equivariant fails.
        The default (connected groups, and finite groups, which the harness enumerates) is an empty list.
        """
        return []

    def elements(self) -> list[GroupElement]:
        """Every element, for finite groups; infinite groups raise ``TypeError``."""
        raise TypeError(f"{self!r} is infinite (order {self.order}); it has no element list, use sample()")

    def equal(self, a: GroupElement, b: GroupElement) -> bool:
        """Whether two elements are the same; exact by default, within round-off for continuous groups."""
        return tensors_equal(a.data, b.data)

    def describe(self, g: GroupElement) -> str:
        """A short human-readable form of ``g.data`` (used in error messages)."""
        data = g.data
        if isinstance(data, torch.Tensor):
            return repr(data.tolist())
        return repr(data)

    # -- membership and subgroups -----------------------------------------------
    def contains(self, g: object) -> bool:
        """Whether ``g`` is an element of this group (or of an equal group)."""
        return isinstance(g, GroupElement) and g.group == self

    def check(self, g: object) -> GroupElement:
        """Return ``g`` if it belongs to this group, else raise ``TypeError``."""
        if not self.contains(g):
            given = repr(g) if isinstance(g, GroupElement) else f"an object of type {type(g).__name__}"
            raise TypeError(f"expected an element of {self!r}, got {given}")
        return g  # type: ignore[return-value]

    def is_subgroup_of(self, other: "Group") -> bool:
        """``self ⊆ other``. The default knows only ``self == other``."""
        return self == other

    def intersection(self, other: "Group") -> "Group":
        """The largest group contained in both (the symmetry two layers share).

        The default handles equal groups and nested ones; subclasses with a
        lattice of subgroups (translations by multiples of a step) override it.
        """
        if self.is_subgroup_of(other):
            return self
        if other.is_subgroup_of(self):
            return other
        raise TypeError(f"{self!r} and {other!r} share no common subgroup that gdl knows of; "
                        "layers composed in one network must respect a common group")

    # -- helpers for subclasses -------------------------------------------------
    def _element(self, data: Any) -> GroupElement:
        return GroupElement(self, data)

    def __mul__(self, other: "Group") -> "ProductGroup":
        """``G * H`` is the direct product ``G × H``."""
        if not isinstance(other, Group):
            return NotImplemented
        return ProductGroup((self, other))


@dataclasses.dataclass(frozen=True)
class ProductGroup(Group):
    """The direct product G₁ × … × G_k: elements are tuples ``(g₁, …, g_k)``.

    Used when a layer respects several symmetries that act independently, e.g.
    node permutations and rotations for an E(n)-equivariant GNN. The
    composition is componentwise: ``(a₁, a₂)·(b₁, b₂) = (a₁b₁, a₂b₂)``.
    """

    factors: tuple[Group, ...]

    def __post_init__(self):
        flat: list[Group] = []
        for factor in self.factors:
            if not isinstance(factor, Group):
                raise TypeError(f"ProductGroup factors must be Groups, got {type(factor).__name__}")
            flat.extend(factor.factors if isinstance(factor, ProductGroup) else (factor,))
        if len(flat) < 2:
            raise ValueError(f"a product needs at least two factors, got {len(flat)}")
        object.__setattr__(self, "factors", tuple(flat))

    @property
    def order(self) -> int | None:  # type: ignore[override]
        orders = [f.order for f in self.factors]
        return None if any(o is None for o in orders) else math.prod(orders)  # type: ignore[arg-type]

    def element(self, *components: GroupElement) -> GroupElement:
        """Build ``(g₁, …, g_k)`` from one element of each factor."""
        if len(components) != len(self.factors):
            raise ValueError(f"{self!r} needs {len(self.factors)} components, got {len(components)}")
        return self._element(tuple(f.check(g) for f, g in zip(self.factors, components)))

    def identity(self) -> GroupElement:
        return self._element(tuple(f.identity() for f in self.factors))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        a, b = self.check(a), self.check(b)
        return self._element(tuple(f.compose(x, y) for f, x, y in zip(self.factors, a.data, b.data)))

    def inverse(self, a: GroupElement) -> GroupElement:
        a = self.check(a)
        return self._element(tuple(f.inverse(x) for f, x in zip(self.factors, a.data)))

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        columns = [f.sample(n, generator) for f in self.factors]
        return [self._element(tuple(column[i] for column in columns)) for i in range(n)]

    def component_representatives(self) -> list[GroupElement]:
        """Each factor's representatives, paired with the identity of the other factors."""
        identities = [f.identity() for f in self.factors]
        return [self.element(*identities[:i], g, *identities[i + 1:])
                for i, factor in enumerate(self.factors) for g in factor.component_representatives()]

    def elements(self) -> list[GroupElement]:
        if self.order is None:
            return super().elements()
        tuples: list[tuple] = [()]
        for factor in self.factors:
            tuples = [t + (g,) for t in tuples for g in factor.elements()]
        return [self._element(t) for t in tuples]

    def equal(self, a: GroupElement, b: GroupElement) -> bool:
        return all(x == y for x, y in zip(a.data, b.data))

    def describe(self, g: GroupElement) -> str:
        return "(" + ", ".join(f.describe(x) for f, x in zip(self.factors, g.data)) + ")"

    def contains(self, g: object) -> bool:
        return (isinstance(g, GroupElement) and isinstance(g.group, ProductGroup)
                and isinstance(g.data, tuple) and len(g.data) == len(self.factors)
                and all(f.contains(x) for f, x in zip(self.factors, g.data)))

    def is_subgroup_of(self, other: Group) -> bool:
        return (isinstance(other, ProductGroup) and len(other.factors) == len(self.factors)
                and all(a.is_subgroup_of(b) for a, b in zip(self.factors, other.factors)))

    def intersection(self, other: Group) -> Group:
        if isinstance(other, ProductGroup) and len(other.factors) == len(self.factors):
            return ProductGroup(tuple(a.intersection(b) for a, b in zip(self.factors, other.factors)))
        return super().intersection(other)

    def __repr__(self) -> str:
        return " × ".join(repr(f) for f in self.factors)


def common_subgroup(groups: Iterable[Group]) -> Group:
    """The intersection of several groups (what a composition of layers respects)."""
    groups = list(groups)
    if not groups:
        raise ValueError("common_subgroup needs at least one group")
    result = groups[0]
    for group in groups[1:]:
        result = result.intersection(group)
    return result


def as_long_vector(values: Sequence[int] | torch.Tensor, length: int, what: str) -> torch.Tensor:
    """Coerce ``values`` to an int64 vector of the given length (for lattice elements)."""
    tensor = torch.as_tensor(values)
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex:
        if not torch.equal(tensor, tensor.round()):
            raise ValueError(f"{what} must be integers, got {tensor.tolist()}")
    tensor = tensor.to(torch.long).reshape(-1)
    if tensor.numel() != length:
        raise ValueError(f"{what} must have {length} entries, got {tensor.numel()}: {tensor.tolist()}")
    return tensor
