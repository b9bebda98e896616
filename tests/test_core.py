"""The shared contract: group laws, field types, the registry, the blueprint, the harness."""

import pytest
import torch
from toys import OddPeriodicConv, SignField, SignFlip

from gdl.core import (
    Blueprint,
    EquivariantModule,
    InvariantLinear,
    Pointwise,
    ProductGroup,
    TrivialField,
    TupleField,
    common_subgroup,
    registry,
    seeded,
)
from gdl.grids import GlobalPool, GridField, LocalPool, PeriodicConv, Translations
from gdl.testing import assert_equivariant, equivariance_error

GROUPS = [Translations(1), Translations(2, step=3), Translations(3), SignFlip(), Translations(2) * SignFlip()]


@pytest.mark.parametrize("group", GROUPS, ids=repr)
def test_group_axioms_on_samples(group, generator):
    a, b, c = group.sample(3, generator)
    e = group.identity()
    assert (a * b) * c == a * (b * c)
    assert e * a == a and a * e == a
    assert a * a.inverse() == e and a.inverse() * a == e


@pytest.mark.parametrize("group", GROUPS, ids=repr)
def test_sampling_is_reproducible(group):
    first = group.sample(5, torch.Generator().manual_seed(7))
    second = group.sample(5, torch.Generator().manual_seed(7))
    assert all(x == y for x, y in zip(first, second))


def test_finite_groups_enumerate_and_infinite_ones_refuse():
    product = SignFlip() * SignFlip()
    assert product.order == 4
    elements = product.elements()
    assert len(elements) == 4 and all(product.contains(g) for g in elements)
    assert sum(g == product.identity() for g in elements) == 1
    with pytest.raises(TypeError, match="infinite"):
        Translations(2).elements()
    with pytest.raises(TypeError, match="infinite"):
        (Translations(2) * SignFlip()).elements()


def test_translation_membership_and_subgroups():
    even = Translations(2, step=2)
    assert even.contains(Translations(2).element((2, -4)))
    assert not even.contains(Translations(2).element((1, 0)))
    assert not Translations(2).contains(Translations(1).element((1,)))
    with pytest.raises(ValueError, match="multiples of 2"):
        even.element((1, 0))
    with pytest.raises(ValueError, match="2 entries"):
        Translations(2).element((1, 2, 3))
    with pytest.raises(ValueError, match="integers"):
        Translations(2).element((0.5, 1))
    assert Translations(2, step=6).is_subgroup_of(Translations(2, step=3))
    assert Translations(2, step=4).intersection(Translations(2, step=6)) == Translations(2, step=12)
    assert common_subgroup([Translations(2), Translations(2, step=2), Translations(2, step=4)]) == Translations(2, step=4)
    product = (Translations(2) * SignFlip()).intersection(Translations(2, step=2) * SignFlip())
    assert product == ProductGroup((Translations(2, step=2), SignFlip()))
    with pytest.raises(TypeError, match="no common subgroup"):
        Translations(2).intersection(SignFlip())


def test_elements_of_another_group_are_rejected_with_names():
    with pytest.raises(TypeError, match=r"expected an element of Translations\(ndim=2, step=1\), got SignFlip"):
        Translations(2).compose(Translations(2).identity(), SignFlip().identity())
    with pytest.raises(TypeError, match="got an object of type tuple"):
        GridField(3).transform(torch.zeros(1, 3, 4, 4), (1, 1))
    with pytest.raises(TypeError, match="expected an element of Translations"):
        GridField(3).transform(torch.zeros(1, 3, 4, 4), Translations(1).element((1,)))
    with pytest.raises(TypeError, match="expected an element of Translations"):
        TrivialField(Translations(2, step=4)).transform(torch.zeros(3), Translations(2).element((1, 0)))


def test_field_types_restrict_only_to_subgroups():
    field = GridField(3)
    assert field.restrict(Translations(2, step=2)).group == Translations(2, step=2)
    with pytest.raises(TypeError, match="not a subgroup"):
        GridField(3, stride=2).restrict(Translations(2, step=1))
    with pytest.raises(TypeError, match="share one group"):
        TupleField((GridField(3), SignField()))


def test_registration_and_opt_out():
    names = registry()
    assert "gdl.grids.conv.PeriodicConv" in names
    assert not any("OddPeriodicConv" in name for name in names)
    assert all(isinstance(cls, type) and issubclass(cls, EquivariantModule) for cls in names.values())


def test_seeded_is_reproducible_and_restores_the_global_rng():
    state = torch.get_rng_state()
    with seeded(torch.Generator().manual_seed(3)):
        first = PeriodicConv(2, 2).weight.detach().clone()
    assert torch.equal(torch.get_rng_state(), state)
    with seeded(torch.Generator().manual_seed(3)):
        second = PeriodicConv(2, 2).weight.detach().clone()
    assert torch.equal(first, second)


def test_pointwise_checks_its_field_and_activation():
    with pytest.raises(TypeError, match="not equivariant"):
        Pointwise(SignField())
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        Pointwise(GridField(3), "swish")
    x = torch.randn(2, 3, 4, 4)
    assert torch.equal(Pointwise(GridField(3), "tanh")(x), torch.tanh(x))


def test_blueprint_checks_types_and_intersects_groups():
    conv = PeriodicConv(3, 4)
    pool = LocalPool(conv.out_type, 2)
    net = Blueprint(conv, Pointwise(conv.out_type), pool, GlobalPool(pool.out_type))
    assert net.group == Translations(2, step=2)
    assert net.is_invariant
    with pytest.raises(TypeError, match=r"layer 0 \(PeriodicConv\) produces GridField\(channels=4.*expects GridField\(channels=5"):
        Blueprint(conv, PeriodicConv(5, 2))
    with pytest.raises(TypeError, match="must be an EquivariantModule"):
        Blueprint(conv, torch.nn.ReLU())
    with pytest.raises(ValueError, match="at least one layer"):
        Blueprint()
    with pytest.raises(TypeError, match="TrivialField with a channel count"):
        InvariantLinear(TrivialField(Translations(2)), 3)


def test_harness_measures_exact_equivariance_and_leaves_the_module_alone(generator):
    conv = PeriodicConv(2, 3)
    x = torch.randn(2, 2, 7, 6, generator=generator)
    error = assert_equivariant(conv, x, generator=generator)
    assert error <= 1e-12
    assert conv.weight.dtype == torch.float32  # the check ran on a float64 copy


class ZeroPaddedConv(EquivariantModule, register=False):
    """Claims shift equivariance but pads with zeros: wrong at the border."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.in_type, self.out_type = GridField(2), GridField(3)

    def forward(self, x):
        return self.conv(x)


def test_harness_catches_a_broken_layer_and_names_it(generator):
    x = torch.randn(2, 2, 8, 8, generator=generator)
    with pytest.raises(AssertionError, match=r"ZeroPaddedConv is not equivariant under Translations\(ndim=2, step=1\) "
                                             r"in float64: max \|f\(g·x\) − g·f\(x\)\| = .* at g = .*shift=\("):
        assert_equivariant(ZeroPaddedConv(), x, generator=generator)
    report = equivariance_error(ZeroPaddedConv(), x, generator=generator, n_samples=6)
    assert report.max_error > 0.1 and len(report.errors) == 6
    assert report.worst_element in report.elements


def test_product_symmetry_shifts_times_sign_flips(generator):
    x = torch.randn(2, 2, 6, 6, generator=generator)
    odd = OddPeriodicConv(bias=False)
    assert odd.group == Translations(2) * SignFlip()
    assert assert_equivariant(odd, x, generator=generator, n_samples=8) <= 1e-12
    with pytest.raises(AssertionError, match="OddPeriodicConv is not equivariant"):
        assert_equivariant(OddPeriodicConv(bias=True), x, generator=generator, n_samples=8)


def test_small_finite_groups_are_enumerated(generator):
    class Negation(EquivariantModule, register=False):
        def __init__(self):
            super().__init__()
            self.in_type = self.out_type = SignField()

        def forward(self, x):
            return -x

    report = equivariance_error(Negation(), torch.randn(4, generator=generator), n_samples=1)
    assert len(report.elements) == 2 and report.max_error == 0.0


def test_tuple_inputs_are_transformed_together(generator):
    class Add(EquivariantModule, register=False):
        def __init__(self):
            super().__init__()
            self.in_type = TupleField((GridField(2), GridField(2)))
            self.out_type = GridField(2)

        def forward(self, a, b):
            return a + 2 * b

    a, b = torch.randn(2, 1, 2, 5, 5, generator=generator)
    assert assert_equivariant(Add(), (a, b), generator=generator) == 0.0
    with pytest.raises(TypeError, match="tuple of 2 values, got tuple of length 1"):
        Add().in_type.transform((a,), Translations(2).identity())


def test_size_dependent_types_come_from_the_inputs_and_in_type_says_how_otherwise():
    from gdl.symmetries import Permutations, SetField

    class RowwiseScale(EquivariantModule, register=False):
        def field_types(self, x):
            field = SetField(Permutations(x.shape[0]), 3)
            return field, field

        def forward(self, x):
            return 2 * x

    layer = RowwiseScale()
    with pytest.raises(TypeError, match=r"RowwiseScale has no fixed in_type.*field_types\(\*inputs\)"):
        layer.in_type  # noqa: B018
    x = torch.randn(5, 3, dtype=torch.float64)
    assert layer.field_types(x) == (SetField(Permutations(5), 3),) * 2
    assert assert_equivariant(layer, x) == 0.0
    assert assert_equivariant(layer, torch.randn(7, 3, dtype=torch.float64)) == 0.0


def test_resolve_activation_knows_names_callables_and_restricted_choices():
    from gdl.core import ACTIVATIONS, resolve_activation

    name, function = resolve_activation("silu")
    assert name == "silu" and isinstance(function, ACTIVATIONS["silu"])
    x = torch.randn(5)
    assert torch.equal(function(x), torch.nn.functional.silu(x))
    assert resolve_activation(torch.sin) == ("sin", torch.sin)
    with pytest.raises(ValueError, match=r"unknown activation 'elu'; expected one of \['gelu', 'relu'\] or a callable"):
        resolve_activation("elu", choices=("relu", "gelu"))
    with pytest.raises(TypeError, match="gate_activation must be a name, got builtin_function_or_method"):
        resolve_activation(torch.sin, allow_callable=False, name="gate_activation")


def test_gate_refuses_unknown_activations_by_name():
    from gdl.groups import Gate

    with pytest.raises(ValueError, match=r"unknown gate_activation 'swish'; expected one of \["):
        Gate("4x0e + 2x1o", gate_activation="swish")
