"""Local pooling P and global pooling A on periodic grids (book §3.5, §5.1).

Local pooling with window and stride k maps a field on the grid Ω to a field
on the coarser grid Ω' = kΩ. It is equivariant only to shifts by multiples of
k (ρ(kt) x ↦ ρ'(t) P x); shifting by one pixel changes which pixels share a
window, so the output is *not* a shifted copy: aliasing. Anti-aliased pooling
("blurmax", Zhang 2019, "Making Convolutional Networks Shift-Invariant
Again") blurs with a binomial low-pass filter before subsampling, which makes
the one-pixel error small but not zero; exactness still holds only on kZ^d.

Global pooling A averages (or maxes, or sums) over the whole grid and is
exactly invariant to every shift the input admits.
"""

from __future__ import annotations

from math import comb

import torch
import torch.nn.functional as F
from torch import nn

from gdl.core import EquivariantModule, TrivialField
from gdl.core.checks import check_choice, check_int

from .conv import as_grid_field, check_grid_extent
from .translations import GridField, Translations

__all__ = ["LocalPool", "GlobalPool", "binomial_filter"]


def binomial_filter(size: int, ndim: int, dtype=torch.float32) -> torch.Tensor:
    """Separable binomial low-pass filter of extent ``size`` (sums to 1), shape ``[size] * ndim``."""
    row = torch.tensor([comb(size - 1, i) for i in range(size)], dtype=dtype)
    kernel = row
    for _ in range(ndim - 1):
        kernel = kernel[..., None] * row
    return kernel / kernel.sum()


class LocalPool(EquivariantModule):
    r"""Pool non-overlapping k-windows: a field on Ω becomes a field on kΩ.

    .. math::
        (P x)[b, c, i] = \mathrm{pool}_{p \in \{0..k-1\}^d}\, x[b, c, k i + p],
        \qquad P(\rho(k t)\, x) = \rho'(t)\, P x

    Args:
        in_type: input :class:`GridField` or channel count.
        kernel_size: window and stride k.
        mode: ``"max"``, ``"avg"``, or ``"blurmax"`` (max over a k-window at
            stride 1, then a binomial blur of extent ``blur_size``, then
            subsampling by k; circular padding throughout).
        blur_size: extent of the binomial filter for ``"blurmax"``.
        ndim: spatial dimensions when ``in_type`` is an int.

    The layer's group is the input group restricted to shifts by multiples of
    ``k × in_type.stride`` input pixels.

    Shapes:
        ``[B, C, H, W]`` → ``[B, C, H / k, W / k]`` (H, W divisible by k).
    """

    MODES = ("max", "avg", "blurmax")

    def __init__(self, in_type: GridField | int, kernel_size: int = 2, mode: str = "max", *,
                 blur_size: int = 3, ndim: int = 2):
        super().__init__()
        in_type = as_grid_field(in_type, ndim)
        check_choice(mode, self.MODES, "mode")
        check_int(kernel_size, "kernel_size")
        check_int(blur_size, "blur_size")
        stride = in_type.stride * kernel_size
        group = in_type.group.intersection(Translations(in_type.ndim, step=stride))
        self.in_type = in_type.restrict(group)
        self.out_type = GridField(in_type.channels, in_type.ndim, stride, group)
        self.kernel_size, self.mode, self.blur_size = kernel_size, mode, blur_size
        if mode == "blurmax":
            blur = binomial_filter(blur_size, in_type.ndim)
            self.register_buffer("blur", blur.expand(in_type.channels, 1, *blur.shape).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        ndim, k = self.in_type.ndim, self.kernel_size
        sizes = tuple(x.shape[-ndim:])
        if any(s % k for s in sizes):
            raise ValueError(f"{type(self).__name__} with kernel_size={k} needs grid sizes divisible by {k}, got {sizes}")
        if self.mode == "max":
            return getattr(F, f"max_pool{ndim}d")(x, k)
        if self.mode == "avg":
            return getattr(F, f"avg_pool{ndim}d")(x, k)
        check_grid_extent(x, ndim, max(k, self.blur_size), type(self).__name__)
        dense = getattr(F, f"max_pool{ndim}d")(F.pad(x, (0, k - 1) * ndim, mode="circular"), k, stride=1) if k > 1 else x
        pad = self.blur_size - 1
        blurred_input = F.pad(dense, (pad // 2, pad - pad // 2) * ndim, mode="circular")
        conv = getattr(F, f"conv{ndim}d")
        return conv(blurred_input, self.blur.to(x.dtype), stride=k, groups=self.in_type.channels)

    def export(self) -> nn.Module:
        """The same pooling in plain torch: ``nn.MaxPool{n}d`` / ``nn.AvgPool{n}d``, or for ``"blurmax"`` circular
        padding, a stride-1 max-pool, circular padding and a depthwise ``nn.Conv{n}d`` holding the binomial filter."""
        ndim, k = self.in_type.ndim, self.kernel_size
        if self.mode == "max":
            return _MAX_POOL[ndim](k)
        if self.mode == "avg":
            return _AVG_POOL[ndim](k)
        layers: list[nn.Module] = []
        if k > 1:
            layers += [_CIRCULAR_PAD[ndim]((0, k - 1) * ndim), _MAX_POOL[ndim](k, stride=1)]
        pad = self.blur_size - 1
        channels = self.in_type.channels
        blur = _CONV[ndim](channels, channels, self.blur_size, stride=k, groups=channels, bias=False,
                           dtype=self.blur.dtype, device=self.blur.device)
        with torch.no_grad():
            blur.weight.copy_(self.blur)
        blur.weight.requires_grad_(False)
        layers += [_CIRCULAR_PAD[ndim]((pad // 2, pad - pad // 2) * ndim), blur]
        return nn.Sequential(*layers)

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        """The default ones, a wrong channel count, a grid not divisible by k and (blurmax) one smaller than the blur."""
        (x,) = inputs
        ndim, k = self.in_type.ndim, self.kernel_size
        bad = super().bad_inputs(*inputs)
        bad[f"{x.shape[1] + 1} channels instead of {x.shape[1]}"] = (torch.cat([x, x[:, :1]], dim=1),)
        if k > 1:
            bad[f"grid not divisible by {k}"] = (torch.cat([x, x[..., :1]], dim=-1),)
        if self.mode == "blurmax" and max(k, self.blur_size) > k:
            extent = max(k, self.blur_size)
            small = torch.zeros(*x.shape[:2], *[k * ((extent - 1) // k)] * ndim, dtype=x.dtype)
            if small.shape[-1] > 0:
                bad[f"grid smaller than the blur extent {extent}"] = (small,)
        return bad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, mode={self.mode!r}, stride {self.in_type.stride} → {self.out_type.stride}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        return cls(4, kernel_size=2, mode="blurmax"), (torch.randn(2, 4, 8, 12, generator=generator),)


class GlobalPool(EquivariantModule):
    r"""Global pooling A: a shift-invariant summary of a grid field.

    .. math::
        (A x)[b, c] = \mathrm{mean}_{i \in \Omega}\, x[b, c, i]\quad(\text{or max, sum})

    Args:
        in_type: input :class:`GridField` or channel count.
        mode: ``"mean"``, ``"max"`` or ``"sum"``.
        ndim: spatial dimensions when ``in_type`` is an int.

    Shapes:
        ``[B, C, H, W]`` → ``[B, C]`` (trivial field: invariant).
    """

    MODES = ("mean", "max", "sum")

    def __init__(self, in_type: GridField | int, mode: str = "mean", *, ndim: int = 2):
        super().__init__()
        in_type = as_grid_field(in_type, ndim)
        check_choice(mode, self.MODES, "mode")
        self.in_type, self.mode = in_type, mode
        self.out_type = TrivialField(in_type.group, in_type.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        dims = self.in_type.spatial_dims
        if self.mode == "mean":
            return x.mean(dim=dims)
        if self.mode == "sum":
            return x.sum(dim=dims)
        return x.amax(dim=dims)

    def export(self) -> nn.Module:
        """The same reduction in plain torch: ``[B, C, *grid] → [B, C]`` (flatten the grid, then mean, max or sum)."""
        return _GridReduction(self.mode)

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        """The default ones and a wrong channel count."""
        (x,) = inputs
        bad = super().bad_inputs(*inputs)
        bad[f"{x.shape[1] + 1} channels instead of {x.shape[1]}"] = (torch.cat([x, x[:, :1]], dim=1),)
        return bad

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        return cls(3, mode="max"), (torch.randn(2, 3, 6, 7, generator=generator),)


_MAX_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
_AVG_POOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
_CIRCULAR_PAD = {1: nn.CircularPad1d, 2: nn.CircularPad2d, 3: nn.CircularPad3d}
_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


class _GridReduction(nn.Module):
    """Plain-torch global pooling ``[B, C, *grid] → [B, C]`` (the export of :class:`GlobalPool`)."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)
        if self.mode == "mean":
            return flat.mean(-1)
        if self.mode == "sum":
            return flat.sum(-1)
        return flat.amax(-1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
