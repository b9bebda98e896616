"""EMLP's synthetic tasks (Finzi et al. 2021): determinism, shapes, the symmetry of every target measured in float64,
the targets against naive per-sample loops, the input distributions, and argument checks."""

import math

import pytest
import torch

import gdl.datasets
from gdl.datasets import emlp_synthetic
from gdl.datasets.emlp_synthetic import (
    PAPER_FIGURES,
    SyntheticRegression,
    inertia_tensor,
    lorentz_particle_scattering,
    minkowski_dot,
    o3_inertia,
    o5_invariant_regression,
    o5_target,
    scattering_matrix_element,
)

GENERATORS = {"o5": (o5_invariant_regression, 10, 1), "inertia": (o3_inertia, 20, 9),
              "lorentz": (lorentz_particle_scattering, 16, 1)}
ETA = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))


# ---------------------------------------------------------------- group samplers (the test's own, float64)

def random_orthogonal(dim: int, generator: torch.Generator, reflection: bool) -> torch.Tensor:
    """A Haar-random element of O(dim) with determinant −1 when ``reflection``, else +1."""
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if (torch.linalg.det(q) < 0) != reflection:
        q[:, 0] = -q[:, 0]
    return q


def random_lorentz(generator: torch.Generator) -> torch.Tensor:
    """Λ = boost(rapidity φ ∈ [0, 1], uniform direction) · rotation, an element of SO⁺(1,3)."""
    rotation = torch.eye(4, dtype=torch.float64)
    rotation[1:, 1:] = random_orthogonal(3, generator, reflection=False)
    rapidity = float(torch.rand((), generator=generator, dtype=torch.float64))
    direction = torch.randn(3, generator=generator, dtype=torch.float64)
    direction = direction / direction.norm()
    boost = torch.eye(4, dtype=torch.float64)
    boost[0, 0] = math.cosh(rapidity)
    boost[0, 1:] = boost[1:, 0] = math.sinh(rapidity) * direction
    boost[1:, 1:] += (math.cosh(rapidity) - 1.0) * torch.outer(direction, direction)
    return boost @ rotation


PARITY = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))
TIME_REVERSAL = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=torch.float64))


# ---------------------------------------------------------------- naive references (plain Python floats, per sample)

def naive_o5(row: list[float]) -> float:
    x1, x2 = row[:5], row[5:]
    n1 = math.sqrt(sum(v * v for v in x1))
    n2 = math.sqrt(sum(v * v for v in x2))
    dot = sum(a * b for a, b in zip(x1, x2))
    return math.sin(n1) - 0.5 * n2 ** 3 + dot / (n1 * n2)


def naive_inertia(row: list[float], k: int) -> list[float]:
    masses = row[:k]
    points = [row[k + 3 * i: k + 3 * i + 3] for i in range(k)]
    tensor = [[0.0] * 3 for _ in range(3)]
    for m, x in zip(masses, points):
        squared = x[0] ** 2 + x[1] ** 2 + x[2] ** 2
        for a in range(3):
            for b in range(3):
                tensor[a][b] += m * ((squared if a == b else 0.0) - x[a] * x[b])
    return [tensor[a][b] for a in range(3) for b in range(3)]


def naive_scattering(row: list[float]) -> float:
    """The lepton tensors built entry by entry with explicit η, contracted with two loops."""
    eta = [1.0, -1.0, -1.0, -1.0]
    p1, p2, p3, p4 = (row[4 * j: 4 * j + 4] for j in range(4))

    def dot(u, v):
        return sum(eta[a] * u[a] * v[a] for a in range(4))

    a_coef = dot(p1, p3) - dot(p1, p1)
    b_coef = dot(p2, p4) - dot(p2, p2)
    total = 0.0
    for al in range(4):
        for be in range(4):
            metric = eta[al] if al == be else 0.0
            electron = p1[al] * p3[be] - a_coef * metric  # upper indices
            muon = eta[al] * p2[al] * eta[be] * p4[be] - b_coef * metric  # lower indices
            total += electron * muon
    return 4.0 * total


# ---------------------------------------------------------------- determinism, shapes, dtypes

@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_same_data_other_seed_other_data(name):
    make, _, _ = GENERATORS[name]
    first, again, other = make(32, seed=7), make(32, seed=7), make(32, seed=8)
    assert isinstance(first, SyntheticRegression)
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.targets, again.targets)
    assert not torch.allclose(first.inputs, other.inputs)
    assert not torch.allclose(first.targets, other.targets)


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", [1, 5, 64])
def test_shapes_and_float64_default(name, n):
    make, width_in, width_out = GENERATORS[name]
    inputs, targets = make(n, seed=0)
    assert inputs.shape == (n, width_in) and targets.shape == (n, width_out)
    assert inputs.dtype == targets.dtype == torch.float64
    assert torch.isfinite(inputs).all() and torch.isfinite(targets).all()


@pytest.mark.parametrize("name", GENERATORS)
def test_float32_is_the_float64_data_rounded(name):
    make, _, _ = GENERATORS[name]
    wide, narrow = make(16, seed=3), make(16, seed=3, dtype=torch.float32)
    assert narrow.inputs.dtype == narrow.targets.dtype == torch.float32
    assert torch.equal(narrow.inputs, wide.inputs.float()) and torch.equal(narrow.targets, wide.targets.float())


def test_inertia_with_another_number_of_points():
    inputs, targets = o3_inertia(4, seed=2, num_points=3)
    assert inputs.shape == (4, 12) and targets.shape == (4, 9)
    for row, target in zip(inputs.tolist(), targets.tolist()):
        assert max(abs(a - b) for a, b in zip(naive_inertia(row, 3), target)) < 1e-12


def test_names_resolve_from_the_package():
    for name in ("SyntheticRegression", "o5_invariant_regression", "o3_inertia", "lorentz_particle_scattering"):
        assert name in gdl.datasets.__all__
        assert getattr(gdl.datasets, name) is getattr(emlp_synthetic, name)


# ---------------------------------------------------------------- targets against naive loops

def test_o5_target_against_a_loop():
    inputs, targets = o5_invariant_regression(3, seed=11)
    for row, target in zip(inputs.tolist(), targets[:, 0].tolist()):
        assert abs(naive_o5(row) - target) < 1e-12 * max(1.0, abs(target))


def test_inertia_target_against_a_loop():
    inputs, targets = o3_inertia(3, seed=11)
    for row, target in zip(inputs.tolist(), targets.tolist()):
        expected = naive_inertia(row, 5)
        assert max(abs(a - b) for a, b in zip(expected, target)) < 1e-12 * max(1.0, max(map(abs, expected)))


def test_scattering_target_against_a_loop():
    inputs, targets = lorentz_particle_scattering(3, seed=11)
    for row, target in zip(inputs.tolist(), targets[:, 0].tolist()):
        assert abs(naive_scattering(row) - target) < 1e-12 * max(1.0, abs(target))


def test_minkowski_dot_uses_the_mostly_minus_metric():
    a = torch.tensor([2.0, 1.0, 0.5, -3.0], dtype=torch.float64)
    b = torch.tensor([1.0, 4.0, 2.0, 1.0], dtype=torch.float64)
    assert float(minkowski_dot(a, b)) == pytest.approx(2.0 - 4.0 - 1.0 + 3.0, abs=1e-15)
    assert float(minkowski_dot(a, b)) == pytest.approx(float(a @ ETA @ b), abs=1e-15)


# ---------------------------------------------------------------- input distributions (what the paper samples)

def test_o5_inputs_are_standard_normal():
    inputs, _ = o5_invariant_regression(20000, seed=0)
    assert inputs.mean().abs() < 0.01 and (inputs.std() - 1.0).abs() < 0.01


def test_inertia_masses_are_softplus_of_a_standard_normal():
    inputs, _ = o3_inertia(20000, seed=0)
    masses, positions = inputs[:, :5], inputs[:, 5:]
    assert (masses > 0).all()
    # E[log(1 + e^Z)], Z ~ N(0, 1), by quadrature on a fine grid (≈ 0.8067)
    z = torch.linspace(-12.0, 12.0, 200001, dtype=torch.float64)
    density = torch.exp(-z ** 2 / 2) / math.sqrt(2 * math.pi)
    expected = float(torch.trapezoid(torch.nn.functional.softplus(z) * density, z))
    assert abs(float(masses.mean()) - expected) < 0.01
    assert positions.mean().abs() < 0.01 and (positions.std() - 1.0).abs() < 0.01


def test_momenta_components_have_standard_deviation_one_quarter():
    inputs, _ = lorentz_particle_scattering(20000, seed=0)
    assert inputs.mean().abs() < 0.003 and (inputs.std() - 0.25).abs() < 0.003


# ---------------------------------------------------------------- symmetries, float64

@pytest.mark.parametrize("reflection", [False, True])
def test_o5_target_is_invariant(reflection, generator):
    inputs, targets = o5_invariant_regression(64, seed=5)
    for _ in range(4):
        q = random_orthogonal(5, generator, reflection)
        assert float(torch.linalg.det(q)) == pytest.approx(-1.0 if reflection else 1.0, abs=1e-12)
        moved = o5_target(inputs[:, :5] @ q.T, inputs[:, 5:] @ q.T)
        assert (moved - targets).abs().max() < 1e-10


def test_o5_target_sees_vectors_rotated_apart(generator):
    """The invariance test can fail: rotating x_2 alone changes x_1·x_2."""
    inputs, targets = o5_invariant_regression(64, seed=5)
    q = random_orthogonal(5, generator, reflection=False)
    assert (o5_target(inputs[:, :5], inputs[:, 5:] @ q.T) - targets).abs().max() > 1e-2


@pytest.mark.parametrize("reflection", [False, True])
def test_inertia_transforms_as_a_rank_two_tensor(reflection, generator):
    inputs, targets = o3_inertia(64, seed=5)
    masses, positions = inputs[:, :5], inputs[:, 5:].reshape(64, 5, 3)
    tensor = targets.reshape(64, 3, 3)
    for _ in range(4):
        r = random_orthogonal(3, generator, reflection)
        moved = inertia_tensor(masses, positions @ r.T)
        assert (moved - r @ tensor @ r.T).abs().max() < 1e-10
        assert (moved - tensor).abs().max() > 1e-2  # equivariant, not invariant: the test would notice R I Rᵀ = I


def test_inertia_ignores_the_order_of_the_points(generator):
    inputs, targets = o3_inertia(16, seed=5)
    order = torch.randperm(5, generator=generator)
    masses, positions = inputs[:, :5], inputs[:, 5:].reshape(16, 5, 3)
    assert (inertia_tensor(masses[:, order], positions[:, order]).reshape(16, 9) - targets).abs().max() < 1e-12


def _relative(moved: torch.Tensor, targets: torch.Tensor) -> float:
    return float((moved - targets).abs().max() / targets.abs().max())


def test_scattering_is_lorentz_invariant(generator):
    inputs, targets = lorentz_particle_scattering(64, seed=5)
    momenta = inputs.reshape(64, 4, 4)
    for _ in range(6):
        lam = random_lorentz(generator)
        assert (lam.T @ ETA @ lam - ETA).abs().max() < 1e-12
        assert _relative(scattering_matrix_element(momenta @ lam.T), targets) < 1e-9


@pytest.mark.parametrize("discrete", ["parity", "time_reversal", "both"])
def test_scattering_is_invariant_under_parity_and_time_reversal(discrete, generator):
    inputs, targets = lorentz_particle_scattering(64, seed=5)
    flip = {"parity": PARITY, "time_reversal": TIME_REVERSAL, "both": PARITY @ TIME_REVERSAL}[discrete]
    lam = flip @ random_lorentz(generator)
    assert (lam.T @ ETA @ lam - ETA).abs().max() < 1e-12
    assert _relative(scattering_matrix_element(inputs.reshape(64, 4, 4) @ lam.T), targets) < 1e-9


def test_scattering_sees_a_euclidean_rotation_of_time_into_space(generator):
    """The invariance test can fail: an SO(4) rotation mixing p⁰ and p¹ is not a Lorentz transformation."""
    inputs, targets = lorentz_particle_scattering(64, seed=5)
    c, s = math.cos(0.7), math.sin(0.7)
    turn = torch.eye(4, dtype=torch.float64)
    turn[0, 0], turn[0, 1], turn[1, 0], turn[1, 1] = c, -s, s, c
    assert _relative(scattering_matrix_element(inputs.reshape(64, 4, 4) @ turn.T), targets) > 1e-2


# ---------------------------------------------------------------- paper figures

def test_paper_figures_are_sourced_and_shaped():
    assert "equivariant-MLP" in PAPER_FIGURES["source"] and PAPER_FIGURES["printed_in_paper"] is None
    for task in ("o5_invariant_regression", "o3_inertia", "lorentz_particle_scattering"):
        results = PAPER_FIGURES[task]
        assert set(results) >= {"EMLP", "MLP"}
        for curve in results.values():
            assert sorted(curve) == [30, 100, 300, 1000, 3000, 10000, 30000]
            assert all(value is None or value > 0 for value in curve.values())
        # the released runs show EMLP below the MLP at every training-set size on these tasks
        assert all(results["EMLP"][size] < results["MLP"][size] for size in results["EMLP"])


# ---------------------------------------------------------------- argument checks

@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", [0, -3, 2.5, True, "8", None])
def test_bad_sample_counts_are_refused(name, n):
    make, _, _ = GENERATORS[name]
    with pytest.raises(ValueError, match=r"n must be a positive integer, got"):
        make(n)


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("seed", [-1, 1.0, False])
def test_bad_seeds_are_refused(name, seed):
    make, _, _ = GENERATORS[name]
    with pytest.raises(ValueError, match=r"seed must be an integer ≥ 0, got"):
        make(4, seed=seed)


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("dtype", [torch.int64, torch.complex128, "float64", float])
def test_bad_dtypes_are_refused(name, dtype):
    make, _, _ = GENERATORS[name]
    with pytest.raises(TypeError, match=r"dtype must be a real floating-point torch.dtype, got"):
        make(4, dtype=dtype)


@pytest.mark.parametrize("num_points", [0, 2.0, None])
def test_bad_numbers_of_points_are_refused(num_points):
    with pytest.raises(ValueError, match=r"num_points must be a positive integer, got"):
        o3_inertia(4, num_points=num_points)


def test_target_functions_check_their_inputs():
    x = torch.zeros(3, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"x2 must have shape \[3, 5\], got \[3, 4\]"):
        o5_target(x, torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"x1 must be a floating-point tensor \[n, 5\], got torch.int64"):
        o5_target(torch.zeros(3, 5, dtype=torch.long), x)
    with pytest.raises(ValueError, match=r"positions must have shape \[3, 5, 3\], got \[3, 4, 3\]"):
        inertia_tensor(x, torch.zeros(3, 4, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"masses must be a floating-point tensor \[n, k\], got list"):
        inertia_tensor([[1.0]], torch.zeros(1, 1, 3))
    with pytest.raises(ValueError, match=r"momenta must have shape \[n, 4, 4\], got \[3, 16\]"):
        scattering_matrix_element(torch.zeros(3, 16, dtype=torch.float64))
