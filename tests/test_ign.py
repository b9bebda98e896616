"""IGN (Maron et al. 2019): basis counts, the canonical order, equivariance, Deep Sets and a naive float64 reference.

The references here build every operator from explicit equality patterns of index tuples in Python loops; they never
call the solver or the layer's operators.
"""

import itertools

import pytest
import torch

from gdl.core import TrivialField, seeded
from gdl.graphs import IGN, IGNLayer, Permutations, TensorField
from gdl.graphs.ign import equality_patterns, ign_basis, mobius_matrix, orbit_patterns, restricted_growth_string
from gdl.graphs.sets import EquivariantSetLayer
from gdl.testing import assert_equivariant

ORDERS = [(k_in, k_out) for k_in in (1, 2) for k_out in (0, 1, 2)]
BELL = {0: 1, 1: 1, 2: 2, 3: 5, 4: 15}


def naive_ign(layer: IGNLayer, x: torch.Tensor) -> torch.Tensor:
    """float64 reference: Y[b, I] = Σ_P Σ_{J: pattern(I, J) = P} X[b, J] W_P / n^{f(P)} + Σ_Q [pattern(I) = Q] b_Q,
    with patterns computed tuple by tuple (I = out_index, J = in_index; f(P): blocks of input positions only, for
    pooling="mean")."""
    k_in, k_out = layer.k_in, layer.k_out
    n, batch = x.shape[1], x.shape[0]
    weight = layer.weight.detach().double()
    patterns = list(equality_patterns(k_in + k_out))
    out = torch.zeros(batch, *(n,) * k_out, layer.out_channels, dtype=torch.float64)
    for out_index in itertools.product(range(n), repeat=k_out):
        for in_index in itertools.product(range(n), repeat=k_in):
            pattern = restricted_growth_string(out_index + in_index)
            summed = len(set(pattern[k_out:]) - set(pattern[:k_out]))
            scale = 1.0 if layer.pooling == "sum" else n ** -summed
            out[(slice(None),) + out_index] += scale * x[(slice(None),) + in_index].double() @ weight[patterns.index(pattern)]
        if layer.bias is not None:
            out[(slice(None),) + out_index] += layer.bias.detach().double()[list(equality_patterns(k_out)).index(
                restricted_growth_string(out_index))]
    return out


def _layer(k_in, k_out, c_in=3, c_out=2, pooling="mean", seed=0):
    with seeded(torch.Generator().manual_seed(seed)):
        layer = IGNLayer(k_in, k_out, c_in, c_out, pooling=pooling).double()
        torch.nn.init.normal_(layer.bias)
    return layer


# -- the basis --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k_in,k_out,count", [(2, 2, 15), (1, 1, 2), (2, 1, 5), (1, 2, 5), (2, 0, 2), (1, 0, 1)])
def test_basis_counts(k_in, k_out, count):
    patterns, indicators = orbit_patterns(k_in, k_out, 5)  # the solver's orbits
    assert len(patterns) == indicators.shape[0] == count
    assert IGNLayer(k_in, k_out, 1, 1).weight.shape[0] == count == len(ign_basis(k_in, k_out, 5)[0])
    assert orbit_patterns(0, k_out, 5)[1].shape[0] == BELL[k_out]  # the bias: invariant part of T^{k_out}


def test_canonical_order_is_the_same_for_every_n():
    for k_in, k_out in ORDERS:
        five, seven = orbit_patterns(k_in, k_out, 5)[0], orbit_patterns(k_in, k_out, 7)[0]
        assert five == seven == equality_patterns(k_in + k_out)
    assert equality_patterns(3) == ((0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1), (0, 1, 2))
    # fewer nodes than positions: the patterns with more blocks than n have no orbit, the others keep their labels
    small, _ = orbit_patterns(2, 2, 2)
    assert small == tuple(p for p in equality_patterns(4) if max(p) < 2) and len(small) == 8


@pytest.mark.parametrize("n", [2, 5, 7])
def test_the_solver_operators_are_the_equality_patterns(n):
    """ign_basis is the solver's orbit basis, unnormalised: operator P is 1 exactly where (out_index, in_index) has pattern P."""
    k_in = k_out = 2
    patterns, operators = ign_basis(k_in, k_out, n, pooling="sum")
    expected = torch.zeros_like(operators)
    for out_index in itertools.product(range(n), repeat=k_out):
        for in_index in itertools.product(range(n), repeat=k_in):
            row = out_index[0] * n + out_index[1]
            col = in_index[0] * n + in_index[1]
            expected[patterns.index(restricted_growth_string(out_index + in_index)), row, col] = 1.0
    torch.testing.assert_close(operators, expected, rtol=0, atol=0)
    mean = ign_basis(k_in, k_out, n)[1]
    torch.testing.assert_close(mean[patterns.index((0, 1, 2, 3))], expected[-1] / n ** 2, rtol=0, atol=1e-15)


def test_mobius_inversion_gives_the_exact_patterns():
    """E_P = Σ_Q μ[P, Q] C_Q, with C_Q the 'at least Q's equalities' indicator, on 4 positions over 3 values."""
    patterns = equality_patterns(4)
    mu = mobius_matrix(4)
    tuples = list(itertools.product(range(3), repeat=4))

    def at_least(q, t):
        return all(t[a] == t[b] for a in range(4) for b in range(4) if q[a] == q[b])

    coarse = torch.tensor([[float(at_least(q, t)) for t in tuples] for q in patterns], dtype=torch.float64)
    exact = torch.tensor([[float(restricted_growth_string(t) == p) for t in tuples] for p in patterns],
                         dtype=torch.float64)
    torch.testing.assert_close(mu @ coarse, exact, rtol=0, atol=0)


# -- the layer ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pooling", ["mean", "sum"])
@pytest.mark.parametrize("k_in,k_out", ORDERS)
def test_layer_is_equivariant(k_in, k_out, pooling):
    layer = _layer(k_in, k_out, pooling=pooling)
    generator = torch.Generator().manual_seed(1)
    for n in (3, 5):
        x = torch.randn(2, *(n,) * k_in, 3, dtype=torch.float64, generator=generator)
        in_type, out_type = layer.field_types(x)
        assert isinstance(in_type, TensorField) and in_type.group == Permutations(n)
        assert isinstance(out_type, TrivialField if k_out == 0 else TensorField)
        assert assert_equivariant(layer, (x,), n_samples=6, generator=generator) <= 1e-9
        assert assert_equivariant(layer, (x,), dtype=torch.float32, n_samples=3, generator=generator) <= 1e-4


@pytest.mark.parametrize("pooling", ["mean", "sum"])
@pytest.mark.parametrize("n", [3, 5])
def test_two_to_two_equals_the_naive_reference(n, pooling):
    layer = _layer(2, 2, pooling=pooling)
    x = torch.randn(2, n, n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(layer(x), naive_ign(layer, x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("k_in,k_out", [o for o in ORDERS if o != (2, 2)])
def test_other_orders_equal_the_naive_reference(k_in, k_out):
    layer = _layer(k_in, k_out, pooling="mean", seed=3)
    for n in (2, 4):  # n = 2 < m: the patterns with more blocks than n are absent
        x = torch.randn(2, *(n,) * k_in, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
        torch.testing.assert_close(layer(x), naive_ign(layer, x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("aggr", ["sum", "mean"])
def test_one_to_one_is_deep_sets(aggr):
    """IGN 1 → 1 with W_(0,0), W_(0,1) equals Deep Sets' x_u Λ + (⊕_v x_v) Γ + β with mapped weights.

    sum:  y_u = W₀ x_u + W₁ Σ_{v≠u} x_v          ⇒ W₁ = Γ, W₀ = Λ + Γ;
    mean: y_u = W₀ x_u + W₁ (1/n) Σ_{v≠u} x_v    ⇒ W₁ = Γ, W₀ = Λ + Γ / n.
    """
    n, c_in, c_out = 6, 3, 4
    with seeded(torch.Generator().manual_seed(4)):
        deep = EquivariantSetLayer(c_in, c_out, aggr=aggr).double()
    lam, gamma, beta = deep.own.weight.detach().T, deep.pooled.weight.detach().T, deep.own.bias.detach()
    layer = IGNLayer(1, 1, c_in, c_out, pooling=aggr).double()
    assert layer.patterns == ((0, 0), (0, 1))
    with torch.no_grad():
        layer.weight[0] = lam + (gamma if aggr == "sum" else gamma / n)
        layer.weight[1] = gamma
        layer.bias[0] = beta
    x = torch.randn(5, n, c_in, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(layer(x), deep(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("k_in,k_out", ORDERS)
def test_export_equals_the_layer_on_any_n(k_in, k_out):
    layer = _layer(k_in, k_out, pooling="sum" if k_in == k_out else "mean", seed=6)
    exported = layer.export()
    assert not isinstance(exported, IGNLayer)
    for n in (1, 2, 6):
        x = torch.randn(3, *(n,) * k_in, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
        torch.testing.assert_close(exported(x), layer(x), rtol=0, atol=1e-12)


def test_weights_mean_the_same_for_every_n():
    """One layer on graphs of 4 and 9 nodes: the same naive reference (same weight index per pattern) for both."""
    layer = _layer(2, 1, seed=7)
    for n in (4, 9):
        x = torch.randn(1, n, n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
        torch.testing.assert_close(layer(x), naive_ign(layer, x), rtol=0, atol=1e-12)


def test_without_bias_and_gradients_flow():
    layer = IGNLayer(2, 2, 2, 3, bias=False)
    assert layer.bias is None
    x = torch.randn(2, 4, 4, 2, requires_grad=True)
    layer(x).square().sum().backward()
    assert x.grad is not None and layer.weight.grad.abs().sum() > 0
    torch.testing.assert_close(layer.export()(x), layer(x), rtol=0, atol=1e-5)


# -- bad inputs ---------------------------------------------------------------------------------------------------
def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="k_in.*got 0.*does not say n"):
        IGNLayer(0, 2, 3, 4)
    with pytest.raises(ValueError, match="k_out.*got 3"):
        IGNLayer(2, 3, 3, 4)
    with pytest.raises(ValueError, match="pooling.*got 'max'"):
        IGNLayer(2, 2, 3, 4, pooling="max")
    with pytest.raises((ValueError, TypeError), match="in_channels"):
        IGNLayer(2, 2, 0, 4)


def test_bad_inputs_are_refused_by_name():
    layer, (x,) = IGNLayer.example(torch.Generator().manual_seed(0))
    bad = layer.bad_inputs(x)
    assert {"input 0: node axes of sizes n and n − 1", "input 0: one channel too many",
            "input 0: one axis too few", "input 0: one axis too many"} <= set(bad)
    for what, inputs in bad.items():
        with pytest.raises((ValueError, TypeError), match="got") as raised:
            layer(*inputs)
        assert "expects" in str(raised.value), what
    with pytest.raises(ValueError, match=r"node axes of one size.*got shape \[2, 5, 4, 3\]"):
        layer(x[:, :, :4])
    with pytest.raises(ValueError, match=r"expects 3 channels.*got shape \[2, 5, 5, 2\]"):
        layer(x[..., :2])
    with pytest.raises(ValueError, match=r"2 node axes.*got shape \[2, 5, 3\]"):
        layer(x[:, 0])


def test_tensor_field():
    group = Permutations(4)
    field = TensorField(group, 2, 3)
    x = torch.randn(2, 4, 4, 3, dtype=torch.float64)
    g = group.element([2, 0, 3, 1])
    torch.testing.assert_close(field.transform(x, g), x[:, g.data][:, :, g.data], rtol=0, atol=0)
    h = group.element([1, 3, 0, 2])
    torch.testing.assert_close(field.transform(field.transform(x, h), g), field.transform(x, group.compose(g, h)))
    with pytest.raises(ValueError, match="expects 4 nodes"):
        field.validate(torch.randn(2, 5, 5, 3))
    with pytest.raises(TypeError, match="Permutations"):
        TensorField(object(), 2)


# -- the network ------------------------------------------------------------------------------------------------
def test_ign_network_is_invariant_on_any_n():
    model, (x,) = IGN.example(torch.Generator().manual_seed(0))
    model = model.double()
    assert [type(layer).__name__ for layer in model.layers] == [
        "IGNLayer", "Pointwise", "IGNLayer", "Pointwise", "IGNLayer", "Pointwise", "InvariantMLP"]
    for n in (3, 5, 8):
        x = torch.randn(2, n, n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
        in_type, out_type = model.field_types(x)
        assert isinstance(out_type, TrivialField) and out_type.group == Permutations(n)
        assert assert_equivariant(model, (x,), n_samples=4, generator=torch.Generator().manual_seed(1)) <= 1e-9
        assert model(x).shape == (2, 3)
    exported = model.export()
    torch.testing.assert_close(exported(x), model(x), rtol=0, atol=1e-12)
