"""G-CNNs as blueprints: P4CNN, P4MCNN and C_n/D_n networks (book §5.2; Cohen & Welling 2016).

    f = A ∘ GroupPool ∘ σ ∘ BN ∘ B_J ∘ P ∘ … ∘ P ∘ σ ∘ BN ∘ B_1

B_1 is a lifting convolution (image → function on Z² ⋊ H), B_2 … B_J group convolutions, BN batch norm with
statistics shared over the group axis, σ pointwise, P 2 × 2 spatial pooling after every block but the last,
GroupPool a max over the group axis (H-invariant image) and A a global spatial mean followed by a linear map on
invariants. With circular padding and J blocks the network is exactly invariant to (2^{J−1} Z)² ⋊ H: rotations by
multiples of 90° (and reflections for p4m) about the grid centre, and shifts by multiples of the total pooling
stride. With zero padding it is invariant to H about the centre only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gdl.core import Blueprint, Group, InvariantLinear, Pointwise, seeded
from gdl.core.checks import check_choice, check_int
from gdl.grids.translations import Translations
from gdl.testing.fixtures import smooth_disc_images

from .finite import CyclicGroup, ImageField, SemidirectProduct, p4, p4m, point_group_of
from .gconv import GroupBatchNorm, GroupConv, GroupPool, InvariantPool, LiftingConv, SpatialPool, _planar_bad_inputs

__all__ = ["GCNN", "Z2CNN", "P4CNN", "P4MCNN", "NETWORK_INTERPOLATION_TOLERANCE"]

#: declared max |f(g·x) − f(x)| of a whole G-CNN over an interpolated point group (n ∉ {1, 2, 4}), on smooth
#: inputs of unit scale; measured in tests/test_groups_gcnn.py: up to 6.3e-4 (C8) and 4.8e-4 (D8) for the registered
#: example's shape (channels (4, 6), 5 × 5 filters, 22 × 22 inputs), in float64 and float32 alike
NETWORK_INTERPOLATION_TOLERANCE = 5e-3


class GCNN(Blueprint):
    """An invariant G-CNN classifier on square images, as a :class:`~gdl.core.Blueprint`.

    Args:
        in_channels: image channels C.
        num_classes: output size.
        channels: C_j of each block (each is C_j · |H| channels of the underlying conv).
        group: Z² ⋊ H (:func:`~gdl.groups.p4`, :func:`~gdl.groups.p4m`) or H (e.g. ``CyclicGroup(8)``, interpolated).
        kernel_size: odd filter extent.
        padding: ``"circular"`` (exact for Z² ⋊ H) or ``"zeros"`` (H about the centre only).
        batch_norm: GroupBatchNorm after every convolution.
        activation: the pointwise σ.
        pool: ``"max"`` or ``"avg"`` 2 × 2 spatial pooling between blocks.
        group_pool: ``"max"`` or ``"mean"`` over the group axis at the end.
        global_pool: ``"mean"`` or ``"max"`` over the grid at the end.

    Shapes:
        ``[B, C, N, N]`` → logits ``[B, num_classes]``; N divisible by 2^{J−1}.

    The registered example is a C8 network (rotations by 45° through interpolation): it declares
    :data:`NETWORK_INTERPOLATION_TOLERANCE`. :class:`P4CNN` and :class:`P4MCNN` cover the exact groups.
    """

    def __init__(self, in_channels: int, num_classes: int, channels: Sequence[int] = (8, 16, 32), *, group: Group | None = None,
                 kernel_size: int = 3, padding: str = "circular", batch_norm: bool = True, activation: str = "relu",
                 pool: str = "max", group_pool: str = "max", global_pool: str = "mean"):
        if not channels:
            raise ValueError("channels must name at least one block, got none")
        check_int(num_classes, "num_classes")
        check_choice(pool, SpatialPool.MODES, "pool")  # checked here too: a one-block network builds no SpatialPool
        group = p4() if group is None else group
        field = ImageField(in_channels, group)
        layers = []
        for j, width in enumerate(channels):
            conv_class = LiftingConv if j == 0 else GroupConv
            conv = conv_class(field, width, kernel_size, padding=padding, bias=not batch_norm)
            layers.append(conv)
            field = conv.out_type
            if batch_norm:
                layers.append(GroupBatchNorm(field))
            layers.append(Pointwise(field, activation))
            if j < len(channels) - 1:
                pooling = SpatialPool(field, 2, pool)
                layers.append(pooling)
                field = pooling.out_type
        pooled = GroupPool(field, group_pool)
        readout = InvariantPool(pooled.out_type, global_pool)
        layers += [pooled, readout, InvariantLinear(readout.out_type, num_classes)]
        super().__init__(*layers)
        if not point_group_of(group).exact_on_grid:
            self.equivariance_tolerance = NETWORK_INTERPOLATION_TOLERANCE
        self.kernel_size = kernel_size

    def export(self) -> nn.Sequential:
        """The same function as plain ``torch.nn`` layers, in evaluation mode: the layers' exports composed
        (:meth:`~gdl.core.Blueprint.export`). Group convolutions become ``nn.Conv2d`` holding their current filter
        banks (functions on the group are flattened to ``[B, C·|H|, H, W]`` around them), batch norm an
        evaluation-mode ``nn.BatchNorm3d`` with the shared statistics, group pooling ``nn.MaxPool3d``/``AvgPool3d``,
        σ the matching ``nn`` activation and the head its ``nn.Linear``. It computes what ``model.eval()`` computes
        (to float round-off) and is a snapshot: later training of the model does not reach it."""
        return super().export().eval()

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        """The default ones, a wrong channel count, a grid smaller than the first kernel and (quarter turns) a
        non-square grid."""
        return _planar_bad_inputs(self.layers[0], inputs, super().bad_inputs(*inputs), extent=self.kernel_size)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        model = _example_model(cls, generator, 1, 3, channels=(4, 6), group=CyclicGroup(8), kernel_size=5)
        return model, (smooth_disc_images(2, 1, 22, generator),)


def _example_model(cls: type[GCNN], generator: torch.Generator | None, *args, **kwargs) -> GCNN:
    """``cls(*args, **kwargs)`` initialised from ``generator``, every GroupBatchNorm given non-trivial statistics (so
    that the examples test evaluation mode meaningfully)."""
    with seeded(generator):
        model = cls(*args, **kwargs)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, GroupBatchNorm):
                norm = layer.norm
                norm.running_mean.copy_(0.1 * torch.randn(norm.num_features, generator=generator))
                norm.running_var.copy_(torch.rand(norm.num_features, generator=generator) + 0.5)
                norm.weight.copy_(1 + 0.1 * torch.randn(norm.num_features, generator=generator))
                norm.bias.copy_(0.1 * torch.randn(norm.num_features, generator=generator))
    return model


class P4CNN(GCNN):
    """A G-CNN over p4 = Z² ⋊ C4 (rotations by multiples of 90°), exactly invariant (Cohen & Welling 2016).

    Same arguments as :class:`GCNN`, with ``group`` fixed to :func:`~gdl.groups.p4`.

    Example:
        >>> import torch
        >>> model = P4CNN(1, 10, channels=(4, 8, 8)).eval()
        >>> x = torch.randn(2, 1, 28, 28)
        >>> bool((model(torch.rot90(x, 1, (-2, -1))) - model(x)).abs().max() < 1e-5)
        True
    """

    #: the group Z² ⋊ H the class fixes (a factory)
    default_group = staticmethod(p4)

    def __init__(self, in_channels: int, num_classes: int, channels: Sequence[int] = (8, 16, 32), **kwargs):
        if "group" in kwargs:
            raise TypeError(f"{type(self).__name__} fixes its group; use GCNN(group=...) for another one")
        super().__init__(in_channels, num_classes, channels, group=self.default_group(), **kwargs)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        return _example_model(cls, generator, 2, 3, channels=(3, 4, 5)), (torch.randn(2, 2, 12, 12, generator=generator),)


class Z2CNN(P4CNN):
    """The same blueprint over Z² ⋊ C1 = Z², i.e. an ordinary CNN with circular padding (Cohen & Welling's Z2CNN):
    exactly invariant to shifts by multiples of its total pooling stride, and to no rotation.

    The plain-CNN baseline of :mod:`gdl.experiments.rotated_mnist`; same arguments as :class:`GCNN`, with ``group``
    fixed to shifts only.
    """

    default_group = staticmethod(lambda: SemidirectProduct(Translations(2), CyclicGroup(1)))

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        model = _example_model(cls, generator, 1, 3, channels=(3, 4, 5))
        return model, (torch.randn(2, 1, 16, 12, generator=generator),)


class P4MCNN(P4CNN):
    """A G-CNN over p4m = Z² ⋊ D4 (rotations by multiples of 90° and reflections), exactly invariant.

    Same arguments as :class:`GCNN`, with ``group`` fixed to :func:`~gdl.groups.p4m`.
    """

    default_group = staticmethod(p4m)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        model = _example_model(cls, generator, 1, 4, channels=(3, 4, 4), pool="avg")
        return model, (torch.randn(2, 1, 16, 16, generator=generator),)
