"""SO(3)/O(3)/E(3) through e3nn: irreps fields, radius graphs, TFN layers against references, bad input, 3D Tetris."""

import doctest
import importlib
import inspect
import itertools

import pytest
import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import Gate as E3nnGate
from torch_geometric.data import Batch, Data
from torch_geometric.nn import global_add_pool, global_mean_pool

from gdl.core import Blueprint, ProductField, RecordField
from gdl.core.checks import check_positions
from gdl.datasets.tetris import MIRROR_CLASS, TETRIS_POSITIONS, moved_pieces, tetris_pieces
from gdl.graphs import GraphField, Permutations
from gdl.groups import (
    AtomEmbedding,
    Euclidean,
    Gate,
    GraphReadout,
    InvariantReadout,
    IrrepsField,
    IrrepsLinear,
    Orthogonal,
    PointConvolution,
    PointField,
    SpecialOrthogonal,
    TensorFieldNetwork,
    VectorReadout,
    radius_graph,
)
from gdl.groups.irreps import representation_matrix
from gdl.symmetries import edge_index_field, position_field
from gdl.testing import assert_equivariant, equivariance_error

IRREPS = "3x0e + 2x0o + 2x1o + 1x1e + 2x2e + 1x2o + 1x3o"


@pytest.mark.parametrize("name", ["gdl.groups.irreps", "gdl.groups.e3nn_layers", "gdl.symmetries.geometric"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# -- the irreps field -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("group", [SpecialOrthogonal(3), Orthogonal(3), Euclidean(3)], ids=repr)
def test_irreps_action_is_an_exact_float64_representation(group, generator):
    """ρ(a)ρ(b)x = ρ(ab)x, ρ(e) = id and D(g) orthogonal, all to float64 round-off (e3nn under a float64 default)."""
    field = IrrepsField(group, IRREPS)
    x = torch.randn(5, field.dim, dtype=torch.float64, generator=generator)
    a, b = group.sample(2, generator)
    assert torch.allclose(field.transform(field.transform(x, b), a), field.transform(x, a * b), atol=1e-13, rtol=0)
    assert torch.allclose(field.transform(x, group.identity()), x, atol=1e-14, rtol=0)
    d = field.representation(a)
    assert d.dtype == torch.float64 and torch.allclose(d @ d.T, torch.eye(field.dim, dtype=torch.float64), atol=1e-13)


def test_irreps_parities_and_the_cartesian_basis_of_1o(generator):
    """D¹ᵒ(g) = g (so 1o features are Cartesian vectors), 0o flips under reflections, 1e is inert under −I."""
    g = Orthogonal(3).sample(1, generator)[0]
    inversion = Orthogonal(3).element(-torch.eye(3))
    assert torch.allclose(IrrepsField(Orthogonal(3), "1o").representation(g), g.data, atol=1e-14)
    assert torch.allclose(IrrepsField(Orthogonal(3), "0o").representation(g), torch.linalg.det(g.data).reshape(1, 1))
    assert torch.allclose(IrrepsField(Orthogonal(3), "1e").representation(inversion), torch.eye(3, dtype=torch.float64))
    assert torch.allclose(IrrepsField(Orthogonal(3), "2o").representation(inversion), -torch.eye(5, dtype=torch.float64))
    # translations do nothing to irreps features
    motion = Euclidean(3).element(g.data, [1.0, -2.0, 3.0])
    field = IrrepsField(Euclidean(3), "1o")
    x = torch.randn(4, 3, dtype=torch.float64, generator=generator)
    assert torch.allclose(field.transform(x, motion), x @ g.data.T, atol=1e-14)


def test_spherical_harmonics_transform_as_their_irreps(generator):
    """Y(g r) = D(g) Y(r) for every g ∈ O(3): why TFN messages are equivariant."""
    irreps_sh = o3.Irreps.spherical_harmonics(3)
    field = IrrepsField(Orthogonal(3), irreps_sh)
    r = torch.randn(20, 3, dtype=torch.float64, generator=generator)
    for g in Orthogonal(3).sample(4, generator):
        lhs = o3.spherical_harmonics(irreps_sh, r @ g.data.T, normalize=True)
        assert torch.allclose(lhs, field.transform(o3.spherical_harmonics(irreps_sh, r, normalize=True), g), atol=1e-12)


class TestIrrepsBadInput:
    def test_wrong_feature_size(self):
        with pytest.raises(ValueError, match=r"expects features \[..., 4\] \(the dimension of 1x0e\+1x1o\), got shape \[5, 3\]"):
            IrrepsField(Orthogonal(3), "1x0e + 1x1o").validate(torch.zeros(5, 3))

    def test_not_a_float_tensor(self):
        with pytest.raises(TypeError, match="floating-point tensor"):
            IrrepsField(Orthogonal(3), "1x0e").validate(torch.zeros(5, 1, dtype=torch.long))

    def test_not_irreps(self):
        with pytest.raises(ValueError, match="irreps must be e3nn irreps such as '8x0e \\+ 4x1o', got 'vector'"):
            IrrepsField(Orthogonal(3), "vector")

    def test_wrong_group(self):
        with pytest.raises(TypeError, match=r"acted on by SO\(3\), O\(3\) or E\(3\); got O\(2\)"):
            IrrepsField(Orthogonal(2), "1x0e")
        with pytest.raises(TypeError, match=r"expected an element of SO\(3\)"):
            IrrepsField(SpecialOrthogonal(3), "1o").transform(torch.zeros(1, 3), Orthogonal(3).element(-torch.eye(3)))


# -- positions and radius graphs ---------------------------------------------------------------------------------
def _reference_radius_graph(pos, radius, batch):
    """Dense float64 reference: the set of (j, i), i ≠ j, same graph, |p_i − p_j| < r."""
    distance = torch.cdist(pos.double(), pos.double())
    mask = (distance < radius) & (batch[:, None] == batch[None, :]) & ~torch.eye(len(pos), dtype=torch.bool)
    target, source = mask.nonzero().T
    return {(int(j), int(i)) for j, i in zip(source, target)}


def test_radius_graph_equals_the_dense_reference_for_unsorted_batches(generator):
    pos = 2.0 * torch.randn(40, 3, generator=generator)
    batch = torch.randint(0, 4, (40,), generator=generator)  # graphs interleaved in any order
    edges = radius_graph(pos, 1.7, batch)
    pairs = {(int(j), int(i)) for j, i in edges.T}
    assert pairs == _reference_radius_graph(pos, 1.7, batch) and len(pairs) == edges.shape[1] > 10
    assert {(i, j) for j, i in pairs} == pairs  # symmetric


def test_radius_graph_is_invariant_and_relabels_with_the_points(generator):
    pos = 2.0 * torch.randn(30, 3, dtype=torch.float64, generator=generator)
    edges = {tuple(e) for e in radius_graph(pos, 1.8).T.tolist()}
    g = Euclidean(3).sample(1, generator)[0]
    assert {tuple(e) for e in radius_graph(PointField().transform(pos, g), 1.8).T.tolist()} == edges
    perm = torch.randperm(30, generator=generator)
    inverse = torch.argsort(perm)
    relabelled = {tuple(e) for e in inverse[radius_graph(pos, 1.8)].T.tolist()}
    assert {tuple(e) for e in radius_graph(pos[perm], 1.8).T.tolist()} == relabelled


def test_radius_graph_of_nothing_and_bad_positions():
    assert radius_graph(torch.zeros(0, 3), 1.0).shape == (2, 0)
    assert radius_graph(torch.zeros(1, 3), 1.0).shape == (2, 0)
    with pytest.raises(ValueError, match=r"positions must have shape \[N, 3\], got \[4, 2\]"):
        radius_graph(torch.zeros(4, 2), 1.0)
    with pytest.raises(ValueError, match="radius must be positive, got 0"):
        radius_graph(torch.zeros(4, 3), 0)
    with pytest.raises(ValueError, match=r"batch must be an int64 tensor \[4\]"):
        radius_graph(torch.zeros(4, 3), 1.0, torch.zeros(3, dtype=torch.long))
    nan = torch.zeros(4, 3)
    nan[2, 1] = float("nan")
    with pytest.raises(ValueError, match=r"must be finite, got NaN or infinite coordinates in 1 of 4 points \(first: point 2"):
        check_positions(nan)
    with pytest.raises(TypeError, match=r"floating-point tensor \[N, 3\], got torch.int64"):
        check_positions(torch.zeros(4, 3, dtype=torch.long))


# -- layers against references ------------------------------------------------------------------------------------
def test_irreps_linear_obeys_schurs_lemma(generator):
    """The matrix of an equivariant linear map is zero between different irreps and W ⊗ I_{2ℓ+1} within one."""
    layer = IrrepsLinear("2x0e + 2x1o + 1x1e", "1x0e + 3x1o + 2x1e", bias=False).double()
    matrix = layer(torch.eye(layer.irreps_in.dim, dtype=torch.float64)).T  # column k = image of basis vector k
    vectors_in = matrix[1:7, 2:8]  # out 3x1o ← in 2x1o (rows: output 1o block starts after 1x0e)
    assert torch.count_nonzero(matrix[:1, 2:]) == 0 and torch.count_nonzero(matrix[1:10, :2]) == 0
    assert torch.count_nonzero(matrix[10:, :8]) == 0 and torch.count_nonzero(matrix[1:10, 8:]) == 0  # 1e ↔ 1o never mix
    weights = vectors_in.reshape(2, 3, 2, 3)[:, :, :, :]  # [out copy, out m, in copy, in m]
    for m, n in itertools.product(range(3), repeat=2):
        expected = weights[:, 0, :, 0] if m == n else torch.zeros(2, 2, dtype=torch.float64)
        assert torch.allclose(weights[:, m, :, n], expected, atol=1e-14)


def test_gate_scales_each_vector_by_its_own_gate(generator):
    gate = Gate("2x0e + 2x1o").double()
    assert str(gate.irreps_in) == "4x0e+2x1o" and str(gate.irreps_out) == "2x0e+2x1o"
    x = torch.randn(10, gate.irreps_in.dim, dtype=torch.float64, generator=generator)
    out = gate(x)
    vectors_in, vectors_out = x[:, 4:].reshape(10, 2, 3), out[:, 2:].reshape(10, 2, 3)
    assert torch.allclose(torch.linalg.cross(vectors_in, vectors_out), torch.zeros(10, 2, 3, dtype=torch.float64), atol=1e-12)
    ratio = (vectors_out.norm(dim=-1) / vectors_in.norm(dim=-1))
    assert torch.allclose(ratio / torch.sigmoid(x[:, 2:4]), (ratio / torch.sigmoid(x[:, 2:4]))[0, 0].expand(10, 2))
    closed = x.clone()
    closed[:, 2:4] = -60.0  # σ(−60) ≈ 1e-26: the gates close
    assert gate(closed)[:, 2:].abs().max() < 1e-20


def _loop_convolution(conv, x, pos):
    """Naive reference: for each point i, loop over every other point j within the radius and sum its message.

    The edge geometry is computed here, independently of the layer's helpers: the vector r_ij = p_j − p_i, its
    spherical harmonics (``e3nn.o3.spherical_harmonics`` called directly, component normalisation) and the radial
    basis of |r_ij| (e3nn's smooth_finite functions with the cutoff, times √num_basis). Only the learned parts (the
    radial MLP, the weighted tensor product, the two linear maps) are the layer's.
    """
    rows = []
    for i in range(len(pos)):
        total = torch.zeros(conv.irreps_mid.dim, dtype=x.dtype)
        for j in range(len(pos)):
            vector = pos[j] - pos[i]
            length = float(torch.sqrt((vector ** 2).sum()))
            if j == i or length >= conv.radius:
                continue
            harmonics = o3.spherical_harmonics(conv.irreps_sh, vector[None], normalize=True, normalization="component")
            basis = soft_one_hot_linspace(torch.tensor([length], dtype=x.dtype), 0.0, conv.radius, conv.num_basis,
                                          basis="smooth_finite", cutoff=True) * conv.num_basis ** 0.5
            total = total + conv.tensor_product(x[j:j + 1], harmonics, conv.radial(basis))[0]
        rows.append(total)
    aggregated = torch.stack(rows) / conv.avg_num_neighbors ** 0.5
    return conv.linear_out(aggregated) + conv.self_interaction(x)


def test_point_convolution_equals_a_loop_over_neighbours(generator):
    conv = PointConvolution("2x0e + 1x1o + 1x2e", "2x0e + 2x1o + 1x1e + 1x2e + 1x2o", lmax=2, radius=1.5,
                            avg_num_neighbors=4.0).double()
    pos = torch.randn(9, 3, dtype=torch.float64, generator=generator)
    x = torch.randn(9, conv.irreps_in.dim, dtype=torch.float64, generator=generator)
    expected = _loop_convolution(conv, x, pos)
    assert (expected - conv.self_interaction(x)).abs().max() > 1e-2  # the messages are not trivially zero
    assert torch.allclose(conv(x, pos, radius_graph(pos, 1.5)), expected, atol=1e-12)
    # edges beyond the radius contribute exactly nothing; a point with no neighbours keeps its self-interaction only
    everything = radius_graph(pos, 100.0)
    assert torch.allclose(conv(x, pos, everything), expected, atol=1e-12)
    lonely = conv(x, pos, torch.zeros(2, 0, dtype=torch.long))
    assert torch.allclose(lonely, conv.self_interaction(x), atol=1e-14)


def test_point_convolution_messages_fade_out_at_the_cutoff():
    conv = PointConvolution("1x0e", "1x0e + 1x1o", lmax=1, radius=2.0).double()
    x = torch.ones(2, 1, dtype=torch.float64)
    edge_index = torch.tensor([[1], [0]])
    with torch.no_grad():
        message = [float((conv(x, torch.tensor([[0.0, 0, 0], [d, 0, 0]], dtype=torch.float64), edge_index)
                          - conv.self_interaction(x))[0].abs().max()) for d in (1.0, 1.99, 1.9999, 2.0)]
    assert message[0] > 1e-3 and message[1] < message[0] * 1e-1 and message[2] < 1e-6 and message[3] == 0.0


def test_readouts_equal_torch_geometric_pooling(generator):
    x = torch.randn(12, 10, generator=generator)
    batch = torch.tensor([2, 0, 0, 1, 2, 2, 0, 1, 1, 1, 2, 0])
    for reduce, pool in (("sum", global_add_pool), ("mean", global_mean_pool)):
        readout = GraphReadout("4x0e + 2x1o", "1x0e + 1x1o", reduce=reduce)
        assert torch.allclose(readout(x, batch), pool(readout.linear(x), batch), atol=1e-6)
        assert torch.allclose(readout(x), pool(readout.linear(x), torch.zeros(12, dtype=torch.long)), atol=1e-6)
        assert torch.equal(readout(torch.zeros(0, 10)), torch.zeros(1, 4))  # no points: the empty sum


def test_vector_readout_rotates_like_a_cartesian_vector(generator):
    """v(x D(g)ᵀ) = v(x) gᵀ for rotations and reflections: a dipole-like output, checked with the public harness too."""
    readout = VectorReadout("3x0e + 2x1o + 1x1e").double()
    x = torch.randn(8, readout.irreps_in.dim, dtype=torch.float64, generator=generator)
    field = IrrepsField(Orthogonal(3), readout.irreps_in)
    for g in Orthogonal(3).sample(4, generator):
        assert torch.allclose(readout(field.transform(x, g)), readout(x) @ g.data.T, atol=1e-13)
    assert assert_equivariant(readout, (x,), generator=generator) < 1e-12


def _molecules(generator, sizes=(6, 5, 4), dtype=torch.float64):
    molecules = []
    for size in sizes:
        pos = 1.3 * torch.randn(size, 3, generator=generator, dtype=dtype)
        molecules.append(Data(z=torch.tensor([1, 6, 7, 8])[torch.randint(0, 4, (size,), generator=generator)], pos=pos))
    return Batch.from_data_list(molecules)


def test_network_building_its_own_radius_graph_is_equivariant_and_matches_precomputed_edges(generator):
    """No edge_index: the graph is built from distances inside the forward pass, per node order (S_N × E(3))."""
    network = TensorFieldNetwork("1x0e + 1x1o", irreps_hidden="8x0e + 2x1o + 2x1e", num_layers=2, radius=2.0,
                                 atom_types=(1, 6, 7, 8), avg_num_neighbors=3.0).double()
    batch = _molecules(generator)
    error = assert_equivariant(network, (batch,), generator=generator, n_samples=6)
    assert error < 1e-12
    with_edges = batch.clone()
    with_edges.edge_index = radius_graph(batch.pos, 2.0, batch.batch)
    assert torch.allclose(network(with_edges), network(batch), atol=1e-13)
    assert network(batch).shape == (3, 4)


def test_float32_modules_cast_to_float64_are_exact(generator):
    """e3nn computes Clebsch–Gordan constants in the default dtype; gdl re-derives them from float64 on every cast."""
    conv32 = PointConvolution("2x0e + 1x1o + 1x2e", "1x0e + 1x1o + 1x2e", lmax=2, radius=2.0)
    conv64 = conv32.double()
    w3j = {name: buffer.clone() for name, buffer in conv64.tensor_product.module.named_buffers() if "_w3j_" in name}
    assert w3j
    for name, buffer in w3j.items():
        l1, l2, l3 = (int(v) for v in name.rsplit("_w3j_", 1)[1].split("_"))
        assert buffer.dtype == torch.float64 and torch.equal(buffer, o3.wigner_3j(l1, l2, l3, dtype=torch.float64))
    pos = torch.randn(7, 3, dtype=torch.float64, generator=generator)
    inputs = (torch.randn(7, conv64.irreps_in.dim, dtype=torch.float64, generator=generator), pos, radius_graph(pos, 2.0))
    assert assert_equivariant(conv64, inputs, generator=generator) < 1e-12
    # a float32 checkpoint loaded into the float64 model brings rounded constants: they are re-derived on load
    rounded = {key: value.float().double() for key, value in conv64.state_dict().items()}
    conv64.load_state_dict(rounded)
    for name, buffer in conv64.tensor_product.module.named_buffers():
        if name in w3j:
            assert torch.equal(buffer, w3j[name])


E3NN_BUILDERS = {
    "IrrepsLinear": lambda: IrrepsLinear("2x0e + 1x1o", "1x0e + 2x1o"),
    "Gate": lambda: Gate("2x0e + 1x1o + 1x2e"),
    "PointConvolution": lambda: PointConvolution("2x0e + 1x1o", "1x0e + 1x1o + 1x2e", lmax=2, radius=2.0),
    "GraphReadout": lambda: GraphReadout("2x0e + 1x1o", "1x0e + 1x1o"),
    "VectorReadout": lambda: VectorReadout("2x0e + 1x1o"),
    "InvariantReadout": lambda: InvariantReadout("2x0e + 1x1o", 2),
    "TensorFieldNetwork": lambda: TensorFieldNetwork("1x0e", irreps_hidden="4x0e + 1x1o", num_layers=2,
                                                     atom_types=(1, 6)),
    "IrrepsField.representation": lambda: IrrepsField(Orthogonal(3), "1x1o + 1x2e").representation(
        Orthogonal(3).element(-torch.eye(3))),
}


@pytest.mark.parametrize("name", sorted(E3NN_BUILDERS))
def test_building_e3nn_layers_never_changes_the_default_dtype(name, monkeypatch):
    """torch's process-wide default dtype stays float32 during and after construction (no flip, however brief)."""
    assert torch.get_default_dtype() == torch.float32
    seen = []
    original_set = torch.set_default_dtype

    def recording_set(dtype):
        seen.append(("set_default_dtype", dtype))
        original_set(dtype)

    monkeypatch.setattr(torch, "set_default_dtype", recording_set)
    for cls in (o3.TensorProduct, o3.Linear, o3.SphericalHarmonics, E3nnGate):  # inside e3nn's constructors
        original_init = cls.__init__

        def init(self, *args, __original=original_init, **kwargs):
            seen.append(("during", torch.get_default_dtype()))
            __original(self, *args, **kwargs)
            seen.append(("during", torch.get_default_dtype()))

        monkeypatch.setattr(cls, "__init__", init)
    E3NN_BUILDERS[name]()
    assert torch.get_default_dtype() == torch.float32
    assert not [event for event in seen if event[0] == "set_default_dtype"], seen
    assert all(dtype == torch.float32 for _, dtype in seen), seen
    if name != "IrrepsField.representation":
        assert seen, "no e3nn constructor ran: the check saw nothing"


def test_the_float64_representation_equals_e3nns_and_needs_no_float64_default(generator):
    irreps = o3.Irreps(IRREPS)
    for g in Orthogonal(3).sample(4, generator) + Orthogonal(3).component_representatives():
        ours = representation_matrix(irreps, g.data)
        assert ours.dtype == torch.float64 and torch.get_default_dtype() == torch.float32
        theirs = irreps.D_from_matrix(g.data.float()).double()  # e3nn under the float32 default: rounded to ~1e-6
        assert (ours - theirs).abs().max() < 1e-5
        assert torch.allclose(ours @ ours.T, torch.eye(irreps.dim, dtype=torch.float64), atol=1e-13, rtol=0)


# -- bad input ----------------------------------------------------------------------------------------------------
class TestLayersBadInput:
    def test_features_of_the_wrong_size(self):
        conv = PointConvolution("2x0e + 1x1o", "1x0e + 1x1o", radius=2.0)
        with pytest.raises(ValueError, match=r"x must have shape \[N, 5\] \(the dimension of 2x0e\+1x1o\), got \[4, 3\]"):
            conv(torch.zeros(4, 3), torch.zeros(4, 3), torch.zeros(2, 0, dtype=torch.long))
        with pytest.raises(ValueError, match=r"x must have shape \[N, 5\] \(the dimension of 2x0e\+1x1o\), got \[4, 6\]"):
            IrrepsLinear("2x0e + 1x1o", "1x0e")(torch.zeros(4, 6))

    def test_positions_not_n_by_3_or_not_finite(self):
        conv = PointConvolution("1x0e", "1x0e + 1x1o", radius=2.0)
        with pytest.raises(ValueError, match=r"expected \[4, 3\], got \[3, 3\]"):
            conv(torch.zeros(4, 1), torch.zeros(3, 3), torch.zeros(2, 0, dtype=torch.long))
        with pytest.raises(ValueError, match=r"positions must have shape \[N, 3\], got \[4, 2\]"):
            conv(torch.zeros(4, 1), torch.zeros(4, 2), torch.zeros(2, 0, dtype=torch.long))
        pos = torch.zeros(4, 3)
        pos[0, 0] = float("inf")
        with pytest.raises(ValueError, match="positions must be finite"):
            conv(torch.zeros(4, 1), pos, torch.zeros(2, 0, dtype=torch.long))

    def test_edges_out_of_range(self):
        conv = PointConvolution("1x0e", "1x0e + 1x1o", radius=2.0)
        with pytest.raises(ValueError, match="edge_index refers to nodes 0..4, but the graph has 4 nodes"):
            conv(torch.zeros(4, 1), torch.zeros(4, 3), torch.tensor([[0, 4], [1, 2]]))

    def test_empty_point_cloud_gives_empty_output(self):
        conv = PointConvolution("1x0e", "1x0e + 1x1o", radius=2.0)
        assert conv(torch.zeros(0, 1), torch.zeros(0, 3), torch.zeros(2, 0, dtype=torch.long)).shape == (0, 4)
        network = TensorFieldNetwork("1x0e", irreps_hidden="4x0e + 1x1o", num_layers=1, atom_types=(1, 6))
        empty = Data(z=torch.zeros(0, dtype=torch.long), pos=torch.zeros(0, 3))
        assert torch.equal(network(empty), torch.zeros(1, 1))

    def test_unreachable_outputs_and_unknown_atoms(self):
        with pytest.raises(ValueError, match="contains 0o, which no path 1x0e ⊗ 1x0e\\+1x1o produces"):
            PointConvolution("1x0e", "1x0o", lmax=1)
        with pytest.raises(ValueError, match="irreps_out 1x1e has 1e, which irreps_in 1x0e\\+1x1o lacks"):
            GraphReadout("1x0e + 1x1o", "1x1e")
        with pytest.raises(ValueError, match="exactly one node input"):
            TensorFieldNetwork("1x0e")
        network = TensorFieldNetwork("1x0e", irreps_hidden="4x0e", num_layers=1, atom_types=(1, 6))
        with pytest.raises(ValueError, match=r"atomic numbers the model does not know: expected some of atom_types = "
                                             r"\(1, 6\), got \[8\]"):
            network(Data(z=torch.tensor([1, 8]), pos=torch.randn(2, 3)))

    def test_graph_ids_of_the_wrong_shape_or_range(self):
        readout = GraphReadout("2x0e", "1x0e")
        with pytest.raises(ValueError, match=r"batch must be an int64 tensor \[3\] of graph ids, got torch.int64 \[2\]"):
            readout(torch.zeros(3, 2), torch.tensor([0, 1]))
        with pytest.raises(ValueError, match=r"graph ids 0 ≤ id < num_graphs = 2, got ids 0..2"):
            readout(torch.zeros(3, 2), torch.tensor([0, 1, 2]), num_graphs=2)
        network = TensorFieldNetwork("1x0e", irreps_hidden="4x0e", num_layers=1, atom_types=(1, 6))
        batch = Batch.from_data_list([Data(z=torch.tensor([1, 6]), pos=torch.randn(2, 3)),
                                      Data(z=torch.tensor([6]), pos=torch.randn(1, 3))])
        batch.batch = torch.tensor([0, 1])
        with pytest.raises(ValueError, match=r"batch must be an int64 tensor \[3\] of graph ids, got torch.int64 \[2\]"):
            network(batch)

    def test_coordinate_mlp_reads_pieces_of_four_cubes(self):
        from gdl.experiments.tetris3d import CoordinateMLP

        batch = Batch.from_data_list([Data(pos=torch.randn(4, 3)), Data(pos=torch.randn(3, 3))])
        with pytest.raises(ValueError, match=r"expected pos \[8, 3\] for 2 pieces, got \[7, 3\]"):
            CoordinateMLP()(batch)

    def test_types_come_from_the_inputs_and_no_layer_takes_a_size(self, generator):
        conv = PointConvolution("1x0e", "1x0e + 1x1o")
        with pytest.raises(TypeError, match=r"PointConvolution has no fixed in_type.*use layer.field_types\(\*inputs\)"):
            conv.in_type  # noqa: B018
        for n in (5, 8):
            x, pos = torch.randn(n, 1, generator=generator), torch.randn(n, 3, generator=generator)
            in_type, out_type = conv.field_types(x, pos, radius_graph(pos, 2.0))
            assert in_type.group == Permutations(n) * Euclidean(3) and out_type.group == in_type.group
            assert in_type.fields[1:] == (position_field(n), edge_index_field(n))  # the shared geometric field types
        for cls in (IrrepsLinear, Gate, PointConvolution, GraphReadout, InvariantReadout, VectorReadout, AtomEmbedding,
                    TensorFieldNetwork):
            parameters = set(inspect.signature(cls.__init__).parameters)
            assert not parameters & {"num_nodes", "num_points"}, cls
        with pytest.raises(TypeError, match="unexpected keyword argument 'num_nodes'"):
            PointConvolution("1x0e", "1x0e", num_nodes=3)
        linear = IrrepsLinear("2x0e", "1x0e")
        assert linear.field_types(torch.zeros(4, 2))[1].group == Permutations(4) * Euclidean(3)
        with pytest.raises(ValueError, match=r"x must have shape \[N, 2\].*got \[2, 4, 2\]"):
            linear(torch.zeros(2, 4, 2))

    @pytest.mark.parametrize("build, match", [
        (lambda: PointConvolution("1x0e", "1x0e", lmax=True), "lmax must be an integer ≥ 0, got True"),
        (lambda: PointConvolution("1x0e", "1x0e", num_basis=2.5), "num_basis must be a positive integer, got 2.5"),
        (lambda: PointConvolution("1x0e", "1x0e", radius=True), "radius must be a positive number, got True"),
        (lambda: PointConvolution("1x0e", "1x0e", radial_hidden=(0,)), "radial_hidden width must be a positive integer"),
        (lambda: InvariantReadout("1x0e", channels=True), "channels must be a positive integer, got True"),
        (lambda: GraphReadout("1x0e", "1x0e", reduce="max"), r"reduce must be one of \('sum', 'mean'\), got 'max'"),
        (lambda: TensorFieldNetwork("1x0e", num_layers=0, atom_types=(1,)), "num_layers must be a positive integer"),
        (lambda: AtomEmbedding((1, True)), "atomic number in atom_types must be an integer ≥ 0, got True"),
        (lambda: AtomEmbedding((1, 1)), r"distinct non-negative atomic numbers, got \[1, 1\]"),
        (lambda: Gate("1x0e + 1x1o", odd_activation="relu"), r"odd_activation .* must be one of \('tanh',\)"),
    ], ids=["lmax", "num_basis", "radius", "hidden", "channels", "reduce", "layers", "atom bool", "atom twice", "odd"])
    def test_arguments_are_checked_by_name(self, build, match):
        with pytest.raises(ValueError, match=match):
            build()


def test_data_field_types_describe_the_whole_graph():
    network = TensorFieldNetwork("1x0e", irreps_hidden="4x0e", num_layers=1, irreps_node_in="2x0e + 1x1o")
    data = Data(x=torch.randn(5, 5), pos=torch.randn(5, 3))
    expected = ProductField((GraphField(Permutations(5)), RecordField({"pos": PointField(Euclidean(3)),
                                                                       "x": IrrepsField(Euclidean(3), "2x0e + 1x1o")})))
    in_type, out_type = network.field_types(data)
    assert in_type == expected and out_type.group == Permutations(5) * Euclidean(3)


# -- the Tensor Field Network as a Blueprint --------------------------------------------------------------------
def test_the_network_is_a_blueprint_with_the_point_cloud_as_context(generator):
    network, (z, pos, edge_index, batch, num_graphs) = TensorFieldNetwork.example(generator)
    assert isinstance(network, Blueprint) and network.context == ("pos", "edge_index", "batch", "num_graphs")
    kinds = [type(layer).__name__ for layer in network.layers]
    assert kinds == ["AtomEmbedding"] + ["PointConvolution", "Gate"] * 3 + ["GraphReadout"]
    in_type, out_type = network.field_types(z, pos, edge_index, batch, num_graphs)
    n = z.shape[0]
    assert in_type.group == Permutations(n) * Euclidean(3)  # the intersection of the layers' groups
    assert in_type.fields[1:3] == (position_field(n), edge_index_field(n))
    # the same molecules as a torch-geometric Batch give the same output
    molecules = Batch.from_data_list([Data(z=z[batch == b], pos=pos[batch == b]) for b in range(2)])
    with torch.no_grad():
        tensors = network(z, pos, edge_index, batch, num_graphs)
        assert torch.allclose(network(molecules), tensors, atol=1e-6)
        assert torch.equal(network(z, pos, edge_index, batch), tensors)  # num_graphs read from batch
        # a hand-written composition of the same layers (the reference does not go through Blueprint)
        x = network.layers[0](z)
        for conv, gate in zip(network.convolutions, network.gates):
            x = gate(conv(x, pos, edge_index))
        assert torch.allclose(network.readout(x, batch, num_graphs), tensors, atol=0)
    with pytest.raises(NotImplementedError, match="TensorFieldNetwork does not implement export"):
        network.export()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_network_is_equivariant_in_float64_and_float32(seed, record_property):
    """The registered example, S_N × E(3) with reflections always included: ≤ 1e-9 in float64, ≤ 1e-4 in float32."""
    generator = torch.Generator().manual_seed(seed)
    network, inputs = TensorFieldNetwork.example(generator)
    errors = {}
    for dtype, tolerance in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
        report = equivariance_error(network, inputs, dtype=dtype, n_samples=6, generator=generator)
        assert any(float(torch.linalg.det(g.data[1].data[0])) < 0 for g in report.elements)  # a reflection was tried
        errors[str(dtype)] = report.max_error
        assert report.max_error <= tolerance, (dtype, report.max_error)
    record_property("equivariance_error", errors)
    print(f"TensorFieldNetwork seed {seed}: {errors}")


def test_reflections_flip_the_pseudoscalar_output(generator):
    """Negative control: the 0o output changes sign under a reflection; declaring it 0e (invariant) must fail."""
    network, (z, pos, edge_index, batch, num_graphs) = TensorFieldNetwork.example(generator)
    network = network.double()
    pos = pos.double()
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    with torch.no_grad():
        out, mirrored = network(z, pos, edge_index, batch), network(z, pos @ mirror, edge_index, batch)
    pseudoscalar = slice(2, 3)  # "2x0e + 1x0o + ..."
    assert out[:, pseudoscalar].abs().min() > 1e-6
    assert torch.allclose(mirrored[:, pseudoscalar], -out[:, pseudoscalar], atol=1e-12)
    assert torch.allclose(mirrored[:, :2], out[:, :2], atol=1e-12)


# -- 3D Tetris ------------------------------------------------------------------------------------------------------
def _cube_rotations() -> torch.Tensor:
    """The 24 rotations of the cube (signed permutation matrices with det +1)."""
    matrices = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((-1.0, 1.0), repeat=3):
            m = torch.zeros(3, 3, dtype=torch.float64)
            m[range(3), perm] = torch.tensor(signs, dtype=torch.float64)
            if torch.linalg.det(m) > 0:
                matrices.append(m)
    return torch.stack(matrices)


def _same_shape(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two sets of cube centres coincide after a cube rotation and a translation."""
    key = lambda p: sorted(map(tuple, (p - p.min(dim=0).values).round().long().tolist()))
    return any(key(a @ r.T) == key(b) for r in _cube_rotations())


def test_exactly_one_pair_of_tetris_pieces_is_chiral():
    mirror = torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64))
    for p in range(8):
        mirrored = TETRIS_POSITIONS[p] @ mirror
        assert _same_shape(mirrored, TETRIS_POSITIONS[int(MIRROR_CLASS[p])])
        assert _same_shape(mirrored, TETRIS_POSITIONS[p]) == (p >= 2)  # only the chiral pair is not its own mirror
    assert all(not _same_shape(TETRIS_POSITIONS[p], TETRIS_POSITIONS[q]) for p in range(8) for q in range(p))


def test_moved_pieces_relabel_reflections(generator):
    matrices = torch.stack([g.data for g in Orthogonal(3).sample(6, generator)])
    pieces = moved_pieces(matrices, permute=generator)
    reflected = torch.linalg.det(matrices) < 0
    for k in range(6):
        labels = [int(pieces[8 * k + p].y) for p in range(8)]
        assert labels == (MIRROR_CLASS.tolist() if reflected[k] else list(range(8)))
    with pytest.raises(ValueError, match="orthogonal"):
        moved_pieces(2 * torch.eye(3).expand(1, 3, 3))


def test_chiral_classifier_swaps_the_pair_under_reflections(generator):
    from gdl.experiments.tetris3d import ChiralTetrisClassifier

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = ChiralTetrisClassifier().double()
    base = model(Batch.from_data_list(tetris_pieces(torch.float64)))
    reflection = torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)) @ _cube_rotations()[5]
    moved = model(Batch.from_data_list(moved_pieces(reflection.unsqueeze(0), dtype=torch.float64, permute=generator)))
    assert torch.allclose(moved, base[:, MIRROR_CLASS], atol=1e-12)
    assert not torch.allclose(base[:, 0], base[:, 1], atol=1e-3)


def test_tetris3d_quick_reproduction(tmp_path):
    """The equivariant network is right on every rotated/reflected copy; the coordinate baselines are not."""
    from gdl.experiments import Settings, get_experiment

    result = get_experiment("tetris3d").reproduce(Settings(quick=True, out_dir=tmp_path, progress=False))
    assert result.value("tfn", "accuracy, training orientation") == 1.0
    assert result.value("tfn", "accuracy, rotated") == 1.0
    assert result.value("tfn", "accuracy, rotated or reflected") == 1.0
    assert result.value("tfn_even", "accuracy, rotated") <= 0.875
    for baseline in ("mlp", "gnn"):
        assert result.value(baseline, "accuracy, training orientation") == 1.0
        assert result.value(baseline, "accuracy, rotated") <= 0.5
    assert result.value("tfn", "relative Δlogit, rotations") < 1e-4
    assert "| tetris3d | tfn |" in (tmp_path / "REPORT.md").read_text()
