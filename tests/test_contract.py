"""Contract v2 and the harness: types from the inputs, the blueprint's context, checks at the boundary, export,
a harness that cannot pass silently, and a registry that users' classes do not enter by accident."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import warnings

import pytest
import torch

from gdl.core import Blueprint, EquivariantModule, FieldType, Pointwise, TrivialField, TupleField, registry
from gdl.core.checks import check_edge_index, checking, value_checks
from gdl.symmetries import (
    EdgeIndexField,
    Euclidean,
    Orthogonal,
    Permutations,
    SetField,
    SpecialOrthogonal,
    VectorField,
)
from gdl.testing import assert_equivariant, equivariance_error


# -- toy graph layers on the v2 contract --------------------------------------------------------------------------
class SumNeighbours(EquivariantModule, register=False):
    """y_i = x_i + Σ_{j→i} x_j: S_N-equivariant on (x, edge_index); N read from x."""

    context_keys = ("edge_index",)

    def __init__(self):
        super().__init__()
        self.checked: list[bool] = []

    def field_types(self, x, edge_index):
        group = Permutations(x.shape[0])
        return TupleField((SetField(group, x.shape[1]), EdgeIndexField(group))), SetField(group, x.shape[1])

    def forward(self, x, edge_index):
        self.checked.append(checking())
        check_edge_index(edge_index, x.shape[0])
        return x.index_add(0, edge_index[1], x[edge_index[0]])


class SumReadout(EquivariantModule, register=False):
    """The invariant pooling A: Σ_i x_i."""

    def field_types(self, x):
        group = Permutations(x.shape[0])
        return SetField(group, x.shape[1]), TrivialField(group, x.shape[1])

    def forward(self, x):
        return x.sum(0)


def _graph(generator, nodes=6):
    x = torch.randn(nodes, 3, dtype=torch.float64, generator=generator)
    edge_index = torch.randint(0, nodes, (2, 12), generator=generator)
    return x, edge_index


def test_a_graph_blueprint_threads_its_context_and_states_types_from_the_inputs(generator):
    net = Blueprint(SumNeighbours(), Pointwise(), SumNeighbours(), SumReadout(), context=("edge_index",))
    x, edge_index = _graph(generator)
    in_type, out_type = net.field_types(x, edge_index)
    group = Permutations(6)
    assert in_type == TupleField((SetField(group, 3), EdgeIndexField(group)))
    assert out_type == TrivialField(group, 3)
    assert assert_equivariant(net, (x, edge_index), generator=generator) < 1e-12
    # the same network on a graph of another size: new types, still invariant
    assert net.field_types(*_graph(generator, nodes=9))[1] == TrivialField(Permutations(9), 3)
    # reference: the composition written by hand
    h = x.index_add(0, edge_index[1], x[edge_index[0]]).relu()
    expected = h.index_add(0, edge_index[1], h[edge_index[0]]).sum(0)
    assert torch.allclose(net(x, edge_index), expected, atol=1e-12, rtol=0)
    with pytest.raises(TypeError, match="no fixed in_type"):
        net.in_type  # noqa: B018


def test_blueprint_export_threads_the_context_in_plain_torch(generator):
    class Double(EquivariantModule, register=False):
        context_keys = ("edge_index",)

        def field_types(self, x, edge_index):
            group = Permutations(x.shape[0])
            return TupleField((SetField(group, 3), EdgeIndexField(group))), SetField(group, 3)

        def forward(self, x, edge_index):
            return x.index_add(0, edge_index[1], x[edge_index[0]])

        def export(self):
            return _PlainSum()

    class _PlainSum(torch.nn.Module):
        def forward(self, x, edge_index):
            return x.index_add(0, edge_index[1], x[edge_index[0]])

    net = Blueprint(Double(), Pointwise(), Double(), context=("edge_index",))
    plain = net.export()
    assert not isinstance(plain, EquivariantModule)
    x, edge_index = _graph(generator)
    assert torch.equal(plain(x, edge_index), net(x, edge_index))
    with pytest.raises(NotImplementedError, match="SumReadout does not implement export"):
        Blueprint(Double(), SumReadout(), context=("edge_index",)).export()


def test_blueprint_refuses_unknown_or_unread_context_and_mismatched_layers(generator):
    with pytest.raises(TypeError, match=r"reads context \['edge_index'\], which the Blueprint does not carry"):
        Blueprint(SumNeighbours(), SumReadout())
    with pytest.raises(TypeError, match=r"carries context \['batch'\] that no layer reads"):
        Blueprint(SumNeighbours(), context=("edge_index", "batch"))

    class Widen(EquivariantModule, register=False):
        def field_types(self, x):
            group = Permutations(x.shape[0])
            return SetField(group, x.shape[1]), SetField(group, 2 * x.shape[1])

        def forward(self, x):
            return torch.cat([x, x], dim=1)

    net = Blueprint(SumNeighbours(), Widen(), SumNeighbours(), context=("edge_index",))
    x, edge_index = _graph(generator)
    net(x, edge_index)  # SumNeighbours runs on any width: the forward works ...
    (out_type := net.field_types(x, edge_index)[1])
    assert out_type == SetField(Permutations(6), 6)  # ... and the types follow the values
    with pytest.raises(TypeError, match=r"at least 2 inputs, got 1"):
        net(x)


def test_value_checks_run_once_at_the_boundary_and_the_switch_turns_them_off(generator):
    first, second = SumNeighbours(), SumNeighbours()
    net = Blueprint(first, Pointwise(), second, context=("edge_index",))
    x, edge_index = _graph(generator)
    net(x, edge_index)
    assert first.checked == [True] and second.checked == [False]
    bad = edge_index.clone()
    bad[0, 0] = 6
    with pytest.raises(ValueError, match=r"refers to nodes 0..6, but the graph has 6 nodes"):
        net(x, bad)
    assert checking()
    with value_checks(False):
        assert not checking()
        check_edge_index(bad, 6)  # not read: no error, no sync
    assert checking()


def test_the_environment_variable_starts_a_process_without_value_checks():
    code = "from gdl.core.checks import checking; print(checking())"
    for value, expected in (("0", "False"), ("1", "True")):
        env = {**os.environ, "GDL_VALUE_CHECKS": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


# -- the harness cannot pass silently -----------------------------------------------------------------------------
def test_an_output_the_harness_does_not_know_raises_naming_its_type():
    class Opaque:
        pass

    class ReturnsOpaque(EquivariantModule, register=False):
        def __init__(self):
            super().__init__()
            self.in_type = self.out_type = TrivialField(Permutations(3), 2)

        def forward(self, x):
            return Opaque()

    with pytest.raises(TypeError, match="cannot compare an output of type Opaque"):
        assert_equivariant(ReturnsOpaque(), torch.randn(3, 2))


def test_one_broken_output_among_several_fails_the_check(generator):
    class TwoOutputs(EquivariantModule, register=False):
        """(σ-equivariant wrong first output, correct last output)."""

        def field_types(self, x):
            field = SetField(Permutations(x.shape[0]), x.shape[1])
            return field, TupleField((field, field))

        def forward(self, x):
            return x.cumsum(0), 3 * x  # a running sum is not permutation-equivariant

    with pytest.raises(AssertionError, match="TwoOutputs is not equivariant"):
        assert_equivariant(TwoOutputs(), torch.randn(5, 2, dtype=torch.float64), generator=generator)
    report = equivariance_error(TwoOutputs(), torch.randn(5, 2, dtype=torch.float64), generator=generator)
    assert report.max_error > 0.1


@dataclasses.dataclass(frozen=True)
class _Pair(FieldType):
    """Two stacked 3-vectors ``[2, 3]``, each rotated."""

    group: object

    def transform(self, value, g):
        return VectorField(self.group).transform(value, g)

    def validate(self, value):
        pass


def test_the_sweep_always_tries_a_reflection():
    """a × b is SO(3)- but not O(3)-equivariant as a vector; zero random draws still include a reflection."""

    class Cross(EquivariantModule, register=False):
        def __init__(self, group):
            super().__init__()
            self.in_type, self.out_type = _Pair(group), VectorField(group)

        def forward(self, pair):
            return torch.linalg.cross(pair[0], pair[1])

    pair = torch.randn(2, 3, dtype=torch.float64)
    assert assert_equivariant(Cross(SpecialOrthogonal(3)), pair, n_samples=3) < 1e-12
    report = equivariance_error(Cross(Orthogonal(3)), pair, n_samples=0)
    assert len(report.elements) == 1 and float(torch.linalg.det(report.elements[0].data)) < 0
    assert report.max_error > 1e-3
    assert [round(float(torch.linalg.det(g.data[0])), 9) for g in Euclidean(3).component_representatives()] == [-1.0]


def test_assert_equivariant_passes_autocast_through(generator):
    class Mix(EquivariantModule, register=False):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(16, 16)
            self.in_type, self.out_type = SetField(Permutations(8), 16), TrivialField(Permutations(8), 16)
            self.dtypes: list[torch.dtype] = []

        def forward(self, x):
            y = self.linear(x)
            self.dtypes.append(y.dtype)
            return y.float().sum(0)

    x = torch.randn(8, 16, generator=generator)
    seen = []
    for autocast in (None, torch.bfloat16):
        layer = Mix()
        original = Mix.forward
        Mix.forward = lambda self, x, original=original: (seen.append(torch.is_autocast_enabled("cpu")), original(self, x))[1]
        try:
            assert_equivariant(layer, x, dtype=torch.float32, atol=1.0, autocast=autocast, n_samples=1,
                               generator=torch.Generator().manual_seed(0))
        finally:
            Mix.forward = original
    assert seen[0] is False and seen[-1] is True


# -- the registry ------------------------------------------------------------------------------------------------
def test_user_classes_join_the_registry_only_when_they_opt_in():
    class MyLayer(EquivariantModule):
        pass

    class MySharedLayer(EquivariantModule, register=True):
        pass

    names = registry()
    assert not any(name.endswith(".MyLayer") for name in names)
    assert any(name.endswith("MySharedLayer") for name in names)


def test_redefining_a_registered_class_warns_instead_of_replacing_it_silently():
    def define():
        class Redefined(EquivariantModule, register=True):
            pass
        return Redefined

    first = define()
    with pytest.warns(RuntimeWarning, match="replaces the registry entry"):
        second = define()
    assert registry()[f"{__name__}.{first.__qualname__}"] is second
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        define_other = type("Unique", (EquivariantModule,), {"__module__": __name__})
    assert define_other._registered is False


def test_export_of_a_layer_without_plain_form_names_the_class():
    with pytest.raises(NotImplementedError, match="SumReadout does not implement export"):
        SumReadout().export()
