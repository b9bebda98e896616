"""Translation-equivariant convolution on periodic grids (book §4.2, eq. 22).

On the torus Z_H × Z_W the convolution with a filter θ of extent K,

    (x ⋆ θ)[b, o, i, j] = Σ_c Σ_{(p, q)} θ[o, c, p, q] x[b, c, i + d·p − a, j + d·q − a]  (indices mod H, W)

(d the dilation, a = ⌊d(K−1)/2⌋ the anchor), commutes exactly with every
shift: ``conv(roll(x, t)) == roll(conv(x), t)``. It is computed as circular
padding followed by one ``conv{1,2,3}d`` call; :meth:`PeriodicConv.export`
returns the equivalent ``torch.nn.Conv2d(padding="same", padding_mode="circular")``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gdl.core import EquivariantModule, seeded
from gdl.core.checks import check_int

from .translations import GridField, spatial_shape_name

__all__ = ["PeriodicConv", "as_grid_field", "check_grid_extent"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_TORCH_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def as_grid_field(in_type: GridField | int, ndim: int) -> GridField:
    """Coerce an int (channel count) to ``GridField(channels, ndim)``; check a given field's ndim."""
    if isinstance(in_type, GridField):
        if in_type.ndim != ndim:
            raise ValueError(f"expected a GridField with ndim={ndim}, got {in_type!r}")
        return in_type
    if isinstance(in_type, int):
        return GridField(check_int(in_type, "in_channels"), ndim=ndim)
    raise TypeError(f"in_type must be a GridField or a channel count, got {type(in_type).__name__}")


def check_grid_extent(x: torch.Tensor, ndim: int, extent: int, layer: str) -> None:
    """Raise when a spatial axis of ``x`` is shorter than a kernel's extent."""
    sizes = tuple(x.shape[-ndim:])
    if min(sizes) < extent:
        raise ValueError(f"{layer} has a kernel of extent {extent}: expected every spatial size ≥ {extent}, "
                         f"got a grid {sizes}")


class PeriodicConv(EquivariantModule):
    r"""Circular (periodic) convolution: exactly equivariant to all grid shifts.

    .. math::
        y = x \star \theta + \beta, \qquad \mathrm{conv}(\rho(t)\,x) = \rho(t)\,\mathrm{conv}(x)

    Args:
        in_type: input :class:`GridField` or its channel count C_in.
        out_channels: C_out.
        kernel_size: filter extent K along each spatial axis.
        dilation: spacing d between filter taps.
        bias: add a learned bias β per output channel (shift invariant).
        ndim: spatial dimensions when ``in_type`` is an int.

    Shapes:
        input ``[B, C_in, H, W]`` → output ``[B, C_out, H, W]`` (same grid;
        ``[B, C, L]`` for ndim 1, ``[B, C, D, H, W]`` for ndim 3).
    """

    def __init__(self, in_type: GridField | int, out_channels: int, kernel_size: int = 3, *,
                 dilation: int = 1, bias: bool = True, ndim: int = 2):
        super().__init__()
        in_type = as_grid_field(in_type, ndim)
        for name, value in (("out_channels", out_channels), ("kernel_size", kernel_size), ("dilation", dilation)):
            check_int(value, name)
        self.in_type = in_type
        self.out_type = GridField(out_channels, in_type.ndim, in_type.stride, in_type.group)
        self.kernel_size, self.dilation = kernel_size, dilation
        shape = (out_channels, in_type.channels) + (kernel_size,) * in_type.ndim
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @property
    def extent(self) -> int:
        """Receptive field along one axis: d(K − 1) + 1."""
        return self.dilation * (self.kernel_size - 1) + 1

    def reset_parameters(self) -> None:
        """torch's default conv initialisation (Kaiming-uniform with a = √5)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            nn.init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        ndim = self.in_type.ndim
        check_grid_extent(x, ndim, self.extent, type(self).__name__)
        total = self.extent - 1
        before, after = total // 2, total - total // 2
        padded = F.pad(x, (before, after) * ndim, mode="circular") if total else x
        return _CONV[ndim](padded, self.weight, self.bias, dilation=self.dilation)

    def export(self) -> nn.Module:
        """The same map as a standard ``nn.Conv{n}d(padding="same", padding_mode="circular")`` (a snapshot of the
        current weights)."""
        ndim = self.in_type.ndim
        conv = _TORCH_CONV[ndim](self.in_type.channels, self.out_type.channels, self.kernel_size,
                                 padding="same", padding_mode="circular", dilation=self.dilation,
                                 bias=self.bias is not None, dtype=self.weight.dtype, device=self.weight.device)
        with torch.no_grad():
            conv.weight.copy_(self.weight)
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        """The default ones, a wrong channel count and a grid smaller than the kernel's extent."""
        (x,) = inputs
        bad = super().bad_inputs(*inputs)
        bad[f"{x.shape[1] + 1} channels instead of {x.shape[1]}"] = (torch.cat([x, x[:, :1]], dim=1),)
        small = x[(slice(None), slice(None)) + (slice(0, self.extent - 1),) * self.in_type.ndim]
        bad[f"grid {list(small.shape[2:])} smaller than the kernel extent {self.extent}"] = (small,)
        return bad

    def extra_repr(self) -> str:
        return (f"{self.in_type.channels} → {self.out_type.channels}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, ndim={self.in_type.ndim}, bias={self.bias is not None}, "
                f"input {spatial_shape_name(self.in_type.ndim, self.in_type.channels)}")

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            conv = cls(3, 5, kernel_size=3, dilation=2)
        return conv, (torch.randn(2, 3, 12, 10, generator=generator),)
