"""The three GNN flavours, GIN and 1-WL: torch-geometric built-ins with copied weights, naive float64 references,
aggregators, the self-loop and duplicate-edge policies, expressivity pairs, karate club, bad input."""

import networkx
import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, GINConv, GraphConv

from gdl.core.checks import repeated_edges
from gdl.experiments.base import Settings
from gdl.experiments.karate import KarateClub
from gdl.graphs import (
    GIN,
    AttentionalLayer,
    ConvolutionalLayer,
    GINLayer,
    MessagePassingLayer,
    Permutations,
    wl_colour_refinement,
    wl_distinguishes,
    wl_histograms,
)
from gdl.graphs.edges import prepare_edges
from gdl.graphs.expressivity import initial_colours
from gdl.graphs.flavours import random_graph
from gdl.testing import assert_equivariant, graph_break_count

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


@pytest.mark.parametrize("aggr", ["sum", "mean"])
def test_convolutional_with_root_weight_equals_graphconv(aggr):
    torch.manual_seed(1)
    graph_conv = perturbed(GraphConv(5, 7, aggr={"sum": "add"}.get(aggr, aggr)))
    ours = ConvolutionalLayer.from_pyg(graph_conv)
    x, edge_index = torch.randn(12, 5), messy_graph(seed=1)
    weight = torch.rand(edge_index.shape[1])
    assert torch.allclose(ours(x, edge_index, weight), graph_conv(x, edge_index, weight), atol=1e-5, rtol=0)


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
    return [ConvolutionalLayer(4, 5, aggr=aggr, num_nodes=12),
            ConvolutionalLayer(4, 5, aggr=aggr, normalization=None, self_loops="remove", duplicates="merge", num_nodes=12),
            AttentionalLayer(4, 3, heads=2, aggr=aggr, score="gat", num_nodes=12),
            MessagePassingLayer(4, 5, aggr=aggr, self_loops="add", num_nodes=12),
            GINLayer(4, 5, aggr=aggr, num_nodes=12)]


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
        layer.num_nodes = None
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

@pytest.mark.parametrize("make", [lambda: ConvolutionalLayer(3, 4, num_nodes=5), lambda: AttentionalLayer(3, 4, num_nodes=5),
                                  lambda: MessagePassingLayer(3, 4, num_nodes=5), lambda: GINLayer(3, 4, num_nodes=5)],
                         ids=["conv", "attention", "message_passing", "gin"])
def test_bad_graph_input_is_refused(make):
    layer, x, edge_index = make(), torch.randn(5, 3), torch.tensor([[0, 1, 2], [1, 2, 3]])
    with pytest.raises(TypeError, match="int64"):
        layer(x, edge_index.int())
    with pytest.raises(ValueError, match=r"shape \[2, E\], got \[3, 3\]"):
        layer(x, torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"refers to nodes 0..7, but the graph has 5 nodes"):
        layer(x, torch.tensor([[0, 7], [1, 2]]))
    with pytest.raises(ValueError, match="refers to nodes -1"):
        layer(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match="one row per node: expected 5 rows"):
        layer(torch.randn(6, 3), edge_index)
    with pytest.raises(ValueError, match=r"3 channels: expected \[N, 3\], got \[5, 2\]"):
        layer(torch.randn(5, 2), edge_index)
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.ones(5, 3, dtype=torch.long), edge_index)
    free = make()
    free.num_nodes = None
    with pytest.raises(TypeError, match="field types depend on that number N"):
        free.in_type  # noqa: B018
    assert free.field_types(9)[0].group == Permutations(9)


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
    with pytest.raises(ValueError, match="num_nodes must be a positive integer"):
        GINLayer(3, 4, num_nodes=0)
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
    with pytest.raises(TypeError, match="expects a torch_geometric GCNConv or GraphConv, got GATConv"):
        ConvolutionalLayer.from_pyg(GATConv(3, 4))
    with pytest.raises(ValueError, match=r"does not support GATConv with \['edge_dim'\]"):
        AttentionalLayer.from_pyg(GATConv(3, 4, edge_dim=2))
    with pytest.raises(ValueError, match="improved=False"):
        ConvolutionalLayer.from_pyg(GCNConv(3, 4, improved=True))


# -- karate club --------------------------------------------------------------------------------------------------

def test_karate_gcn_beats_the_graph_blind_mlp(tmp_path, monkeypatch):
    monkeypatch.setattr(KarateClub, "seeds", lambda self, settings: 3)
    result = KarateClub().run(Settings(quick=True, out_dir=tmp_path, progress=False))
    assert result.value("gcn", "test accuracy, communities") >= result.value("mlp", "test accuracy, communities") + 0.3
    assert result.value("gcn", "test accuracy, faction") >= 0.85
    assert result.value("mlp", "test accuracy, faction") <= 0.7
    assert (tmp_path / "karate" / "gcn_embedding.png").stat().st_size > 1000
