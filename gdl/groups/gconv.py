r"""Group convolutions on the plane: lifting, group conv, pooling, batch norm, and export to plain torch layers.

Book §4.3 and §5.2 (Cohen & Welling 2016, "Group Equivariant Convolutional Networks"). The group convolution of a
signal x on Ω with a filter θ is the inner product of x with every transformed filter,

.. math::
    (x \star \theta)(g) = \langle x, \rho(g)\,\theta \rangle = \sum_{u \in \Omega} x(u)\, \theta(g^{-1} u),
    \qquad g \in G,                                                                        \text{(book eqs. 31–32)}

so it is computed as "transform the filter, then convolve". For G = Z² ⋊ H (shifts and a point group H of
rotations/reflections) and g = (t, h), the shift part is an ordinary cross-correlation and the point-group part picks
a rotated copy of the filter:

* lifting (image → function on G):  y[o, h, t] = Σ_{c, q} (ρ(h) θ)[o, c, q] · x[c, t + q],
  (ρ(h) θ)(q) = θ(A(h)⁻¹ q);
* group conv (function on G → function on G):  y[o, h, t] = Σ_{c, h', q} θ[o, c, h⁻¹h', A(h)⁻¹ q] · f[c, h', t + q].

Both run as **one** ``conv2d`` on a filter bank of |H| transformed filters stacked along the output channels. The
bank is built in the forward pass (so gradients reach θ) by one index gather with a precomputed index (n ∈ {1, 2,
4}: rotations permute the taps exactly) or by one product with a precomputed interpolation matrix (other n). No
Python loop over group elements runs in ``forward``. Every layer's ``export()`` returns the same function as plain
``torch.nn`` layers on the same tensors (``Conv2d`` with the bank as its weight between a ``Flatten`` and an
``Unflatten`` of the group axis), and a G-CNN's :meth:`~gdl.core.Blueprint.export` composes them.

Interpolated rotations (C_n, D_n with n ∉ {1, 2, 4}). The taps are coefficients of one smooth filter on the plane (a
sum of Gaussian bumps at the taps, tapered to the disc of radius (K−1)/2 + ½, see :func:`filter_transforms`); the
bank holds that continuous filter rotated exactly and sampled on the K × K taps. The bank is therefore consistent
(ρ(g) applied to the filter of h' is the filter of gh'), and what remains approximate is the grid itself: rotating an
image by 45° resamples it. The layers declare the error they make on smooth test signals
(:data:`INTERPOLATION_TOLERANCE`), measured in ``tests/test_groups_gcnn.py``.

Layout. A function on the group is ``[B, C, |H|, H, W]``; the conv runs on ``[B, C·|H|, H, W]`` (channel c·|H| + i).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from gdl.core import EquivariantModule, TrivialField, seeded
from gdl.core.checks import check_choice, check_int
from gdl.grids import GlobalPool, GridField, LocalPool
from gdl.grids.conv import check_grid_extent
from gdl.grids.translations import Translations

from .finite import DihedralGroup, ImageField, RegularField, SemidirectProduct, act_on_grid, p4, p4m

__all__ = ["LiftingConv", "GroupConv", "GroupPool", "SpatialPool", "InvariantPool", "GroupBatchNorm",
           "INTERPOLATION_TOLERANCE", "filter_transforms"]

PADDINGS = ("circular", "zeros")
#: max |f(g·x) − g·f(x)| that layers over interpolated point groups (n ∉ {1, 2, 4}) promise on smooth inputs of unit
#: scale (:func:`gdl.testing.fixtures.smooth_disc_images`, 25 × 25, outputs of size ≈ 5). Measured in
#: tests/test_groups_gcnn.py over C8 and D8, the same in float64 and float32 (the error is the grid's resampling, not
#: round-off): 3 × 3 filters up to 3.7e-2 (up to 3.9e-2 over 25 seeds, ≈ 2 % of the output's size), 5 × 5 filters up
#: to 1.5e-2; rotations by multiples of 90° stay exact (≤ 1e-10).
INTERPOLATION_TOLERANCE = {torch.float64: 5e-2, torch.float32: 5e-2}
#: width σ (pixels) of the Gaussian bumps that make filters over interpolated point groups smooth
FILTER_SMOOTHING = 1.0


def filter_transforms(point_group: DihedralGroup, kernel_size: int) -> torch.Tensor:
    """How each h ∈ H moves a K × K filter: ``index [|H|, K²]`` (exact groups) or ``matrix [|H|, K², K²]`` (others).

    Exact (n ∈ {1, 2, 4}): ``(ρ(h) θ).flat = θ.flat[index[h]]``, from moving the tap numbers with
    :func:`~gdl.groups.finite.act_on_grid`; the taps θ are the filter.

    Interpolated (other n): the taps θ_j are coefficients of one smooth filter on the plane,

        F(u) = w(|u|) Σ_j θ_j exp(−|u − p_j|² / 2σ²),   σ = :data:`FILTER_SMOOTHING` px,
        w(r) = cos²(π r / (2(R + ½))) for r < R + ½ (R = (K−1)/2), else 0,

    and the bank holds F rotated exactly and sampled on the taps: ``matrix[h, j, q] = w(|q|) exp(−|A(h)⁻¹ q − p_j|²
    / 2σ²)``, so ``(ρ(h) F)(q) = Σ_j θ_j matrix[h, j, q]``. Because every member of the bank samples the same
    continuous F, ρ(g) maps the filter of h to the filter of gh exactly; because F is smooth and tapered to a
    disc, rotating it does not alias. (Interpolating the raw taps bilinearly or cubically instead leaves
    equivariance errors of 10–40 % on random filters: random taps are not band-limited.)
    """
    taps = kernel_size * kernel_size
    elements = point_group.elements()
    if point_group.exact_on_grid:
        numbers = torch.arange(taps).view(kernel_size, kernel_size)
        return torch.stack([act_on_grid(numbers, h).reshape(taps) for h in elements])
    offsets = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    points = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1).reshape(taps, 2)  # p_j = q grid
    reach = (kernel_size - 1) / 2 + 0.5
    radius = points.norm(dim=-1)
    envelope = torch.where(radius < reach, torch.cos(math.pi * radius / (2 * reach)) ** 2, torch.zeros_like(radius))
    matrices = []
    for h in elements:  # construction time only: |H| small matrices
        sources = points @ torch.linalg.inv(point_group.matrix(h)).T  # A(h)⁻¹ q, [K², 2]
        distance2 = (sources[None, :, :] - points[:, None, :]).pow(2).sum(-1)  # [j, q]
        matrices.append(torch.exp(-distance2 / (2 * FILTER_SMOOTHING**2)) * envelope[None, :])
    return torch.stack(matrices)


def _as_field(in_type, field_class, group, layer: str):
    """Coerce a channel count to ``field_class(channels, group)``; check a given field's class."""
    if isinstance(in_type, field_class):
        if group is not None and in_type.group != group:
            raise ValueError(f"{layer}: in_type is over {in_type.group!r} but group={group!r} was given")
        return in_type
    if isinstance(in_type, (ImageField, RegularField)):
        raise TypeError(f"{layer} expects an input of type {field_class.__name__}, got {in_type!r}")
    if isinstance(in_type, int):
        return field_class(check_int(in_type, "in_channels"), p4() if group is None else group)
    raise TypeError(f"{layer}: in_type must be a {field_class.__name__} or a channel count, got {type(in_type).__name__}")


class _FilterBankConv(EquivariantModule, register=False):
    """What :class:`LiftingConv` and :class:`GroupConv` share: the filter bank, the one conv2d, export."""

    field_class: ClassVar[type]

    def __init__(self, in_type, out_channels: int, kernel_size: int, group, padding: str, bias: bool):
        super().__init__()
        name = type(self).__name__
        in_type = _as_field(in_type, self.field_class, group, name)
        check_int(out_channels, "out_channels")
        check_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"{name} needs an odd kernel_size (a filter centred on a pixel rotates onto the pixel grid), "
                             f"got {kernel_size}")
        check_choice(padding, PADDINGS, "padding")
        if padding == "zeros" and isinstance(in_type.group, SemidirectProduct):
            # zero padding breaks shift equivariance at the border: only rotations/reflections about the centre remain
            in_type = in_type.restrict(in_type.group.point_group)
        self.in_type = in_type
        self.out_type = RegularField(out_channels, in_type.group, in_type.stride)
        self.point_group = in_type.point_group
        self.kernel_size, self.padding, self.out_channels = kernel_size, padding, out_channels
        self.group_size = self.point_group.order
        if not self.point_group.exact_on_grid:
            self.equivariance_tolerance = INTERPOLATION_TOLERANCE
        shape = (out_channels, in_type.channels) + ((self.group_size,) if self.field_class is RegularField else ())
        self.weight = nn.Parameter(torch.empty(shape + (kernel_size, kernel_size)))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self._register_transforms()
        self.reset_parameters()

    def _register_transforms(self) -> None:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        """Kaiming-uniform (a = √5) with the bank's fan-in C_in·(|H|)·K², as ``nn.Conv2d`` would initialise the bank."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def filter_bank(self) -> torch.Tensor:
        """The |H| transformed filters as one conv2d weight ``[C_out·|H|, C_in(·|H|), K, K]``."""
        raise NotImplementedError

    def _flat_bias(self) -> torch.Tensor | None:
        return None if self.bias is None else self.bias.repeat_interleave(self.group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        check_grid_extent(x, 2, self.kernel_size, type(self).__name__)
        if self.field_class is RegularField:
            x = x.flatten(1, 2)
        anchor = self.kernel_size // 2
        if self.padding == "circular":
            y = F.conv2d(F.pad(x, (anchor,) * 4, mode="circular"), self.filter_bank(), self._flat_bias())
        else:
            y = F.conv2d(x, self.filter_bank(), self._flat_bias(), padding=anchor)
        return y.unflatten(1, (self.out_channels, self.group_size))

    def export(self) -> nn.Sequential:
        """One ``nn.Conv2d`` holding the current filter bank, on the same tensors as the layer: (``Flatten`` of the
        group axis for a regular input,) ``Conv2d [B, C_in(·|H|), H, W] → [B, C_out·|H|, H, W]``, ``Unflatten``
        to ``[B, C_out, |H|, H, W]``. A snapshot: later training of the layer does not reach it."""
        flatten = [nn.Flatten(1, 2)] if self.field_class is RegularField else []
        unflatten = nn.Unflatten(1, (self.out_channels, self.group_size))
        if not self.point_group.exact_on_grid:
            # interpolated groups: the bank is a product θ·M; a snapshot in float32 would not equal the float64
            # layer to round-off, so the plain module forms the bank from θ in its forward pass, as the layer does
            return nn.Sequential(*flatten, _InterpolatedBankConv(self), unflatten)
        bank = self.filter_bank().detach()
        conv = nn.Conv2d(bank.shape[1], bank.shape[0], self.kernel_size, padding=self.kernel_size // 2,
                         padding_mode=self.padding, bias=self.bias is not None, dtype=bank.dtype, device=bank.device)
        with torch.no_grad():
            conv.weight.copy_(bank)
            if self.bias is not None:
                conv.bias.copy_(self._flat_bias())
        return nn.Sequential(*flatten, conv, unflatten)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones, a wrong channel count, a wrong group axis, a grid smaller than the kernel and (for
        point groups with quarter turns) a non-square grid."""
        return _planar_bad_inputs(self, inputs, super().bad_inputs(*inputs), extent=self.kernel_size)

    def extra_repr(self) -> str:
        return (f"{self.in_type.channels} → {self.out_channels}, kernel_size={self.kernel_size}, padding={self.padding!r}, "
                f"group={self.group!r}, bias={self.bias is not None}")


def _lifting_bank(weight: torch.Tensor, index: torch.Tensor | None = None,
                  matrix: torch.Tensor | None = None) -> torch.Tensor:
    """The lifting bank ``[O·|H|, C, K, K]`` from θ ``[O, C, K, K]``: a gather by ``index [|H|, K²]`` (exact groups)
    or a product with ``matrix [|H|, K², K²]`` (interpolated ones)."""
    out_channels, in_channels, k, _ = weight.shape
    flat = weight.flatten(2)  # [O, C, K²]
    if index is not None:
        bank = flat[:, :, index].transpose(1, 2)  # [O, |H|, C, K²]
    else:
        bank = torch.einsum("ocj,hjq->ohcq", flat, matrix.to(flat.dtype))
    return bank.reshape(out_channels * bank.shape[1], in_channels, k, k)


def _group_bank(weight: torch.Tensor, index: torch.Tensor | None = None, permutations: torch.Tensor | None = None,
                matrix: torch.Tensor | None = None) -> torch.Tensor:
    """The group-conv bank ``[O·|H|, C·|H|, K, K]`` from θ ``[O, C, |H|, K, K]``: one gather by ``index [|H|, |H|·K²]``
    (exact groups), or a gather of the group axis by ``permutations`` and a product with ``matrix`` (others)."""
    out_channels, in_channels, g, k, _ = weight.shape
    if index is not None:
        bank = weight.flatten(2)[:, :, index].transpose(1, 2)  # [O, |H|, C, |H|·K²]
    else:
        permuted = weight.flatten(3)[:, :, permutations]  # [O, C, |H| (h), |H| (h'), K²]
        bank = torch.einsum("ochij,hjq->ohciq", permuted, matrix.to(permuted.dtype))
    return bank.reshape(out_channels * g, in_channels * g, k, k)


class _InterpolatedBankConv(nn.Module):
    """Plain-torch export of a lifting / group convolution over an interpolated point group: it holds θ, the bias and
    the interpolation constants and forms the bank (θ·M) in every forward pass, then runs one ``conv2d`` on
    ``[B, C_in(·|H|), H, W]``. Casting it to float64 then gives the float64 layer's function to round-off."""

    def __init__(self, layer: "_FilterBankConv"):
        super().__init__()
        self.weight = nn.Parameter(layer.weight.detach().clone())
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().clone())
        self.regular = layer.field_class is RegularField
        self.register_buffer("matrix", layer.spatial_matrix.clone())
        if self.regular:
            self.register_buffer("permutations", layer.group_permutations.clone())
        self.kernel_size, self.padding, self.group_size = layer.kernel_size, layer.padding, layer.group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.regular:
            bank = _group_bank(self.weight, permutations=self.permutations, matrix=self.matrix)
        else:
            bank = _lifting_bank(self.weight, matrix=self.matrix)
        bias = None if self.bias is None else self.bias.repeat_interleave(self.group_size)
        anchor = self.kernel_size // 2
        if self.padding == "circular":
            return F.conv2d(F.pad(x, (anchor,) * 4, mode="circular"), bank, bias)
        return F.conv2d(x, bank, bias, padding=anchor)


class LiftingConv(_FilterBankConv):
    r"""Lifting convolution: an image becomes a function on the group (book eq. 31 with x on Z²).

    .. math::
        y[b, o, h, t] = \beta_o + \sum_{c, q} \theta[o, c, A(h)^{-1} q]\; x[b, c, t + q]

    One ``conv2d`` with the bank of the |H| rotated/reflected filters; exactly equivariant,
    ``lift(ρ(g) x) = ρ_reg(g) lift(x)``, for n ∈ {1, 2, 4} (``circular``: all of Z² ⋊ H; ``zeros``: H about the grid
    centre); approximately for other n (see the module docstring).

    Args:
        in_type: an :class:`~gdl.groups.ImageField` or the channel count C_in (then over ``group``).
        out_channels: C_out (each becomes |H| channels on the group axis).
        kernel_size: odd filter extent K.
        group: Z² ⋊ H or H when ``in_type`` is a count (default :func:`~gdl.groups.p4`).
        padding: ``"circular"`` (periodic grid) or ``"zeros"`` (the layer then respects H only).
        bias: one learned bias per output channel, shared by the group axis (so it is invariant).

    Shapes:
        ``[B, C_in, H, W]`` → ``[B, C_out, |H|, H, W]`` (H = W when H contains 90° rotations).

    Example:
        >>> import torch
        >>> lift = LiftingConv(1, 8)
        >>> lift(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 8, 4, 28, 28])
    """

    field_class = ImageField

    def __init__(self, in_type: ImageField | int, out_channels: int, kernel_size: int = 3, *, group=None,
                 padding: str = "circular", bias: bool = True):
        super().__init__(in_type, out_channels, kernel_size, group, padding, bias)

    def _register_transforms(self) -> None:
        transforms = filter_transforms(self.point_group, self.kernel_size)
        name = "spatial_index" if self.point_group.exact_on_grid else "spatial_matrix"
        self.register_buffer(name, transforms if transforms.dtype == torch.long else transforms.to(torch.get_default_dtype()),
                             persistent=False)

    def filter_bank(self) -> torch.Tensor:
        if self.point_group.exact_on_grid:
            return _lifting_bank(self.weight, index=self.spatial_index)
        return _lifting_bank(self.weight, matrix=self.spatial_matrix)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            layer = cls(2, 3, kernel_size=3, group=p4())
        return layer, (torch.randn(2, 2, 10, 10, generator=generator),)


class GroupConv(_FilterBankConv):
    r"""Group convolution: a function on the group to a function on the group (book eq. 32).

    .. math::
        y[b, o, h, t] = \beta_o + \sum_{c, h', q} \theta[o, c, h^{-1}h', A(h)^{-1} q]\; f[b, c, h', t + q]

    The bank holds ρ_reg(h) θ for every h (the filter rotated and its group axis permuted): one index gather of θ
    (one gather and one small matrix product for interpolated groups) and one ``conv2d`` over ``[B, C_in·|H|, H, W]``.

    Args:
        in_type: a :class:`~gdl.groups.RegularField` or the channel count C_in (then over ``group``).
        out_channels: C_out.
        kernel_size: odd filter extent K.
        group: Z² ⋊ H or H when ``in_type`` is a count (default :func:`~gdl.groups.p4`).
        padding: ``"circular"`` or ``"zeros"`` (H only).
        bias: one learned bias per output channel, shared by the group axis.

    Shapes:
        ``[B, C_in, |H|, H, W]`` → ``[B, C_out, |H|, H, W]``.
    """

    field_class = RegularField

    def __init__(self, in_type: RegularField | int, out_channels: int, kernel_size: int = 3, *, group=None,
                 padding: str = "circular", bias: bool = True):
        super().__init__(in_type, out_channels, kernel_size, group, padding, bias)

    def _register_transforms(self) -> None:
        permutations = self.point_group.regular_permutations()  # [|H|, |H|]: P[h, i] = index(h⁻¹ h_i)
        transforms = filter_transforms(self.point_group, self.kernel_size)
        if self.point_group.exact_on_grid:
            taps = self.kernel_size**2
            # bank[h] = θ.flat[:, :, index[h]] over the flattened (group, tap) axes of θ
            index = permutations[:, :, None] * taps + transforms[:, None, :]  # [|H|, |H|, K²]
            self.register_buffer("bank_index", index.reshape(self.group_size, -1), persistent=False)
        else:
            self.register_buffer("group_permutations", permutations, persistent=False)
            self.register_buffer("spatial_matrix", transforms.to(torch.get_default_dtype()), persistent=False)

    def filter_bank(self) -> torch.Tensor:
        if self.point_group.exact_on_grid:
            return _group_bank(self.weight, index=self.bank_index)
        return _group_bank(self.weight, permutations=self.group_permutations, matrix=self.spatial_matrix)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            layer = cls(RegularField(2, p4m()), 3, kernel_size=3)
        return layer, (torch.randn(2, 2, 8, 9, 9, generator=generator),)


def _coarser_group(group, stride: int):
    """The group a field sampled every ``stride`` input pixels admits: shifts by multiples of the stride."""
    if isinstance(group, SemidirectProduct):
        return SemidirectProduct(group.translations.intersection(Translations(2, step=stride)), group.point_group)
    return group


class GroupPool(EquivariantModule):
    r"""Pooling over the group axis: a function on Z² ⋊ H becomes an H-invariant image (Cohen & Welling's
    "rotation pooling" at the end of a G-CNN).

    .. math::
        y[b, c, t] = \max_{h \in H} f[b, c, h, t] \quad(\text{or the mean})

    Permuting the group axis leaves the max unchanged, so ``pool(ρ_reg(g) f) = ρ_triv(g) pool(f)`` exactly.

    Args:
        in_type: a :class:`~gdl.groups.RegularField`.
        mode: ``"max"`` or ``"mean"``.

    Shapes:
        ``[B, C, |H|, H, W]`` → ``[B, C, H, W]``.
    """

    MODES = ("max", "mean")

    def __init__(self, in_type: RegularField, mode: str = "max"):
        super().__init__()
        if not isinstance(in_type, RegularField):
            raise TypeError(f"GroupPool expects a RegularField (a function on the group), got {in_type!r}")
        check_choice(mode, self.MODES, "mode")
        self.in_type, self.mode = in_type, mode
        self.out_type = ImageField(in_type.channels, in_type.group, in_type.stride)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(f)
        return f.amax(dim=2) if self.mode == "max" else f.mean(dim=2)

    def export(self) -> nn.Sequential:
        """``[B, C, |H|, H, W] → [B, C, H, W]``: a (|H|, 1, 1) ``MaxPool3d``/``AvgPool3d``, then ``Flatten``."""
        size = self.in_type.point_group.order
        pool = nn.MaxPool3d((size, 1, 1)) if self.mode == "max" else nn.AvgPool3d((size, 1, 1))
        return nn.Sequential(pool, nn.Flatten(1, 2))

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones, a wrong channel count and a wrong group axis."""
        return _planar_bad_inputs(self, inputs, super().bad_inputs(*inputs))

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, group={self.group!r}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        return cls(RegularField(3, p4m()), "max"), (torch.randn(2, 3, 8, 6, 6, generator=generator),)


class SpatialPool(EquivariantModule):
    r"""Local k × k pooling of the grid (the blueprint's P) for images and functions on the group.

    Runs :class:`gdl.grids.LocalPool` (``"max"`` or ``"avg"``) on the ``[B, C·|H|, H, W]`` layout. On an N × N grid
    with k | N the windows are permuted by every rotation/reflection about the centre (a window starting at i maps
    to the one starting at N − k − i), so pooling commutes with H exactly; shifts survive only as multiples of k:

    .. math::
        P(\rho(k t, h)\, x) = \rho'(t, h)\, P x.

    The output field has stride ``k · in_type.stride`` and its group keeps shifts by multiples of that stride.
    (Anti-aliased "blurmax" is not offered: its stride-1 max window is not centred, so it does not commute with
    rotations.)

    Args:
        in_type: an :class:`~gdl.groups.ImageField` or :class:`~gdl.groups.RegularField`.
        kernel_size: window and stride k (H and W must be divisible by k).
        mode: ``"max"`` or ``"avg"``.

    Shapes:
        ``[B, C, (|H|,) H, W]`` → ``[B, C, (|H|,) H / k, W / k]``.
    """

    MODES = ("max", "avg")

    def __init__(self, in_type: ImageField | RegularField, kernel_size: int = 2, mode: str = "max"):
        super().__init__()
        if not isinstance(in_type, (ImageField, RegularField)):
            raise TypeError(f"SpatialPool expects an ImageField or RegularField, got {in_type!r}")
        check_choice(mode, self.MODES, "mode")
        check_int(kernel_size, "kernel_size")
        stride = in_type.stride * kernel_size
        group = _coarser_group(in_type.group, stride)
        self.in_type = in_type.restrict(group)
        self.out_type = type(in_type)(in_type.channels, group, stride)
        self.kernel_size, self.mode = kernel_size, mode
        flat_channels = in_type.channels * (in_type.point_group.order if isinstance(in_type, RegularField) else 1)
        self.pool = LocalPool(GridField(flat_channels), kernel_size, mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        if isinstance(self.in_type, RegularField):
            return self.pool(x.flatten(1, 2)).unflatten(1, x.shape[1:3])
        return self.pool(x)

    def export(self) -> nn.Sequential:
        """``nn.MaxPool2d``/``nn.AvgPool2d`` (between a ``Flatten`` and an ``Unflatten`` of the group axis)."""
        k = self.kernel_size
        pool = nn.MaxPool2d(k) if self.mode == "max" else nn.AvgPool2d(k)
        if not isinstance(self.in_type, RegularField):
            return nn.Sequential(pool)
        return nn.Sequential(nn.Flatten(1, 2), pool, nn.Unflatten(1, (self.in_type.channels, self.in_type.point_group.order)))

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones, a wrong channel count, a wrong group axis and a grid not divisible by k."""
        bad = _planar_bad_inputs(self, inputs, super().bad_inputs(*inputs))
        (x,) = inputs
        odd = torch.cat([x, x[..., :1, :]], dim=-2)
        odd = torch.cat([odd, odd[..., :1]], dim=-1)  # still square
        bad[f"a grid not divisible by {self.kernel_size}"] = (odd,)
        return bad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, mode={self.mode!r}, stride {self.in_type.stride} → {self.out_type.stride}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        return cls(RegularField(2, p4()), 2, "max"), (torch.randn(2, 2, 4, 8, 8, generator=generator),)


class InvariantPool(EquivariantModule):
    r"""Global pooling A over the grid (and the group axis of a regular field): an invariant vector per channel.

    .. math::
        y[b, c] = \operatorname{mean}_{h, t} f[b, c, h, t] \quad(\text{or max})

    Runs :class:`gdl.grids.GlobalPool` on the ``[B, C·|H|, H, W]`` layout and, for regular fields, reduces the
    group axis with the same mode. Exactly invariant to Z² ⋊ H.

    Args:
        in_type: an :class:`~gdl.groups.ImageField` or :class:`~gdl.groups.RegularField`.
        mode: ``"mean"`` or ``"max"``.

    Shapes:
        ``[B, C, (|H|,) H, W]`` → ``[B, C]`` (a :class:`~gdl.core.TrivialField`).
    """

    MODES = ("mean", "max")

    def __init__(self, in_type: ImageField | RegularField, mode: str = "mean"):
        super().__init__()
        if not isinstance(in_type, (ImageField, RegularField)):
            raise TypeError(f"InvariantPool expects an ImageField or RegularField, got {in_type!r}")
        check_choice(mode, self.MODES, "mode")
        self.in_type, self.mode = in_type, mode
        self.out_type = TrivialField(in_type.group, in_type.channels)
        self.regular = isinstance(in_type, RegularField)
        flat_channels = in_type.channels * (in_type.point_group.order if self.regular else 1)
        self.pool = GlobalPool(GridField(flat_channels), mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        if not self.regular:
            return self.pool(x)
        pooled = self.pool(x.flatten(1, 2)).unflatten(1, x.shape[1:3])  # [B, C, |H|]
        return pooled.amax(dim=2) if self.mode == "max" else pooled.mean(dim=2)

    def export(self) -> nn.Sequential:
        """``nn.AdaptiveMaxPool{2,3}d(1)``/``nn.AdaptiveAvgPool{2,3}d(1)`` over the grid (and group axis), ``Flatten``."""
        if not self.regular:
            pool = nn.AdaptiveMaxPool2d(1) if self.mode == "max" else nn.AdaptiveAvgPool2d(1)
        else:
            pool = nn.AdaptiveMaxPool3d(1) if self.mode == "max" else nn.AdaptiveAvgPool3d(1)
        return nn.Sequential(pool, nn.Flatten(1))

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones, a wrong channel count and (regular fields) a wrong group axis."""
        return _planar_bad_inputs(self, inputs, super().bad_inputs(*inputs))

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        return cls(RegularField(3, p4()), "max"), (torch.randn(2, 3, 4, 6, 6, generator=generator),)


class GroupBatchNorm(EquivariantModule):
    r"""Batch normalisation with statistics shared across the group axis and the grid (one (μ, σ², γ, β) per channel).

    .. math::
        y[b, c, h, t] = \gamma_c \frac{f[b, c, h, t] - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c,
        \qquad \mu_c, \sigma_c^2 \text{ over } (b, h, t)

    Rotations, reflections, shifts and group-axis permutations only reorder the entries over which (μ, σ²) are
    taken, and the affine map is the same for every entry of a channel, so the layer is exactly equivariant in
    training and in evaluation mode. Per-(channel, group element) statistics, as a plain ``BatchNorm2d`` on
    ``[B, C·|H|, H, W]`` would learn, would break the symmetry.

    Args:
        in_type: an :class:`~gdl.groups.ImageField` or :class:`~gdl.groups.RegularField`.
        eps, momentum: as ``torch.nn.BatchNorm3d``.

    Shapes:
        unchanged: ``[B, C, (|H|,) H, W]``.
    """

    def __init__(self, in_type: ImageField | RegularField, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if not isinstance(in_type, (ImageField, RegularField)):
            raise TypeError(f"GroupBatchNorm expects an ImageField or RegularField, got {in_type!r}")
        self.in_type = self.out_type = in_type
        self.regular = isinstance(in_type, RegularField)
        norm = nn.BatchNorm3d if self.regular else nn.BatchNorm2d
        self.norm = norm(in_type.channels, eps=eps, momentum=momentum)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(f)
        return self.norm(f)

    def export(self) -> nn.Sequential:
        """An evaluation-mode ``nn.BatchNorm3d(C)`` (``BatchNorm2d`` for images) with this layer's running statistics
        and affine map: the same function as this layer in evaluation mode (the deployment setting)."""
        source = self.norm
        norm = type(source)(source.num_features, eps=source.eps, momentum=source.momentum,
                            dtype=source.weight.dtype, device=source.weight.device)
        norm.load_state_dict(source.state_dict())
        return nn.Sequential(norm.eval())

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The default ones, a wrong channel count and (regular fields) a wrong group axis."""
        return _planar_bad_inputs(self, inputs, super().bad_inputs(*inputs))

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        layer = cls(RegularField(3, p4m()))
        with torch.no_grad():  # non-trivial statistics and affine map, so that evaluation mode is tested
            layer.norm.running_mean.copy_(torch.randn(3, generator=generator))
            layer.norm.running_var.copy_(torch.rand(3, generator=generator) + 0.5)
            layer.norm.weight.copy_(torch.randn(3, generator=generator))
            layer.norm.bias.copy_(torch.randn(3, generator=generator))
        return layer, (torch.randn(2, 3, 8, 6, 6, generator=generator),)


def _planar_bad_inputs(layer: EquivariantModule, inputs: tuple, bad: dict[str, tuple],
                       extent: int | None = None) -> dict[str, tuple]:
    """``bad`` plus the invalid variants every layer on images / functions on the group shares: one channel too
    many, (regular fields) a group axis one too long, (``extent``) a grid smaller than the kernel and (point groups
    with quarter turns) a non-square grid."""
    (x,) = inputs
    field = layer.in_type
    bad = dict(bad)
    bad[f"{x.shape[1] + 1} channels instead of {x.shape[1]}"] = (torch.cat([x, x[:, :1]], dim=1),)
    if isinstance(field, RegularField):
        bad[f"a group axis of {x.shape[2] + 1} instead of {x.shape[2]}"] = (torch.cat([x, x[:, :, :1]], dim=2),)
    if extent is not None and extent > 1:
        bad[f"a grid smaller than the kernel ({extent - 1} < {extent})"] = (x[..., :extent - 1, :extent - 1],)
    if field.point_group.needs_square_grid:
        bad["a non-square grid"] = (x[..., :-1],)
    return bad
