"""The attention paths of TransformerGNNLayer (dense, block-sparse, fused sparse, message passing): equal numbers on
every graph, outputs and gradients; nn.TransformerEncoderLayer on the complete and causal graphs; path selection;
the per-graph plan caches; O(E·H) memory of the fused path; bad input.

FlexAttention (the block-sparse path) compiles on first use. Every block-sparse check here runs one configuration
(batch 2, 3 heads of size 4, graphs of at most 128 nodes, float32), so the whole file compiles it twice: once for
graphs and once for multigraphs (which add log-multiplicities to the scores)."""

import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data

import gdl.graphs.attention as attention
import gdl.graphs.transformer as transformer
from gdl.core import value_checks
from gdl.graphs import (
    TransformerGNNLayer,
    causal_graph,
    complete_graph,
    dilated_graph,
    global_window_graph,
    window_graph,
)
from gdl.graphs.attention import (
    BLOCK_PLANS,
    CSR_PLANS,
    FLEX_COMPILED,
    block_plan,
    block_sparse_attention,
    choose_sparse_path,
    csr_plan,
    fused_sparse_attention,
)

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
D_MODEL, NHEAD, BATCH = 12, 3, 2


def make_layer(dtype=torch.float64, norm_first=False, seed=0):
    """A torch encoder layer with non-zero attention biases and layer-norm parameters, and its GNN copy."""
    torch.manual_seed(seed)
    reference = nn.TransformerEncoderLayer(D_MODEL, NHEAD, 20, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=norm_first, dtype=dtype)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return reference, TransformerGNNLayer.from_torch(reference)


def random_multigraph(n=23, edges=70, seed=0):
    """Random edges with repeated edges, self-loops and nodes that receive nothing (and one that is isolated)."""
    generator = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, n - 1, (2, edges), generator=generator)
    edge_index = edge_index[:, edge_index[1] % 5 != 2]  # nodes 2, 7, 12, 17 receive nothing; n − 1 is isolated
    loops = torch.arange(0, n - 1, 3).repeat(2, 1)
    return torch.cat([edge_index, edge_index[:, :9], loops, loops[:, :2]], dim=1)  # 9 + 2 repeated edges


def batch_of_graphs():
    """A torch-geometric batch of graphs of 5, 11 and 17 nodes (window, random, complete): block-diagonal."""
    graphs = [window_graph(5, 1), random_multigraph(11, 30, seed=3), complete_graph(17, self_loops=False)]
    batch = Batch.from_data_list([Data(edge_index=g, num_nodes=n) for g, n in zip(graphs, (5, 11, 17))])
    assert batch.num_nodes == 33
    return batch.edge_index, batch.num_nodes


GRAPHS = {
    "random multigraph": lambda: (random_multigraph(), 23),
    "random simple graph": lambda: (torch.unique(random_multigraph(31, 120, seed=1), dim=1), 31),
    "complete": lambda: (complete_graph(9), 9),
    "complete without self-loops": lambda: (complete_graph(9, self_loops=False), 9),
    "causal": lambda: (causal_graph(10), 10),
    "window": lambda: (window_graph(40, 3), 40),
    "causal window": lambda: (window_graph(40, 4, causal=True), 40),
    "dilated": lambda: (dilated_graph(40, 2, 3), 40),
    "causal dilated": lambda: (dilated_graph(40, 2, 2, causal=True), 40),
    "global + window": lambda: (global_window_graph(40, 2, 3), 40),
    "causal global + window": lambda: (global_window_graph(40, 1, [5, 20], causal=True), 40),
    "batch of graphs": batch_of_graphs,
    "no edges": lambda: (torch.zeros(2, 0, dtype=torch.long), 6),
}


def outputs_and_gradients(layer, x, edge_index, path, target):
    x = x.detach().clone().requires_grad_()
    out = layer(x, edge_index, path=path)
    parameters = [p for p in layer.parameters()]
    gradients = torch.autograd.grad((out * target).sum(), [x, *parameters])
    return out.detach(), gradients


# -- every path equals message passing ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("graph", list(GRAPHS))
def test_fused_sparse_path_equals_message_passing_with_gradients(graph, dtype):
    edge_index, n = GRAPHS[graph]()
    _, layer = make_layer(dtype, norm_first=graph.startswith("causal"))
    x = torch.randn(BATCH, n, D_MODEL, dtype=dtype)
    target = torch.randn(BATCH, n, D_MODEL, dtype=dtype)
    expected, expected_gradients = outputs_and_gradients(layer, x, edge_index, "message_passing", target)
    out, gradients = outputs_and_gradients(layer, x, edge_index, "fused_sparse", target)
    assert (out - expected).abs().max() <= TOLERANCE[dtype]
    names = ["x"] + [name for name, _ in layer.named_parameters()]
    for name, ours, theirs in zip(names, gradients, expected_gradients):
        assert (ours - theirs).abs().max() <= TOLERANCE[dtype], name
    assert gradients[0].abs().max() > 1e-3  # the gradients are not trivially zero


@pytest.mark.parametrize("chunk_size, save_limit", [(1, 0), (50, 0), (50, 10 ** 9), (10 ** 9, 10 ** 9)],
                         ids=["rows, recomputed", "chunks, recomputed", "chunks, saved", "one chunk, saved"])
def test_fused_kernel_equals_a_dense_softmax_over_edge_multiplicities(chunk_size, save_limit):
    """The kernel alone, against an independent definition: a dense softmax whose weights are the edge counts
    (a repeated edge counts once per copy), in float64, in chunks or in one piece, with ex saved for the backward
    or recomputed there."""
    edge_index, n = random_multigraph(), 23
    generator = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, 3, n, 5, dtype=torch.float64, generator=generator, requires_grad=True) for _ in range(3))
    counts = torch.zeros(n, n, dtype=torch.float64).index_put_((edge_index[1], edge_index[0]),
                                                               torch.tensor(1.0, dtype=torch.float64), accumulate=True)
    scale = 0.37
    logits = scale * q @ k.transpose(-1, -2)
    weights = counts * (logits - logits.amax(-1, keepdim=True)).exp()
    expected = (weights / weights.sum(-1, keepdim=True).clamp_min(1e-300)) @ v  # rows without edges: 0
    out = fused_sparse_attention(q, k, v, edge_index, scale=scale, chunk_size=chunk_size, save_limit=save_limit)
    assert (out - expected).abs().max() <= 1e-12
    target = torch.randn_like(out)
    ours = torch.autograd.grad((out * target).sum(), (q, k, v))
    theirs = torch.autograd.grad((expected * target).sum(), (q, k, v))
    for name, a, b in zip("qkv", ours, theirs):
        assert (a - b).abs().max() <= 1e-12, name


def test_fused_kernel_in_half_precision_and_one_head():
    edge_index, n = window_graph(12, 2), 12
    q, k, v = torch.randn(3, n, 8).unbind(0)
    out = fused_sparse_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), edge_index)
    assert out.dtype == torch.bfloat16 and out.shape == (n, 8)
    assert (out.float() - fused_sparse_attention(q, k, v, edge_index)).abs().max() <= 0.05


@pytest.mark.parametrize("graph", list(GRAPHS))
def test_block_sparse_path_equals_message_passing_in_inference(graph):
    edge_index, n = GRAPHS[graph]()
    _, layer = make_layer(torch.float32)
    x = torch.randn(BATCH, n, D_MODEL)
    with torch.no_grad():
        expected = layer(x, edge_index, path="message_passing")
        out = layer(x, edge_index, path="block_sparse")
    assert (out - expected).abs().max() <= TOLERANCE[torch.float32]


def test_block_sparse_band_layout_and_full_blocks():
    """The band bitmap (offsets j − i) and blocks that are full of edges (no mask read) give the same numbers."""
    q, k, v = torch.randn(3, 1, BATCH * NHEAD, 100, D_MODEL // NHEAD).unbind(0)
    band = dilated_graph(100, 2, 20)  # offsets −40 … 40: a band of 81 → 128
    block_diagonal = torch.cat([complete_graph(64), window_graph(36, 2) + 64], dim=1)  # one full block
    with torch.no_grad():
        for edge_index, layout in [(band, "band"), (block_diagonal, None)]:
            plan = block_plan(edge_index, 100, block_size=32, layout=layout)
            assert plan.layout == ("band" if layout else "bitmap") and plan.padded_nodes == 128
            out = block_sparse_attention(q, k, v, plan)
            assert (out - fused_sparse_attention(q, k, v, edge_index)).abs().max() <= 1e-5
        assert plan.full_blocks == 4 and plan.num_blocks == 8  # 4 + 4 blocks of 32 of the 16, the rest skipped
    assert block_plan(window_graph(4096, 32), 4096).layout == "band"  # chosen by itself on a long sequence


def test_flex_attention_compiles_once_per_configuration():
    """Graphs of another structure but the same configuration reuse the compiled kernel (no recompilation)."""
    from torch._dynamo.utils import counters

    _, layer = make_layer(torch.float32)
    x = torch.randn(BATCH, 60, D_MODEL)
    with torch.no_grad():
        layer(x, window_graph(60, 2), path="block_sparse")
        compiled, graphs = set(FLEX_COMPILED), counters["stats"]["unique_graphs"]
        for edge_index in (window_graph(60, 5), global_window_graph(60, 3, 2), torch.unique(random_multigraph(60, 200), dim=1)):
            expected = layer(x, edge_index, path="message_passing")
            assert (layer(x, edge_index, path="block_sparse") - expected).abs().max() <= 1e-5
    assert FLEX_COMPILED == compiled and counters["stats"]["unique_graphs"] == graphs
    assert len(FLEX_COMPILED) <= 2  # the whole test file: graphs and multigraphs


# -- complete and causal graphs: nn.TransformerEncoderLayer ---------------------------------------------------------

@pytest.mark.parametrize("graph", ["complete", "causal"])
@pytest.mark.parametrize("path", ["dense", "fused_sparse", "message_passing", "block_sparse"])
def test_every_path_equals_torch_encoder_layer(path, graph):
    dtype = torch.float32 if path == "block_sparse" else torch.float64
    reference, layer = make_layer(dtype, norm_first=graph == "causal")
    n = 11
    edge_index = complete_graph(n) if graph == "complete" else causal_graph(n)
    edge_index = edge_index[:, torch.randperm(edge_index.shape[1], generator=torch.Generator().manual_seed(0))]
    mask = nn.Transformer.generate_square_subsequent_mask(n, dtype=dtype) if graph == "causal" else None
    x = torch.randn(BATCH, n, D_MODEL, dtype=dtype, requires_grad=True)
    x_ours = x.detach().clone().requires_grad_()
    expected = reference(x, src_mask=mask, is_causal=graph == "causal")
    if path == "block_sparse":
        with torch.no_grad():
            assert (layer(x_ours, edge_index, path=path) - expected).abs().max() <= 1e-5
        return
    out = layer(x_ours, edge_index, path=path)
    assert (out - expected).abs().max() <= 1e-10
    target = torch.randn_like(out)
    (expected * target).sum().backward()
    (out * target).sum().backward()
    ours = layer._map_state({name: p.grad for name, p in layer.named_parameters()}, towards_torch=True)
    for name, parameter in reference.named_parameters():
        assert (ours[name] - parameter.grad).abs().max() <= 1e-10, name
    assert (x_ours.grad - x.grad).abs().max() <= 1e-10


def test_paths_without_a_graph_build_the_complete_or_causal_one():
    reference, layer = make_layer()
    x = torch.randn(BATCH, 7, D_MODEL, dtype=torch.float64)
    mask = nn.Transformer.generate_square_subsequent_mask(7, dtype=torch.float64)
    for causal in (False, True):
        expected = reference(x, src_mask=mask if causal else None, is_causal=causal)
        for path in ("auto", "dense", "fused_sparse", "message_passing"):
            assert (layer(x, causal=causal, path=path) - expected).abs().max() <= 1e-10, (path, causal)


# -- path selection ----------------------------------------------------------------------------------------------

def spy_paths(monkeypatch):
    """Record which attention kernel the layer calls."""
    calls = []
    for name in ("fused_sparse_attention", "block_sparse_attention"):
        original = getattr(transformer, name)

        def spy(*args, original=original, name=name, **kwargs):
            calls.append(name.removesuffix("_attention"))
            return original(*args, **kwargs)

        monkeypatch.setattr(transformer, name, spy)
    original_mp = transformer.EdgeSoftmaxAttention.forward

    def spy_mp(self, *args, **kwargs):
        calls.append("message_passing")
        return original_mp(self, *args, **kwargs)

    monkeypatch.setattr(transformer.EdgeSoftmaxAttention, "forward", spy_mp)
    return calls


def test_auto_takes_the_fused_path_for_training_and_message_passing_with_attention_dropout(monkeypatch):
    calls = spy_paths(monkeypatch)
    layer = TransformerGNNLayer(D_MODEL, NHEAD, 16, dropout=0.3)
    x, edge_index = torch.randn(BATCH, 30, D_MODEL), window_graph(30, 2)
    layer.train()
    layer(x, edge_index)  # dropout on α in training: only message passing drops coefficients
    layer.eval()
    layer(x, edge_index)  # gradients: fused
    with torch.no_grad():
        layer(x, edge_index)  # inference on a small graph: fused too (block-sparse pays from 1,024 nodes)
    layer(x, complete_graph(30))  # dense: SDPA, no sparse kernel
    assert calls == ["message_passing", "fused_sparse", "fused_sparse"]
    calls.clear()
    for path in ("fused_sparse", "message_passing"):
        layer(x, edge_index, path=path)
    assert calls == ["fused_sparse", "message_passing"]
    layer.train()
    with pytest.raises(ValueError, match=r"path='fused_sparse' has no dropout on the attention weights, .* "
                                         r"dropout=0.3: use path='message_passing'"):
        layer(x, edge_index, path="fused_sparse")


def test_choose_sparse_path_rule():
    window = window_graph(1024, 32)
    rule = dict(attention_dropout=False, dtype=torch.float32, device=torch.device("cpu"))
    assert choose_sparse_path(window, 1024, needs_grad=False, **rule) == "block_sparse"
    assert block_plan(window, 1024).density >= attention.BLOCK_SPARSE_MIN_DENSITY
    assert choose_sparse_path(window, 1024, needs_grad=True, **rule) == "fused_sparse"  # no CPU backward
    assert choose_sparse_path(window, 1024, needs_grad=False, **{**rule, "dtype": torch.float64}) == "fused_sparse"
    assert choose_sparse_path(window, 1024, needs_grad=False, **{**rule, "attention_dropout": True}) == "message_passing"
    small = window_graph(500, 32)
    assert choose_sparse_path(small, 500, needs_grad=False, **rule) == "fused_sparse"
    scattered = torch.randint(0, 2048, (2, 2048 * 16), generator=torch.Generator().manual_seed(0))
    assert block_plan(scattered, 2048).density < 0.01
    assert choose_sparse_path(scattered, 2048, needs_grad=False, **rule) == "fused_sparse"


# -- the plan caches ---------------------------------------------------------------------------------------------

def test_plan_cache_never_serves_another_graph():
    n = 20
    first, second = window_graph(n, 2), window_graph(n, 2).flip(0)  # same number of edges, reversed
    second = second[:, torch.randperm(second.shape[1], generator=torch.Generator().manual_seed(1))]
    second[0, :5] = (second[0, :5] + 7) % n  # another graph with the same number of edges
    assert first.shape == second.shape and not torch.equal(first, second)
    q, k, v = torch.randn(3, 2, n, 4, dtype=torch.float64).unbind(0)
    from gdl.graphs.transformer import EdgeSoftmaxAttention

    def reference(edge_index):
        return EdgeSoftmaxAttention()(*(t.permute(1, 0, 2).unsqueeze(2) for t in (q, k, v)), edge_index)[:, :, 0]

    def check(edge_index):
        assert (fused_sparse_attention(q, k, v, edge_index).transpose(0, 1) - reference(edge_index)).abs().max() <= 1e-12

    builds = CSR_PLANS.builds
    check(first)
    check(second)
    assert CSR_PLANS.builds == builds + 2 and csr_plan(first, n) is not csr_plan(second, n)
    hits = CSR_PLANS.hits
    check(first)
    assert CSR_PLANS.hits == hits + 1 and CSR_PLANS.builds == builds + 2  # the same tensor: reused
    first[:, :] = second  # in place: the version counter moves
    check(first)
    assert CSR_PLANS.builds == builds + 3
    third = window_graph(n, 2)
    rejected = CSR_PLANS.rejected
    check(third)
    third.data[:, :] = second.flip(1)  # behind autograd's back: the version counter stays, the verification catches it
    check(third)
    assert CSR_PLANS.rejected == rejected + 1 and CSR_PLANS.builds == builds + 5
    with value_checks(False):  # checks off: identity and version decide (the documented trade-off)
        assert csr_plan(third, n).same_graph(third)
    # a tensor freed and another allocated (possibly at the same address) is a new key: the weak reference died
    fourth = window_graph(n, 2)
    check(fourth)
    key_count = len(CSR_PLANS)
    del fourth
    assert len(CSR_PLANS) == key_count - 1
    fifth = second.clone()
    check(fifth)
    # the block plans follow the same rule
    builds = BLOCK_PLANS.builds
    assert block_plan(first, n) is block_plan(first, n) and BLOCK_PLANS.builds == builds + 1
    old = block_plan(third, n)
    third.data[:, :] = first  # the version counter stays: the verification sees another graph
    new = block_plan(third, n)
    assert new is not old and new.same_graph(first) and BLOCK_PLANS.builds == builds + 3


def test_graphs_made_in_inference_mode_are_always_verified():
    """Inference tensors have no version counter: a hit is verified even with value checks off."""
    _, layer = make_layer(torch.float32)
    with torch.inference_mode():
        edge_index, x = window_graph(30, 2), torch.randn(BATCH, 30, D_MODEL)
        expected = layer(x, edge_index, path="message_passing")
        assert (layer(x, edge_index, path="fused_sparse") - expected).abs().max() <= 1e-5
        edge_index[0, :10] = (edge_index[0, :10] + 3) % 30  # in place, untracked
        with value_checks(False):
            out = layer(x, edge_index, path="fused_sparse")
        assert (out - layer(x, edge_index, path="message_passing")).abs().max() <= 1e-5


def test_cache_is_bounded_and_counts():
    cache = attention.PlanCache(lambda edge_index, n: attention._build_csr_plan(edge_index, n), max_plans=2)
    graphs = [window_graph(10, r) for r in (1, 2, 3)]
    plans = [cache.get(g, 10) for g in graphs]
    assert len(cache) == 2 and cache.builds == 3
    assert cache.get(graphs[2], 10) is plans[2] and cache.hits == 1
    assert cache.get(graphs[0], 10) is not plans[0]  # evicted, rebuilt
    assert "hits=1, builds=4" in repr(cache)


# -- memory ------------------------------------------------------------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent("""
    import ctypes, re, sys
    from pathlib import Path
    import torch
    from gdl.graphs import TransformerGNNLayer, complete_graph

    torch.set_num_threads(1)
    trim = ctypes.CDLL("libc.so.6").malloc_trim

    def status(key):
        return int(re.search(rf"{key}:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024

    def peak(step):
        step()  # warm-up: plans, allocator pools
        trim(0)
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        before = status("VmRSS")
        step()
        return status("VmHWM") - before

    torch.manual_seed(0)
    n = 1024
    layer = TransformerGNNLayer(64, 4, 256)
    x = torch.randn(1, n, 64, requires_grad=True)
    edge_index = complete_graph(n)

    def step(path):
        def run():
            layer.zero_grad(set_to_none=True)
            x.grad = None
            layer(x, edge_index, path=path).sum().backward()
        return run

    print(" ".join(f"{path}={peak(step(path))}" for path in sys.argv[1:]))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak resident memory from /proc (Linux)")
def test_fused_path_memory_is_per_edge_scalars_not_per_edge_vectors():
    """Complete graph, N = 1,024, d_model 64, 4 heads, forward + backward: growth of the peak resident set size in
    a fresh process (torch has no CPU allocator statistics). Message passing keeps [E, H, d] tensors (≈ 1.7 GB), the
    fused path per-edge scalars in chunks (4·E > SAVE_LIMIT: the backward recomputes them), close to the dense path."""
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, "dense", "fused_sparse", "message_passing"],
                            capture_output=True, text=True, timeout=300, check=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    peaks = {name: int(value) for name, value in (item.split("=") for item in result.stdout.split())}
    print({name: f"{value / 2**20:.0f} MiB" for name, value in peaks.items()})
    assert peaks["message_passing"] > 1000 * 2**20
    assert 5 * peaks["fused_sparse"] <= peaks["message_passing"]
    assert peaks["fused_sparse"] <= 3 * peaks["dense"]


# -- bad input ---------------------------------------------------------------------------------------------------

def test_block_sparse_refuses_gradients_and_float64_on_the_cpu():
    _, layer = make_layer(torch.float32)
    x, edge_index = torch.randn(BATCH, 20, D_MODEL), window_graph(20, 2)
    with pytest.raises(NotImplementedError, match=r"block_sparse attention has no backward on the CPU .*"
                                                  r"torch.no_grad\(\).* path='fused_sparse'"):
        layer(x, edge_index, path="block_sparse")
    q = torch.randn(1, 2, 20, 4, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"runs in \['torch.float32', 'torch.float16', 'torch.bfloat16'\] on the CPU "
                                        r"\(FlexAttention\), got torch.float64"):
        block_sparse_attention(q, q, q, edge_index)


def test_paths_that_cannot_serve_the_graph_are_refused(monkeypatch):
    _, layer = make_layer(torch.float32)
    x = torch.randn(BATCH, 20, D_MODEL)
    with pytest.raises(ValueError, match=r"path='dense' needs the complete graph \(400 edges\) or the causal graph"):
        layer(x, window_graph(20, 2), path="dense")
    monkeypatch.setattr(attention, "MASK_BYTES", 1000)
    with pytest.raises(ValueError, match=r"bitmap would take 0 MiB \(layout 'bitmap', 128 padded nodes\), more than "
                                         r"MASK_BYTES .* use path='fused_sparse'"), torch.no_grad():
        layer(x, global_window_graph(20, 1, 2), path="block_sparse")
    assert choose_sparse_path(window_graph(2048, 32), 2048, needs_grad=False, attention_dropout=False,
                              dtype=torch.float32, device=torch.device("cpu")) == "fused_sparse"  # does not fit


def test_out_of_range_node_ids_are_named():
    q = torch.randn(2, 5, 4)
    bad = torch.tensor([[0, 1, 9, 2, -1], [1, 2, 3, 7, 0]])
    with pytest.raises(ValueError, match=r"edge_index refers to nodes outside 0..4 \(the graph has 5 nodes\): 3 "
                                         r"edge\(s\), columns \[2, 3, 4\], e.g. column 2: 9 → 3"):
        fused_sparse_attention(q, q, q, bad)
    with pytest.raises(ValueError, match=r"outside 0..4"):
        block_plan(bad, 5)
    layer = TransformerGNNLayer(8, 2, 16)
    with pytest.raises(ValueError, match=r"refers to nodes -1..9, but the graph has 5 nodes"):
        layer(torch.randn(5, 8), bad, path="fused_sparse")
    with pytest.raises(TypeError, match="edge_index must be an int64 tensor"):
        fused_sparse_attention(q, q, q, bad.float())
    with pytest.raises(TypeError, match="edge_index must be an int64 tensor .*, got list"):
        fused_sparse_attention(q, q, q, bad.tolist())


def test_plans_for_another_graph_or_size_are_refused():
    q = torch.randn(2, 10, 4)
    plan = csr_plan(window_graph(10, 1), 10)
    with pytest.raises(ValueError, match=r"this CSRPlan was built for a graph on 10 nodes, got inputs with 12 nodes"):
        fused_sparse_attention(torch.randn(2, 12, 4), torch.randn(2, 12, 4), torch.randn(2, 12, 4), plan)
    with pytest.raises(ValueError, match=r"this CSRPlan was built for another graph: expected the plan's 28 edges on "
                                         r"10 nodes, got an edge_index \[2, 28\] that differs"):
        plan.check(window_graph(10, 1).flip(0), 10)
    plan.check(window_graph(10, 1), 10)  # the same graph in another tensor is fine
    with pytest.raises(TypeError, match="needs an edge_index or a BlockPlan, got a CSRPlan"):
        block_sparse_attention(q, q, q, plan)
    with pytest.raises(ValueError, match=r"query, key and value must have one shape .* got \[2, 10, 4\], \[2, 9, 4\]"):
        fused_sparse_attention(q, q[:, :9], q[:, :9], window_graph(10, 1))
    with pytest.raises(TypeError, match="query must be a floating-point tensor"):
        fused_sparse_attention(q.long(), q, q, window_graph(10, 1))
    with pytest.raises(ValueError, match="layout must be one of"):
        block_plan(window_graph(10, 1), 10, layout="diagonal")


def test_scale_default_is_one_over_root_d():
    q, k, v = torch.randn(3, 2, 8, 6, dtype=torch.float64).unbind(0)
    edge_index = window_graph(8, 2)
    assert torch.equal(fused_sparse_attention(q, k, v, edge_index),
                       fused_sparse_attention(q, k, v, edge_index, scale=1 / math.sqrt(6)))


# -- GAT's attention, fused ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("self_loops, concat", [("add", True), ("keep", False)])
def test_fused_gat_attention_equals_the_gat_flavour(self_loops, concat, dtype):
    """α W x as a sparse-dense product against gdl's GAT layer (message passing over [E, H, C] messages): outputs and
    gradients w.r.t. x and every parameter, on a multigraph with nodes that receive nothing, chunked and not."""
    from gdl.graphs import AttentionalLayer
    from gdl.graphs.attention import fused_gat_attention
    from gdl.graphs.edges import prepare_edges

    torch.manual_seed(3)
    n, heads, channels = 23, 3, 5
    layer = AttentionalLayer(7, channels, heads, concat=concat, score="gat", negative_slope=0.15,
                             self_loops=self_loops).to(dtype)
    with torch.no_grad():
        layer.bias.add_(0.1 * torch.randn_like(layer.bias))
    x = torch.randn(n, 7, dtype=dtype)
    edge_index = random_multigraph(n)
    target = torch.randn(n, heads * channels if concat else channels, dtype=dtype)
    parameters = [x.requires_grad_(), *layer.parameters()]
    expected = layer(x, edge_index)
    expected_gradients = torch.autograd.grad((expected * target).sum(), parameters)
    graph, _ = prepare_edges(edge_index, n, self_loops=self_loops)  # the layer's edge policy, then the kernel
    for chunk_size in (None, 40):
        values = layer.lin_source(x).view(n, heads, channels)
        scores = [(values * vector).sum(-1).T for vector in (layer.att_source, layer.att_target)]  # [H, N]
        out = fused_gat_attention(*scores, values.transpose(0, 1), graph, negative_slope=0.15, chunk_size=chunk_size)
        out = out.transpose(0, 1).reshape(n, -1) if concat else out.mean(0)
        out = out + layer.bias
        assert (out - expected).abs().max() <= TOLERANCE[dtype]
        gradients = torch.autograd.grad((out * target).sum(), parameters)
        names = ["x"] + [name for name, _ in layer.named_parameters()]
        for name, ours, theirs in zip(names, gradients, expected_gradients):
            assert (ours - theirs).abs().max() <= TOLERANCE[dtype], (name, chunk_size)
    with pytest.raises(ValueError, match=r"source_score must have shape \[3, 23\]"):
        fused_gat_attention(scores[0][:, :5], scores[1], values.transpose(0, 1), graph)
