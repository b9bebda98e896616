"""Neighbour sampling: exact against k-hop subgraphs, fan-outs respected, uniform, and a million-edge graph."""

import time

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import k_hop_subgraph

from gdl.cli import main
from gdl.datasets.synthetic_graphs import stochastic_block_graph
from gdl.graphs.neighbor_sampling import UniformNeighborSampler, neighbor_loader


def _random_graph(n=300, e=2500, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Data(x=torch.randn(n, 4, generator=g), y=torch.arange(n), edge_index=torch.randint(0, n, (2, e), generator=g))


def test_full_fanout_is_the_k_hop_in_neighbourhood():
    graph = _random_graph()
    seeds = torch.tensor([3, 7, 9, 11, 20])
    batch = next(iter(neighbor_loader(graph, [-1, -1], batch_size=5, input_nodes=seeds)))
    subset, *_ = k_hop_subgraph(seeds, 2, graph.edge_index, num_nodes=graph.num_nodes, flow="source_to_target")
    assert torch.equal(batch.n_id[:5], seeds) and batch.batch_size == 5
    assert sorted(batch.n_id.tolist()) == sorted(subset.tolist())
    assert torch.equal(torch.stack([batch.n_id[batch.edge_index[0]], batch.n_id[batch.edge_index[1]]]),
                       graph.edge_index[:, batch.e_id])
    assert torch.equal(batch.x, graph.x[batch.n_id])
    first_hop = batch.e_id[: batch.num_sampled_edges[0]]
    expected = torch.isin(graph.edge_index[1], seeds).nonzero().flatten()
    assert sorted(first_hop.tolist()) == sorted(expected.tolist())


def test_fanout_caps_each_target_without_duplicates():
    graph = _random_graph()
    batch = next(iter(neighbor_loader(graph, [3, 2], batch_size=40, shuffle=True, seed=5)))
    degree = torch.bincount(graph.edge_index[1], minlength=graph.num_nodes)
    hop1 = batch.edge_index[:, : batch.num_sampled_edges[0]]
    per_target = torch.bincount(hop1[1], minlength=batch.num_nodes)[: batch.batch_size]
    assert torch.equal(per_target, degree[batch.n_id[: batch.batch_size]].clamp(max=3))
    assert len(set(batch.e_id.tolist())) == len(batch.e_id)
    again = next(iter(neighbor_loader(graph, [3, 2], batch_size=40, shuffle=True, seed=5)))
    assert torch.equal(again.n_id, batch.n_id) and torch.equal(again.e_id, batch.e_id)


def test_sampling_is_uniform_over_a_nodes_neighbours():
    """A node with 10 in-neighbours and fan-out 3: each neighbour is kept with probability 3/10."""
    edge_index = torch.stack([torch.arange(1, 11), torch.zeros(10, dtype=torch.long)])
    sampler = UniformNeighborSampler(Data(edge_index=edge_index, num_nodes=11), [3], seed=0)
    counts = torch.zeros(11)
    trials = 4000
    for _ in range(trials):
        position, _ = sampler._sample_hop(torch.tensor([0]), 3)
        counts[sampler.sources[position]] += 1
    frequency = counts[1:] / trials
    assert torch.allclose(frequency, torch.full((10,), 0.3), atol=0.03), frequency


def test_million_edge_graph_batches_touch_a_small_part():
    graph = stochastic_block_graph(120_000, avg_degree=10, seed=0)
    assert graph.num_edges >= 1_000_000
    loader = neighbor_loader(graph, [10, 5], batch_size=1024, shuffle=True, seed=0)
    start = time.perf_counter()
    batch = next(iter(loader))
    assert time.perf_counter() - start < 5.0
    assert batch.num_nodes < graph.num_nodes / 2 and batch.batch_size == 1024


def test_bad_fanouts_and_indices():
    with pytest.raises(ValueError, match="positive fan-outs"):
        UniformNeighborSampler(_random_graph(), [0, 3])
    with pytest.raises(ValueError, match="refers to nodes 0..300, but the graph has 300 nodes"):
        UniformNeighborSampler(Data(edge_index=torch.tensor([[0, 300], [1, 2]]), num_nodes=300), [2])


def test_large_graph_quick_reproduction(tmp_path):
    assert main(["reproduce", "large_graph", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    import json

    rows = {(r["model"], r["metric"]): r["value"] for r in json.loads((tmp_path / "large_graph" / "result.json").read_text())["rows"]}
    sage, mlp = rows[("sage", "test accuracy (sampled neighbourhoods)")], rows[("mlp", "test accuracy (sampled neighbourhoods)")]
    assert sage >= 0.9 and sage >= mlp + 0.15
