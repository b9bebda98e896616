"""Grids: periodic convolution against references, pooling, aliasing, and bad input."""

import itertools

import pytest
import torch
import torch.nn.functional as F

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
    torch.testing.assert_close(conv.to_torch()(x), expected, rtol=0, atol=1e-12)


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
        with pytest.raises(ValueError, match=r"kernel of extent 5, but the grid \(8, 4\) is smaller"):
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
