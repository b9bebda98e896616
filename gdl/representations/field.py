r"""Field types whose action is a representation: :math:`x \mapsto \rho(g)\, x` on the last axis."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from gdl.core import FieldType, Group, GroupElement

from .base import Representation, Restriction

__all__ = ["RepresentationField"]


@dataclasses.dataclass(frozen=True)
class RepresentationField(FieldType):
    r"""Values ``[..., d]`` on which g acts by ρ(g) on the last axis: :math:`x' = x\, \rho(g)^\top`.

    Args:
        rep: the representation ρ (its group is the field's group).

    Example:
        >>> from gdl.symmetries import Orthogonal
        >>> from gdl.representations import StandardRepresentation
        >>> field = RepresentationField(StandardRepresentation(Orthogonal(3)) * 2)
        >>> field.dim, field.group
        (6, O(3))
    """

    rep: Representation

    def __post_init__(self):
        if not isinstance(self.rep, Representation):
            raise TypeError(f"RepresentationField needs a Representation, got {type(self.rep).__name__}")
        object.__setattr__(self, "_dim", self.rep.dim)  # not a field: eq and hash ignore it

    @property
    def group(self) -> Group:  # type: ignore[override]
        return self.rep.group

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def supports_pointwise(self) -> bool:  # type: ignore[override]
        return self.rep.is_trivial

    def validate(self, value: Any) -> None:
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{self!r} expects a torch.Tensor, got {type(value).__name__}")
        if not value.is_floating_point():
            raise TypeError(f"{self!r} expects a floating tensor, got dtype {value.dtype}")
        if value.dim() == 0 or value.shape[-1] != self.dim:
            raise ValueError(f"{self!r} expects a tensor [..., {self.dim}] (the dimension of {self.rep!r}), got shape "
                             f"{list(value.shape)}")

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        self.group.check(g)
        self.validate(value)
        matrix = self.rep.matrix(g).to(device=value.device, dtype=value.dtype)
        return value @ matrix.T

    def restrict(self, subgroup: Group) -> "RepresentationField":
        if subgroup == self.group:
            return self
        return RepresentationField(Restriction(self.rep, subgroup))

    def __repr__(self) -> str:
        return f"RepresentationField({self.rep!r} of {self.group!r})"
