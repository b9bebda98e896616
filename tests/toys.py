"""A tiny finite group for testing the contract beyond grids: Z₂ acting on signals by sign flips.

A bias-free linear map commutes with x ↦ −x, a biased one does not; with the
grid shifts this gives a genuine product symmetry (Translations × Z₂) to test
:class:`gdl.core.ProductGroup` and :class:`gdl.core.ProductField` on.
"""

from __future__ import annotations

import dataclasses

import torch

from gdl.core import EquivariantModule, FieldType, Group, GroupElement, ProductField
from gdl.grids import PeriodicConv


@dataclasses.dataclass(frozen=True)
class SignFlip(Group):
    """Z₂ = {+1, −1} under multiplication."""

    order = 2

    def identity(self) -> GroupElement:
        return self._element(1)

    def compose(self, a, b):
        return self._element(self.check(a).data * self.check(b).data)

    def inverse(self, a):
        return self._element(self.check(a).data)

    def sample(self, n=1, generator=None):
        return [self._element(int(s)) for s in torch.randint(0, 2, (n,), generator=generator) * 2 - 1]

    def elements(self):
        return [self._element(1), self._element(-1)]


@dataclasses.dataclass(frozen=True)
class SignField(FieldType):
    """Any tensor, acted on by multiplication with ±1."""

    group: Group = SignFlip()

    def transform(self, value, g):
        self.group.check(g)
        return value * g.data

    def validate(self, value):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"SignField expects a tensor, got {type(value).__name__}")


class OddPeriodicConv(EquivariantModule, register=False):
    """A periodic conv declared equivariant to shifts × sign flips (true only without bias)."""

    def __init__(self, bias: bool):
        super().__init__()
        self.conv = PeriodicConv(2, 3, kernel_size=3, bias=bias)
        self.in_type = ProductField((self.conv.in_type, SignField()))
        self.out_type = ProductField((self.conv.out_type, SignField()))

    def forward(self, x):
        return self.conv(x)
