"""The three GNN flavours, GIN and 1-WL: torch-geometric built-ins with copied weights (both ways: from_pyg and
export), naive float64 references, aggregators, the self-loop and duplicate-edge policies, the networks as
blueprints, dropout in eval mode, expressivity pairs, karate club, bad input."""

import networkx
import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, GINConv, GraphConv, SAGEConv

from gdl.core import Blueprint, TrivialField
from gdl.core.checks import repeated_edges, value_checks
from gdl.experiments.base import Settings
from gdl.experiments.karate import KarateClub
from gdl.graphs import (
    GIN,
    AttentionalGNN,
    AttentionalLayer,
    ConvolutionalGNN,
    ConvolutionalLayer,
    GINLayer,
    GraphReadout,
    MessagePassingGNN,
    MessagePassingLayer,
    NodeMLP,
    Permutations,
    SetField,
    wl_colour_refinement,
    wl_distinguishes,
    wl_histograms,
)
from gdl.graphs.edges import prepare_edges
from gdl.graphs.expressivity import initial_colours
from gdl.testing import assert_equivariant, graph_break_count
from gdl.testing.fixtures import random_graph

AGGREGATIONS = ["sum", "mean", "max"]


def messy_graph(num_nodes=12, num_edges=40, seed=0):
    """Random directed multigraph with self-loops, repeated edges and nodes without incoming edges."""
    generator = torch.Generator().manual_seed(seed)
    return random_graph(num_nodes, num_edges, generator)


def perturbed(module, scale=0.3, seed=0):
    """Non-zero biases and attention vectors, so that every parameter matters in a comparison."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return module


def undirected(edges):
    edges = torch.as_tensor(edges).T
    return torch.cat([edges, edges.flip(0)], dim=1)


TWO_TRIANGLES = (undirected([[0, 1], [1, 2], [2, 0], [3, 4], [4, 5], [5, 3]]), 6)
SIX_CYCLE = (undirected([[i, (i + 1) % 6] for i in range(6)]), 6)
K33 = (undirected([[i, j] for i in range(3) for j in range(3, 6)]), 6)


# -- built-ins with copied weights (float32, 1e-5) --------------------------------------------------------------

@pytest.mark.parametrize("with_weights", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("options", [{}, {"add_self_loops": False}, {"normalize": False}, {"bias": False}], ids=repr)
def test_convolutional_equals_gcnconv(options, with_weights):
    torch.manual_seed(0)
    gcn = perturbed(GCNConv(6, 9, **options))
    ours = ConvolutionalLayer.from_pyg(gcn)
    x, edge_index = torch.randn(12, 6), messy_graph()
    weight = torch.rand(edge_index.shape[1]) + 0.5 if with_weights else None
    assert torch.allclose(ours(x, edge_index, weight), gcn(x, edge_index, weight), atol=1e-5, rtol=0)
    assert ours.self_loops == ("add" if gcn.add_self_loops else "keep")


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_convolutional_with_root_weight_equals_graphconv(aggr):
    """GraphConv applies its weight after ⊕: the same as before for sum and mean, not for max (which from_pyg must
    therefore convert with aggregate_first=True, and export must give back)."""
    torch.manual_seed(1)
    graph_conv = perturbed(GraphConv(5, 7, aggr={"sum": "add"}.get(aggr, aggr))).double()
    ours = ConvolutionalLayer.from_pyg(graph_conv)
    x, edge_index = torch.randn(12, 5, dtype=torch.float64), messy_graph(seed=1)
    weight = torch.rand(edge_index.shape[1], dtype=torch.float64)
    expected = graph_conv(x, edge_index, weight)
    assert ours.aggregate_first
    assert (ours(x, edge_index, weight) - expected).abs().max() <= 1e-12
    assert (ours.export()(x, edge_index, weight) - expected).abs().max() <= 1e-12
    before = ConvolutionalLayer(5, 7, aggr=aggr, normalization=None, self_loops="keep", root_weight=True).double()
    before.load_state_dict(ours.state_dict())  # the same weights, W before ⊕
    difference = float((before(x, edge_index, weight) - expected).abs().max().detach())
    assert (difference <= 1e-12) == (aggr != "max"), difference
    with pytest.raises(NotImplementedError, match="ConvolutionalLayer has no torch-geometric equivalent"):
        before.export() if aggr == "max" else ConvolutionalLayer(5, 7, self_loops="append").export()


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_convolutional_equals_sageconv(aggr):
    torch.manual_seed(2)
    sage = perturbed(SAGEConv(5, 6, aggr={"sum": "add"}.get(aggr, aggr))).double()
    ours = ConvolutionalLayer.from_pyg(sage)
    x, edge_index = torch.randn(12, 5, dtype=torch.float64), messy_graph(seed=2)
    assert (ours(x, edge_index) - sage(x, edge_index)).abs().max() <= 1e-12
    with pytest.raises(ValueError, match="project=False and normalize=False"):
        ConvolutionalLayer.from_pyg(SAGEConv(5, 6, normalize=True))


@pytest.mark.parametrize("options", [{}, {"self_loops": "keep"}, {"normalization": None, "self_loops": "keep"},
                                     {"normalization": None, "self_loops": "keep", "aggr": "max"},
                                     {"normalization": None, "self_loops": "keep", "aggr": "max", "aggregate_first": True},
                                     {"bias": False}], ids=repr)
def test_convolutional_export_is_the_same_function_in_torch_geometric(options):
    torch.manual_seed(3)
    layer = perturbed(ConvolutionalLayer(4, 5, **options)).double()
    exported = layer.export()
    assert type(exported).__module__.startswith("torch_geometric")
    x, edge_index = torch.randn(12, 4, dtype=torch.float64), messy_graph(seed=3)
    assert (exported(x, edge_index) - layer(x, edge_index)).abs().max() <= 1e-12


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("reference", [GATConv, GATv2Conv])
def test_attentional_equals_gat_and_gatv2(reference, heads, concat):
    torch.manual_seed(2)
    conv = perturbed(reference(6, 4, heads=heads, concat=concat)).eval()
    ours = AttentionalLayer.from_pyg(conv)
    x, edge_index = torch.randn(12, 6), messy_graph(seed=2)
    assert torch.allclose(ours(x, edge_index), conv(x, edge_index), atol=1e-5, rtol=0)
    _, (pyg_edges, pyg_alpha) = conv(x, edge_index, return_attention_weights=True)
    our_edges, our_alpha, _ = ours.attention(x, edge_index)
    order = lambda e: torch.argsort(e[1] * 100 + e[0], stable=True)  # noqa: E731 (same edges, different order)
    assert torch.equal(our_edges[:, order(our_edges)], pyg_edges[:, order(pyg_edges)])
    assert torch.allclose(our_alpha[order(our_edges)], pyg_alpha[order(pyg_edges)], atol=1e-6)


@pytest.mark.parametrize("score", ["gat", "gatv2"])
def test_attentional_export_and_residual_round_trip(score):
    torch.manual_seed(4)
    layer = perturbed(AttentionalLayer(5, 3, heads=2, concat=False, score=score, root_weight=True)).double().eval()
    conv = layer.export()
    assert isinstance(conv, GATv2Conv if score == "gatv2" else GATConv) and conv.res is not None
    x, edge_index = torch.randn(12, 5, dtype=torch.float64), messy_graph(seed=4)
    assert (conv(x, edge_index) - layer(x, edge_index)).abs().max() <= 1e-12
    back = AttentionalLayer.from_pyg(conv)
    assert back.root is not None and (back(x, edge_index) - layer(x, edge_index)).abs().max() <= 1e-12


@pytest.mark.parametrize("score", ["gat", "gatv2"])
def test_attentional_dropout_is_off_in_eval_mode(score):
    """Dropout on α acts in training only: in eval mode the layer is deterministic and equals the dropout-free one."""
    torch.manual_seed(5)
    x, edge_index = torch.randn(12, 4, dtype=torch.float64), messy_graph(seed=5)
    with_dropout = perturbed(AttentionalLayer(4, 3, heads=2, score=score, dropout=0.5)).double()
    without = AttentionalLayer(4, 3, heads=2, score=score, dropout=0.0).double()
    without.load_state_dict(with_dropout.state_dict())
    with_dropout.eval(), without.eval()
    first, second = with_dropout(x, edge_index), with_dropout(x, edge_index)
    assert torch.equal(first, second)
    assert (first - without(x, edge_index)).abs().max() <= 1e-14
    with_dropout.train()
    assert (with_dropout(x, edge_index) - first).abs().max() > 1e-3  # the dropout is wired: training mode differs
    network = AttentionalGNN(4, 6, 3, heads=2, dropout=0.5, score=score).double().eval()
    assert torch.equal(network(x, edge_index), network(x, edge_index))


def test_attentional_without_self_loops_equals_gat():
    torch.manual_seed(3)
    conv = perturbed(GATConv(4, 5, heads=2, add_self_loops=False))
    ours = AttentionalLayer.from_pyg(conv)
    x, edge_index = torch.randn(12, 4), messy_graph(seed=3)
    assert ours.self_loops == "keep"
    assert torch.allclose(ours(x, edge_index), conv(x, edge_index), atol=1e-5, rtol=0)


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_gin_layer_equals_ginconv(aggr):
    torch.manual_seed(4)
    network = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 8))
    conv = GINConv(network, eps=0.3, train_eps=True, aggr={"sum": "add"}.get(aggr, aggr))
    ours = GINLayer.from_pyg(conv)
    x, edge_index = torch.randn(12, 5), messy_graph(seed=4)
    assert (ours.in_channels, ours.out_channels, ours.aggr) == (5, 8, aggr)
    assert torch.allclose(ours(x, edge_index), conv(x, edge_index), atol=1e-5, rtol=0)
    exported = perturbed(ours).export()
    assert isinstance(exported, GINConv) and float(exported.eps) == float(ours.eps)
    assert torch.allclose(exported(x, edge_index), ours(x, edge_index), atol=1e-6, rtol=0)


# -- naive float64 references (loops over nodes, only in tests) ------------------------------------------------

def naive_aggregate(messages_by_node, aggr, width):
    """⊕ over a Python list of message tensors per node (an empty neighbourhood gives 0)."""
    rows = []
    for messages in messages_by_node:
        if not messages:
            rows.append(torch.zeros(width, dtype=torch.float64))
            continue
        stacked = torch.stack(messages)
        rows.append({"sum": stacked.sum(0), "mean": stacked.mean(0), "max": stacked.max(0).values}[aggr])
    return torch.stack(rows)


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_message_passing_layer_equals_naive_loop(aggr):
    torch.manual_seed(5)
    layer = MessagePassingLayer(4, 6, 8, edge_channels=2, aggr=aggr).double()
    x, edge_index = torch.randn(12, 4, dtype=torch.float64), messy_graph(seed=5)
    edge_attr = torch.randn(edge_index.shape[1], 2, dtype=torch.float64)
    incoming = [[] for _ in range(12)]
    for e, (j, i) in enumerate(edge_index.T.tolist()):
        incoming[i].append(layer.message_mlp(torch.cat([x[i], x[j], edge_attr[e]])))
    aggregated = naive_aggregate(incoming, aggr, 8)
    expected = torch.stack([layer.update_mlp(torch.cat([x[u], aggregated[u]])) for u in range(12)])
    assert torch.allclose(layer(x, edge_index, edge_attr), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_convolutional_aggregators_equal_naive_gcn(aggr):
    torch.manual_seed(6)
    layer = perturbed(ConvolutionalLayer(3, 4, aggr=aggr, root_weight=True)).double()
    x, edge_index = torch.randn(12, 3, dtype=torch.float64), messy_graph(seed=6)
    looped = edge_index[:, edge_index[0] != edge_index[1]]
    looped = torch.cat([looped, torch.arange(12).repeat(2, 1)], dim=1)  # "add": exactly one loop per node
    degree = torch.bincount(looped[1], minlength=12).double()
    incoming = [[] for _ in range(12)]
    for j, i in looped.T.tolist():
        incoming[i].append(layer.lin.weight @ x[j] / torch.sqrt(degree[i] * degree[j]))
    expected = naive_aggregate(incoming, aggr, 4) + x @ layer.root.weight.T + layer.bias
    assert torch.allclose(layer(x, edge_index), expected, atol=1e-12, rtol=0)


# -- equivariance beyond the registry examples ------------------------------------------------------------------

def _layers(aggr):
    return [ConvolutionalLayer(4, 5, aggr=aggr),
            ConvolutionalLayer(4, 5, aggr=aggr, normalization=None, self_loops="remove", duplicates="merge",
                               aggregate_first=True),
            AttentionalLayer(4, 3, heads=2, aggr=aggr, score="gat"),
            MessagePassingLayer(4, 5, aggr=aggr, self_loops="add"),
            GINLayer(4, 5, aggr=aggr)]


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_every_flavour_and_aggregator_is_permutation_equivariant(aggr, generator):
    x, edge_index = torch.randn(12, 4, generator=generator), messy_graph(seed=7)
    for layer in _layers(aggr):
        assert assert_equivariant(layer, (x, edge_index), generator=generator) < 1e-9
        assert assert_equivariant(layer, (x, edge_index), generator=generator, dtype=torch.float32) < 1e-4


def test_layers_run_on_a_batch_of_graphs_like_on_each_graph():
    torch.manual_seed(8)
    graphs = [Data(x=torch.randn(n, 4), edge_index=messy_graph(n, 3 * n, seed=n)) for n in (5, 9, 7)]
    batch = Batch.from_data_list(graphs)
    for layer in _layers("mean")[:4] + [GINLayer(4, 5)]:
        together = layer(batch.x, batch.edge_index)
        separately = torch.cat([layer(g.x, g.edge_index) for g in graphs])
        assert torch.allclose(together, separately, atol=1e-6)
    gin = GIN(4, 8, 3)
    assert torch.allclose(gin(batch.x, batch.edge_index, batch.batch),
                          torch.cat([gin(g.x, g.edge_index) for g in graphs]), atol=1e-5)


# -- self-loops and repeated edges ----------------------------------------------------------------------------

def test_self_loop_and_duplicate_policies():
    edge_index = torch.tensor([[0, 0, 1, 1, 2, 2], [0, 0, 2, 2, 1, 0]])  # loop 0→0 twice, 1→2 twice
    features = torch.arange(6, dtype=torch.float64).unsqueeze(-1)
    added, _ = prepare_edges(edge_index, 3, self_loops="add")
    assert sorted(added[0][added[0] == added[1]].tolist()) == [0, 1, 2]  # exactly one loop per node
    appended, _ = prepare_edges(edge_index, 3, self_loops="append")
    assert sorted(appended[0][appended[0] == appended[1]].tolist()) == [0, 0, 0, 1, 2]  # one more per node
    removed, _ = prepare_edges(edge_index, 3, self_loops="remove")
    assert not bool((removed[0] == removed[1]).any()) and removed.shape[1] == 4
    merged, merged_features = prepare_edges(edge_index, 3, duplicates="merge", edge_attr=features)
    pairs = {tuple(e): float(f) for e, f in zip(merged.T.tolist(), merged_features)}
    assert pairs == {(0, 0): 0.5, (1, 2): 2.5, (2, 1): 4.0, (2, 0): 5.0}  # copies' features averaged
    assert repeated_edges(edge_index, 3).tolist() == [1, 3]
    with pytest.raises(ValueError, match=r"repeats 2 edge\(s\), e.g. 0 → 0"):
        prepare_edges(edge_index, 3, duplicates="error")
    kept, kept_features = prepare_edges(edge_index, 3, edge_attr=features)
    assert kept is edge_index and kept_features is features


def test_a_repeated_edge_counts_once_per_copy_unless_merged():
    x = torch.randn(3, 2, dtype=torch.float64)
    once, twice = torch.tensor([[1], [0]]), torch.tensor([[1, 1], [0, 0]])
    keep = ConvolutionalLayer(2, 2, normalization=None, self_loops="keep").double()
    merge = ConvolutionalLayer(2, 2, normalization=None, self_loops="keep", duplicates="merge").double()
    merge.load_state_dict(keep.state_dict())
    expected_twice = keep(x, once, torch.tensor([2.0], dtype=torch.float64))
    assert torch.allclose(keep(x, twice), expected_twice, atol=1e-14)
    assert torch.allclose(merge(x, twice), keep(x, once), atol=1e-14)
    assert not torch.allclose(keep(x, twice), keep(x, once))
    strict = ConvolutionalLayer(2, 2, duplicates="error")
    with pytest.raises(ValueError, match="duplicates='error'"):
        strict(x.float(), twice)


def test_append_equals_add_on_graphs_without_loops():
    x, edge_index = torch.randn(12, 3), messy_graph(seed=11)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    for make in (lambda loops: ConvolutionalLayer(3, 4, self_loops=loops), lambda loops: AttentionalLayer(3, 2, self_loops=loops)):
        torch.manual_seed(0)
        add = make("add")
        append = make("append")
        append.load_state_dict(add.state_dict())
        assert torch.allclose(add(x, edge_index), append(x, edge_index), atol=1e-6)


def test_append_compiles_to_one_graph_and_add_does_not():
    x, edge_index = torch.randn(12, 3), messy_graph(seed=12)
    assert graph_break_count(ConvolutionalLayer(3, 4, self_loops="append"), (x, edge_index)) == 0
    assert graph_break_count(AttentionalLayer(3, 4, self_loops="append"), (x, edge_index)) == 0
    assert graph_break_count(ConvolutionalLayer(3, 4, self_loops="add"), (x, edge_index)) > 0


def test_gcn_self_loops_make_a_node_hear_itself():
    x = torch.randn(3, 2)
    isolated = torch.tensor([[0], [1]])  # node 2 has no edge at all
    with_loops = ConvolutionalLayer(2, 2, bias=False)
    without = ConvolutionalLayer(2, 2, self_loops="keep", bias=False)
    without.load_state_dict(with_loops.state_dict())
    assert torch.allclose(with_loops(x, isolated)[2], with_loops.lin(x[2]))  # c_22 = 1/√(1·1)
    assert torch.equal(without(x, isolated)[2], torch.zeros(2))  # empty neighbourhood


# -- 1-WL and expressivity --------------------------------------------------------------------------------------

def _graph_outputs(layer, graph):
    edge_index, n = graph
    x = torch.ones(n, layer.in_channels, dtype=torch.float64)
    return layer.double()(x, edge_index).sum(0)  # a sum readout of the node features


def _every_layer(aggr):
    torch.manual_seed(9)
    return [perturbed(ConvolutionalLayer(3, 4, aggr=aggr)), perturbed(ConvolutionalLayer(3, 4, aggr=aggr, normalization=None)),
            perturbed(AttentionalLayer(3, 2, heads=2, aggr=aggr)), perturbed(AttentionalLayer(3, 2, aggr=aggr, score="gatv2")),
            perturbed(MessagePassingLayer(3, 4, aggr=aggr)), perturbed(GINLayer(3, 4, aggr=aggr, eps=0.1))]


@pytest.mark.parametrize("aggr", AGGREGATIONS)
def test_two_triangles_and_a_six_cycle_fool_1wl_and_every_layer(aggr):
    assert not wl_distinguishes(TWO_TRIANGLES, SIX_CYCLE)
    for layer in _every_layer(aggr):
        triangles, cycle = _graph_outputs(layer, TWO_TRIANGLES), _graph_outputs(layer, SIX_CYCLE)
        assert torch.allclose(triangles, cycle, atol=1e-12, rtol=0), type(layer).__name__
    gin = GIN(3, 8, 2, num_layers=3).double()
    x = torch.ones(6, 3, dtype=torch.float64)
    assert torch.allclose(gin(x, TWO_TRIANGLES[0]), gin(x, SIX_CYCLE[0]), atol=1e-12)


def test_sum_aggregation_separates_what_mean_and_max_cannot():
    """C₆ and K₃,₃ are 2- and 3-regular on 6 nodes: 1-WL and GIN's sum tell them apart, mean/max/GCN/GAT do not."""
    assert wl_distinguishes(SIX_CYCLE, K33)
    torch.manual_seed(10)
    x = torch.ones(6, 3, dtype=torch.float64)
    gin_sum = GIN(3, 8, 2, aggr="sum").double()
    assert (gin_sum(x, SIX_CYCLE[0]) - gin_sum(x, K33[0])).abs().max() > 1e-3
    for aggr in ("mean", "max"):
        gin = GIN(3, 8, 2, aggr=aggr).double()
        assert torch.allclose(gin(x, SIX_CYCLE[0]), gin(x, K33[0]), atol=1e-12)
    blind = [_every_layer("sum")[0], _every_layer("sum")[2], _every_layer("sum")[3]]  # GCN's normalised sum, GAT, GATv2
    blind += [layer for aggr in ("mean", "max") for layer in _every_layer(aggr) if not isinstance(layer, AttentionalLayer)
              and not (isinstance(layer, ConvolutionalLayer) and layer.normalization == "gcn")]
    for layer in blind:
        assert torch.allclose(_graph_outputs(layer, SIX_CYCLE), _graph_outputs(layer, K33), atol=1e-12), repr(layer)
    for layer in _every_layer("sum")[4:]:  # message passing and GIN with a plain sum
        assert (_graph_outputs(layer, SIX_CYCLE) - _graph_outputs(layer, K33)).abs().max() > 1e-3


def same_partition(a, b):
    """Whether two colourings split the nodes the same way (colour names aside)."""
    pairs = torch.unique(torch.stack([a, b]), dim=1).shape[1]
    return pairs == torch.unique(a).numel() == torch.unique(b).numel()


def test_wl_refinement_rounds():
    path = undirected([[0, 1], [1, 2], [2, 3], [3, 4]])
    history = wl_colour_refinement(path, 5)
    expected = [[0, 0, 0, 0, 0], [0, 1, 1, 1, 0], [0, 1, 2, 1, 0]]  # degree, then distance to an end
    assert len(history) == 3 and all(same_partition(h, torch.tensor(e)) for h, e in zip(history, expected))
    for before, after in zip(history[:-1], history[1:]):  # each round refines the previous partition
        assert torch.unique(torch.stack([before, after]), dim=1).shape[1] == int(after.max()) + 1
    coloured = wl_colour_refinement(SIX_CYCLE[0], 6, colours=torch.tensor([0, 0, 0, 0, 0, 1]))
    assert int(coloured[-1].max()) + 1 == 4  # distances 0, 1, 2, 3 from the marked node
    assert wl_distinguishes(SIX_CYCLE, SIX_CYCLE, colours=(torch.zeros(6), torch.tensor([0, 0, 0, 0, 0, 1.0])))
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert same_partition(initial_colours(features, 6), torch.tensor([0, 1, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="one row per node: expected 5 rows"):
        initial_colours(features, 5)
    with pytest.raises(ValueError, match=r"colours must be integers \(class ids\), got non-integer values"):
        wl_colour_refinement(SIX_CYCLE[0], 6, colours=torch.tensor([0.0, 0.5, 0.0, 0.0, 0.0, 1.0]))
    with pytest.raises(TypeError, match=r"colours must be an integer tensor \[6\], got list"):
        wl_colour_refinement(SIX_CYCLE[0], 6, colours=[0, 0, 0, 0, 0, 1])
    histograms = wl_histograms([TWO_TRIANGLES, SIX_CYCLE, K33])
    assert histograms[-1].shape[0] == 3 and torch.equal(histograms[-1][0], histograms[-1][1])


def test_wl_agrees_with_networkx_hashes():
    """Our 1-WL verdict equals networkx's Weisfeiler–Lehman graph hash on random pairs (and isomorphic copies)."""
    for seed in range(12):
        a = networkx.gnm_random_graph(8, 11, seed=seed)
        b = networkx.gnm_random_graph(8, 11, seed=100 + seed) if seed % 3 else networkx.relabel_nodes(
            a, dict(zip(range(8), torch.randperm(8, generator=torch.Generator().manual_seed(seed)).tolist())))
        if seed % 4 == 1:
            b = networkx.random_regular_graph(3, 8, seed=seed)
            a = networkx.random_regular_graph(3, 8, seed=seed + 50)
        same_hash = (networkx.weisfeiler_lehman_graph_hash(a, iterations=8)
                     == networkx.weisfeiler_lehman_graph_hash(b, iterations=8))
        as_pair = [(undirected(list(g.edges)) if g.number_of_edges() else torch.empty(2, 0, dtype=torch.long), 8)
                   for g in (a, b)]
        assert wl_distinguishes(*as_pair) == (not same_hash), seed


def test_wl_is_vectorised_on_large_graphs():
    generator = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 50_000, (2, 200_000), generator=generator)
    history = wl_colour_refinement(edge_index, 50_000, iterations=3)
    assert len(history) == 4 and int(history[-1].max()) > 1000


# -- bad input --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: ConvolutionalLayer(3, 4), lambda: AttentionalLayer(3, 4),
                                  lambda: MessagePassingLayer(3, 4), lambda: GINLayer(3, 4)],
                         ids=["conv", "attention", "message_passing", "gin"])
def test_bad_graph_input_is_refused(make):
    layer, x, edge_index = make(), torch.randn(5, 3), torch.tensor([[0, 1, 2], [1, 2, 3]])
    with pytest.raises(TypeError, match="int64"):
        layer(x, edge_index.int())
    with pytest.raises(ValueError, match=r"shape \[2, E\], got \[3, 3\]"):
        layer(x, torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"refers to nodes 0..7, but the graph has 5 nodes: expected ids 0..4, got 0..7"):
        layer(x, torch.tensor([[0, 7], [1, 2]]))
    with pytest.raises(ValueError, match="refers to nodes -1"):
        layer(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match="refers to nodes 0..5, but the graph has 4 nodes"):
        layer(torch.randn(4, 3), torch.tensor([[0, 5], [1, 2]]))
    with pytest.raises(ValueError, match=r"3 channels: expected \[N, 3\], got \[5, 2\]"):
        layer(torch.randn(5, 2), edge_index)
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.ones(5, 3, dtype=torch.long), edge_index)
    with value_checks(False):  # range checks read values: switched off, they are skipped (shape checks stay)
        with pytest.raises(ValueError, match=r"shape \[2, E\]"):
            layer(x, torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="no fixed in_type: its field types depend on its inputs"):
        layer.in_type  # noqa: B018
    for nodes in (9, 4):  # one layer, any number of nodes: N comes from x
        in_type, out_type = layer.field_types(torch.randn(nodes, 3), edge_index)
        assert in_type.group == Permutations(nodes) and out_type == SetField(Permutations(nodes), layer.out_channels
                                                                               if not isinstance(layer, AttentionalLayer)
                                                                               else layer.total_out_channels)
    bad = layer.bad_inputs(x, edge_index)
    assert {"input 0: one channel too many", "input 1: node id 5 on a graph of 5 nodes"} <= set(bad)


def test_bad_options_and_edge_features_are_refused():
    with pytest.raises(ValueError, match=r"aggr must be one of \('sum', 'mean', 'max'\), got 'median'"):
        ConvolutionalLayer(3, 4, aggr="median")
    with pytest.raises(ValueError, match="self_loops must be one of"):
        AttentionalLayer(3, 4, self_loops="twice")
    with pytest.raises(ValueError, match="duplicates must be one of"):
        MessagePassingLayer(3, 4, duplicates="drop")
    with pytest.raises(ValueError, match="score must be one of"):
        AttentionalLayer(3, 4, score="dot")
    with pytest.raises(ValueError, match="normalization must be one of"):
        ConvolutionalLayer(3, 4, normalization="rw")
    with pytest.raises(ValueError, match="residual=True needs in_channels == out_channels"):
        MessagePassingLayer(3, 4, residual=True)
    with pytest.raises(ValueError, match="heads must be a positive integer, got True"):
        AttentionalLayer(3, 4, heads=True)
    with pytest.raises(ValueError, match="edge_channels must be an integer ≥ 0, got 1.5"):
        MessagePassingLayer(3, 4, edge_channels=1.5)
    with pytest.raises(ValueError, match="num_layers must be a positive integer, got 0"):
        GIN(3, 4, 2, num_layers=0)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MessagePassingLayer(3, 4, activation="swish")
    with pytest.raises(ValueError, match="readout must be one of"):
        GIN(3, 4, 2, readout="attention")
    x, edge_index = torch.randn(4, 3), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match=r"one row per edge: expected \[2, C\], got \[3, 2\]"):
        MessagePassingLayer(3, 4, edge_channels=2)(x, edge_index, torch.randn(3, 2))
    with pytest.raises(ValueError, match="built with edge_channels=0"):
        MessagePassingLayer(3, 4)(x, edge_index, torch.randn(2, 2))
    with pytest.raises(ValueError, match=r"one weight per edge: expected \[2\], got \[2, 1\]"):
        ConvolutionalLayer(3, 4)(x, edge_index, torch.ones(2, 1))
    with pytest.raises(ValueError, match=r"batch must be an int64 tensor \[4\]"):
        GIN(3, 4, 2)(x, edge_index, torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="expects a torch_geometric GCNConv, GraphConv or SAGEConv, got GATConv"):
        ConvolutionalLayer.from_pyg(GATConv(3, 4))
    with pytest.raises(ValueError, match=r"does not support GATConv with \['edge_dim'\]"):
        AttentionalLayer.from_pyg(GATConv(3, 4, edge_dim=2))
    with pytest.raises(ValueError, match="improved=False"):
        ConvolutionalLayer.from_pyg(GCNConv(3, 4, improved=True))


# -- networks as blueprints -----------------------------------------------------------------------------------------

def test_networks_are_blueprints_on_the_intersection_of_their_layers_groups(generator):
    x, edge_index = torch.randn(9, 4, dtype=torch.float64, generator=generator), messy_graph(9, 20, seed=13)
    edge_attr = torch.randn(edge_index.shape[1], 2, dtype=torch.float64, generator=generator)
    networks = [(ConvolutionalGNN(4, 8, 3, num_layers=3, dropout=0.5), (x, edge_index)),
                (AttentionalGNN(4, 6, 3, heads=3), (x, edge_index)),
                (MessagePassingGNN(4, 8, 3, num_layers=2, edge_channels=2), (x, edge_index, edge_attr)),
                (NodeMLP(4, 8, 3), (x, edge_index)),
                (GIN(4, 8, 3, num_layers=2), (x, edge_index, torch.tensor([0, 1, 0, 1, 1, 0, 0, 1, 1])))]
    for net, inputs in networks:
        net = net.double()
        assert isinstance(net, Blueprint)
        in_type, out_type = net.field_types(*inputs)
        assert in_type.group == out_type.group == Permutations(9), type(net).__name__
        assert len(in_type.fields) == len(inputs)
        assert assert_equivariant(net, inputs, generator=generator) <= 1e-9
    assert isinstance(out_type, TrivialField) and out_type.channels == 3  # GIN: invariant
    assert networks[2][0].context == ("edge_index", "edge_attr") and networks[4][0].context == ("edge_index", "batch")
    assert len(GIN(4, 8, 3).double().field_types(x, edge_index)[0].fields) == 2  # batch is optional


def test_convolutional_gnn_equals_stacked_torch_geometric_layers():
    torch.manual_seed(14)
    convs = [perturbed(GCNConv(4, 8)).double(), perturbed(GCNConv(8, 3)).double()]
    net = ConvolutionalGNN.from_pyg(convs, dropout=0.5).eval()
    x, edge_index = torch.randn(12, 4, dtype=torch.float64), messy_graph(seed=14)
    hidden = torch.relu(convs[0](x, edge_index))
    assert (net(x, edge_index) - convs[1](hidden, edge_index)).abs().max() <= 1e-12
    assert (net.hidden(x, edge_index) - hidden).abs().max() <= 1e-12
    plain = ConvolutionalGNN.from_pyg(convs)  # without dropout layers
    assert plain.hidden(x, edge_index).shape == hidden.shape and torch.equal(plain.hidden(x, edge_index),
                                                                             net.hidden(x, edge_index))
    assert (net.export()(x, edge_index) - convs[1](hidden, edge_index)).abs().max() <= 1e-12
    with pytest.raises(ValueError, match="one configuration"):
        ConvolutionalGNN.from_pyg([GCNConv(4, 8), GraphConv(8, 3)])


def test_attentional_gnn_equals_stacked_gatconv():
    torch.manual_seed(15)
    convs = [perturbed(GATConv(4, 2, heads=3)).double().eval(), perturbed(GATConv(6, 3)).double().eval()]
    net = AttentionalGNN(4, 6, 3, heads=3).double().eval()
    for layer, conv in zip(net.layers[::2], convs):
        layer.load_state_dict(AttentionalLayer.from_pyg(conv).state_dict())
    x, edge_index = torch.randn(12, 4, dtype=torch.float64), messy_graph(seed=15)
    expected = convs[1](torch.nn.functional.elu(convs[0](x, edge_index)), edge_index)
    assert (net(x, edge_index) - expected).abs().max() <= 1e-12


@pytest.mark.parametrize("readout", AGGREGATIONS)
def test_gin_network_equals_a_naive_reference(readout):
    torch.manual_seed(16)
    model = perturbed(GIN(3, 5, 2, num_layers=3, readout=readout, train_eps=True, eps=0.2)).double()
    x, edge_index = torch.randn(10, 3, dtype=torch.float64), messy_graph(10, 30, seed=16)
    batch = torch.tensor([2, 0, 0, 2, 0, 2, 2, 0, 2, 0])  # graph 1 has no nodes
    h, pooled = x, []
    for stage in model.layers[:3]:  # three stages: the third reads h², not h¹ (both blocks are 5 wide)
        layer = stage.layer
        summed = torch.zeros_like(h)
        for j, i in edge_index.T.tolist():
            summed[i] += h[j]
        h = torch.relu(layer.mlp((1 + layer.eps) * h + summed))
        pooled.append(torch.stack([{"sum": h[batch == b].sum(0), "mean": h[batch == b].mean(0),
                                    "max": h[batch == b].max(0).values}[readout] if (batch == b).any()
                                   else torch.zeros(5, dtype=torch.float64) for b in range(3)]))
    expected = model.head(torch.cat(pooled, dim=-1))
    assert (model(x, edge_index, batch) - expected).abs().max() <= 1e-12
    assert (model.export()(x, edge_index, batch) - expected).abs().max() <= 1e-12
    one = model(x, edge_index)  # without batch: one graph
    assert one.shape == (1, 2) and (one - model(x, edge_index, torch.zeros(10, dtype=torch.long))).abs().max() <= 1e-12
    with pytest.raises(ValueError, match=r"batch must hold graph ids 0 ≤ id, got ids -1..2"):
        model(x, edge_index, batch - (batch == 0).long())
    with pytest.raises(ValueError, match=r"batch must be an int64 tensor \[10\] of graph ids, got torch.float64"):
        model(x, edge_index, batch.double())


def test_graph_readout_pools_each_graph(generator):
    x = torch.randn(7, 2, dtype=torch.float64, generator=generator)
    batch = torch.tensor([3, 0, 3, 0, 0, 3, 3])
    for aggr in AGGREGATIONS:
        out = GraphReadout(aggr)(x, batch)
        assert out.shape == (4, 2) and torch.equal(out[1:3], torch.zeros(2, 2, dtype=torch.float64))  # empty ids
        for b in (0, 3):
            rows = x[batch == b]
            expected = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0).values}[aggr]
            assert (out[b] - expected).abs().max() <= 1e-15
        assert torch.equal(GraphReadout(aggr)(x), GraphReadout(aggr)(x, torch.zeros(7, dtype=torch.long)))


def test_node_mlp_ignores_the_edges_and_is_a_linear_stack(generator):
    torch.manual_seed(17)
    net = NodeMLP(4, 6, 2, dropout=0.5).double().eval()
    x = torch.randn(9, 4, dtype=torch.float64, generator=generator)
    first, second = [m for m in net.modules() if isinstance(m, nn.Linear)]
    expected = torch.relu(x @ first.weight.T + first.bias) @ second.weight.T + second.bias
    assert (net(x) - expected).abs().max() <= 1e-14
    assert torch.equal(net(x, messy_graph(9, 20, seed=1)), net(x)) and torch.equal(net(x, messy_graph(9, 40)), net(x))
    with pytest.raises(ValueError, match="refers to nodes"):
        net(x, torch.tensor([[0], [9]]))


# -- karate club --------------------------------------------------------------------------------------------------

def test_karate_gcn_beats_the_graph_blind_mlp(tmp_path, monkeypatch):
    monkeypatch.setattr(KarateClub, "seeds", lambda self, settings: 3)
    result = KarateClub().run(Settings(quick=True, out_dir=tmp_path, progress=False))
    assert result.value("gcn", "test accuracy, communities") >= result.value("mlp", "test accuracy, communities") + 0.3
    assert result.value("gcn", "test accuracy, faction") >= 0.85
    assert result.value("mlp", "test accuracy, faction") <= 0.7
    assert (tmp_path / "karate" / "gcn_embedding.png").stat().st_size > 1000
