"""GPS (local flavour + global attention), the cycles data set, and positional encodings that matter.

* GPSLayer and GPS are S_N-equivariant (the harness, every local flavour, batches in mixed order, one graph);
* the global branch is TransformerGNNLayer's attention: with ``local=None`` the layer is torch's
  ``nn.TransformerEncoderLayer`` applied to every graph of a batch (outputs and input gradients), and every
  attention path gives the same global branch;
* the whole layer equals a reference written out by hand (dense GCN propagation, torch's multi-head attention);
* the cycles data set is deterministic, its labels are no function of the degree, of the feature multiset or of the
  1-WL colour, models without encodings are blind on it (one output for every node), random-walk encodings decide
  the labels, and a short training run with them beats the same model without.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.utils import degree, to_dense_adj

from gdl.datasets.cycles import CYCLE_LENGTHS, cycle_partition, cycle_union_graphs
from gdl.experiments import Settings
from gdl.experiments.graph_transformer import CycleModel, GraphTransformerExperiment, cycle_data, pe_nearest_member
from gdl.graphs import GPS, GPSLayer, TransformerGNNLayer, laplacian_eigenvectors, wl_colour_refinement
from gdl.graphs.gps import LOCAL_FLAVOURS, batch_complete_graph
from gdl.testing import assert_equivariant
from gdl.testing.fixtures import random_graph


def mixed_batch(sizes=(5, 3, 7), edges_per_node=2, seed=0):
    """x-free graph inputs: a multigraph per graph, nodes of all graphs listed in random order."""
    generator = torch.Generator().manual_seed(seed)
    offsets = torch.cumsum(torch.tensor((0,) + sizes[:-1]), 0)
    edge_index = torch.cat([random_graph(n, edges_per_node * n, generator) + int(o) for n, o in zip(sizes, offsets)], 1)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    order = torch.randperm(sum(sizes), generator=generator)  # node k of the union is node order[k] of the graphs
    return torch.argsort(order)[edge_index], batch[order], generator


# -- symmetry --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("local", LOCAL_FLAVOURS, ids=[str(name) for name in LOCAL_FLAVOURS])
def test_gps_layer_is_permutation_equivariant_with_every_local_flavour(local, norm_first):
    edge_index, batch, generator = mixed_batch()
    torch.manual_seed(0)
    layer = GPSLayer(8, 2, local=local, norm_first=norm_first, dropout=0.3).eval()
    x = torch.randn(15, 8, generator=generator)
    for inputs in ((x, edge_index, batch), (x, edge_index)):
        error = assert_equivariant(layer, inputs, dtype=torch.float64, generator=generator, n_samples=4)
        assert error <= 1e-9


def test_gps_network_is_permutation_equivariant_with_and_without_encodings():
    graphs = cycle_union_graphs(3, num_nodes=12, lengths=(3, 4, 5), seed=1)
    data = Batch.from_data_list(graphs)
    generator = torch.Generator().manual_seed(0)
    for pe_dim, local in ((0, "gin"), (8, "gat"), (8, None)):
        torch.manual_seed(1)
        net = GPS(1, 3, width=8, nhead=2, local=local, pe_dim=pe_dim, dropout=0.2).eval()
        signal = (data.x, data.lap_pe) if pe_dim else (data.x,)
        for inputs in (signal + (data.edge_index, data.batch), signal + (data.edge_index,)):
            assert assert_equivariant(net, inputs, dtype=torch.float64, generator=generator, n_samples=3) <= 1e-9


# -- the global branch is TransformerGNNLayer's attention ------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_without_local_branch_gps_is_torchs_transformer_layer_on_every_graph(norm_first):
    torch.manual_seed(0)
    reference = nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=norm_first, dtype=torch.float64)
    layer = GPSLayer(8, 2, local=None, dim_feedforward=12, activation="gelu", norm_first=norm_first).double()
    layer.transformer.load_state_dict(TransformerGNNLayer.from_torch(reference).state_dict())
    edge_index, batch, generator = mixed_batch((5, 3, 7))
    x = torch.randn(15, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    out = layer(x, edge_index, batch)
    expected = torch.empty_like(out)
    for g in range(3):  # torch's layer, graph by graph: the complete graph of each graph
        nodes = (batch == g).nonzero().squeeze(1)
        expected[nodes] = reference(x[nodes].unsqueeze(0)).squeeze(0)
    assert (out - expected).abs().max() <= 1e-12
    weights = torch.randn(out.shape, dtype=torch.float64, generator=generator)
    (gradient,) = torch.autograd.grad((out * weights).sum(), x)
    (expected_gradient,) = torch.autograd.grad((expected * weights).sum(), x)
    assert (gradient - expected_gradient).abs().max() <= 1e-12
    # one graph (batch=None): torch's layer on all nodes
    single = torch.randn(6, 8, dtype=torch.float64, generator=generator)
    assert (layer(single, random_graph(6, 12, generator)) - reference(single.unsqueeze(0)).squeeze(0)).abs().max() <= 1e-12


def test_the_global_branch_is_multi_head_attention_within_each_graph_on_every_path():
    torch.manual_seed(0)
    layer = GPSLayer(8, 2, local="gcn").double()
    torch_attention = layer.transformer.export().self_attn  # nn.MultiheadAttention with the layer's weights
    edge_index, batch, generator = mixed_batch((4, 6, 5))
    x = torch.randn(15, 8, dtype=torch.float64, generator=generator)
    expected = torch.empty_like(x)
    for g in range(3):
        nodes = (batch == g).nonzero().squeeze(1)
        part = x[nodes].unsqueeze(0)
        expected[nodes] = torch_attention(part, part, part, need_weights=False)[0].squeeze(0)
    for path in ("auto", "fused_sparse", "message_passing"):
        layer.path = path
        source = x.clone().requires_grad_()
        out = layer.global_attention(source, batch)
        assert (out - expected).abs().max() <= 1e-12, path
    # equal graphs listed in order attend densely ([B, n, C]); the same graphs relabelled attend over the
    # block-diagonal graph: the same numbers, outputs and gradients
    paths = []
    attention_block = layer.transformer._attention_block

    def spy(h, graph, path, structure):
        paths.append(path)
        return attention_block(h, graph, path, structure)

    layer.transformer._attention_block = spy
    layer.path = "auto"
    equal = torch.arange(3).repeat_interleave(5)
    perm = torch.randperm(15, generator=generator)
    results = []
    for ids, features in ((equal, x), (equal[perm], x[perm])):
        source = features.clone().requires_grad_()
        out = layer.global_attention(source, ids)
        (gradient,) = torch.autograd.grad(out.square().sum(), source)
        results.append((out, gradient))
    assert paths == ["dense", "fused_sparse"]
    assert (results[1][0] - results[0][0][perm]).abs().max() <= 1e-12
    assert (results[1][1] - results[0][1][perm]).abs().max() <= 1e-12


def test_gps_layer_equals_a_reference_written_out_by_hand():
    """h = LN₁(x + Â x Wᵀ + b + MHA per graph), y = LN₂(h + W₂ relu(W₁ h + b₁) + b₂), Â = D̂^{-1/2}(A + I)D̂^{-1/2}."""
    torch.manual_seed(0)
    layer = GPSLayer(8, 4, local="gcn").double()
    _, batch, generator = mixed_batch((6, 6, 3))
    edge_index = torch.randint(0, 15, (2, 60), generator=generator)
    edge_index = edge_index[:, (edge_index[0] != edge_index[1]) & (batch[edge_index[0]] == batch[edge_index[1]])]
    x = torch.randn(15, 8, dtype=torch.float64, generator=generator)
    adjacency = to_dense_adj(edge_index, max_num_nodes=15)[0].T + torch.eye(15, dtype=torch.float64)  # [i, j]: j → i
    inverse_sqrt = adjacency.sum(1).rsqrt()
    propagation = inverse_sqrt[:, None] * adjacency * inverse_sqrt[None, :]
    local = propagation @ x @ layer.local.lin.weight.T + layer.local.bias
    t = layer.transformer
    q, k, v = (x @ t.in_proj.weight.T + t.in_proj.bias).view(15, 3, 4, 2).unbind(1)  # [N, H, d_h] each
    logits = torch.einsum("ihd,jhd->hij", q, k) / 2 ** 0.5
    logits = logits.masked_fill(batch[None, :, None] != batch[None, None, :], float("-inf"))
    attended = torch.einsum("hij,jhd->ihd", logits.softmax(-1), v).reshape(15, 8)
    global_ = attended @ t.out_proj.weight.T + t.out_proj.bias
    h = nn.functional.layer_norm(x + local + global_, (8,), t.norm1.weight, t.norm1.bias)
    feedforward = torch.relu(h @ t.linear1.weight.T + t.linear1.bias) @ t.linear2.weight.T + t.linear2.bias
    expected = nn.functional.layer_norm(h + feedforward, (8,), t.norm2.weight, t.norm2.bias)
    assert (layer(x, edge_index, batch) - expected).abs().max() <= 1e-12


@pytest.mark.parametrize("local", LOCAL_FLAVOURS, ids=[str(name) for name in LOCAL_FLAVOURS])
def test_export_is_plain_torch_and_equal_for_every_local_flavour(local):
    torch.manual_seed(0)
    layer = GPSLayer(8, 2, local=local, norm_first=local == "gin").double().eval()
    exported = layer.export().eval()
    assert not any(isinstance(m, GPSLayer | TransformerGNNLayer) for m in exported.modules())
    edge_index, batch, generator = mixed_batch()
    x = torch.randn(15, 8, dtype=torch.float64, generator=generator)
    for ids in (batch, None):
        with torch.no_grad():
            assert (exported(x, edge_index, ids) - layer(x, edge_index, ids)).abs().max() <= 1e-12


def test_batch_complete_graph_is_every_pair_within_a_graph():
    batch = torch.tensor([2, 0, 1, 0, 2, 2, 1, 0, 0])
    edges = batch_complete_graph(batch)
    expected = (batch[:, None] == batch[None, :]).nonzero().T.flip(0)  # (j, i) with batch_j == batch_i
    assert edges.shape == expected.shape
    assert set(map(tuple, edges.T.tolist())) == set(map(tuple, expected.T.tolist()))


def test_gps_refuses_bad_arguments_by_name():
    with pytest.raises(ValueError, match="local must be one of"):
        GPSLayer(8, 2, local="transformer")
    with pytest.raises(ValueError, match="local=None has no local branch"):
        GPSLayer(8, 2, local=None, local_options={"aggr": "mean"})
    with pytest.raises(ValueError, match="divisible by nhead"):
        GPSLayer(9, 2)
    layer = GPSLayer(8, 2, local="gcn", path="dense")
    edge_index, batch, _ = mixed_batch()
    with pytest.raises(ValueError, match="path='dense' needs graphs of equal size"):
        layer(torch.randn(15, 8), edge_index, batch)
    dropping = GPSLayer(8, 2, local="gcn", dropout=0.5, path="fused_sparse").train()
    with pytest.raises(ValueError, match="has no dropout on the attention weights"):
        dropping(torch.randn(15, 8), edge_index, batch)
    with pytest.raises(ValueError, match="batch must be an int64 tensor"):
        layer(torch.randn(15, 8), edge_index, batch[1:])
    net = GPS(1, 3, pe_dim=4)
    with pytest.raises(TypeError, match=r"takes \(x, p, edge_index\[, batch\]\), got 1 inputs"):
        net(torch.randn(5, 1))
    with pytest.raises(NotImplementedError, match="GPSLayer.export"):
        GPSLayer(8, 2, local="gin", local_options={"self_loops": "add"}).export()


# -- the cycles data set ---------------------------------------------------------------------------------------------

def test_cycle_graphs_are_deterministic_and_made_of_the_stated_cycles():
    first, again = cycle_union_graphs(6, seed=3), cycle_union_graphs(6, seed=3)
    other = cycle_union_graphs(6, seed=4)
    for a, b in zip(first, again):
        for key in ("x", "edge_index", "y", "cycle_length", "cycle", "lap_pe", "rw_pe"):
            assert torch.equal(a[key], b[key]), key
    assert any(not torch.equal(a.edge_index, b.edge_index) for a, b in zip(first, other))
    for graph in first:
        n = graph.num_nodes
        assert n == 24 and graph.edge_index.shape == (2, 48) and torch.equal(graph.x, torch.ones(n, 1))
        assert torch.equal(degree(graph.edge_index[1], n), torch.full((n,), 2.0))
        # each cycle id is one connected cycle of the stated length: (A^L)_ii counts the closed walks around it
        adjacency = to_dense_adj(graph.edge_index, max_num_nodes=n)[0]
        same_cycle = graph.cycle[:, None] == graph.cycle[None, :]
        assert torch.equal(adjacency.bool() & ~same_cycle, torch.zeros(n, n, dtype=torch.bool))
        for c in graph.cycle.unique():
            nodes = (graph.cycle == c).nonzero().squeeze(1)
            length = len(nodes)
            assert set(graph.cycle_length[nodes].tolist()) == {length} and length in CYCLE_LENGTHS
            walks = torch.linalg.matrix_power(adjacency[nodes][:, nodes], length).diagonal()
            line = 0 if length % 2 else math.comb(length, length // 2)  # closed walks that do not wind around
            assert torch.equal(walks, torch.full_like(walks, line + 2.0)), length
        assert torch.equal(graph.y, torch.tensor([CYCLE_LENGTHS.index(int(L)) for L in graph.cycle_length]))
        assert len(set(graph.cycle_length.tolist())) >= 2


def test_labels_are_no_function_of_degree_multiset_or_wl_colour():
    graphs = cycle_union_graphs(8, seed=0)
    for graph in graphs:  # one graph: equal degrees, equal features (hence one feature multiset), different labels
        assert degree(graph.edge_index[1], graph.num_nodes).unique().numel() == 1
        assert graph.x.unique().numel() == 1 and graph.y.unique().numel() >= 2
    batch = Batch.from_data_list(graphs)
    colours = wl_colour_refinement(batch.edge_index, batch.num_nodes)[-1]
    assert colours.unique().numel() == 1 and batch.y.unique().numel() == len(CYCLE_LENGTHS)
    # the random-walk encoding of 8 steps decides the label; one of 4 steps does not (C_5 … C_8 look alike)
    rows = {}
    for row, label in zip(batch.rw_pe.tolist(), batch.y.tolist()):
        assert rows.setdefault(tuple(round(v, 9) for v in row), label) == label
    short = {}
    for row, label in zip(batch.rw_pe[:, :4].tolist(), batch.y.tolist()):
        short.setdefault(tuple(round(v, 9) for v in row), set()).add(label)
    assert max(len(labels) for labels in short.values()) >= 2


def test_models_without_encodings_are_blind_on_cycles_and_with_them_are_not():
    data = Batch.from_data_list(cycle_union_graphs(4, seed=2))
    torch.manual_seed(0)
    for model in (CycleModel("transformer"), CycleModel("gps"), CycleModel("gat")):
        with torch.no_grad():
            out = model.eval()(data)
        assert (out - out[0]).abs().max() <= 1e-5, model.kind  # one output for every node of every graph
    for encoding in ("lap", "rw"):
        with torch.no_grad():
            out = CycleModel("transformer", encoding).eval()(data)
        assert (out - out[0]).abs().max() > 1e-2


def test_cycle_data_and_bad_lengths():
    train, test, (mean, std) = cycle_data(0)
    assert len(train) == 128 and len(test) == 64 and all(bool(g.loss_mask.all()) for g in train + test)
    walks = torch.cat([g.rw_pe for g in train])  # standardised per step: mean 0, deviation 1 (0 where constant)
    assert walks.mean(0).abs().max() <= 1e-5 and torch.allclose(walks.std(0), (std > 1e-6).float(), atol=1e-4)
    assert float(std[0]) == pytest.approx(1e-6) and float(mean[0]) == 0.0  # one step never returns
    assert cycle_data(0)[0] is train  # cached: every model of a seed trains on the same graphs
    with pytest.raises(ValueError, match="at least two distinct cycle lengths ≥ 3, got"):
        cycle_union_graphs(2, lengths=(2, 5))
    with pytest.raises(ValueError, match="at least two distinct cycle lengths ≥ 3, got"):
        cycle_union_graphs(2, lengths=(4, 4))
    with pytest.raises(ValueError, match="8 nodes cannot be split into cycles of lengths"):
        cycle_union_graphs(2, num_nodes=8, lengths=(4, 5))  # only 4 + 4: no graph with two different lengths
    parts = cycle_partition(20, (3, 5), torch.Generator().manual_seed(0))
    assert sum(parts) == 20 and set(parts) == {3, 5}


# -- training: encodings that matter ------------------------------------------------------------------------------

def test_random_walk_encodings_beat_none_in_a_short_training_run():
    experiment = GraphTransformerExperiment()
    settings = Settings(quick=True, device="cpu", progress=False, limit=64, epochs=25)
    with_rw = experiment.train_model("cycles_transformer_rw", settings).history[-1]
    without = experiment.train_model("cycles_transformer_nope", settings).history[-1]
    labels = torch.cat([graph.y for graph in cycle_data(0)[1][:64]])
    ceiling = float(torch.bincount(labels).max()) / labels.numel()
    assert without["val_accuracy"] <= ceiling + 1e-6  # blind: one class for every node
    assert with_rw["val_accuracy"] >= 0.7 and with_rw["val_accuracy"] >= without["val_accuracy"] + 0.5


def test_the_karate_probe_measures_what_the_eigenvectors_hold():
    from gdl.experiments.graph_transformer import karate_club

    data = karate_club()
    signed, absolute, inner = (pe_nearest_member(data, mode) for mode in ("signed", "absolute", "inner"))
    assert signed > absolute and inner > absolute  # the communities sit in the signs, which ⟨φ_i, φ_j⟩ keeps
    flipped = data.clone()
    flipped.lap_pe = data.lap_pe * torch.tensor([1.0, -1.0, -1.0, 1.0])
    assert pe_nearest_member(flipped, "inner") == inner and pe_nearest_member(flipped, "absolute") == absolute
    _, recomputed = laplacian_eigenvectors(data.edge_index, data.num_nodes, 4)
    assert torch.equal(recomputed, data.lap_pe)
    with pytest.raises(ValueError, match="mode must be"):
        pe_nearest_member(data, "cosine")
