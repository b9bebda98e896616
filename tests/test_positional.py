"""Positional encodings: sinusoidal (and why they are the cycle's Laplacian eigenvectors), Laplacian eigenvectors
with random sign flips, random-walk encodings."""

import math

import pytest
import torch
import torch_geometric.transforms as T
from torch_geometric.data import Data
from torch_geometric.utils import erdos_renyi_graph, to_undirected

from gdl.graphs import LaplacianPE, RandomWalkPE, laplacian_eigenvectors, random_walk_encoding, sinusoidal_encoding
from gdl.graphs.positional import cycle_frequencies, cycle_laplacian, random_sign_flip
from gdl.testing import assert_equivariant


def cycle_edges(n):
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    return to_undirected(ring, num_nodes=n)


def path_edges(n):
    return to_undirected(torch.stack([torch.arange(n - 1), torch.arange(1, n)]), num_nodes=n)


# -- sinusoidal ---------------------------------------------------------------------------------------------------

def test_sinusoidal_encoding_is_vaswanis_formula():
    n, d = 50, 16
    encoding = sinusoidal_encoding(n, d, dtype=torch.float64)
    for p in (0, 1, 17, 49):
        for i in range(d // 2):
            angle = p / 10000 ** (2 * i / d)
            assert encoding[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-14)
            assert encoding[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-14)
    assert sinusoidal_encoding(n, d).dtype == torch.float32
    with pytest.raises(ValueError, match="dim must be even, got 7"):
        sinusoidal_encoding(4, 7)
    with pytest.raises(ValueError, match="dim=8 needs 4 frequencies, got 3"):
        sinusoidal_encoding(4, 8, frequencies=torch.ones(3))


@pytest.mark.parametrize("n", [8, 13, 32])
def test_sinusoids_at_cycle_frequencies_are_the_cycle_laplacian_eigenvectors(n):
    """Book §5.4: sine/cosine encodings are the Laplacian eigenvectors (the graph Fourier basis) of a cycle."""
    count = n // 2 - (n % 2 == 0)  # non-constant frequencies whose sine is not identically zero
    omega = cycle_frequencies(n, count)
    encoding = sinusoidal_encoding(n, 2 * count, frequencies=omega, dtype=torch.float64)
    laplacian = cycle_laplacian(n)
    eigenvalues = (2 - 2 * torch.cos(omega)).repeat_interleave(2)
    # L v = λ v for every column: (L v)_p = 2 v_p − v_{p−1} − v_{p+1} = (2 − 2 cos ω) v_p
    assert (laplacian @ encoding - encoding * eigenvalues).abs().max() <= 1e-12
    # and they span exactly the eigenspaces numerically computed from the graph (cycle given as edge_index)
    values, vectors = laplacian_eigenvectors(cycle_edges(n), n, 2 * count, normalization=None, dtype=torch.float64)
    assert (values - eigenvalues).abs().max() <= 1e-12
    basis = encoding / encoding.norm(dim=0)  # sin and cos of one frequency are orthogonal on the cycle
    projection = basis @ basis.T
    assert (projection @ vectors - vectors).abs().max() <= 1e-10
    # the normalised Laplacian of a 2-regular graph is L / 2: same eigenvectors
    sym_values, _ = laplacian_eigenvectors(cycle_edges(n), n, 2 * count, dtype=torch.float64)
    assert (sym_values - eigenvalues / 2).abs().max() <= 1e-12


def test_vaswani_frequencies_satisfy_the_path_laplacian_eigen_relation_inside_the_sequence():
    """Any frequency ω gives an eigenvector of the infinite path: the relation holds at every interior position."""
    n, d = 40, 12
    encoding = sinusoidal_encoding(n, d, dtype=torch.float64)
    omega = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    laplacian = torch.diag(torch.full((n,), 2.0, dtype=torch.float64)) - torch.diag(torch.ones(n - 1, dtype=torch.float64), 1) \
        - torch.diag(torch.ones(n - 1, dtype=torch.float64), -1)
    residual = laplacian @ encoding - encoding * (2 - 2 * torch.cos(omega)).repeat_interleave(2)
    assert residual[1:-1].abs().max() <= 1e-12
    assert residual[0].abs().max() > 1e-3  # the ends are where a sequence is not a cycle


# -- Laplacian eigenvectors ------------------------------------------------------------------------------------

def test_laplacian_eigenvectors_are_orthonormal_eigenpairs_and_match_torch_geometric_up_to_sign():
    torch.manual_seed(0)
    n, k = 20, 5
    edge_index = erdos_renyi_graph(n, 0.3)
    values, vectors = laplacian_eigenvectors(edge_index, n, k, dtype=torch.float64)
    degree = torch.bincount(edge_index[0], minlength=n).double()
    adjacency = torch.zeros(n, n, dtype=torch.float64)
    adjacency[edge_index[1], edge_index[0]] = 1
    inverse_sqrt = degree.clamp(min=1).rsqrt() * (degree > 0)
    laplacian = torch.eye(n, dtype=torch.float64) - inverse_sqrt[:, None] * adjacency * inverse_sqrt[None, :]
    assert (laplacian @ vectors - vectors * values).abs().max() <= 1e-12
    assert (vectors.T @ vectors - torch.eye(k, dtype=torch.float64)).abs().max() <= 1e-12
    assert torch.all(values[1:] >= values[:-1]) and values[0] > 1e-8  # the trivial eigenvalue 0 is dropped
    peer = T.AddLaplacianEigenvectorPE(k, attr_name=None, is_undirected=True)(Data(edge_index=edge_index, num_nodes=n)).x
    assert (peer.double().abs() - vectors.abs()).abs().max() <= 1e-5  # float32 peer; equal up to each column's sign


def test_laplacian_eigenvectors_pad_small_graphs_and_refuse_directed_ones():
    values, vectors = laplacian_eigenvectors(path_edges(3), 3, 4)
    assert vectors.shape == (3, 4) and torch.all(vectors[:, 2:] == 0) and torch.isnan(values[2:]).all()
    with pytest.raises(ValueError, match="need an undirected graph"):
        laplacian_eigenvectors(torch.tensor([[0, 1], [1, 2]]), 3, 1)
    with pytest.raises(ValueError, match="normalization must be 'sym' or None"):
        laplacian_eigenvectors(path_edges(3), 3, 1, normalization="rw")
    with pytest.raises(ValueError, match=r"refers to nodes 0..3, but the graph has 3 nodes"):
        laplacian_eigenvectors(path_edges(4), 3, 1)


def test_laplacian_eigenvectors_are_equivariant_up_to_sign_for_simple_eigenvalues():
    n = 10
    edge_index = path_edges(n)  # the path's Laplacian eigenvalues are distinct
    _, vectors = laplacian_eigenvectors(edge_index, n, 4, dtype=torch.float64)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    _, moved = laplacian_eigenvectors(torch.argsort(perm)[edge_index], n, 4, dtype=torch.float64)
    assert (moved.abs() - vectors[perm].abs()).abs().max() <= 1e-10


def test_laplacian_pe_flips_signs_only_in_training():
    module = LaplacianPE(6, 6)
    with torch.no_grad():  # W = I, b = 0: the output is s ⊙ eigenvectors, so the signs s can be read off
        module.projection.weight.copy_(torch.eye(6))
        module.projection.bias.zero_()
    vectors = torch.rand(11, 6) + 0.5
    assert torch.equal(module.eval()(vectors), vectors)
    module.train()
    torch.manual_seed(1)
    patterns = set()
    for _ in range(20):
        ratio = module(vectors) / vectors
        assert torch.all(ratio == ratio[0]) and set(ratio[0].tolist()) <= {-1.0, 1.0}  # one sign per eigenvector
        patterns.add(tuple(ratio[0].tolist()))
    assert len(patterns) > 10
    signs = random_sign_flip(torch.ones(3, 6), generator=torch.Generator().manual_seed(0))
    assert set(signs.unique().tolist()) <= {-1.0, 1.0} and torch.all(signs == signs[0])
    with pytest.raises(ValueError, match=r"expects eigenvectors \[N, 6\], got \[11, 5\]"):
        module(torch.randn(11, 5))


# -- random-walk encodings -------------------------------------------------------------------------------------------

def test_random_walk_encoding_is_the_diagonal_of_transition_powers():
    torch.manual_seed(1)
    n, steps = 12, 6
    edge_index = erdos_renyi_graph(n, 0.35)
    encoding = random_walk_encoding(edge_index, n, steps, dtype=torch.float64)
    adjacency = torch.zeros(n, n, dtype=torch.float64)
    for source, target in edge_index.T.tolist():
        adjacency[source, target] += 1
    transition = adjacency / adjacency.sum(1, keepdim=True).clamp(min=1)
    for t in range(1, steps + 1):
        assert (encoding[:, t - 1] - torch.linalg.matrix_power(transition, t).diagonal()).abs().max() <= 1e-14
    assert torch.all(encoding[:, 0] == 0)  # no self-loops: no return in one step
    peer = T.AddRandomWalkPE(steps, attr_name=None)(Data(edge_index=edge_index, num_nodes=n)).x
    assert (peer.double() - encoding).abs().max() <= 1e-6


def naive_return_probabilities(edges, n, steps):
    """float64 reference from the definition, with Python loops: a walker at i takes one of its out-edges i → j
    uniformly (a repeated edge counts twice); (P^t)_ii summed over every walk of t steps from i back to i."""
    out_edges = [[] for _ in range(n)]
    for source, target in edges:
        out_edges[source].append(target)
    step = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in out_edges[i]:
            step[i][j] += 1.0 / len(out_edges[i])
    power = [row[:] for row in step]
    result = [[power[i][i] for i in range(n)]]
    for _ in range(steps - 1):
        power = [[sum(power[i][k] * step[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
        result.append([power[i][i] for i in range(n)])
    return torch.tensor(result, dtype=torch.float64).T  # [N, steps]


def test_random_walk_encoding_on_a_directed_graph_equals_a_naive_reference():
    """On an undirected graph D⁻¹A and AD⁻¹ are similar matrices (equal return probabilities), so only a directed
    graph tells the row-stochastic walk (the definition) from a column-normalised one."""
    edges = [(0, 1), (1, 2), (2, 0), (0, 3), (3, 0), (3, 4), (4, 2), (2, 4), (4, 4), (1, 0), (1, 0), (5, 1)]
    n, steps = 6, 5
    edge_index = torch.tensor(edges).T
    expected = naive_return_probabilities(edges, n, steps)
    encoding = random_walk_encoding(edge_index, n, steps, dtype=torch.float64)
    assert (encoding - expected).abs().max() <= 1e-14
    layer = RandomWalkPE(steps)
    assert (layer(torch.empty(n, 0, dtype=torch.float64), edge_index) - expected).abs().max() <= 1e-14
    simple = sorted(set(edges))  # torch-geometric drops a repeated edge's second copy; on a simple graph it agrees
    peer = T.AddRandomWalkPE(steps, attr_name=None)(Data(edge_index=torch.tensor(simple).T, num_nodes=n)).x
    assert (peer.double() - naive_return_probabilities(simple, n, steps)).abs().max() <= 1e-6
    column_normalised = naive_return_probabilities([(j, i) for i, j in edges], n, steps)  # the walk on Aᵀ
    assert (column_normalised - expected).abs().max() > 1e-2  # the test tells the two apart


def test_random_walk_pe_layer_is_exactly_permutation_equivariant():
    module, inputs = RandomWalkPE.example(torch.Generator().manual_seed(0))
    assert assert_equivariant(module, inputs, dtype=torch.float64) <= 1e-12
    x, edge_index = inputs
    out = module(x.double(), edge_index)
    assert out.dtype == torch.float64 and out.shape == (9, 2 + 5) and torch.equal(out[:, :2], x.double())
    assert (out[:, 2:] - random_walk_encoding(edge_index, 9, 5, dtype=torch.float64)).abs().max() <= 1e-15
    # a node without edges (here the last) is still a node: N comes from x, not from the largest id in edge_index
    assert module(torch.empty(12, 0), edge_index).shape == (12, 5)
    with pytest.raises(ValueError, match=r"refers to nodes"):
        module(x, torch.tensor([[0, 9], [1, 2]]))
    with pytest.raises(ValueError, match="an empty graph"):
        module(x[:0], edge_index[:, :0])
    with pytest.raises(ValueError, match="walk_length must be a positive integer, got 0"):
        RandomWalkPE(0)


def test_laplacian_pe_layer_reads_n_from_its_input_and_exports():
    module, (vectors,) = LaplacianPE.example(torch.Generator().manual_seed(0))
    assert module.field_types(vectors)[0].group.n == vectors.shape[0]
    assert assert_equivariant(module, (vectors,), dtype=torch.float64) <= 1e-12
    exported = module.eval().export()
    assert isinstance(exported.projection, torch.nn.Linear) and torch.equal(exported(vectors), module(vectors))
    with pytest.raises(TypeError, match="floating-point eigenvectors"):
        module(vectors.long())
