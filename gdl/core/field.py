"""Field types: what a value is and how a group element acts on it.

A field type pairs a group G with an *action* ρ: for every g ∈ G and every
valid value x it computes ``transform(x, g) = ρ(g) x``. A layer f with input
type (G, ρ_in) and output type (G, ρ_out) is G-equivariant when

    f(ρ_in(g) x) = ρ_out(g) f(x)        for all g ∈ G, x        (book eq. 3)

and G-invariant when ρ_out is the trivial action (ρ_out(g) = id).

Values are whatever the domain naturally uses: a ``[B, C, H, W]`` tensor for
images, a torch-geometric ``Data`` for graphs, a tuple of tensors for several
arguments. Field types never wrap the value; they only know how to validate it
and how to move it by a group element.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import torch

from .group import Group, GroupElement, ProductGroup

__all__ = ["FieldType", "TrivialField", "TupleField", "ProductField", "RecordField"]


class FieldType(abc.ABC):
    """The type of a layer's input or output: a group and how it acts.

    Subclasses are frozen dataclasses with a ``group`` field, so that two
    equal descriptions compare equal (which is how :class:`~gdl.core.Blueprint`
    checks that consecutive layers fit together).
    """

    group: Group
    #: whether a pointwise nonlinearity σ commutes with the action (true for
    #: permutation-type actions: shifts, regular representations, invariants)
    supports_pointwise: bool = False

    @abc.abstractmethod
    def transform(self, value: Any, g: GroupElement) -> Any:
        """Return ``ρ(g) value``; ``g`` must belong to :attr:`group`."""

    @abc.abstractmethod
    def validate(self, value: Any) -> None:
        """Raise ``ValueError``/``TypeError`` naming what was expected and what was given."""

    def restrict(self, subgroup: Group) -> "FieldType":
        """The same action, seen as an action of a subgroup H ⊆ G."""
        if not subgroup.is_subgroup_of(self.group):
            raise TypeError(f"cannot restrict {self!r} to {subgroup!r}: it is not a subgroup of {self.group!r}")
        return dataclasses.replace(self, group=subgroup)  # type: ignore[type-var]


def _check_tensor(value: Any, field: FieldType) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{field!r} expects a torch.Tensor, got {type(value).__name__}")
    return value


@dataclasses.dataclass(frozen=True)
class TrivialField(FieldType):
    """Invariant values ``[..., C]``: every g acts as the identity.

    Args:
        group: the group (whose action here does nothing).
        channels: size of the last axis, or ``None`` to accept any.
    """

    group: Group
    channels: int | None = None
    supports_pointwise = True

    def transform(self, value: Any, g: GroupElement) -> Any:
        self.group.check(g)
        return value

    def validate(self, value: Any) -> None:
        value = _check_tensor(value, self)
        if self.channels is not None and (value.dim() == 0 or value.shape[-1] != self.channels):
            raise ValueError(f"{self!r} expects a tensor [..., {self.channels}], got shape {list(value.shape)}")


@dataclasses.dataclass(frozen=True)
class TupleField(FieldType):
    """Several values (a layer's positional arguments), moved by the same g.

    ``TupleField((NodeField(...), EdgeIndexField(...)))`` describes ``f(x, edge_index)``.
    """

    fields: tuple[FieldType, ...]

    def __post_init__(self):
        if not self.fields:
            raise ValueError("TupleField needs at least one field")
        groups = {f.group for f in self.fields}
        if len(groups) != 1:
            raise TypeError(f"all components of a TupleField must share one group, got {sorted(map(repr, groups))}")

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.fields[0].group

    def transform(self, value: Any, g: GroupElement) -> tuple:
        self.validate(value)
        return tuple(f.transform(v, g) for f, v in zip(self.fields, value))

    def validate(self, value: Any) -> None:
        if not isinstance(value, (tuple, list)) or len(value) != len(self.fields):
            given = f"{type(value).__name__} of length {len(value)}" if isinstance(value, (tuple, list)) else type(value).__name__
            raise TypeError(f"{self!r} expects a tuple of {len(self.fields)} values, got {given}")
        for f, v in zip(self.fields, value):
            f.validate(v)

    def restrict(self, subgroup: Group) -> "TupleField":
        return TupleField(tuple(f.restrict(subgroup) for f in self.fields))


@dataclasses.dataclass(frozen=True)
class ProductField(FieldType):
    """One value acted on by a product group G₁ × … × G_k, one factor at a time.

    ``ProductField((perm_field, rotation_field))`` moves a point cloud by
    ``(σ, R)``: first the permutation σ of the points, then the rotation R.
    The factors' actions must commute (act on different axes of the value), so
    that the result is an action of the product; this is the composition of
    symmetries that EGNN-style layers need (permutations × E(n)).
    """

    fields: tuple[FieldType, ...]

    def __post_init__(self):
        if len(self.fields) < 2:
            raise ValueError(f"ProductField needs at least two fields, got {len(self.fields)}")

    @property
    def group(self) -> ProductGroup:  # type: ignore[override]
        return ProductGroup(tuple(f.group for f in self.fields))

    @property
    def supports_pointwise(self) -> bool:  # type: ignore[override]
        return all(f.supports_pointwise for f in self.fields)

    def transform(self, value: Any, g: GroupElement) -> Any:
        self.group.check(g)
        for field, component in zip(self.fields, g.data):
            value = field.transform(value, component)
        return value

    def validate(self, value: Any) -> None:
        for field in self.fields:
            field.validate(value)

    def restrict(self, subgroup: Group) -> "ProductField":
        if not isinstance(subgroup, ProductGroup) or len(subgroup.factors) != len(self.fields):
            raise TypeError(f"cannot restrict {self!r} to {subgroup!r}: expected a product of {len(self.fields)} groups")
        return ProductField(tuple(f.restrict(h) for f, h in zip(self.fields, subgroup.factors)))


@dataclasses.dataclass(frozen=True)
class RecordField(FieldType):
    """A record of named values (a dict, or an object such as a torch-geometric ``Data``), each with its own action.

    ``RecordField({"pos": PointField(E3), "vel": VectorField(E3)})`` moves a
    ``Data`` by rotating and translating ``data.pos`` and rotating ``data.vel``;
    entries that are not named are invariant and left as they are. The value is
    copied (``.clone()`` for objects, a new dict for dicts), never modified.

    Args:
        fields: a mapping from entry name to field type; all share one group.
    """

    fields: tuple[tuple[str, FieldType], ...]

    def __init__(self, fields):
        items = tuple(sorted(dict(fields).items()))
        if not items:
            raise ValueError("RecordField needs at least one named field")
        groups = {field.group for _, field in items}
        if len(groups) != 1:
            raise TypeError(f"all entries of a RecordField must share one group, got {sorted(map(repr, groups))}")
        object.__setattr__(self, "fields", items)

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.fields[0][1].group

    @staticmethod
    def _get(value: Any, key: str) -> Any:
        return value.get(key) if isinstance(value, dict) else getattr(value, key, None)

    def validate(self, value: Any) -> None:
        for key, field in self.fields:
            entry = self._get(value, key)
            if entry is None:
                raise ValueError(f"{type(self).__name__} expects an entry {key!r}, which the given "
                                 f"{type(value).__name__} does not have")
            field.validate(entry)

    def transform(self, value: Any, g: GroupElement) -> Any:
        self.group.check(g)
        self.validate(value)
        moved = dict(value) if isinstance(value, dict) else value.clone()
        for key, field in self.fields:
            entry = field.transform(self._get(value, key), g)
            if isinstance(moved, dict):
                moved[key] = entry
            else:
                setattr(moved, key, entry)
        return moved

    def restrict(self, subgroup: Group) -> "RecordField":
        return RecordField({key: field.restrict(subgroup) for key, field in self.fields})
