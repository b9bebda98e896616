"""Grids: periodic convolution against references, pooling, aliasing, and bad input."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gdl.core import seeded
from gdl.datasets import load_mnist
from gdl.grids import GlobalPool, GridCNN, GridField, LocalPool, PeriodicConv, Translations, binomial_filter, shift_each
from gdl.testing import assert_equivariant


def naive_periodic_conv(x, weight, bias, dilation):
    """float64 reference: y[o, i] = Σ_{c, p} w[o, c, p] x[c, i + d·p − a] with indices mod the grid size."""
    ndim = x.dim() - 2
    k = weight.shape[-1]
    anchor = dilation * (k - 1) // 2
    y = torch.zeros(x.shape[0], weight.shape[0], *x.shape[2:], dtype=torch.float64)
    for taps in itertools.product(range(k), repeat=ndim):
        offsets = [dilation * p - anchor for p in taps]
        moved = torch.roll(x, shifts=[-o for o in offsets], dims=tuple(range(2, 2 + ndim)))  # moved[i] = x[i + o]
        y += torch.einsum("oc,bc...->bo...", weight[(slice(None), slice(None), *taps)], moved)
    return y + bias.view(1, -1, *([1] * ndim))


@pytest.mark.parametrize("ndim,kernel_size,dilation", [(1, 4, 1), (2, 3, 1), (2, 2, 3), (2, 5, 2), (3, 3, 1)])
def test_periodic_conv_matches_naive_reference_and_torch(ndim, kernel_size, dilation, generator):
    with seeded(generator):
        conv = PeriodicConv(3, 4, kernel_size, dilation=dilation, ndim=ndim).double()
    x = torch.randn(2, 3, *[11, 10, 7][:ndim], dtype=torch.float64, generator=generator)
    expected = naive_periodic_conv(x, conv.weight.detach(), conv.bias.detach(), dilation)
    torch.testing.assert_close(conv(x), expected, rtol=0, atol=1e-12)
    exported = conv.export()
    assert type(exported) is {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim] and exported.padding_mode == "circular"
    torch.testing.assert_close(exported(x), expected, rtol=0, atol=1e-12)


def test_periodic_conv_commutes_with_every_shift_of_a_small_torus(generator):
    conv = PeriodicConv(2, 3, kernel_size=3).double()
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64, generator=generator)
    y = conv(x)
    for dy, dx in itertools.product(range(5), range(4)):
        torch.testing.assert_close(conv(x.roll((dy, dx), (-2, -1))), y.roll((dy, dx), (-2, -1)), rtol=0, atol=1e-12)


def test_local_pool_matches_torch_and_coarsens_the_group(generator):
    x = torch.randn(2, 3, 8, 6, generator=generator)
    assert torch.equal(LocalPool(3, 2, "max")(x), F.max_pool2d(x, 2))
    assert torch.equal(LocalPool(3, 2, "avg")(x), F.avg_pool2d(x, 2))
    pool = LocalPool(GridField(3, stride=2), kernel_size=3)
    assert pool.out_type.stride == 6 and pool.group == Translations(2, step=6)
    assert LocalPool(3, 2, "blurmax")(x).shape == (2, 3, 4, 3)
    torch.testing.assert_close(binomial_filter(3, 2).sum(), torch.tensor(1.0))


def test_global_pool_modes(generator):
    x = torch.randn(2, 3, 4, 5, generator=generator)
    torch.testing.assert_close(GlobalPool(3, "mean")(x), x.mean((-2, -1)))
    torch.testing.assert_close(GlobalPool(3, "sum")(x), x.sum((-2, -1)))
    torch.testing.assert_close(GlobalPool(3, "max")(x), x.flatten(2).max(-1).values)


def test_strided_pooling_aliases_but_the_pooled_output_is_exactly_invariant_on_the_coarse_lattice():
    """Book §5.1: a CNN with total stride 4 is invariant to shifts by multiples of 4, not to one-pixel shifts."""
    images, _ = load_mnist(limit=64)
    images = images.double()
    with seeded(torch.Generator().manual_seed(0)):
        cnn = GridCNN(1, 10, (8, 16, 32), pool="max").double()
    assert cnn.group == Translations(2, step=4)
    with torch.no_grad():
        logits = cnn(images)
    for shift in [(4, 0), (0, -8), (12, 4), (28, 28)]:
        torch.testing.assert_close(cnn(images.roll(shift, (-2, -1))), logits, rtol=0, atol=1e-12)
    one_pixel = (cnn(images.roll(1, -1)) - logits).abs().max()
    assert one_pixel > 1e-3, f"a one-pixel shift should alias through strided pooling, changed logits by {one_pixel}"
    with pytest.raises(TypeError, match=r"expected an element of Translations\(ndim=2, step=4\)"):
        assert_equivariant(cnn, images, group=Translations(2, step=1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blur_pooling_reduces_aliasing(seed):
    """Anti-aliased pooling (Zhang 2019) shrinks the one-pixel-shift change of a random CNN's logits."""
    images, _ = load_mnist(limit=200)
    images = images.double()
    errors = {}
    for mode in ("max", "blurmax"):
        with seeded(torch.Generator().manual_seed(seed)):
            cnn = GridCNN(1, 10, (8, 16, 32), pool=mode, global_pool="max").double()
        with torch.no_grad():
            logits = cnn(images)
            errors[mode] = float((cnn(images.roll(1, -1)) - logits).norm() / logits.norm())
    assert errors["blurmax"] < 0.7 * errors["max"], errors


def test_shift_each_matches_per_item_roll(generator):
    x = torch.randn(4, 2, 5, 6, generator=generator)
    shifts = torch.randint(-7, 7, (4, 2), generator=generator)
    expected = torch.stack([x[i].roll(tuple(shifts[i].tolist()), (-2, -1)) for i in range(4)])
    assert torch.equal(shift_each(x, shifts), expected)
    with pytest.raises(ValueError, match=r"shifts must have shape \[4, 2\]"):
        shift_each(x, shifts[:, :1])


class TestBadInput:
    def test_wrong_rank(self):
        with pytest.raises(ValueError, match=r"expects a tensor \[B, 3, H, W\] of rank 4, got rank 3 with shape \[3, 8, 8\]"):
            PeriodicConv(3, 4)(torch.zeros(3, 8, 8))

    def test_wrong_channel_count(self):
        with pytest.raises(ValueError, match=r"expects 3 channels \(\[B, 3, H, W\]\), got 5"):
            PeriodicConv(3, 4)(torch.zeros(2, 5, 8, 8))

    def test_integer_tensor(self):
        with pytest.raises(TypeError, match="floating-point tensor, got torch.int64"):
            GlobalPool(3)(torch.zeros(2, 3, 4, 4, dtype=torch.long))

    def test_not_a_tensor(self):
        with pytest.raises(TypeError, match="expects a tensor .* got list"):
            PeriodicConv(3, 4)([[1.0]])

    def test_grid_smaller_than_kernel(self):
        with pytest.raises(ValueError, match=r"kernel of extent 5: expected every spatial size ≥ 5, got a grid \(8, 4\)"):
            PeriodicConv(1, 1, kernel_size=3, dilation=2)(torch.zeros(1, 1, 8, 4))

    def test_grid_not_divisible_by_pool(self):
        with pytest.raises(ValueError, match=r"divisible by 2, got \(7, 8\)"):
            LocalPool(1, 2)(torch.zeros(1, 1, 7, 8))

    def test_element_of_another_group(self):
        with pytest.raises(TypeError, match=r"expected an element of Translations\(ndim=2, step=1\), got Translations\(ndim=1"):
            GridField(1).transform(torch.zeros(1, 1, 4, 4), Translations(1).element((1,)))

    def test_bad_constructor_arguments(self):
        with pytest.raises(ValueError, match="kernel_size must be a positive integer, got 0"):
            PeriodicConv(1, 1, kernel_size=0)
        with pytest.raises(ValueError, match="mode must be one of"):
            LocalPool(1, 2, mode="median")
        with pytest.raises(ValueError, match="expected a GridField with ndim=3"):
            PeriodicConv(GridField(2), 1, ndim=3)
        with pytest.raises(ValueError, match="stride 2 admits only shifts by multiples of 2"):
            GridField(1, stride=2, group=Translations(2, step=1))
        with pytest.raises(ValueError, match="ndim 1, 2 or 3"):
            Translations(4)

    @pytest.mark.parametrize("build, name", [
        (lambda: PeriodicConv(3, True), "out_channels"),
        (lambda: PeriodicConv(3, 8, kernel_size=True), "kernel_size"),
        (lambda: PeriodicConv(3, 8, dilation=1.5), "dilation"),
        (lambda: PeriodicConv(True, 8), "in_channels"),
        (lambda: GridField(True), "channels"),
        (lambda: GridField(2, stride=0), "stride"),
        (lambda: LocalPool(3, kernel_size=True), "kernel_size"),
        (lambda: LocalPool(3, 2, "blurmax", blur_size=2.0), "blur_size"),
        (lambda: Translations(2, step=True), "step"),
        (lambda: GridCNN(1, True), "num_classes"),
        (lambda: GridCNN(1, 10, pool_size=False), "pool_size"),
    ], ids=["out_channels", "kernel_size", "dilation", "in_channels", "field", "stride", "pool", "blur", "step",
            "classes", "pool_size"])
    def test_integers_are_checked_by_name_and_bools_refused(self, build, name):
        with pytest.raises(ValueError, match=rf"{name} must be a positive integer, got"):
            build()

    def test_choices_are_checked_by_name(self):
        with pytest.raises(ValueError, match=r"mode must be one of \('mean', 'max', 'sum'\), got 'median'"):
            GlobalPool(3, "median")
        with pytest.raises(ValueError, match=r"mode must be one of \('max', 'avg', 'blurmax'\), got 'blur'"):
            GridCNN(1, 10, pool="blur")


# -- export to plain torch -------------------------------------------------------------------------------------------

def _plain(module: nn.Module) -> bool:
    """Whether every submodule is a torch.nn module or a private plain helper (no gdl EquivariantModule)."""
    from gdl.core import EquivariantModule

    return not any(isinstance(m, EquivariantModule) for m in module.modules())


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", ["max", "avg", "blurmax"])
def test_local_pool_export_equals_the_layer(ndim, mode, generator):
    pool = LocalPool(3, 2, mode, blur_size=4, ndim=ndim).double()
    x = torch.randn(2, 3, *[8, 6, 4][:ndim], dtype=torch.float64, generator=generator)
    exported = pool.export()
    assert _plain(exported)
    expected = {"max": (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d), "avg": (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d),
                "blurmax": (nn.Sequential,) * 3}[mode][ndim - 1]
    assert type(exported) is expected
    torch.testing.assert_close(exported(x), pool(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["mean", "max", "sum"])
def test_global_pool_export_equals_the_layer(mode, generator):
    pool = GlobalPool(4, mode, ndim=3)
    x = torch.randn(2, 4, 3, 5, 2, dtype=torch.float64, generator=generator)
    exported = pool.export()
    assert _plain(exported)
    torch.testing.assert_close(exported(x), pool(x), rtol=0, atol=0)


def test_grid_cnn_exports_to_an_nn_sequential_of_standard_layers(generator):
    """GridCNN.export() is Blueprint.export(): circular Conv2d, activations, pooling and the linear head."""
    with seeded(generator):
        cnn = GridCNN(2, 5, channels=(4, 6, 8), pool="blurmax", global_pool="sum").double()
    exported = cnn.export()
    assert isinstance(exported, nn.Sequential) and _plain(exported)
    convs = [m for m in exported if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 and all(c.padding_mode == "circular" for c in convs)
    assert isinstance(exported[-1], nn.Linear) and isinstance(exported[1], nn.ReLU)
    x = torch.randn(3, 2, 12, 16, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(exported(x), cnn(x), rtol=0, atol=1e-12)
    # a snapshot: training the model further does not change the export
    with torch.no_grad():
        cnn.layers[0].weight.add_(1.0)
    assert (exported(x) - cnn(x)).abs().max() > 1e-3
