"""EGNN: the paper's equations against a naive float64 loop, S_N × E(3) equivariance in every configuration
(reflections included), a plain GNN on raw coordinates as the negative control, bad input."""

import copy

import pytest
import torch

from gdl.experiments.nbody import GNNDynamics
from gdl.graphs import EGNN, EGNNLayer, Permutations, complete_graph
from gdl.groups import Euclidean, Orthogonal
from gdl.symmetries.geometric import AbsentField
from gdl.testing import assert_equivariant


def _inputs(layer, num_nodes=6, generator=None, dtype=torch.float64):
    """(h, x[, v], edge_index[, edge_attr]) for ``layer``: the signal first, then the graph."""
    extra = torch.tensor([[num_nodes - 1, 1, 1, 2], [0, 2, 2, 2]])  # a sender-only node, a repeated edge and a self-loop
    edge_index = torch.cat([complete_graph(num_nodes - 1, self_loops=False), extra], dim=1)
    v = torch.randn(num_nodes, 3, generator=generator, dtype=dtype) if layer.velocity else None
    edge_attr = (torch.randn(edge_index.shape[1], layer.edge_channels, generator=generator, dtype=dtype)
                 if layer.edge_channels else None)
    h = torch.randn(num_nodes, layer.in_channels, generator=generator, dtype=dtype)
    x = torch.randn(num_nodes, 3, generator=generator, dtype=dtype)
    return tuple(value for value in (h, x, v, edge_index, edge_attr) if value is not None)


def _parts(layer, inputs):
    """(h, x, v, edge_index, edge_attr) with None for what the layer does not take."""
    h, x, *rest = inputs
    v = rest.pop(0) if layer.velocity else None
    edge_index = rest.pop(0)
    return h, x, v, edge_index, (rest.pop(0) if layer.edge_channels else None)


def _visible(layer):
    """Undo the paper's tiny φ_x initialisation so that the coordinate update is far from zero in the checks."""
    with torch.no_grad():
        for module in layer.modules():
            if isinstance(module, EGNNLayer):
                torch.nn.init.normal_(module.coord_mlp[-1].weight, std=0.5)
    return layer


@pytest.mark.parametrize("coords_aggr", ["mean", "sum"])
@pytest.mark.parametrize("velocity", [False, True], ids=["positions", "velocities"])
def test_layer_equals_the_papers_equations(velocity, coords_aggr, generator):
    """Eqs. 3–7 of Satorras et al. 2021, node by node and edge by edge."""
    layer = _visible(EGNNLayer(3, 5, 8, edge_channels=2, velocity=velocity, coords_aggr=coords_aggr)).double()
    inputs = _inputs(layer, generator=generator)
    h, x, v, edge_index, edge_attr = _parts(layer, inputs)
    outputs = layer(*inputs)
    assert len(outputs) == (3 if velocity else 2)
    for i in range(6):
        incoming = [(e, j) for e, (j, target) in enumerate(edge_index.T.tolist()) if target == i]
        messages = [layer.edge_mlp(torch.cat([h[i], h[j], ((x[i] - x[j]) ** 2).sum(0, keepdim=True), edge_attr[e]]))
                    for e, j in incoming]
        m_i = torch.stack(messages).sum(0) if messages else torch.zeros(8, dtype=torch.float64)
        shifts = [(x[i] - x[j]) * layer.coord_mlp(m) for (_, j), m in zip(incoming, messages)]
        shift = torch.stack(shifts).sum(0) if shifts else torch.zeros(3, dtype=torch.float64)
        if coords_aggr == "mean" and shifts:
            shift = shift / len(shifts)
        assert torch.allclose(outputs[0][i], layer.node_mlp(torch.cat([h[i], m_i])), atol=1e-12)
        if velocity:  # x' = x + v', v' = φ_v(h) v + shift; the input velocities pass on (eq. 7 uses v^init)
            v_new = layer.velocity_mlp(h[i]) * v[i] + shift
            assert torch.allclose(outputs[1][i] - x[i], v_new, atol=1e-12)
            assert torch.equal(outputs[2][i], v[i])
        else:
            assert torch.allclose(outputs[1][i], x[i] + shift, atol=1e-12)


@pytest.mark.parametrize("edge_channels", [0, 2])
@pytest.mark.parametrize("coords_aggr", ["mean", "sum"])
@pytest.mark.parametrize("velocity", [False, True], ids=["positions", "velocities"])
def test_layer_is_equivariant_to_permutations_rotations_reflections_translations(velocity, coords_aggr, edge_channels,
                                                                              generator):
    layer = _visible(EGNNLayer(3, 3, 8, edge_channels, velocity=velocity, coords_aggr=coords_aggr, residual=True,
                               self_loops="add"))
    inputs = _inputs(layer, generator=generator)
    assert assert_equivariant(layer, inputs, generator=generator, n_samples=8) < 1e-9
    assert assert_equivariant(layer, inputs, generator=generator, dtype=torch.float32) < 1e-4
    in_type, out_type = layer.field_types(*inputs)
    reflection = Orthogonal(3).element(torch.diag(torch.tensor([-1.0, 1.0, 1.0])))
    shift = Euclidean(3).element(reflection.data, [0.5, -2.0, 3.0])
    element = in_type.group.element(Permutations(6).sample(1, generator)[0], shift)  # a reflection, shift, relabelling
    moved = in_type.transform(inputs, element)
    assert torch.allclose(moved[1], inputs[1][element.data[0].data] @ reflection.data.T
                          + torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64))
    layer64 = copy.deepcopy(layer).double()
    for after, expected in zip(layer64(*moved), out_type.transform(layer64(*inputs), element)):
        assert torch.allclose(after, expected, atol=1e-10, rtol=0)


def test_model_is_equivariant_and_translation_leaves_features_unchanged(generator):
    model = _visible(EGNN(2, 16, 4, num_layers=3, edge_channels=1, velocity=True)).double()
    edge_index = complete_graph(5, self_loops=False)
    h, x, v = (torch.randn(5, 2, generator=generator, dtype=torch.float64),
               torch.randn(5, 3, generator=generator, dtype=torch.float64),
               torch.randn(5, 3, generator=generator, dtype=torch.float64))
    edge_attr = torch.randn(20, 1, generator=generator, dtype=torch.float64)
    assert model.context == ("edge_index", "edge_attr")
    in_type, out_type = model.field_types(h, x, v, edge_index, edge_attr)
    assert in_type.group == Permutations(5) * Euclidean(3) == out_type.group  # the layers' common group
    assert assert_equivariant(model, (h, x, v, edge_index, edge_attr), generator=generator, n_samples=8) < 1e-9
    features, positions, velocities = model(h, x, v, edge_index, edge_attr)
    moved_features, moved_positions, _ = model(h, x + 10.0, v, edge_index, edge_attr)
    assert torch.allclose(moved_features, features, atol=1e-10) and torch.allclose(moved_positions, positions + 10.0)
    assert (positions - x).abs().max() > 0.1 and torch.equal(velocities, v)  # the coordinates really move


def test_model_is_the_papers_stack_of_layers_on_the_initial_velocities(generator):
    """h⁰ = W h + b, then every layer gets (hˡ, xˡ, v^init), then the head: written out layer by layer."""
    model = _visible(EGNN(2, 8, 3, num_layers=2, edge_channels=1, velocity=True)).double()
    edge_index = complete_graph(5, self_loops=False)
    h, x, v = (torch.randn(5, k, generator=generator, dtype=torch.float64) for k in (2, 3, 3))
    edge_attr = torch.randn(20, 1, generator=generator, dtype=torch.float64)
    hidden, position = model.embedding(h), x
    for layer in model.layers[1:-1]:
        hidden, position, _ = layer(hidden, position, v, edge_index, edge_attr)
    out = model(h, x, v, edge_index, edge_attr)
    assert torch.equal(out[0], model.head(hidden)) and torch.equal(out[1], position)
    exported = model.export()
    for a, b in zip(exported(h, x, v, edge_index, edge_attr), out):
        assert (a - b).abs().max() <= 1e-12


def test_a_plain_gnn_on_raw_coordinates_is_not_rotation_equivariant(generator):
    """The negative control: the same check catches a model that feeds coordinates to an MLP."""
    torch.manual_seed(0)
    model = GNNDynamics(16, 2)
    batch = {"pos": torch.randn(4, 5, 3, generator=generator), "vel": torch.randn(4, 5, 3, generator=generator),
             "charges": torch.randn(4, 5, generator=generator).sign(), "target": torch.zeros(4, 5, 3)}
    rotation = Orthogonal(3).sample(1, generator)[0].data.float()
    rotated = {**batch, "pos": batch["pos"] @ rotation.T, "vel": batch["vel"] @ rotation.T}
    with torch.no_grad():
        error = (model(rotated) - model(batch) @ rotation.T).abs().max()
    assert error > 1e-2


def test_batched_complete_graphs_stay_inside_each_graph():
    edges = complete_graph(4, self_loops=False, num_graphs=3)
    assert edges.shape == (2, 36) and not bool((edges[0] == edges[1]).any())
    assert torch.equal(edges[0] // 4, edges[1] // 4)  # never across graphs
    assert torch.unique(edges, dim=1).shape[1] == 36


def test_bad_input_is_refused():
    layer = EGNNLayer(3, 3, edge_channels=1, velocity=True)
    h, x, v = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    edge_index, edge_attr = complete_graph(4, self_loops=False), torch.randn(12, 1)
    layer(h, x, v, edge_index, edge_attr)
    with pytest.raises(ValueError, match=r"x \(coordinates\) must have 3 channels"):
        layer(h, torch.randn(4, 2), v, edge_index, edge_attr)
    with pytest.raises(ValueError, match=r"x \(coordinates\) must have one row per node: expected 4 rows"):
        layer(h, torch.randn(5, 3), v, edge_index, edge_attr)
    with pytest.raises(ValueError, match=r"x \(coordinates\) must have one row per node: expected 5 rows"):
        layer(torch.randn(5, 3), x, v, edge_index, edge_attr)
    with pytest.raises(TypeError, match=r"takes \(h, x, v, edge_index, edge_attr\): 5 inputs, got 4"):
        layer(h, x, edge_index, edge_attr)
    with pytest.raises(ValueError, match=r"v \(velocities\) must have one row per node"):
        layer(h, x, torch.randn(3, 3), edge_index, edge_attr)
    with pytest.raises(ValueError, match=r"one row per edge: expected \[12, C\]"):
        layer(h, x, v, edge_index, torch.randn(11, 1))
    with pytest.raises(ValueError, match="refers to nodes 0..4, but the graph has 4 nodes"):
        layer(h, x, v, torch.tensor([[0, 4], [1, 2]]), torch.randn(2, 1))
    plain = EGNNLayer(3, 3)
    with pytest.raises(TypeError, match=r"takes \(h, x, edge_index\): 3 inputs, got 4"):
        plain(h, x, v, edge_index)
    with pytest.raises(TypeError, match=r"EGNNLayer\(velocity=False, edge_channels=0\) takes"):
        plain(h, x, edge_index, edge_attr)
    with pytest.raises(ValueError, match="coords_aggr must be one of"):
        EGNNLayer(3, 3, coords_aggr="max")
    with pytest.raises(ValueError, match="residual=True needs in_channels == out_channels"):
        EGNNLayer(3, 4, residual=True)
    with pytest.raises(TypeError, match="floating-point"):
        plain(h, x.long(), edge_index)
    with pytest.raises(ValueError, match="dim must be a positive integer, got True"):
        EGNNLayer(3, 3, dim=True)
    absent = AbsentField(Permutations(2) * Euclidean(3))
    assert absent.transform(None, absent.group.identity()) is None
