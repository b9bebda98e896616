"""The CNN as the blueprint's first instance (book §3.5, §5.1).

    f = A ∘ σ ∘ B_J ∘ P ∘ σ ∘ B_{J−1} ∘ … ∘ P ∘ σ ∘ B_1

with B_j circular convolutions (shift-equivariant), σ pointwise, P strided
local pooling and A global pooling followed by a linear map on invariants.
With J blocks the network respects shifts by multiples of 2^{J−1} pixels
exactly (the total pooling stride); by one pixel it is invariant only
approximately, because strided pooling aliases.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gdl.core import Blueprint, InvariantLinear, Pointwise, seeded
from gdl.core.checks import check_int

from .conv import PeriodicConv
from .pooling import GlobalPool, LocalPool
from .translations import GridField

__all__ = ["GridCNN"]


class GridCNN(Blueprint):
    """A shift-invariant classifier on periodic grids, built as a :class:`~gdl.core.Blueprint`.

    Args:
        in_channels: input channels C.
        num_classes: output size.
        channels: width of each conv block B_j; a k-pooling P follows every block but the last.
        kernel_size: convolution extent.
        pool: local pooling mode (``"max"``, ``"avg"``, ``"blurmax"``).
        pool_size: k of each local pooling.
        global_pool: ``"mean"``, ``"max"`` or ``"sum"``.
        activation: the pointwise σ.
        ndim: spatial dimensions.

    Shapes:
        ``[B, C, H, W]`` → logits ``[B, num_classes]``; H, W divisible by
        ``pool_size ** (len(channels) − 1)``.
    """

    def __init__(self, in_channels: int, num_classes: int, channels: Sequence[int] = (16, 32, 64), *,
                 kernel_size: int = 3, pool: str = "max", pool_size: int = 2, global_pool: str = "mean",
                 activation: str = "relu", ndim: int = 2):
        if not channels:
            raise ValueError("channels must name at least one conv block, got none")
        check_int(num_classes, "num_classes")
        check_int(pool_size, "pool_size")
        layers = []
        field = GridField(in_channels, ndim=ndim)
        for j, width in enumerate(channels):
            conv = PeriodicConv(field, width, kernel_size)
            layers += [conv, Pointwise(conv.out_type, activation)]
            field = conv.out_type
            if j < len(channels) - 1 and pool_size > 1:
                pooling = LocalPool(field, pool_size, pool)
                layers.append(pooling)
                field = pooling.out_type
        readout = GlobalPool(field, global_pool)
        layers += [readout, InvariantLinear(readout.out_type, num_classes)]
        super().__init__(*layers)
        self.total_stride = field.stride

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        """The default ones, a wrong channel count and (with pooling) a grid not divisible by the pooling."""
        (x,) = inputs
        bad = super().bad_inputs(*inputs)
        bad[f"{x.shape[1] + 1} channels instead of {x.shape[1]}"] = (torch.cat([x, x[:, :1]], dim=1),)
        if self.total_stride > 1:
            bad["grid not divisible by the pooling"] = (torch.cat([x, x[..., :1]], dim=-1),)
        return bad

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            model = cls(2, 3, channels=(4, 6, 8), pool="blurmax")
        return model, (torch.randn(2, 2, 12, 16, generator=generator),)
