"""Deep Sets (book §4.1, §5.4): invariance and equivariance under S_n, masks, a naive reference, and learning."""

import pytest
import torch

from gdl.core import TrivialField, seeded
from gdl.graphs import Permutations, SetField
from gdl.graphs.sets import DeepSets, EquivariantSetLayer, aggregate_set
from gdl.testing import assert_equivariant

AGGREGATIONS = ["sum", "mean", "max"]


def naive_aggregate(rows, aggr):
    """⊕ over a Python list of float64 feature vectors (an empty list gives zeros)."""
    if not rows:
        return None
    stacked = torch.stack(rows)
    return {"sum": stacked.sum(0), "mean": stacked.sum(0) / len(rows), "max": stacked.max(0).values}[aggr]


def naive_set_layer(layer, x, mask=None):
    """float64 reference of F(X)_u = x_u Λ + (⊕_{v present} x_v) Γ + β, element by element, zeros on padding."""
    lam, beta = layer.own.weight.detach().T, layer.own.bias.detach()
    gamma = layer.pooled.weight.detach().T
    out = torch.zeros(*x.shape[:-1], layer.out_channels, dtype=torch.float64)
    for b in range(x.shape[0]):
        present = [u for u in range(x.shape[1]) if mask is None or bool(mask[b, u])]
        pooled = naive_aggregate([x[b, v] for v in present], layer.aggr)
        if pooled is None:
            pooled = torch.zeros(x.shape[-1], dtype=torch.float64)
        for u in present:
            out[b, u] = x[b, u] @ lam + pooled @ gamma + beta
    return out


def _random_mask(batch, n, generator):
    mask = torch.rand(batch, n, generator=generator) < 0.6
    mask[:, 0] = True  # no empty set, except where a test asks for one
    return mask


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_set_layer_matches_naive_reference_with_and_without_mask(aggr, generator):
    with seeded(generator):
        layer = EquivariantSetLayer(3, 4, aggr=aggr).double()
    x = torch.randn(3, 7, 3, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(layer(x), naive_set_layer(layer, x), rtol=0, atol=1e-12)
    mask = _random_mask(3, 7, generator)
    torch.testing.assert_close(layer(x, mask), naive_set_layer(layer, x, mask), rtol=0, atol=1e-12)


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_aggregate_set_against_a_loop(aggr, generator):
    x = torch.randn(4, 6, 2, dtype=torch.float64, generator=generator)
    mask = _random_mask(4, 6, generator)
    mask[3] = False  # an empty set aggregates to zeros
    out = aggregate_set(x, aggr, mask)
    for b in range(3):
        expected = naive_aggregate([x[b, u] for u in range(6) if mask[b, u]], aggr)
        torch.testing.assert_close(out[b], expected, rtol=0, atol=1e-12)
    assert torch.equal(out[3], torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(aggregate_set(x, aggr), naive_aggregate(list(x.unbind(1)), aggr), rtol=0, atol=1e-12)


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_deep_sets_invariant_and_set_layer_equivariant_without_mask(aggr, generator):
    with seeded(generator):
        model = DeepSets(3, 16, 4, aggr=aggr)
        layer = EquivariantSetLayer(3, 5, aggr=aggr)
    x = torch.randn(2, 9, 3, generator=generator)
    assert model.field_types(x)[1] == TrivialField(Permutations(9), 4)  # invariant, n read from x
    assert layer.field_types(x)[1] == SetField(Permutations(9), 5)
    for dtype, tolerance in [(torch.float64, 1e-9), (torch.float32, 1e-5)]:
        assert assert_equivariant(model, x, dtype=dtype, atol=tolerance, n_samples=8, generator=generator) <= tolerance
        assert assert_equivariant(layer, x, dtype=dtype, atol=tolerance, n_samples=8, generator=generator) <= tolerance


def _float64_pair(aggr, generator):
    """A float64 DeepSets (3 → 4) and EquivariantSetLayer (3 → 5) on sets of any size, with the given ⊕."""
    with seeded(generator):
        return DeepSets(3, 16, 4, aggr=aggr).double(), EquivariantSetLayer(3, 5, aggr=aggr).double()


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_permuting_a_padded_set_together_with_its_mask(aggr, generator):
    """σ moves the real elements among the padding: invariant output unchanged, equivariant output moved by σ."""
    model, layer = _float64_pair(aggr, generator)
    x = torch.randn(4, 8, 3, dtype=torch.float64, generator=generator)
    mask = _random_mask(4, 8, generator)
    group = Permutations(8)
    f, y = model(x, mask), layer(x, mask)
    for g in group.sample(6, generator):
        perm = g.data
        torch.testing.assert_close(model(x[:, perm], mask[:, perm]), f, rtol=0, atol=1e-9)
        torch.testing.assert_close(layer(x[:, perm], mask[:, perm]), y[:, perm], rtol=0, atol=1e-9)


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_padded_rows_do_not_affect_real_outputs(aggr, generator):
    model, layer = _float64_pair(aggr, generator)
    real = torch.randn(2, 5, 3, dtype=torch.float64, generator=generator)
    padded = torch.cat([real, 1e3 * torch.randn(2, 4, 3, dtype=torch.float64, generator=generator)], dim=1)
    mask = torch.cat([torch.ones(2, 5, dtype=torch.bool), torch.zeros(2, 4, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(model(padded, mask), model(real), rtol=0, atol=1e-12)
    out = layer(padded, mask)
    torch.testing.assert_close(out[:, :5], layer(real), rtol=0, atol=1e-12)
    assert torch.equal(out[:, 5:], torch.zeros_like(out[:, 5:]))
    # and the padding does matter when it is not masked out (the test above could fail)
    assert (model(padded) - model(real)).abs().max() > 1e-3


def test_sum_aggregation_counts_and_mean_does_not(generator):
    """A set and the same set with every element twice: sum sees the multiplicity, mean and max do not."""
    x = torch.randn(1, 4, 3, dtype=torch.float64, generator=generator)
    doubled = torch.cat([x, x], dim=1)
    for aggr, same in [("sum", False), ("mean", True), ("max", True)]:
        with seeded(torch.Generator().manual_seed(0)):
            model = DeepSets(3, 8, 2, aggr=aggr).double()
        with torch.no_grad():
            difference = float((model(doubled) - model(x)).abs().max())
        assert (difference < 1e-12) == same, (aggr, difference)


def test_bad_input_errors_name_expected_and_given():
    model = DeepSets(3, 8, 2)
    layer = EquivariantSetLayer(3, 4)
    with pytest.raises(ValueError, match=r"expects a tensor \[\.\.\., n, 3\].*got shape \[2, 5, 4\]"):
        model(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"expects a tensor \[\.\.\., n, 3\].*got shape \[3\]"):
        model(torch.randn(3))
    with pytest.raises(TypeError, match=r"floating-point tensor \[\.\.\., n, 3\].*got torch.int64"):
        layer(torch.ones(2, 5, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="mask must be a bool tensor.*got torch.float32"):
        layer(torch.randn(2, 5, 3), torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"mask must have shape \[2, 5\].*got \[2, 4\]"):
        layer(torch.randn(2, 5, 3), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"aggr must be one of \('sum', 'mean', 'max'\), got 'median'"):
        EquivariantSetLayer(3, 4, aggr="median")
    with pytest.raises(ValueError, match="psi_layers must be a positive integer, got 0"):
        DeepSets(3, 8, 2, psi_layers=0)
    with pytest.raises(TypeError, match="no fixed in_type: its field types depend on its inputs"):
        _ = layer.in_type


def test_exports_are_the_same_functions_in_plain_torch(generator):
    with seeded(generator):
        model, layer = DeepSets(3, 8, 2, aggr="max").double(), EquivariantSetLayer(3, 4, aggr="mean").double()
    x = torch.randn(2, 6, 3, dtype=torch.float64, generator=generator)
    mask = _random_mask(2, 6, generator)
    for module in (model, layer):
        exported = module.export()
        assert not any(type(m).__module__.startswith("gdl.graphs") and hasattr(m, "field_types") for m in exported.modules())
        assert (exported(x, mask) - module(x, mask)).abs().max() <= 1e-14
        assert (exported(x) - module(x)).abs().max() <= 1e-14


@pytest.mark.parametrize("target,aggr", [("sum", "sum"), ("max", "max")])
def test_deep_sets_learns_a_set_function(target, aggr):
    """Sets of 3–10 scalars in [−1, 1] (padded to 10): learn their sum or their max to a small error."""
    generator = torch.Generator().manual_seed(0)

    def sets(batch):
        x = 2 * torch.rand(batch, 10, 1, generator=generator) - 1
        sizes = torch.randint(3, 11, (batch,), generator=generator)
        mask = torch.arange(10) < sizes[:, None]
        values = x[..., 0].masked_fill(~mask, 0.0 if target == "sum" else -2.0)
        y = values.sum(-1) if target == "sum" else values.amax(-1)
        return x, mask, y[:, None]

    with seeded(generator):
        model = DeepSets(1, 32, 1, aggr=aggr)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(400):
        x, mask, y = sets(128)
        optimiser.zero_grad()
        torch.nn.functional.mse_loss(model(x, mask), y).backward()
        optimiser.step()
    x, mask, y = sets(1000)
    with torch.no_grad():
        error = float((model(x, mask) - y).abs().mean())
    baseline = float((y - y.mean()).abs().mean())  # predicting the mean target
    print(f"DeepSets({aggr}) learning the {target}: mean |error| {error:.3f} (constant predictor {baseline:.3f})")
    assert error < 0.1 * baseline, (error, baseline)
