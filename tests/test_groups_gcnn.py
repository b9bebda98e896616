"""Groups I: C_n, D_n, p4, p4m, and G-CNN layers on them (book §4.3, §5.2).

Group axioms and representations, exact equivariance of every p4/p4m layer (float64, 1e-9, rotations, flips and
shifts), the measured error of the interpolated C_8/D_8 layers against their declared tolerance, the fast filter-bank
path against a naive loop over group elements (and that it is one conv2d), export() to plain torch, batch norm against
a naive reference, invariance of a whole P4CNN, bad input, and a tiny run of the rotated_mnist experiment.
"""

import itertools
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import gdl.groups
from gdl.core import EquivariantModule, Pointwise, TrivialField, seeded
from gdl.datasets import load_mnist
from gdl.grids import Translations
from gdl.groups import (
    GCNN,
    P4CNN,
    P4MCNN,
    Z2CNN,
    CyclicGroup,
    DihedralGroup,
    GroupBatchNorm,
    GroupConv,
    GroupPool,
    ImageField,
    InvariantPool,
    LiftingConv,
    RegularField,
    SemidirectProduct,
    SpatialPool,
    act_on_grid,
    p4,
    p4m,
)
from gdl.groups.gcnn import NETWORK_INTERPOLATION_TOLERANCE
from gdl.groups.gconv import INTERPOLATION_TOLERANCE
from gdl.testing import assert_equivariant, equivariance_error
from gdl.testing.fixtures import smooth_disc_images

POINT_GROUPS = [CyclicGroup(1), CyclicGroup(2), CyclicGroup(3), CyclicGroup(4), CyclicGroup(8), DihedralGroup(1),
                DihedralGroup(2), DihedralGroup(4), DihedralGroup(8)]


def _permutation_matrix(row: torch.Tensor) -> torch.Tensor:
    """M with (M f)[i] = f[row[i]]."""
    return torch.eye(len(row), dtype=torch.long)[row]


# -- the groups -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("group", POINT_GROUPS, ids=repr)
def test_point_group_axioms_on_every_pair_and_triple(group):
    everything = group.elements()
    expected_order = 2 * group.n if group.reflections else group.n
    assert group.order == len(everything) == expected_order
    assert [group.index(g) for g in everything] == list(range(group.order))  # distinct, enumerated in index order
    e = group.identity()
    for a in everything:
        assert a * e == a and e * a == a
        assert a * a.inverse() == e and a.inverse() * a == e
        torch.testing.assert_close(group.matrix(a.inverse()), torch.linalg.inv(group.matrix(a)), rtol=0, atol=1e-12)
    for a, b in itertools.product(everything, repeat=2):
        ab = a * b
        assert group.contains(ab)  # closure
        torch.testing.assert_close(group.matrix(ab), group.matrix(a) @ group.matrix(b), rtol=0, atol=1e-12)
    for a, b, c in itertools.product(everything, repeat=3):
        assert (a * b) * c == a * (b * c)


@pytest.mark.parametrize("n", [3, 4, 8])
def test_dihedral_relations(n):
    group = DihedralGroup(n)
    r, m = group.element(rotation=1), group.element(flip=1)
    assert m * m == group.identity()
    assert m * r * m == r.inverse()  # m r m⁻¹ = r⁻¹
    power = group.identity()
    for k in range(1, n + 1):
        power = power * r
        assert (power == group.identity()) == (k == n), f"r^{k}"
    assert not CyclicGroup(n).contains(m)
    assert CyclicGroup(n).is_subgroup_of(group) and not group.is_subgroup_of(CyclicGroup(n))


@pytest.mark.parametrize("group", POINT_GROUPS, ids=repr)
def test_regular_representation_is_a_homomorphism_into_permutation_matrices(group):
    permutations = group.regular_permutations()
    assert permutations.shape == (group.order, group.order)
    everything = group.elements()
    matrices = [_permutation_matrix(row) for row in permutations]
    assert torch.equal(matrices[group.index(group.identity())], torch.eye(group.order, dtype=torch.long))
    for a, b in itertools.product(everything, repeat=2):
        assert torch.equal(matrices[group.index(a)] @ matrices[group.index(b)], matrices[group.index(a * b)])
    for row in permutations:  # each row is a permutation
        assert sorted(row.tolist()) == list(range(group.order))


@pytest.mark.parametrize("make", [p4, p4m], ids=["p4", "p4m"])
def test_wallpaper_group_axioms_on_samples(make, generator):
    group = make()
    assert group.point_group.order == (4 if make is p4 else 8)
    assert group.order is None  # Z² is infinite
    samples = group.sample(24, generator)
    assert {group.point_group.index(g.data[1]) for g in samples} == set(range(group.point_group.order))
    e = group.identity()
    for a in samples:
        assert a * a.inverse() == e and a.inverse() * a == e and a * e == a
    for a, b, c in zip(samples[:8], samples[8:16], samples[16:]):
        assert group.contains(a * b)
        assert (a * b) * c == a * (b * c)
    # the semidirect law: a rotation moves the shift of the element it is composed with
    r, t = group.element(rotation=1), group.element(shift=(1, 0))
    assert (r * t) == group.element(shift=(0, 1), rotation=1)
    assert (t * r) == group.element(shift=(1, 0), rotation=1)


@pytest.mark.parametrize("make", [p4, p4m], ids=["p4", "p4m"])
@pytest.mark.parametrize("field", [ImageField, RegularField], ids=["image", "regular"])
def test_field_actions_are_group_actions(make, field, generator):
    """ρ(a) ρ(b) x = ρ(ab) x exactly: the conventions of grid rotation, group-axis permutation and shift agree."""
    group = make()
    x_field = field(2, group)
    shape = (2, 2, group.point_group.order, 6, 6) if field is RegularField else (2, 2, 6, 6)
    x = torch.randn(shape, dtype=torch.float64, generator=generator)
    samples = group.sample(16, generator)
    for a, b in zip(samples[:8], samples[8:]):
        assert torch.equal(x_field.transform(x_field.transform(x, b), a), x_field.transform(x, a * b))
    assert torch.equal(x_field.transform(x, group.identity()), x)


def test_c8_action_on_smooth_images_is_approximately_a_representation(generator):
    """Interpolated 45° rotations compose only approximately; multiples of 90° stay exact."""
    group = CyclicGroup(8)
    x = smooth_disc_images(2, 1, 25, generator).double()
    r = group.element(rotation=1)
    twice = act_on_grid(act_on_grid(x, r), r)
    error = float((twice - act_on_grid(x, r * r)).abs().max())
    assert 1e-6 < error < 5e-2 * float(x.abs().max()), error
    assert torch.equal(act_on_grid(x, group.element(rotation=2)), torch.rot90(x, 1, (-2, -1)))


def test_semidirect_product_needs_a_lattice_point_group():
    with pytest.raises(ValueError, match=r"only rotations by multiples of 90°.*got n = 8"):
        SemidirectProduct(Translations(2), CyclicGroup(8))
    with pytest.raises(ValueError, match="positive integer, got 0"):
        CyclicGroup(0)


class _ClaimsAGroup(EquivariantModule, register=False):
    """Runs ``network`` but declares other field types (to test that the harness catches a false claim)."""

    def __init__(self, network, in_type, out_type):
        super().__init__()
        self.network = network
        self.in_type, self.out_type = in_type, out_type

    def forward(self, x):
        return self.network(x)


def test_component_representatives_include_the_flips():
    assert [g.data for g in DihedralGroup(4).component_representatives()] == [(1, 0)]
    assert CyclicGroup(4).component_representatives() == []
    flip_and_turn = p4m(step=2).component_representatives()
    assert [(g.data[0].data.tolist(), g.data[1].data) for g in flip_and_turn] == [([2, -4], (0, 1)), ([2, -4], (1, 0))]
    assert [g.data[1].data for g in p4().component_representatives()] == [(0, 1)]
    assert SemidirectProduct(Translations(2), CyclicGroup(1)).component_representatives() == []
    for group in (p4m(), p4(), DihedralGroup(4), DihedralGroup(40)):
        assert all(group.contains(g) for g in group.component_representatives())


@pytest.mark.parametrize("claimed", [p4m(step=4), DihedralGroup(4), DihedralGroup(40)], ids=repr)
def test_a_network_invariant_to_rotations_only_fails_under_flips_even_without_random_draws(claimed, generator):
    """A P4CNN (or a C_n G-CNN) is invariant to quarter turns but not to reflections; claiming p4m / D_n must fail
    even with n_samples=0, because the harness always adds a flip (component_representatives)."""
    with seeded(generator):
        if isinstance(claimed, SemidirectProduct):
            network, size = P4CNN(1, 3, channels=(3, 4, 4)), 16
            honest = network.group
        else:
            n = claimed.n
            network = GCNN(1, 3, channels=(3, 4), group=CyclicGroup(n), padding="zeros", kernel_size=5)
            honest, size = CyclicGroup(n), 10
    x = torch.randn(2, 1, size, size, dtype=torch.float64, generator=generator)
    if claimed.order is None or claimed.order <= 64:  # exact groups: the honest claim holds to round-off
        assert assert_equivariant(network, x, n_samples=0 if honest.order is None else 4) <= 1e-9
    liar = _ClaimsAGroup(network.eval(), ImageField(1, claimed), TrivialField(claimed, 3))
    report = equivariance_error(liar, x, n_samples=0)
    flips = [g for g in report.elements if (g.data[1] if isinstance(claimed, SemidirectProduct) else g).data[0] == 1]
    assert flips, "no reflection was tried"
    assert report.max_error > 1e-3, report.max_error


@pytest.mark.parametrize("build, name", [
    (lambda: LiftingConv(1, True), "out_channels"),
    (lambda: LiftingConv(1, 2, kernel_size=True), "kernel_size"),
    (lambda: LiftingConv(True, 2), "in_channels"),
    (lambda: GroupConv(2, 2.0), "out_channels"),
    (lambda: SpatialPool(RegularField(2, p4()), kernel_size=True), "kernel_size"),
    (lambda: ImageField(True, p4()), "channels"),
    (lambda: RegularField(2, p4(), stride=False), "stride"),
    (lambda: CyclicGroup(True), "the number of rotations n"),
    (lambda: DihedralGroup(4).element(rotation=1.5), "rotation"),
    (lambda: DihedralGroup(4).element(flip=True), "flip"),
    (lambda: P4CNN(1, True, channels=(2,)), "num_classes"),
], ids=["lift out", "lift kernel", "lift in", "gconv out", "pool", "image", "stride", "order", "rotation", "flip",
        "classes"])
def test_integer_arguments_are_checked_by_name_and_bools_refused(build, name):
    with pytest.raises(ValueError, match=rf"{re.escape(name)}.* must be (a positive integer|an integer ≥ 0|an integer), got"):
        build()


# -- exact equivariance of the p4 / p4m layers -----------------------------------------------------------------------

def _regular_input(channels, group, size, generator):
    return torch.randn(2, channels, group.point_group.order, size, size, dtype=torch.float64, generator=generator)


def _exact_layers(group, generator):
    """(name, layer, input) for every G-CNN layer over ``group`` (p4 or p4m), circular and zero padding."""
    image = torch.randn(2, 2, 8, 8, dtype=torch.float64, generator=generator)
    regular = _regular_input(2, group, 8, generator)
    with seeded(generator):
        layers = [
            ("lifting circular", LiftingConv(ImageField(2, group), 3, 3), image),
            ("lifting zeros 5x5", LiftingConv(ImageField(2, group), 3, 5, padding="zeros"), image),
            ("group conv circular", GroupConv(RegularField(2, group), 3, 3), regular),
            ("group conv zeros", GroupConv(RegularField(2, group), 3, 3, padding="zeros", bias=False), regular),
            ("group pool max", GroupPool(RegularField(2, group), "max"), regular),
            ("group pool mean", GroupPool(RegularField(2, group), "mean"), regular),
            ("spatial pool max", SpatialPool(RegularField(2, group), 2, "max"), regular),
            ("spatial pool avg image", SpatialPool(ImageField(2, group), 2, "avg"), image),
            ("invariant pool mean", InvariantPool(RegularField(2, group), "mean"), regular),
            ("invariant pool max image", InvariantPool(ImageField(2, group), "max"), image),
            ("batch norm", GroupBatchNorm(RegularField(2, group)), regular),
            ("batch norm image", GroupBatchNorm(ImageField(2, group)), image),
            ("relu", Pointwise(RegularField(2, group), "relu"), regular),
        ]
    return layers


@pytest.mark.parametrize("make", [p4, p4m], ids=["p4", "p4m"])
def test_every_p4_p4m_layer_is_exactly_equivariant_in_float64(make, generator):
    group = make()
    for name, layer, x in _exact_layers(group, generator):
        if isinstance(layer, GroupBatchNorm):
            with torch.no_grad():
                layer.norm.running_mean.normal_(generator=generator)
                layer.norm.running_var.uniform_(0.5, 2.0, generator=generator)
                layer.norm.weight.normal_(generator=generator)
        modes = [False, True] if isinstance(layer, GroupBatchNorm) else [False]
        for train in modes:
            error = assert_equivariant(layer, x, dtype=torch.float64, atol=1e-9, n_samples=16, generator=generator,
                                       train=train)
            assert error <= 1e-9, name
        zero_padded = getattr(layer, "padding", None) == "zeros"
        if zero_padded:  # zero padding: rotations and flips about the centre, no shifts
            assert layer.group == group.point_group, name
        elif not isinstance(layer, SpatialPool):
            assert layer.group == group, name  # shifts by one pixel included
        else:
            assert layer.group == SemidirectProduct(Translations(2, step=2), group.point_group), name


def test_the_sweep_would_catch_a_filter_bank_that_forgets_to_rotate(generator):
    """Negative control: a lifting layer whose bank repeats the unrotated filter is not equivariant, and the harness says so."""
    with seeded(generator):
        layer = LiftingConv(ImageField(1, p4()), 2, 3)
    layer.spatial_index = layer.spatial_index[:1].expand_as(layer.spatial_index).clone()
    x = torch.randn(2, 1, 8, 8, generator=generator)
    assert equivariance_error(layer, x, n_samples=8, generator=generator).max_error > 1e-2
    with pytest.raises(AssertionError, match="LiftingConv is not equivariant"):
        assert_equivariant(layer, x, n_samples=8, generator=generator)


@pytest.mark.parametrize("cls", [P4CNN, P4MCNN])
def test_whole_gcnn_is_exactly_invariant_in_float64(cls, generator):
    model, inputs = cls.example(generator)
    assert model.is_invariant
    stride = 4  # two 2 × 2 pools
    assert model.group == SemidirectProduct(Translations(2, step=stride), cls.default_group().point_group)
    assert assert_equivariant(model, inputs, dtype=torch.float64, atol=1e-9, n_samples=16, generator=generator) <= 1e-9
    assert assert_equivariant(model, inputs, dtype=torch.float32, atol=1e-5, n_samples=16, generator=generator) <= 1e-5


# -- approximate C_8 / D_8 layers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kernel_size", [3, 5])
@pytest.mark.parametrize("kind", ["lifting", "group"])
@pytest.mark.parametrize("group", [CyclicGroup(8), DihedralGroup(8)], ids=repr)
def test_interpolated_layers_stay_below_their_declared_tolerance(group, kind, kernel_size, dtype, record_property):
    worst = 0.0
    for seed in range(3):
        generator = torch.Generator().manual_seed(seed)
        with seeded(generator):
            if kind == "lifting":
                layer = LiftingConv(ImageField(2, group), 3, kernel_size)
                x = smooth_disc_images(2, 2, 25, generator)
            else:
                layer = GroupConv(RegularField(2, group), 3, kernel_size)
                x = smooth_disc_images(2, 2 * group.order, 25, generator).unflatten(1, (2, group.order))
        assert layer.equivariance_tolerance is INTERPOLATION_TOLERANCE  # declared, so the registry sweep uses it
        worst = max(worst, equivariance_error(layer, x, dtype=dtype).max_error)
    record_property("equivariance_error", worst)
    print(f"{group!r} {kind} conv {kernel_size}×{kernel_size} {str(dtype)[6:]}: max |f(g·x) − g·f(x)| = {worst:.2e}")
    assert worst <= INTERPOLATION_TOLERANCE[dtype]
    assert worst > 1e-4  # honestly approximate: 45° rotations of the grid resample it


@pytest.mark.parametrize("group", [CyclicGroup(8), DihedralGroup(8)], ids=repr)
def test_interpolated_layers_are_exact_on_their_quarter_turns_and_flips(group, generator):
    with seeded(generator):
        layer = GroupConv(RegularField(2, group), 3, 5).double()
    x = torch.randn(2, 2, group.order, 11, 11, dtype=torch.float64, generator=generator)
    y = layer(x)
    exact = [g for g in group.elements() if g.data[1] % 2 == 0]  # rotations by k·90°, with or without the flip
    assert len(exact) == group.order // 2
    for g in exact:
        torch.testing.assert_close(layer(layer.in_type.transform(x, g)), layer.out_type.transform(y, g), rtol=0, atol=1e-10)


@pytest.mark.parametrize("group", [CyclicGroup(8), DihedralGroup(8)], ids=repr)
def test_interpolated_network_stays_below_its_declared_tolerance(group, record_property):
    worst = {}
    for dtype in (torch.float64, torch.float32):
        for seed in range(2):
            generator = torch.Generator().manual_seed(seed)
            with seeded(generator):
                model = GCNN(1, 3, channels=(4, 6), group=group, kernel_size=5)
            x = smooth_disc_images(2, 1, 22, generator)
            worst[dtype] = max(worst.get(dtype, 0.0), equivariance_error(model, x, dtype=dtype).max_error)
    assert model.equivariance_tolerance == NETWORK_INTERPOLATION_TOLERANCE
    record_property("equivariance_error", {str(k): v for k, v in worst.items()})
    print(f"GCNN over {group!r}: float64 {worst[torch.float64]:.2e}, float32 {worst[torch.float32]:.2e}")
    assert max(worst.values()) <= NETWORK_INTERPOLATION_TOLERANCE


# -- the fast path: one conv2d on a bank of transformed filters --------------------------------------------------------

def _naive_lifting(layer, x):
    """float64 reference: y[:, :, i] = circular conv of x with the filter moved by h_i, one group element at a time."""
    group, k = layer.point_group, layer.kernel_size
    field = ImageField(layer.in_type.channels, group)
    padded = F.pad(x, (k // 2,) * 4, mode="circular")
    outs = [F.conv2d(padded, field.transform(layer.weight.detach(), h)) for h in group.elements()]
    return torch.stack(outs, dim=2) + layer.bias.detach().view(1, -1, 1, 1, 1)


def _naive_group_conv(layer, f):
    """float64 reference: y[:, :, i] = Σ_{c, h'} circular conv of f[:, c, h'] with (ρ_reg(h_i) θ)[:, c, h']."""
    group, k = layer.point_group, layer.kernel_size
    field = RegularField(layer.in_type.channels, group)
    padded = F.pad(f.flatten(1, 2), (k // 2,) * 4, mode="circular")
    outs = [F.conv2d(padded, field.transform(layer.weight.detach(), h).flatten(1, 2)) for h in group.elements()]
    return torch.stack(outs, dim=2) + layer.bias.detach().view(1, -1, 1, 1, 1)


@pytest.mark.parametrize("make", [p4, p4m], ids=["p4", "p4m"])
def test_filter_bank_conv_matches_a_loop_over_group_elements(make, generator):
    group = make()
    with seeded(generator):
        lift = LiftingConv(ImageField(3, group), 4, 5).double()
        gconv = GroupConv(RegularField(3, group), 4, 3).double()
    x = torch.randn(2, 3, 9, 9, dtype=torch.float64, generator=generator)
    f = _regular_input(3, group, 9, generator)
    torch.testing.assert_close(lift(x), _naive_lifting(lift, x), rtol=0, atol=1e-12)
    torch.testing.assert_close(gconv(f), _naive_group_conv(gconv, f), rtol=0, atol=1e-12)


@pytest.mark.parametrize("group", [p4(), p4m(), CyclicGroup(8), DihedralGroup(8)], ids=repr)
def test_forward_is_one_conv2d_call(group, monkeypatch, generator):
    calls = []
    original = F.conv2d

    def counting(*args, **kwargs):
        calls.append(args[1].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(F, "conv2d", counting)
    order = group.point_group.order if isinstance(group, SemidirectProduct) else group.order
    with seeded(generator):
        lift = LiftingConv(ImageField(2, group), 3, 3)
        gconv = GroupConv(RegularField(3, group), 4, 3)
    x = torch.randn(2, 2, 12, 12, generator=generator)
    y = lift(x)
    assert calls == [(3 * order, 2, 3, 3)]  # the whole bank at once
    z = gconv(y)
    assert calls[1:] == [(4 * order, 3 * order, 3, 3)]
    z.square().sum().backward()  # gradients reach the untransformed filters through the bank
    assert lift.weight.grad is not None and gconv.weight.grad.abs().sum() > 0
    assert len(calls) == 2


# -- export to plain torch ---------------------------------------------------------------------------------------------

def _is_plain_torch(module):
    return all(type(m).__module__.startswith("torch.nn") for m in module.modules())


@pytest.mark.parametrize("make", [p4, p4m], ids=["p4", "p4m"])
def test_export_of_each_layer_computes_the_same_function(make, generator):
    """Each layer's export() runs on the layer's own tensors and equals it in float64 (1e-12) and float32 (1e-5)."""
    group = make()
    for name, layer, x in _exact_layers(group, generator):
        if isinstance(layer, GroupBatchNorm):
            layer.train()(x.to(layer.norm.weight.dtype))  # non-trivial running statistics
            with torch.no_grad():
                layer.norm.weight.normal_(generator=generator)
        layer.eval()
        plain = layer.export()
        assert isinstance(plain, nn.Module) and _is_plain_torch(plain), name
        for dtype, tolerance in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
            with torch.no_grad():
                difference = (plain.to(dtype).eval()(x.to(dtype)) - layer.to(dtype)(x.to(dtype))).abs().max()
            assert difference <= tolerance, f"{name} {dtype}: {difference}"


@pytest.mark.parametrize("cls", [Z2CNN, P4CNN, P4MCNN])
def test_export_of_a_trained_gcnn_computes_the_same_function(cls, generator):
    with seeded(generator):
        model = cls(1, 10, channels=(4, 6, 8))
    images, labels = load_mnist(limit=64)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):  # a few steps: weights and running statistics move away from their initial values
        optimiser.zero_grad()
        F.cross_entropy(model.train()(images), labels).backward()
        optimiser.step()
    norms = [m.norm for m in model.modules() if isinstance(m, GroupBatchNorm)]
    assert norms and all(float(n.running_mean.abs().max()) > 1e-3 for n in norms)
    model.eval()
    plain = model.export()
    assert isinstance(plain, nn.Sequential) and _is_plain_torch(plain) and not plain.training
    assert any(isinstance(m, nn.Conv2d) and m.padding_mode == "circular" for m in plain.modules())
    with torch.no_grad():
        difference = float((plain(images) - model(images)).abs().max())
        assert difference <= 1e-5, difference
        double = float((plain.double()(images.double()) - model.double()(images.double())).abs().max())
    assert double <= 1e-12, double


def test_export_of_an_interpolated_gcnn_forms_its_bank_in_the_forward_pass(generator):
    """Over C8 the bank is θ·M: the export keeps θ and M (so float64 stays exact) and contains no gdl layer."""
    model, (x,) = GCNN.example(generator)
    with seeded(generator):  # without batch norm the convolutions carry biases (shared by the group axis)
        biased = GCNN(1, 3, channels=(3, 4), group=DihedralGroup(8), kernel_size=5, batch_norm=False,
                      padding="zeros")
        lift, gconv = LiftingConv(ImageField(2, CyclicGroup(8)), 3, 3), GroupConv(RegularField(2, DihedralGroup(8)), 3, 3)
    regular = smooth_disc_images(2, 2 * 16, 12, generator).unflatten(1, (2, 16))
    for module, inputs in ((model, x), (biased, x), (lift, x[:, :1].expand(-1, 2, -1, -1)), (gconv, regular)):
        plain = module.eval().export()
        assert not any(isinstance(m, EquivariantModule) for m in plain.modules())
        for dtype, tolerance in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
            with torch.no_grad():
                difference = float((plain.to(dtype)(inputs.to(dtype)) - module.to(dtype)(inputs.to(dtype))).abs().max())
            assert difference <= tolerance, (type(module).__name__, dtype, difference)


def test_export_is_the_base_method_and_not_a_module_function():
    assert not hasattr(gdl.groups, "export") and "export" not in gdl.groups.__all__
    assert not hasattr(gdl.groups.gconv, "export")
    for cls in (LiftingConv, GroupConv, GroupPool, SpatialPool, InvariantPool, GroupBatchNorm):
        assert "export" in cls.__dict__ or "export" in cls.__mro__[1].__dict__, cls
    assert GCNN.export is not EquivariantModule.export


# -- batch norm ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field", [RegularField(3, p4m()), ImageField(3, p4())], ids=["regular", "image"])
def test_group_batch_norm_equals_a_naive_reference(field, generator):
    layer = GroupBatchNorm(field, momentum=0.3).double()
    with torch.no_grad():
        layer.norm.weight.normal_(generator=generator)
        layer.norm.bias.normal_(generator=generator)
    shape = (4, 3, field.point_group.order, 6, 6) if isinstance(field, RegularField) else (4, 3, 6, 6)
    x = 2 + 3 * torch.randn(shape, dtype=torch.float64, generator=generator)
    gamma, beta = layer.norm.weight.detach().clone(), layer.norm.bias.detach().clone()
    mean, var, unbiased = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    expected = torch.empty_like(x)
    for c in range(3):  # one set of statistics per channel, over batch, group axis and grid
        values = x[:, c].reshape(-1)
        n = values.numel()
        mean[c] = sum(values.tolist()) / n
        var[c] = sum((v - float(mean[c])) ** 2 for v in values.tolist()) / n
        unbiased[c] = var[c] * n / (n - 1)
        expected[:, c] = gamma[c] * (x[:, c] - mean[c]) / torch.sqrt(var[c] + layer.norm.eps) + beta[c]
    torch.testing.assert_close(layer.train()(x), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer.norm.running_mean, 0.3 * mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer.norm.running_var, 0.7 + 0.3 * unbiased, rtol=0, atol=1e-12)
    y = layer.eval()(x)
    reference = gamma.view(1, 3, *[1] * (x.dim() - 2)) * (x - (0.3 * mean).view(1, 3, *[1] * (x.dim() - 2)))
    reference = reference / torch.sqrt(0.7 + 0.3 * unbiased + layer.norm.eps).view(1, 3, *[1] * (x.dim() - 2))
    torch.testing.assert_close(y, reference + beta.view(1, 3, *[1] * (x.dim() - 2)), rtol=0, atol=1e-12)


# -- the whole network ---------------------------------------------------------------------------------------------

def test_p4cnn_predictions_are_invariant_to_quarter_turns_and_a_plain_cnn_is_not(generator):
    images, _ = load_mnist(limit=32)
    with seeded(generator):
        models = {"p4cnn": P4CNN(1, 10, channels=(4, 8, 8), global_pool="max"),
                  "p4mcnn": P4MCNN(1, 10, channels=(3, 6, 6), global_pool="max"),
                  "cnn": Z2CNN(1, 10, channels=(8, 16, 16), global_pool="max")}  # shifts only, same blueprint
    assert models["cnn"].group == SemidirectProduct(Translations(2, step=4), CyclicGroup(1))
    changes, spread = {}, {}
    with torch.no_grad():
        for name, model in models.items():
            logits = model.eval()(images)
            turned = [model(torch.rot90(images, k, (-2, -1))) for k in (1, 2, 3)]
            if name == "p4mcnn":
                turned += [model(images.flip(-1)), model(torch.rot90(images.flip(-2), 1, (-2, -1)))]
            changes[name] = max(float((t - logits).abs().max()) for t in turned)
            spread[name] = float(logits.std(dim=-1).mean())  # how far apart the logits of one digit are
    assert changes["p4cnn"] <= 1e-5 and changes["p4mcnn"] <= 1e-5, changes
    print(f"max |Δlogit| under 90° turns: {changes}; typical logit spread {spread}")
    assert changes["cnn"] > 0.1 * spread["cnn"], (changes, spread)


# -- bad input -----------------------------------------------------------------------------------------------------

def test_bad_input_errors_name_expected_and_given(generator):
    lift = LiftingConv(1, 2, group=p4())
    gconv = GroupConv(RegularField(2, p4()), 2)
    with pytest.raises(ValueError, match=r"group axis of size \|C4\| = 4 .*got 8 in shape \[1, 2, 8, 6, 6\]"):
        gconv(torch.randn(1, 2, 8, 6, 6))
    with pytest.raises(ValueError, match=r"needs a square grid \(H = W\), got H = 6, W = 8"):
        lift(torch.randn(1, 1, 6, 8))
    with pytest.raises(ValueError, match=r"needs a square grid \(H = W\), got H = 6, W = 8"):
        gconv(torch.randn(1, 2, 4, 6, 8))
    with pytest.raises(ValueError, match=r"\[B, 1, H, W\] of rank 4, got rank 5.*looks like a function on the group"):
        lift(torch.randn(1, 1, 4, 6, 6))
    with pytest.raises(ValueError, match=r"\[B, 2, 4, H, W\] of rank 5, got rank 4.*lift it to the group first"):
        gconv(torch.randn(1, 2, 6, 6))
    with pytest.raises(ValueError, match=r"expects 1 channels .*got 3"):
        lift(torch.randn(1, 3, 6, 6))
    with pytest.raises(TypeError, match="floating-point tensor, got torch.int64"):
        lift(torch.ones(1, 1, 6, 6, dtype=torch.long))
    # no rotation by 90°: C2 and D1 accept non-square grids
    mirror_only = SemidirectProduct(Translations(2), DihedralGroup(1))
    assert LiftingConv(1, 2, group=mirror_only)(torch.randn(1, 1, 6, 8)).shape == (1, 2, 2, 6, 8)
    with pytest.raises(ValueError, match="odd kernel_size.*got 4"):
        LiftingConv(1, 2, 4)
    with pytest.raises(ValueError, match=r"padding must be one of \('circular', 'zeros'\), got 'reflect'"):
        GroupConv(2, 2, padding="reflect")
    with pytest.raises(TypeError, match="LiftingConv expects an input of type ImageField, got RegularField"):
        LiftingConv(RegularField(2, p4()), 2)
    with pytest.raises(ValueError, match=r"in_type is over .*C4 but group=.*D4 was given"):
        LiftingConv(ImageField(1, p4()), 2, group=p4m())
    with pytest.raises(TypeError, match="P4CNN fixes its group"):
        P4CNN(1, 10, group=p4m())
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        P4CNN(1, 0, channels=(2,))
    with pytest.raises(ValueError, match=r"pool must be one of \('max', 'avg'\), got 'mean'"):
        P4CNN(1, 10, channels=(2,), pool="mean")


# -- the rotated_mnist experiment at a tiny setting ---------------------------------------------------------------------

def test_rotated_mnist_tiny_run(tmp_path):
    """Whatever the training, the P4-CNN's errors on upright and 90°-turned digits agree; the plain CNN's logits move."""
    from gdl.experiments.base import Settings
    from gdl.experiments.rotated_mnist import RotatedMNIST, RunConfig

    config = RunConfig(n_train=1600, epochs=3, widths={"cnn": (8, 16, 32), "p4cnn": (4, 8, 16), "p4mcnn": (3, 6, 11)},
                       sweep_step=90.0, n_test=200)
    outcome = RotatedMNIST().evaluate(config, Settings(quick=True, device="cpu", out_dir=tmp_path, progress=False))
    errors = outcome["errors"]
    print("tiny rotated_mnist errors (%):", errors)
    for model in ("p4cnn", "p4mcnn"):
        assert errors[model]["upright"] == errors[model]["90° turns"], errors[model]
        assert outcome["max_logit_change"][model] <= 1e-4
        assert outcome["sweep"][model][0] == outcome["sweep"][model][1] == errors[model]["upright"]  # 0° and 90°
    assert outcome["max_logit_change"]["cnn"] > 1e-2
    assert errors["p4cnn"]["upright"] < 70, "three epochs on 1,600 digits should beat chance (90 %)"
    assert errors["cnn"]["90° turns"] > errors["cnn"]["upright"] + 20, "a CNN trained upright should fail on turned digits"
    assert outcome["angles"] == [0.0, 90.0, 180.0, 270.0, 360.0]
