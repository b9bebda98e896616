"""Riemannian geometry through geoopt: isometry groups, manifold fields, layers, optimisers, numerics, embeddings.

Numbers are checked against independent references: the Lorentz-matrix representation for the Möbius group law,
50-digit arithmetic (mpmath) for distances at the ball's edge, naive float64 formulas for the layers, scikit-learn's
average precision and a Python loop for the reconstruction metrics, and a trained embedding for the loss.
"""

import math

import geoopt
import mpmath
import pytest
import torch

from gdl.core import EquivariantModule, ProductGroup, TrivialField, TupleField
from gdl.datasets.wordnet import balanced_tree, random_tree
from gdl.experiments.base import Settings
from gdl.experiments.poincare_wordnet import PoincareWordNet, Schedule, train_embedding
from gdl.geodesics.embedding import EdgeDataset, HierarchyEmbedding, HierarchyLoss, reconstruction_metrics
from gdl.geodesics.isometries import (
    HyperbolicIsometries,
    LogSPDField,
    LorentzField,
    PoincareBallField,
    PositiveScalings,
    SPDField,
    SphereField,
    StiefelField,
    gyration_matrix,
    lorentz_matrix,
)
from gdl.geodesics.layers import (
    GeodesicDistances,
    HyperbolicDistanceLogits,
    MobiusLinear,
    OrthogonalLinear,
    SPDBiMap,
    SPDLayer,
    SPDLogMap,
    random_stiefel,
)
from gdl.geodesics.manifolds import (
    BALL_MAX_DISTANCE,
    BoundedLorentz,
    check_points,
    lorentz_model,
    lorentz_to_poincare,
    poincare_ball,
    poincare_distance,
    poincare_to_lorentz,
)
from gdl.geodesics.optim import ManifoldConstraintError, check_manifold_parameters, riemannian_optimizer
from gdl.symmetries.euclidean import Euclidean, Orthogonal, SpecialOrthogonal
from gdl.symmetries.permutations import Permutations
from gdl.testing import assert_equivariant, equivariance_error

F64 = torch.float64


def _ball_points(count, dim, generator, scale=0.5, curvature=-1.0):
    return poincare_ball(curvature).expmap0(scale * torch.randn(count, dim, generator=generator, dtype=F64))


def _spd(count, dim, generator):
    a = torch.randn(count, dim, dim, generator=generator, dtype=F64)
    return a @ a.transpose(-1, -2) / dim + 0.3 * torch.eye(dim, dtype=F64)


def _stiefel(count, n, p, generator):
    q, r = torch.linalg.qr(torch.randn(count, n, p, generator=generator, dtype=F64))
    return q


# -- groups --------------------------------------------------------------------------------------------------------

GROUPS = [HyperbolicIsometries(2), HyperbolicIsometries(3, curvature=-0.5), PositiveScalings()]


@pytest.mark.parametrize("group", GROUPS, ids=repr)
def test_group_axioms(group, generator):
    a, b, c = group.sample(3, generator)
    e = group.identity()
    assert (a * b) * c == a * (b * c)
    assert a * e == a and e * a == a and a * a.inverse() == e and a.inverse() * a == e
    assert not a == b


def test_mobius_group_law_is_the_lorentz_matrix_product(generator):
    """(a, R)(b, S) = (a ⊕ Rb, gyr[a, Rb] RS) against the independent O⁺(n, 1) representation."""
    group = HyperbolicIsometries(3, curvature=-0.7)
    a, b = group.sample(2, generator)
    torch.testing.assert_close(lorentz_matrix(a * b), lorentz_matrix(a) @ lorentz_matrix(b), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lorentz_matrix(a.inverse()), torch.linalg.inv(lorentz_matrix(a)), rtol=1e-12, atol=1e-12)
    minkowski = torch.diag(torch.tensor([-1.0, 1, 1, 1], dtype=F64))
    torch.testing.assert_close(lorentz_matrix(a).T @ minkowski @ lorentz_matrix(a), minkowski, rtol=0, atol=1e-12)
    assert float(lorentz_matrix(a)[0, 0]) >= 1  # orthochronous: the upper sheet maps to itself
    # the gyration is a rotation
    u, v = _ball_points(2, 3, generator, curvature=-0.7)
    gyr = gyration_matrix(u, v, -0.7)
    torch.testing.assert_close(gyr.T @ gyr, torch.eye(3, dtype=F64), rtol=0, atol=1e-13)
    assert float(torch.linalg.det(gyr)) == pytest.approx(1.0, abs=1e-12)


def test_hyperbolic_group_elements_and_subgroups(generator):
    group = HyperbolicIsometries(2)
    with pytest.raises(ValueError, match="Poincaré ball"):
        group.element([0.9, 0.9])
    with pytest.raises(ValueError, match="not orthogonal"):
        group.element([0.1, 0.0], [[1.0, 1.0], [0.0, 1.0]])
    rotation = SpecialOrthogonal(2).sample(1, generator)[0]
    assert group.contains(rotation) and not group.contains(Orthogonal(3).identity())
    assert group.intersection(Orthogonal(2)) == Orthogonal(2)
    assert not HyperbolicIsometries(2).contains(HyperbolicIsometries(2, curvature=-2.0).identity())
    with pytest.raises(ValueError, match="negative sectional curvature"):
        HyperbolicIsometries(2, curvature=1.0)
    with pytest.raises(ValueError, match="s > 0"):
        PositiveScalings().element(-2.0)


# -- field types ---------------------------------------------------------------------------------------------------

def _fields(generator):
    hyperbolic = HyperbolicIsometries(3, curvature=-0.5)
    return {
        "ball": (PoincareBallField(hyperbolic), _ball_points(7, 3, generator, curvature=-0.5)),
        "ball-rotations": (PoincareBallField(Orthogonal(3)), _ball_points(7, 3, generator)),
        "ball-set": (PoincareBallField(Permutations(7), dim=3), _ball_points(7, 3, generator)),
        "lorentz": (LorentzField(hyperbolic), poincare_to_lorentz(_ball_points(7, 3, generator, curvature=-0.5), -0.5)),
        "sphere": (SphereField(SpecialOrthogonal(4)),
                   torch.nn.functional.normalize(torch.randn(7, 4, generator=generator, dtype=F64), dim=-1)),
        "stiefel-right": (StiefelField(Orthogonal(2), 5, 2), _stiefel(3, 5, 2, generator)),
        "stiefel-left": (StiefelField(Orthogonal(5), 5, 2, side="left"), _stiefel(3, 5, 2, generator)),
        "spd-rotations": (SPDField(Orthogonal(4)), _spd(3, 4, generator)),
        "spd-scalings": (SPDField(PositiveScalings(), 4), _spd(3, 4, generator)),
        "log-spd": (LogSPDField(PositiveScalings(), 4), torch.linalg.matrix_exp(_spd(3, 4, generator) - 1)),
    }


@pytest.mark.parametrize("case", ["ball", "ball-rotations", "ball-set", "lorentz", "sphere", "stiefel-right",
                                  "stiefel-left", "spd-rotations", "spd-scalings", "log-spd"])
def test_actions_are_homomorphisms_that_stay_on_the_manifold(case, generator):
    """ρ(a)ρ(b)x = ρ(ab)x, ρ(e)x = x, and ρ(g)x is again a valid point."""
    field, value = _fields(generator)[case]
    a, b = field.group.sample(2, generator)
    moved = field.transform(value, b)
    field.validate(moved)
    torch.testing.assert_close(field.transform(moved, a), field.transform(value, a * b), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(field.transform(value, field.group.identity()), value, rtol=0, atol=1e-14)


def test_ball_and_hyperboloid_actions_agree_and_preserve_distances(generator):
    group = HyperbolicIsometries(3, curvature=-0.5)
    ball, lorentz = PoincareBallField(group), LorentzField(group)
    x, y = _ball_points(6, 3, generator, curvature=-0.5), _ball_points(6, 3, generator, curvature=-0.5)
    for g in group.sample(4, generator):
        torch.testing.assert_close(poincare_to_lorentz(ball.transform(x, g), -0.5),
                                   lorentz.transform(poincare_to_lorentz(x, -0.5), g), rtol=1e-11, atol=1e-11)
        torch.testing.assert_close(poincare_distance(ball.transform(x, g), ball.transform(y, g), -0.5),
                                   poincare_distance(x, y, -0.5), rtol=1e-11, atol=0)


def test_stiefel_right_action_is_an_isometry_of_geoopt_structure(generator):
    """Q ∈ O(p) moves frames, tangent vectors and Riemannian gradients alike: proju(XQᵀ, UQᵀ) = proju(X, U)Qᵀ."""
    field = StiefelField(Orthogonal(3), 6, 3)
    frame = _stiefel(1, 6, 3, generator)[0]
    direction = torch.randn(6, 3, generator=generator, dtype=F64)
    q = field.group.sample(1, generator)[0]
    manifold = geoopt.EuclideanStiefel()
    torch.testing.assert_close(manifold.proju(field.transform(frame, q), direction @ q.data.T),
                               manifold.proju(frame, direction) @ q.data.T, rtol=1e-12, atol=1e-12)
    projector = frame @ frame.T  # the Grassmannian point is invariant under the right action
    moved = field.transform(frame, q)
    torch.testing.assert_close(moved @ moved.T, projector, rtol=0, atol=1e-12)


def test_off_manifold_points_raise_errors_naming_the_manifold(generator):
    ball = PoincareBallField(HyperbolicIsometries(2))
    with pytest.raises(ValueError, match=r"inside the Poincaré ball.*1 of 2 points.*1\.5"):
        ball.validate(torch.tensor([[0.1, 0.2], [1.5, 0.0]], dtype=F64))
    with pytest.raises(ValueError, match="shape \\[..., 2\\]"):
        ball.validate(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="floating-point"):
        ball.validate(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="non-finite"):
        ball.validate(torch.tensor([[float("nan"), 0.0]]))
    with pytest.raises(ValueError, match="hyperboloid"):
        LorentzField(HyperbolicIsometries(2)).validate(torch.tensor([[1.5, 0.2, 0.1]], dtype=F64))
    with pytest.raises(ValueError, match="upper sheet"):
        LorentzField(HyperbolicIsometries(2)).validate(torch.tensor([[-1.0, 0.0, 0.0]], dtype=F64))
    with pytest.raises(ValueError, match="unit sphere"):
        SphereField(SpecialOrthogonal(3)).validate(torch.tensor([[1.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="XᵀX = I"):
        StiefelField(Orthogonal(2), 4, 2).validate(torch.ones(4, 2))
    with pytest.raises(ValueError, match="eigenvalue ≤ 0"):
        SPDField(Orthogonal(2)).validate(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        SPDField(Orthogonal(2)).validate(torch.tensor([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="negative sectional curvature"):
        PoincareBallField(Orthogonal(2), curvature=0.5)
    with pytest.raises(ValueError, match="curvatures differ"):
        PoincareBallField(HyperbolicIsometries(2), curvature=-2.0)
    with pytest.raises(TypeError, match="acted on by"):
        SphereField(HyperbolicIsometries(2))
    with pytest.raises(ValueError, match="O\\(3\\)"):
        StiefelField(Orthogonal(2), 5, 3)


# -- numerics ------------------------------------------------------------------------------------------------------

def _reference_distance(x, y, c):
    mpmath.mp.dps = 50
    xs, ys = [mpmath.mpf(float(v)) for v in x], [mpmath.mpf(float(v)) for v in y]
    nx, ny = sum(v * v for v in xs), sum(v * v for v in ys)
    gap = sum((a - b) ** 2 for a, b in zip(xs, ys))
    return float(mpmath.acosh(1 + 2 * c * gap / ((1 - c * nx) * (1 - c * ny))) / mpmath.sqrt(c))


@pytest.mark.parametrize("c", [1.0, 0.3])
def test_ball_distance_is_exact_to_the_edge_and_geoopts_saturates(c, generator):
    """gdl's arsinh form matches 50-digit arithmetic up to √c‖x‖ = 1 − 1e-9; geoopt's artanh form caps at 16.8/√c."""
    ball = poincare_ball(-c)
    for radius in [0.5, 0.99, 1 - 1e-5, 1 - 1e-7, 1 - 1e-9]:
        u = torch.nn.functional.normalize(torch.randn(3, generator=generator, dtype=F64), dim=0)
        x, y = u * radius / math.sqrt(c), 0.3 * torch.nn.functional.normalize(torch.randn(3, generator=generator, dtype=F64), dim=0)
        reference = _reference_distance(x, y, c)
        # relative accuracy limited by representing 1 − c‖x‖² in float64: eps / (1 − radius)
        assert float(poincare_distance(x, y, -c)) == pytest.approx(reference, rel=1e-15 / (1 - radius) + 1e-14)
        if reference * math.sqrt(c) < 15:
            assert float(ball.dist(x, y)) == pytest.approx(reference, rel=1e-9)
    far = torch.tensor([1 - 1e-6, 0.0], dtype=F64) / math.sqrt(c)
    true = _reference_distance(far, -far, c)
    assert true * math.sqrt(c) > 28 and float(poincare_distance(far, -far, -c)) == pytest.approx(true, rel=1e-9)
    assert float(ball.dist(far, -far)) * math.sqrt(c) == pytest.approx(2 * math.atanh(1 - 1e-7), rel=1e-6)


def test_gradients_are_finite_near_the_boundary_and_at_coincident_points():
    x = torch.tensor([[1 - 1e-7, 0.0], [0.3, 0.4]], dtype=F64, requires_grad=True)
    y = torch.tensor([[0.0, 1 - 1e-7], [0.3, 0.4]], dtype=F64)
    poincare_distance(x, y).sum().backward()
    assert bool(torch.isfinite(x.grad).all()) and torch.equal(x.grad[1], torch.zeros(2, dtype=F64))
    layer, _ = HyperbolicDistanceLogits.example(torch.Generator().manual_seed(0))
    points = torch.tensor([[1 - 1e-6, 0.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    layer(points).sum().backward()
    assert bool(torch.isfinite(points.grad).all()) and all(bool(torch.isfinite(p.grad).all()) for p in layer.parameters()
                                                            if p.grad is not None)


def test_exp_log_round_trips_in_float64(generator):
    for curvature in (-1.0, -0.25):
        ball, c = poincare_ball(curvature), -curvature
        for radius in (0.1, 0.9, 1 - 1e-4):
            x = radius / math.sqrt(c) * torch.nn.functional.normalize(torch.randn(4, 3, generator=generator, dtype=F64), dim=-1)
            torch.testing.assert_close(ball.expmap0(ball.logmap0(x)), x, rtol=1e-9, atol=1e-12)
            y = _ball_points(4, 3, generator, curvature=curvature)
            torch.testing.assert_close(ball.expmap(x, ball.logmap(x, y)), y, rtol=1e-7, atol=1e-9)
            # ‖log_x y‖_x = d(x, y): the tangent vector's Riemannian length is the geodesic distance
            torch.testing.assert_close(ball.norm(x, ball.logmap(x, y)), poincare_distance(x, y, curvature), rtol=1e-7, atol=1e-9)
        lorentz = lorentz_model(curvature)
        points = poincare_to_lorentz(_ball_points(5, 3, generator, curvature=curvature), curvature)
        check_points(points, "lorentz", curvature=curvature)
        torch.testing.assert_close(lorentz.expmap0(lorentz.logmap0(points)), points, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(poincare_to_lorentz(lorentz_to_poincare(points, curvature), curvature), points,
                                   rtol=1e-12, atol=1e-12)
        # the two models are isometric
        torch.testing.assert_close(lorentz.dist(points[:-1], points[1:]),
                                   poincare_distance(lorentz_to_poincare(points[:-1], curvature),
                                                     lorentz_to_poincare(points[1:], curvature), curvature),
                                   rtol=1e-9, atol=1e-12)


def test_riemannian_gradient_is_the_inverse_metric_times_the_euclidean_gradient(generator):
    """On the ball g_x = λ_x² I: rgrad = egrad / λ_x², and g_x(rgrad, v) = ⟨egrad, v⟩ for every tangent v."""
    c = 0.8
    ball = poincare_ball(-c)
    x = _ball_points(5, 3, generator, scale=0.9, curvature=-c)
    egrad, v = torch.randn(5, 3, generator=generator, dtype=F64), torch.randn(5, 3, generator=generator, dtype=F64)
    rgrad = ball.egrad2rgrad(x, egrad)
    conformal = 2 / (1 - c * (x * x).sum(-1, keepdim=True))
    torch.testing.assert_close(rgrad, egrad / conformal ** 2, rtol=1e-12, atol=0)
    torch.testing.assert_close(ball.inner(x, rgrad, v, keepdim=True).squeeze(-1), (egrad * v).sum(-1), rtol=1e-12, atol=1e-14)


def test_bounded_lorentz_keeps_points_on_the_hyperboloid_within_the_ball_bound(generator):
    manifold = BoundedLorentz()
    x = manifold.expmap0(torch.cat([torch.zeros(4, 1, dtype=F64), torch.randn(4, 2, generator=generator, dtype=F64)], 1))
    huge = manifold.proju(x, 100 * torch.randn(4, 3, generator=generator, dtype=F64))
    y = manifold.retr(x, huge)
    check_points(y, "lorentz")
    assert float(manifold.dist0(y).max()) == pytest.approx(BALL_MAX_DISTANCE, rel=1e-9)
    assert float(geoopt.Lorentz().dist0(geoopt.Lorentz().expmap(x, huge)).max()) > 50  # unbounded without it


# -- layers --------------------------------------------------------------------------------------------------------

def _naive_mobius_linear(layer, x):
    """exp₀(W log₀ x) ⊕ b in float64 from the textbook formulas (c = −K)."""
    c = -layer.curvature
    norm = x.norm(dim=-1, keepdim=True)
    log0 = torch.atanh(math.sqrt(c) * norm) * x / (math.sqrt(c) * norm)
    u = log0 @ layer.weight.double().T
    un = u.norm(dim=-1, keepdim=True)
    y = torch.tanh(math.sqrt(c) * un) * u / (math.sqrt(c) * un)
    b = layer.bias.double()
    xy, x2, y2 = (y * b).sum(-1, keepdim=True), (y * y).sum(-1, keepdim=True), (b * b).sum(-1, keepdim=True)
    return ((1 + 2 * c * xy + c * y2) * y + (1 - c * x2) * b) / (1 + 2 * c * xy + c * c * x2 * y2)


def test_mobius_linear_matches_the_textbook_formula_and_declares_only_permutations(generator):
    layer = MobiusLinear(3, 4, curvature=-0.6).double()
    with torch.no_grad():
        layer.bias.copy_(layer.ball.expmap0(0.3 * torch.randn(4, generator=generator, dtype=F64)))
    x = _ball_points(5, 3, generator, curvature=-0.6)
    torch.testing.assert_close(layer(x), _naive_mobius_linear(layer, x), rtol=1e-10, atol=1e-12)
    with pytest.raises(TypeError, match="MobiusLinear has no fixed in_type.*field_types"):
        _ = layer.in_type
    in_type, out_type = layer.field_types(x)  # N = 5 points, read from the input
    assert in_type.group == Permutations(5) and out_type.dim == 4
    assert layer.field_types(x.expand(3, 2, 5, 3)[..., :4, :])[0].group == Permutations(4)
    assert assert_equivariant(layer, x, dtype=F64, generator=generator) == 0.0
    # rotations about the origin: respected for W = α I without bias, broken by a generic W
    rotations = Orthogonal(3).sample(3, generator)

    def rotation_error(module):
        with torch.no_grad():
            return max(float((module(x @ g.data.T) - module(x) @ g.data.T).abs().max()) for g in rotations)

    scalar = MobiusLinear(3, 3, curvature=-0.6, bias=False).double()
    with torch.no_grad():
        scalar.weight.copy_(1.7 * torch.eye(3))
    generic = MobiusLinear(3, 3, curvature=-0.6, bias=False).double()
    assert rotation_error(scalar) < 1e-12 and rotation_error(generic) > 1e-2
    with pytest.raises(ValueError, match="Poincaré ball"):
        layer(torch.full((2, 3), 0.9, dtype=F64))


def test_distance_logits_are_invariant_only_when_prototypes_move_too(generator):
    layer = HyperbolicDistanceLogits(3, 5, curvature=-0.5).double()
    x, prototypes = _ball_points(8, 3, generator, curvature=-0.5), _ball_points(5, 3, generator, curvature=-0.5)
    assert assert_equivariant(layer, (x, prototypes), dtype=F64, generator=generator, n_samples=8) < 1e-9
    g = layer.group.sample(1, generator)[0]
    moved_inputs_only = layer(PoincareBallField(layer.group).transform(x, g), prototypes)
    assert float((moved_inputs_only - layer(x, prototypes)).abs().max()) > 1e-2
    torch.testing.assert_close(layer(x), layer(x, layer.prototypes.detach()))
    with pytest.raises(ValueError, match=r"\[5, 3\]"):
        layer(x, prototypes[:2])


@pytest.mark.parametrize("case", ["ball", "lorentz", "sphere", "spd-rotations", "spd-scalings"])
def test_geodesic_distances_are_isometry_invariant_in_float64(case, generator):
    field, value = _fields(generator)[case]
    layer = GeodesicDistances(field)
    other = field.transform(value, field.group.sample(1, generator)[0])[:4]  # another valid set of points
    assert assert_equivariant(layer, (value, other), dtype=F64, generator=generator, n_samples=6) < 1e-9
    assert layer(value, other).shape == (value.shape[0], other.shape[0])


def test_geodesic_distances_refuse_fields_without_an_invariant_distance():
    with pytest.raises(TypeError, match="Stiefel"):
        GeodesicDistances(StiefelField(Orthogonal(2), 4, 2))
    with pytest.raises(TypeError, match="permut"):
        GeodesicDistances(PoincareBallField(Permutations(4), dim=2))


def test_orthogonal_linear_preserves_norms_and_mixes_channels_only(generator):
    layer = OrthogonalLinear(4, 6, vector_dim=3).double()
    with torch.no_grad():
        layer.weight.proj_()  # geoopt's projection (polar factor) in float64
    x = torch.randn(5, 4, 3, generator=generator, dtype=F64)
    torch.testing.assert_close(layer(x).norm(dim=(-2, -1)), x.norm(dim=(-2, -1)), rtol=1e-12, atol=0)
    torch.testing.assert_close(layer.matrix.T @ layer.matrix, torch.eye(4, dtype=F64), rtol=0, atol=1e-12)
    assert assert_equivariant(layer, x, dtype=F64, generator=generator) < 1e-12
    narrow = OrthogonalLinear(6, 2, vector_dim=1)
    torch.testing.assert_close(narrow.matrix @ narrow.matrix.T, torch.eye(2), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="4 vector channels"):
        layer(torch.randn(5, 3, 3, dtype=F64))


def test_spd_layers_match_references_and_respect_their_groups(generator):
    sigma = _spd(4, 5, generator)
    log_map = SPDLogMap(5).double()
    torch.testing.assert_close(torch.linalg.matrix_exp(log_map(sigma)), sigma, rtol=1e-10, atol=1e-12)
    assert isinstance(log_map.group, ProductGroup)
    assert assert_equivariant(log_map, sigma, dtype=F64, generator=generator, n_samples=6) < 1e-9
    layer = SPDLayer(5, 3).double()
    w = layer.bimap.weight
    torch.testing.assert_close(torch.linalg.matrix_exp(layer(sigma)), w.T @ sigma @ w, rtol=1e-10, atol=1e-12)
    assert assert_equivariant(layer, sigma, dtype=F64, generator=generator) < 1e-9
    # congruence by a generic rotation is *not* a symmetry of the bilinear map (it is not declared)
    rotation = Orthogonal(5).sample(1, generator)[0].data
    assert float((layer(rotation @ sigma @ rotation.T) - layer(sigma)).abs().max()) > 1e-3
    check_points(SPDBiMap(5, 2).double()(sigma), "spd")
    with pytest.raises(ValueError, match="out_dim ≤ in_dim"):
        SPDBiMap(2, 3)
    with pytest.raises(ValueError, match="positive definite"):
        layer(-sigma)


# -- optimisers ----------------------------------------------------------------------------------------------------

class _Mixed(torch.nn.Module):
    """A ball point, a Stiefel frame and an ordinary weight, fitted to targets."""

    def __init__(self):
        super().__init__()
        self.ball = poincare_ball(-1.0)
        self.point = geoopt.ManifoldParameter(torch.zeros(3, dtype=F64), manifold=self.ball)
        self.frame = geoopt.ManifoldParameter(random_stiefel(5, 2, F64), manifold=geoopt.EuclideanStiefel())
        self.scale = torch.nn.Parameter(torch.ones((), dtype=F64))

    def loss(self, target_point, target_projector):
        return (poincare_distance(self.point, target_point) ** 2 + ((self.frame @ self.frame.T - target_projector) ** 2).sum()
                + (self.scale - 3) ** 2)


@pytest.mark.parametrize("method", ["adam", "sgd"])
def test_riemannian_optimizer_trains_a_mixed_model_on_its_manifolds(method, generator):
    torch.manual_seed(0)
    model = _Mixed()
    target_point = _ball_points(1, 3, generator, scale=1.5)[0]
    target_frame = _stiefel(1, 5, 2, generator)[0]
    optimizer = riemannian_optimizer(model, method, lr=0.05 if method == "adam" else 0.1, manifold_lr=0.05)
    assert [len(g["params"]) for g in optimizer.param_groups] == [2, 1]  # manifold group, Euclidean group
    start = float(model.loss(target_point, target_frame @ target_frame.T))
    for _ in range(300):
        optimizer.zero_grad()
        model.loss(target_point, target_frame @ target_frame.T).backward()
        optimizer.step()  # the post-step hook checks both manifold parameters every step
    assert check_manifold_parameters(model) == 2
    assert float(model.loss(target_point, target_frame @ target_frame.T)) < 1e-3 * start
    assert float((model.frame.T @ model.frame - torch.eye(2, dtype=F64)).abs().max()) < 1e-12


def test_euclidean_steps_leave_the_manifold_and_the_check_says_which_parameter():
    torch.manual_seed(0)
    model = _Mixed()
    plain = torch.optim.Adam(model.parameters(), lr=0.1)  # not Riemannian: steps off the Stiefel manifold
    for _ in range(5):
        plain.zero_grad()
        model.loss(torch.tensor([0.5, 0.0, 0.0], dtype=F64), torch.eye(5, dtype=F64)).backward()
        plain.step()
    with pytest.raises(ManifoldConstraintError, match="'frame' left its manifold"):
        check_manifold_parameters(model)


def test_guards_name_the_parameter_on_nan_gradients_and_off_manifold_points():
    torch.manual_seed(0)
    model = _Mixed()
    optimizer = riemannian_optimizer(model, "adam", lr=0.01)
    model.frame.grad = torch.full_like(model.frame, float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite gradient in parameter 'frame'"):
        optimizer.step()
    # geoopt's canonical Stiefel retraction (Cayley) keeps XᵀX as it is: a frame that drifted stays off the manifold
    frame = geoopt.ManifoldParameter(1.01 * random_stiefel(5, 2, F64), manifold=geoopt.Stiefel())
    optimizer = riemannian_optimizer([("frame", frame)], "sgd", lr=0.01)
    (frame ** 2).sum().backward()
    with pytest.raises(ManifoldConstraintError, match=r"'frame' left its manifold.*XᵀX = I"):
        optimizer.step()
    with pytest.raises(ValueError, match="method must be one of"):
        riemannian_optimizer(model, "lbfgs")


# -- embeddings ----------------------------------------------------------------------------------------------------

def _naive_metrics(distances, hierarchy):
    from sklearn.metrics import average_precision_score

    n = hierarchy.num_nodes
    ranks, aps = [], []
    for u in range(n):
        ancestors = set(hierarchy.closure[hierarchy.closure[:, 0] == u, 1].tolist())
        if not ancestors:
            continue
        row = distances[u].clone()
        for v in ancestors:
            ranks.append(1 + sum(1 for w in range(n) if w != u and w not in ancestors and row[w] < row[v]))
        labels = [1 if w in ancestors else 0 for w in range(n) if w != u]
        scores = [-float(row[w]) for w in range(n) if w != u]
        aps.append(average_precision_score(labels, scores))
    return sum(ranks) / len(ranks), sum(aps) / len(aps)


def test_reconstruction_metrics_match_a_naive_loop_and_scikit_learn(generator):
    tree = random_tree(40, generator)
    points = torch.randn(40, 3, generator=generator, dtype=F64)
    distances = torch.cdist(points, points)
    metrics = reconstruction_metrics(lambda rows: distances[rows], tree, chunk_size=7)
    mean_rank, mean_ap = _naive_metrics(distances, tree)
    assert metrics["mean_rank"] == pytest.approx(mean_rank, rel=1e-12)
    assert metrics["map"] == pytest.approx(mean_ap, rel=1e-12)
    assert metrics["pairs"] == tree.num_edges and metrics["nodes"] == 39
    # a perfect ranking: ancestors closest
    depth = tree.depth().double()
    ideal = torch.full((40, 40), 100.0, dtype=F64)
    ideal[tree.closure[:, 0], tree.closure[:, 1]] = depth[tree.closure[:, 1]]
    perfect = reconstruction_metrics(lambda rows: ideal[rows], tree)
    assert perfect["mean_rank"] == 1.0 and perfect["map"] == 1.0


def test_negatives_exclude_ancestors_and_the_node_itself(generator):
    tree = balanced_tree(2, 4)
    loss = HierarchyLoss(tree, num_negatives=64)
    children = tree.closure[:, 0]
    torch.manual_seed(0)
    negatives, valid = loss.negatives(children)
    keys = set(tree.keys.tolist())
    for u, row, ok in zip(children.tolist(), negatives.tolist(), valid.tolist()):
        for v, good in zip(row, ok):
            assert good == (v != u and u * tree.num_nodes + v not in keys)
    assert EdgeDataset(tree).__getitems__([0, 3]).tolist() == tree.closure[[0, 3]].tolist()
    with pytest.raises(ValueError, match="non-negative"):
        HierarchyLoss(tree, weights=-torch.ones(tree.num_nodes))
    model = HierarchyEmbedding(tree.num_nodes, 2).double()
    with torch.no_grad():
        model.weight[3] = torch.tensor([1.2, 0.0])  # what a Euclidean optimiser can do
    with pytest.raises(ManifoldConstraintError, match="Riemannian optimiser"):
        loss(model, tree.closure[:8])


def test_hyperbolic_embedding_of_a_tree_beats_euclidean_in_two_dimensions():
    """A trained metric: the 2-D Poincaré disk reconstructs a binary tree of depth 5 far better than the plane."""
    tree = balanced_tree(2, 5)
    schedule = Schedule(burn_in=3, main=15, cool_down=2, batch_size=64, negatives=20, burn_in_negatives=5)
    settings = Settings(device="cpu", progress=False)
    result = {}
    for geometry in ("poincare", "euclidean"):
        model, history = train_embedding(tree, geometry, 2, schedule, settings)
        assert len(history) == 20 and history[-1]["train_loss"] < history[schedule.burn_in]["train_loss"]
        check_manifold_parameters(model)
        result[geometry] = reconstruction_metrics(model.distances_from, tree)
    assert result["poincare"]["map"] > result["euclidean"]["map"] + 0.1
    assert result["poincare"]["mean_rank"] < result["euclidean"]["mean_rank"]


def test_embedding_geometries_and_experiment_models():
    for geometry, width in (("poincare", 4), ("lorentz", 5), ("euclidean", 4)):
        model = HierarchyEmbedding(10, 4, geometry).double()
        assert model.weight.shape == (10, width) and model.poincare_points().shape == (10, 4)
        distances = model(torch.tensor([[0, 1, 2]]))
        assert distances.shape == (1, 2) and bool((distances >= 0).all())
    with pytest.raises(ValueError, match="geometry must be one of"):
        HierarchyEmbedding(10, 2, "spherical")
    experiment = PoincareWordNet()
    assert "poincare-2" in experiment.models and "euclidean-10" in experiment.models
    with pytest.raises(ValueError, match="look like 'poincare-5'"):
        experiment._parse("hyperbolic-5")


def test_embedding_refuses_bad_node_ids_and_chunk_sizes():
    model = HierarchyEmbedding(10, 3).double()
    with pytest.raises(ValueError, match=r"node ids must lie in 0\.\.9 \(the embedding has 10 nodes\), got ids 0\.\.10"):
        model(torch.tensor([[0, 1, 10]]))
    with pytest.raises(ValueError, match=r"node ids must lie in 0\.\.9.*got ids -1\.\.2"):
        model.distances_from(torch.tensor([-1, 2]))
    with pytest.raises(TypeError, match=r"int64 node ids \[B, 1 \+ K\] \(K ≥ 1\), got torch.float32"):
        model(torch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"node ids \[B, 1 \+ K\] \(K ≥ 1\), got shape \[3\]"):
        model(torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"chunk_size must be a positive integer, got 0"):
        reconstruction_metrics(model.distances_from, balanced_tree(2, 2), chunk_size=0)
    with pytest.raises(ValueError, match=r"chunk_size must be a positive integer, got True"):
        reconstruction_metrics(model.distances_from, balanced_tree(2, 2), chunk_size=True)


def test_hyperbolic_fields_share_one_construction():
    group = HyperbolicIsometries(3, curvature=-2.0)
    for field_type in (PoincareBallField, LorentzField):
        field = field_type(group)
        assert (field.dim, field.curvature) == (3, -2.0)
        assert field.restrict(Orthogonal(3)).group == Orthogonal(3)
        with pytest.raises(ValueError, match=rf"{field_type.__name__}\(curvature=-1\) cannot be moved by .*curvatures differ"):
            field_type(group, curvature=-1.0)
        with pytest.raises(TypeError, match=rf"{field_type.__name__} is acted on by HyperbolicIsometries"):
            field_type(PositiveScalings())


# -- the orthogonal RNN experiment's pieces ------------------------------------------------------------------------

def test_modrelu_recurrence_backward_matches_autograd(generator):
    from gdl.experiments.orthogonal_rnn import modrelu_recurrence

    drive = torch.randn(3, 9, 5, generator=generator, dtype=F64, requires_grad=True)
    weight = (random_stiefel(5, 5, F64) * 0.9).requires_grad_()
    threshold = (0.3 * torch.randn(5, generator=generator, dtype=F64)).requires_grad_()

    def naive(u, w, b):
        h, states = u.new_zeros(u.shape[0], u.shape[2]), []
        for t in range(u.shape[1]):
            z = h @ w.T + u[:, t]
            h = torch.sign(z) * torch.relu(z.abs() + b)
            states.append(h)
        return torch.stack(states, 1)

    assert torch.autograd.gradcheck(modrelu_recurrence, (drive, weight, threshold))
    torch.testing.assert_close(modrelu_recurrence(drive, weight, threshold), naive(drive, weight, threshold), rtol=1e-13, atol=1e-13)
    upstream = torch.randn(3, 9, 5, generator=generator, dtype=F64)
    fast = torch.autograd.grad((modrelu_recurrence(drive, weight, threshold) * upstream).sum(), (drive, weight, threshold))
    slow = torch.autograd.grad((naive(drive, weight, threshold) * upstream).sum(), (drive, weight, threshold))
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_copy_memory_sequences():
    from gdl.experiments.orthogonal_rnn import CopyRNN, copy_memory, copy_step

    inputs, targets = copy_memory(4, 30, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (4, 50)
    assert bool((inputs[:, :10] >= 1).all() and (inputs[:, :10] <= 8).all()) and bool((inputs[:, 39] == 9).all())
    assert torch.equal(targets[:, -10:], inputs[:, :10]) and int(targets[:, :-10].abs().sum()) == 0
    assert int(inputs[:, 10:39].abs().sum()) == 0 and int(inputs[:, 40:].abs().sum()) == 0
    model = CopyRNN(hidden=8, orthogonal=True)
    metrics = copy_step(model, (inputs, targets))
    assert metrics["loss"].shape == () and 0 <= float(metrics["recall_accuracy"]) <= 1
    assert isinstance(model.recurrent.weight, geoopt.ManifoldParameter) and model.weight.shape == (8, 8)
    from gdl.experiments.orthogonal_rnn import OrthogonalRNN

    experiment, settings = OrthogonalRNN(), Settings(device="cpu", progress=False)
    task = experiment.task("orthogonal", settings)
    assert isinstance(task.optimizer_factory(task.model.parameters()), geoopt.optim.RiemannianAdam)
    assert experiment.task("unconstrained", settings).optimizer_factory is None
    assert experiment.task("unconstrained_clipped", settings).config.grad_clip == 1.0


# -- weight decay and manifold parameters ---------------------------------------------------------------------------

def test_weight_decay_never_reaches_manifold_parameters_and_does_reach_euclidean_ones():
    """One RiemannianSGD step with weight decay: the ball point takes exactly the Riemannian step of its own gradient,
    x − η (1 − c‖x‖²)²/4 ∇f (computed here), and stays in the ball; the ordinary weight takes p − η (∇ + λ p)."""
    c, lr, decay = 0.8, 0.2, 0.5
    start, target = torch.tensor([0.45, -0.3, 0.5], dtype=F64), torch.tensor([-0.1, 0.5, 0.0], dtype=F64)
    w0 = torch.tensor([1.5, -2.0], dtype=F64)
    point = geoopt.ManifoldParameter(start.clone(), manifold=poincare_ball(-c))
    weight = torch.nn.Parameter(w0.clone())
    optimizer = riemannian_optimizer([("point", point), ("weight", weight)], "sgd", lr=lr, weight_decay=decay)
    assert sorted(group["weight_decay"] for group in optimizer.param_groups) == [0.0, decay]
    loss = poincare_distance(point, target, -c) ** 2 + ((weight - 1) ** 2).sum()
    loss.backward()
    point_grad, weight_grad = point.grad.clone(), weight.grad.clone()
    optimizer.step()
    conformal = (1 - c * float(start @ start)) ** 2 / 4  # G(x)⁻¹ on the ball: 1/λ_x²
    riemannian_step = start - lr * conformal * point_grad
    decayed_step = start - lr * conformal * (point_grad + decay * start)
    assert float((riemannian_step - decayed_step).abs().max()) > 1e-3  # far apart (vs 1e-15 below): the test can tell
    torch.testing.assert_close(point.detach(), riemannian_step, rtol=0, atol=1e-15)
    check_points(point.detach(), "poincare", curvature=-c)
    torch.testing.assert_close(weight.detach(), w0 - lr * (weight_grad + decay * w0), rtol=0, atol=1e-15)


def test_riemannian_adam_with_weight_decay_moves_manifold_parameters_as_without_it():
    finals, start = {}, random_stiefel(5, 2, F64)
    for decay in (0.0, 0.3):
        point = geoopt.ManifoldParameter(torch.tensor([0.2, 0.1], dtype=F64), manifold=poincare_ball(-1.0))
        frame = geoopt.ManifoldParameter(start.clone(), manifold=geoopt.EuclideanStiefel())
        weight = torch.nn.Parameter(torch.tensor([1.5, -2.0], dtype=F64))
        optimizer = riemannian_optimizer([("point", point), ("frame", frame), ("weight", weight)], "adam", lr=0.05,
                                         weight_decay=decay)
        for _ in range(5):
            optimizer.zero_grad()
            loss = (poincare_distance(point, torch.tensor([-0.5, 0.3], dtype=F64)) ** 2 + (frame[:2] ** 2).sum()
                    + ((weight - 1) ** 2).sum())
            loss.backward()
            optimizer.step()
        finals[decay] = (point.detach().clone(), frame.detach().clone(), weight.detach().clone())
    assert torch.equal(finals[0.0][0], finals[0.3][0]) and torch.equal(finals[0.0][1], finals[0.3][1])
    assert float((finals[0.0][2] - finals[0.3][2]).abs().max()) > 1e-3
    check_points(finals[0.3][1], "stiefel")
    with pytest.raises(ValueError, match=r"weight_decay must be ≥ 0 .*got -0.1"):
        riemannian_optimizer([("weight", weight)], weight_decay=-0.1)


# -- component representatives: a layer that respects only the identity component fails the check ----------------------

class _OrientedAngle(EquivariantModule, register=False):
    """The signed angle at x between the geodesics to y and z on the Poincaré disk: kept by orientation-preserving
    isometries (conformal, det R = +1), negated by reflections."""

    def __init__(self):
        super().__init__()
        group = HyperbolicIsometries(2)
        self.ball = group.ball
        self.in_type = TupleField((PoincareBallField(group),) * 3)
        self.out_type = TrivialField(group)

    def forward(self, x, y, z):
        u, v = self.ball.logmap(x, y), self.ball.logmap(x, z)
        return torch.atan2(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0], (u * v).sum(-1))


class _FrameOrientation(EquivariantModule, register=False):
    """det of the top p × p block of a frame X: unchanged by X ↦ XQᵀ for det Q = +1, negated for det Q = −1."""

    def __init__(self, group, n=4, p=2):
        super().__init__()
        self.in_type = StiefelField(group, n, p)
        self.out_type = TrivialField(group)
        self.p = p

    def forward(self, x):
        return torch.linalg.det(x[..., : self.p, :])


class _TripleProduct(EquivariantModule, register=False):
    """det[x, y, z] of three unit vectors: SO(3)-invariant, negated by reflections."""

    def __init__(self, group):
        super().__init__()
        self.in_type, self.out_type = TupleField((SphereField(group),) * 3), TrivialField(group)

    def forward(self, x, y, z):
        return torch.linalg.det(torch.stack([x, y, z], dim=-1))


def test_the_isometry_group_of_the_ball_offers_a_reflection_to_the_harness(generator):
    group = HyperbolicIsometries(3, curvature=-0.5)
    (g,) = group.component_representatives()
    a, r = g.data
    assert group.contains(g) and float(torch.linalg.det(r)) == pytest.approx(-1.0, abs=1e-12) and float(a.norm()) > 0.1
    points = [_ball_points(6, 2, generator) for _ in range(3)]
    # no random draws at all: the representative alone catches the orientation-only layer
    report = equivariance_error(_OrientedAngle(), tuple(points), n_samples=0)
    assert len(report.elements) == 1 and report.max_error > 0.1
    # on the identity component (det R = +1) the layer is invariant
    plane = HyperbolicIsometries(2)
    kept = [h for h in plane.sample(12, generator) if float(torch.linalg.det(h.data[1])) > 0]
    layer, field = _OrientedAngle().double(), PoincareBallField(plane)
    assert len(kept) >= 3
    for h in kept:
        moved = [field.transform(p, h) for p in points]
        torch.testing.assert_close(layer(*moved), layer(*points), rtol=0, atol=1e-9)


def test_orthogonal_actions_on_stiefel_and_sphere_always_include_a_reflection(generator):
    frames = _stiefel(5, 4, 2, generator)
    assert assert_equivariant(_FrameOrientation(SpecialOrthogonal(2)), frames, dtype=F64, generator=generator) < 1e-12
    assert equivariance_error(_FrameOrientation(Orthogonal(2)), frames, n_samples=0).max_error > 1e-2
    left = StiefelField(Orthogonal(4), 4, 2, side="left")
    assert left.group.component_representatives() and float(torch.linalg.det(left.group.component_representatives()[0].data)) < 0
    vectors = [torch.nn.functional.normalize(torch.randn(6, 3, generator=generator, dtype=F64), dim=-1) for _ in range(3)]
    assert assert_equivariant(_TripleProduct(SpecialOrthogonal(3)), tuple(vectors), dtype=F64, generator=generator) < 1e-12
    assert equivariance_error(_TripleProduct(Orthogonal(3)), tuple(vectors), n_samples=0).max_error > 1e-2
    # SPD congruence × scalings: the product offers O(n)'s reflection paired with s = 1
    (g,) = SPDLogMap(4).group.component_representatives()
    assert float(torch.linalg.det(g.data[0].data)) < 0 and float(g.data[1].data) == 1.0
    assert PositiveScalings().component_representatives() == []


# -- the hierarchy embedding's symmetry ------------------------------------------------------------------------------

def _embedding_points(geometry, count, generator, curvature=-0.7):
    tangent = 0.6 * torch.randn(count, 3, generator=generator, dtype=F64)
    if geometry == "poincare":
        return poincare_ball(curvature).expmap0(tangent)
    if geometry == "lorentz":
        return lorentz_model(curvature).expmap0(torch.cat([torch.zeros(count, 1, dtype=F64), tangent], dim=1))
    return 2 * tangent


@pytest.mark.parametrize("geometry", ["poincare", "lorentz", "euclidean"])
def test_embedding_distances_are_invariant_under_the_isometries_of_their_space(geometry, generator):
    model = HierarchyEmbedding(9, 3, geometry, curvature=-0.7).double()
    points = _embedding_points(geometry, 9, generator)
    nodes = torch.randint(0, 9, (6, 4), generator=generator)
    in_type, _ = model.field_types(nodes, points)
    assert in_type.group == (Euclidean(3) if geometry == "euclidean" else HyperbolicIsometries(3, -0.7))
    assert assert_equivariant(model, (nodes, points), dtype=F64, generator=generator, n_samples=6) < 1e-9
    # the reference: the distances of the chosen points, written out for each space
    u, v = points[nodes[:, :1]], points[nodes[:, 1:]]
    if geometry == "poincare":
        gap = (1 - 0.7 * (u * u).sum(-1)) * (1 - 0.7 * (v * v).sum(-1))
        expected = torch.acosh(1 + 2 * 0.7 * ((u - v) ** 2).sum(-1) / gap) / math.sqrt(0.7)
    elif geometry == "lorentz":
        inner = -u[..., 0] * v[..., 0] + (u[..., 1:] * v[..., 1:]).sum(-1)
        expected = torch.acosh((-0.7 * inner).clamp(min=1)) / math.sqrt(0.7)
    else:
        expected = ((u - v) ** 2).sum(-1)
    torch.testing.assert_close(model(nodes, points), expected, rtol=1e-7, atol=1e-6)
    with torch.no_grad():
        model.weight.copy_(points)
    torch.testing.assert_close(model(nodes), model(nodes, points), rtol=0, atol=0)


class _ChordOnTheBall(HierarchyEmbedding, register=False):
    """A wrong embedding: the Euclidean chord between ball points, which Möbius maps do not preserve."""

    def distance(self, x, y):
        return (x - y).norm(dim=-1)


def test_a_distance_that_is_not_an_isometry_invariant_fails_the_embedding_check(generator):
    points = _embedding_points("poincare", 9, generator)
    nodes = torch.randint(0, 9, (6, 4), generator=generator)
    assert equivariance_error(_ChordOnTheBall(9, 3, curvature=-0.7).double(), (nodes, points),
                              generator=generator).max_error > 1e-2


def test_embedding_refuses_bad_points_naming_what_was_given(generator):
    model = HierarchyEmbedding(9, 3, curvature=-0.7).double()
    points = _embedding_points("poincare", 9, generator)
    nodes = torch.randint(0, 9, (6, 4), generator=generator)
    with pytest.raises(ValueError, match=r"inside the Poincaré ball .*got 1 of 9 points"):
        model(nodes, torch.cat([points[:-1], torch.full((1, 3), 1.0, dtype=F64)]))
    with pytest.raises(ValueError, match=r"node ids must lie in 0\.\.3 \(the embedding has 4 nodes\), got ids"):
        model(nodes.clamp(min=1) + 3, points[:4])
    with pytest.raises(ValueError, match=r"must be a positive integer, got True"):
        HierarchyEmbedding(10, True)


# -- the contract, for the geodesics, gauges and meshes packages ----------------------------------------------------

def _registered(prefixes=("gdl.geodesics", "gdl.gauges", "gdl.meshes")):
    import importlib
    import pkgutil

    import gdl
    from gdl.core import registry

    for module in pkgutil.walk_packages(gdl.__path__, prefix="gdl."):
        if module.name.startswith(prefixes):
            importlib.import_module(module.name)
    return {name: cls for name, cls in registry().items() if name.startswith(prefixes)}


def test_every_registered_layer_names_three_bad_inputs_and_takes_no_size():
    import inspect

    registered = _registered()
    assert {"GEMNet", "MoNet", "ChebMeshNet", "HierarchyEmbedding", "GEMConv", "MobiusLinear"} <= {
        cls.__name__ for cls in registered.values()}
    for name, cls in registered.items():
        assert not set(inspect.signature(cls.__init__).parameters) & {"num_nodes", "num_points", "num_vertices"}, name
        module, inputs = cls.example(torch.Generator().manual_seed(0))
        bad = module.bad_inputs(*inputs)
        assert len(bad) >= 3, name
        for what, args in bad.items():
            with pytest.raises((ValueError, TypeError), match="got"):
                module(*args)
                pytest.fail(f"{name}: {what} raised nothing")


def test_integers_are_checked_in_one_place():
    with pytest.raises(ValueError, match="out_features must be a positive integer, got True"):
        MobiusLinear(3, True)
    with pytest.raises(ValueError, match=r"K \(the number of Chebyshev terms\) must be a positive integer, got True"):
        from gdl.geodesics import ChebMeshConv

        ChebMeshConv(3, 4, K=True)
    with pytest.raises(ValueError, match="dimension n of HyperbolicIsometries must be a positive integer, got 0"):
        HyperbolicIsometries(0)
    with pytest.raises(ValueError, match="p must be a positive integer, got True"):
        StiefelField(Orthogonal(1), 3, True)
    with pytest.raises(ValueError, match=r"side .* must be one of \('right', 'left'\), got 'up'"):
        StiefelField(Orthogonal(2), 3, 2, side="up")
    with pytest.raises(ValueError, match=r"method must be one of \('adam', 'sgd'\), got 'lbfgs'"):
        riemannian_optimizer([("w", torch.nn.Parameter(torch.zeros(2)))], "lbfgs")


def test_exports_are_plain_torch_with_the_current_weights(generator):
    layer = OrthogonalLinear(4, 6, vector_dim=3).double()
    exported = layer.export()
    linears = [m for m in exported.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 1 and linears[0].bias is None
    assert torch.equal(linears[0].weight, layer.matrix.detach())
    assert not any(isinstance(p, geoopt.ManifoldParameter) for p in exported.parameters())
    x = torch.randn(2, 4, 3, generator=generator, dtype=F64)
    torch.testing.assert_close(exported(x), torch.einsum("oc,bcn->bon", layer.matrix.detach(), x), rtol=0, atol=1e-14)
    with pytest.raises(NotImplementedError, match="MobiusLinear"):
        MobiusLinear(3, 3).export()


def test_the_domains_import_no_other_domain_data_sets_or_training():
    """From the source, lazy imports included: geodesics, gauges and meshes build on core and the foundation only."""
    import ast
    from pathlib import Path

    root = Path(__file__).parent.parent / "gdl"
    forbidden = ("gdl.graphs", "gdl.groups", "gdl.grids", "gdl.datasets", "gdl.experiments", "gdl.train", "e3nn")
    for package in ("geodesics", "gauges", "meshes"):
        for path in (root / package).glob("*.py"):
            tree = ast.parse(path.read_text())
            names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
            names += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
                      and node.level == 0]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
                if package != "geodesics":
                    assert not name.startswith(("geoopt", "gdl.geodesics")), f"{path.name} imports {name}"
            if package == "meshes":  # optional dependencies only inside functions
                top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
                modules = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
                modules += [n.module for n in top if isinstance(n, ast.ImportFrom) and n.module]
                assert not [m for m in modules if m.startswith(("scipy", "torch_geometric"))], path.name


def test_the_hierarchy_lives_in_geodesics_and_the_data_sets_re_export_it():
    import gdl.datasets
    import gdl.datasets.wordnet
    import gdl.geodesics
    from gdl.geodesics.hierarchy import Hierarchy, sorted_contains

    assert gdl.datasets.Hierarchy is Hierarchy is gdl.datasets.wordnet.Hierarchy is gdl.geodesics.Hierarchy
    assert gdl.datasets.wordnet.sorted_contains is sorted_contains
    tree = balanced_tree(2, 2)
    assert isinstance(tree, Hierarchy) and tree.num_nodes == 7
    assert sorted_contains(tree.keys, tree.keys).all() and not sorted_contains(tree.keys, tree.keys + 7 * 7).any()
