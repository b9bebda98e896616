"""The translation group of a grid and the fields it acts on (book §4.2).

Signals on a periodic grid Ω = Z_H × Z_W (a torus) are tensors
``x ∈ R^{B × C × H × W}``; the shift by t = (t_y, t_x) acts as

    (ρ(t) x)[b, c, i, j] = x[b, c, i − t_y mod H, j − t_x mod W],

which is ``torch.roll(x, t, dims=(-2, -1))``. Convolutions with circular
padding commute with every shift exactly. Pooling with stride k keeps only the
shifts by multiples of k: the output field is sampled on a coarser lattice and
a shift by t moves it by t / k, which is defined only when k divides t. gdl
records this in the field's ``stride`` and in the group's ``step``: the group
``Translations(step=s)`` is the sublattice sZ^d.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from gdl.core import FieldType, Group, GroupElement
from gdl.core.checks import check_int
from gdl.core.group import as_long_vector

__all__ = ["Translations", "GridField", "spatial_shape_name", "shift_each"]


@dataclasses.dataclass(frozen=True)
class Translations(Group):
    """The lattice of shifts ``step · Z^ndim`` acting on periodic grids.

    Args:
        ndim: number of spatial axes (1, 2 or 3).
        step: shifts are integer multiples of ``step`` (``step=1``: all of Z^ndim).
        sample_radius: :meth:`sample` draws ``step · k`` with ``k`` uniform in
            ``{−r, …, r}^ndim``; not part of the group's identity.

    Example:
        >>> G = Translations(ndim=2)
        >>> t = G.element((1, -2))
        >>> (t * t.inverse()) == G.identity()
        True
    """

    ndim: int = 2
    step: int = 1
    sample_radius: int = dataclasses.field(default=8, compare=False, repr=False)

    def __post_init__(self):
        if isinstance(self.ndim, bool) or self.ndim not in (1, 2, 3):
            raise ValueError(f"Translations supports ndim 1, 2 or 3, got {self.ndim!r}")
        check_int(self.step, "step")

    def element(self, shift: Any) -> GroupElement:
        """The shift by ``shift`` (``ndim`` integers, each a multiple of ``step``)."""
        vector = as_long_vector(shift, self.ndim, "a shift")
        if bool((vector % self.step != 0).any()):
            raise ValueError(f"{self!r} contains only shifts by multiples of {self.step}, got {vector.tolist()}")
        return self._element(vector)

    def identity(self) -> GroupElement:
        return self._element(torch.zeros(self.ndim, dtype=torch.long))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        return self._element(self.check(a).data + self.check(b).data)

    def inverse(self, a: GroupElement) -> GroupElement:
        return self._element(-self.check(a).data)

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        r = self.sample_radius
        k = torch.randint(-r, r + 1, (n, self.ndim), generator=generator)
        return [self._element(row * self.step) for row in k]

    def describe(self, g: GroupElement) -> str:
        return "shift=(" + ", ".join(str(int(v)) for v in g.data) + ")"

    def contains(self, g: object) -> bool:
        return (isinstance(g, GroupElement) and isinstance(g.group, Translations) and g.group.ndim == self.ndim
                and isinstance(g.data, torch.Tensor) and g.data.shape == (self.ndim,)
                and bool((g.data % self.step == 0).all()))

    def is_subgroup_of(self, other: Group) -> bool:
        return isinstance(other, Translations) and other.ndim == self.ndim and self.step % other.step == 0

    def intersection(self, other: Group) -> Group:
        if isinstance(other, Translations) and other.ndim == self.ndim:
            return Translations(self.ndim, math.lcm(self.step, other.step), self.sample_radius)
        return super().intersection(other)


def spatial_shape_name(ndim: int, channels: int | str = "C") -> str:
    """``[B, C, H, W]``-style name of a grid tensor shape, for docs and errors."""
    axes = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}[ndim]
    return "[" + ", ".join(["B", str(channels), *axes]) + "]"


@dataclasses.dataclass(frozen=True)
class GridField(FieldType):
    """``C`` channels on a periodic grid: tensors ``[B, C, H, W]`` (or ``[B, C, L]``, ``[B, C, D, H, W]``).

    Args:
        channels: number of channels C.
        ndim: number of spatial axes.
        stride: the grid's sample spacing in units of the network's input grid
            (1 for the input, k after one k-strided pooling). A shift by t input
            pixels moves this field by t / stride of its own pixels.
        group: the translations acting; defaults to ``Translations(ndim, step=stride)``,
            and must consist of multiples of ``stride``.
    """

    channels: int
    ndim: int = 2
    stride: int = 1
    group: Group = None  # type: ignore[assignment]
    supports_pointwise = True

    def __post_init__(self):
        check_int(self.channels, "channels")
        check_int(self.stride, "stride")
        if self.group is None:
            object.__setattr__(self, "group", Translations(self.ndim, step=self.stride))
        if not isinstance(self.group, Translations) or self.group.ndim != self.ndim:
            raise TypeError(f"a GridField with ndim={self.ndim} is acted on by Translations(ndim={self.ndim}), "
                            f"got {self.group!r}")
        if self.group.step % self.stride != 0:
            raise ValueError(f"a field sampled with stride {self.stride} admits only shifts by multiples of "
                             f"{self.stride}, but the group has step {self.group.step}")

    @property
    def spatial_dims(self) -> tuple[int, ...]:
        return tuple(range(2, 2 + self.ndim))

    def validate(self, value: Any) -> None:
        expected = spatial_shape_name(self.ndim, self.channels)
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a tensor {expected}, got {type(value).__name__}")
        if value.dim() != self.ndim + 2:
            raise ValueError(f"{type(self).__name__} expects a tensor {expected} of rank {self.ndim + 2}, "
                             f"got rank {value.dim()} with shape {list(value.shape)}")
        if value.shape[1] != self.channels:
            raise ValueError(f"{type(self).__name__} expects {self.channels} channels ({expected}), "
                             f"got {value.shape[1]} in shape {list(value.shape)}")
        if not value.is_floating_point():
            raise TypeError(f"{type(self).__name__} expects a floating-point tensor, got {value.dtype}")

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        """Roll the spatial axes by ``g.data / stride`` (periodic boundary)."""
        self.group.check(g)
        self.validate(value)
        shifts = tuple(int(t) // self.stride for t in g.data)
        return torch.roll(value, shifts=shifts, dims=self.spatial_dims)


def shift_each(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Cyclically shift every item of a batch by its own vector: ``out[n] = roll(x[n], shifts[n])``.

    Args:
        x: ``[N, C, *spatial]`` grid tensor.
        shifts: ``[N, ndim]`` integer shifts (ndim = number of spatial axes).

    Returns:
        ``[N, C, *spatial]``, computed with one ``gather`` per spatial axis.
    """
    ndim = x.dim() - 2
    if shifts.shape != (x.shape[0], ndim):
        raise ValueError(f"shifts must have shape [{x.shape[0]}, {ndim}] for x of shape {list(x.shape)}, "
                         f"got {list(shifts.shape)}")
    for axis in range(ndim):
        dim, size = 2 + axis, x.shape[2 + axis]
        source = (torch.arange(size, device=x.device) - shifts[:, axis : axis + 1].to(x.device)) % size  # [N, size]
        view = [x.shape[0]] + [1] * (x.dim() - 1)
        view[dim] = size
        x = torch.gather(x, dim, source.view(view).expand_as(x))
    return x
