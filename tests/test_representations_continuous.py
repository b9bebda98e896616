"""Representations of continuous groups: the Lorentz group O(1,3) ⊃ SO⁺(1,3) (gdl.symmetries.lorentz) and the
SO(3)/O(3) irreps WignerD (gdl.groups.representations), checked through the equivariant-basis solver.

Every count below is a classical one (Clebsch–Gordan series, invariant theory of O(n) and O(1,3)); every solved
basis is checked for the constraint residual, orthonormality, and equivariance under *sampled* group elements
(improper ones included), not only under the generators the solver used.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gdl.groups.representations import (
    WignerD,
    cartesian_basis_change,
    generator_basis_change,
    irreps_representation,
)
from gdl.representations import (
    Determinant,
    MatrixRepresentation,
    StandardRepresentation,
    Trivial,
    basis_dimension,
    check_representation,
    constraint_residual,
    equivariant_basis,
    invariant_basis,
    tensor_power,
)
from gdl.symmetries import Lorentz, Orthogonal, SpecialOrthogonal, boost_matrices, minkowski_metric

O3, SO3 = Orthogonal(3), SpecialOrthogonal(3)
LORENTZ_GROUPS = [Lorentz(), Lorentz(proper=True), Lorentz(orthochronous=True), Lorentz(proper=True, orthochronous=True)]
ETA = minkowski_metric()


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _expm(matrix: torch.Tensor) -> torch.Tensor:
    """torch.linalg.matrix_exp of one matrix, through a batch of two: the single-matrix degree-8 Taylor path has a
    wrong coefficient (pytorch/pytorch#196592, ~1e-10 in float64 near norm 0.04), the batched path is exact."""
    return torch.linalg.matrix_exp(torch.stack([matrix, matrix]))[0]


def _test_elements(group, count: int = 5, seed: int = 7):
    """``count`` random elements and every component representative (parity, time reversal, reflections)."""
    return list(group.sample(count, _seeded(seed))) + list(group.component_representatives())


def _assert_equivariant(basis, rep_in, rep_out, elements) -> None:
    """ρ_out(g) W = W ρ_in(g) for every W in the basis and every g, to 1e-9 relative."""
    if basis.shape[0] == 0:
        return
    for g in elements:
        a_in, a_out = rep_in.matrix(g), rep_out.matrix(g)
        left, right = a_out @ basis, basis @ a_in
        scale = max(1.0, float(left.abs().max()), float(right.abs().max()))
        error = float((left - right).abs().max()) / scale
        assert error <= 1e-9, f"Hom({rep_in!r}, {rep_out!r}) not equivariant under {g!r}: {error:.3g}"


def solve(rep_in, rep_out, elements=None, samples: int = 5):
    """The solved basis, after checking (d) residual and orthonormality and (e) equivariance on sampled elements."""
    basis = equivariant_basis(rep_in, rep_out, allow_empty=True)
    assert basis.dtype == torch.float64 and basis.shape[1:] == (rep_out.dim, rep_in.dim)
    assert constraint_residual(basis, rep_in, rep_out) <= 1e-10
    gram = torch.einsum("aij,bij->ab", basis, basis)
    assert torch.allclose(gram, torch.eye(basis.shape[0], dtype=torch.float64), rtol=0, atol=1e-12)
    _assert_equivariant(basis, rep_in, rep_out, elements if elements is not None
                        else _test_elements(rep_in.group, samples))
    return basis


def _span_residual(basis: torch.Tensor, vectors: torch.Tensor) -> float:
    """max distance of the rows of ``vectors`` [m, n] from the span of the orthonormal rows of ``basis`` [r, n]."""
    projected = (vectors @ basis.T) @ basis
    return float((vectors - projected).abs().max())


# -- the Lorentz group ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("group", LORENTZ_GROUPS, ids=repr)
def test_lorentz_group_law_and_components(group):
    elements = group.sample(16, _seeded(1))
    for g in elements:
        assert float((g.data.T @ ETA @ g.data - ETA).abs().max()) < 1e-12  # ΛᵀηΛ = η
        assert group.contains(g) and group.element(g.data) == g
        assert group.compose(g, group.inverse(g)) == group.identity()
        assert group.compose(group.inverse(g), g) == group.identity()
    a, b, c = elements[:3]
    assert (a * b) * c == a * (b * c)
    # the draw is bounded: |Λ₀₀| = cosh φ ≤ cosh(max_rapidity)
    assert max(abs(float(g.data[0, 0])) for g in elements) <= math.cosh(group.max_rapidity) + 1e-12
    # the components a random draw reaches are exactly those of the representatives (and the identity's)
    signatures = {(round(float(torch.linalg.det(g.data))), int(torch.sign(g.data[0, 0])))
                  for g in group.sample(64, _seeded(2))}
    expected = {(1, 1)} | {(round(float(torch.linalg.det(g.data))), int(torch.sign(g.data[0, 0])))
                           for g in group.component_representatives()}
    assert signatures == expected
    assert len(expected) == 1 + len(group.component_representatives())


def test_lorentz_components_representatives_and_names():
    parity, time_reversal = torch.diag(ETA.diagonal()), torch.diag(-ETA.diagonal())
    full = Lorentz()
    assert [g.data.tolist() for g in full.component_representatives()] == [
        parity.tolist(), time_reversal.tolist(), (-torch.eye(4, dtype=torch.float64)).tolist()]
    assert [g.data.tolist() for g in Lorentz(proper=True).component_representatives()] == [(-torch.eye(4)).tolist()]
    assert [g.data.tolist() for g in Lorentz(orthochronous=True).component_representatives()] == [parity.tolist()]
    assert Lorentz(proper=True, orthochronous=True).component_representatives() == []
    assert [repr(g) for g in LORENTZ_GROUPS] == ["O(1,3)", "SO(1,3)", "O⁺(1,3)", "SO⁺(1,3)"]
    restricted = Lorentz(proper=True, orthochronous=True)
    assert restricted.is_subgroup_of(full) and not full.is_subgroup_of(restricted)
    assert Lorentz(proper=True).intersection(Lorentz(orthochronous=True)) == restricted
    assert not restricted.contains(full.element(parity)) and full.contains(restricted.sample(1, _seeded())[0])
    assert not full.contains(O3.identity())


def test_lorentz_lie_algebra_conventions():
    group = Lorentz()
    algebra = group.lie_algebra()
    assert algebra.shape == (6, 4, 4) and group.lie_algebra_dimension == 6
    for x in algebra:
        assert torch.equal(x.T @ ETA + ETA @ x, torch.zeros(4, 4, dtype=torch.float64))  # x ∈ so(1,3)
    # rotations: gdl's so(3) basis on the spatial block, same order and signs
    assert torch.equal(algebra[:3, 1:, 1:], O3.lie_algebra())
    assert torch.equal(algebra[:3, 0, :], torch.zeros(3, 4, dtype=torch.float64))
    # boosts: exp(φ K_i) is the boost of rapidity φ along axis i, B_00 = cosh φ, B_0i = B_i0 = sinh φ
    for i in range(3):
        direction = torch.zeros(1, 3, dtype=torch.float64)
        direction[0, i] = 1.0
        for phi in (0.4, -1.3):
            expected = boost_matrices(torch.tensor([phi], dtype=torch.float64), direction)[0]
            assert torch.allclose(_expm(phi * algebra[3 + i]), expected, rtol=0, atol=1e-13)
            assert math.isclose(float(expected[0, 1 + i]), math.sinh(phi), abs_tol=1e-15)
    # the standard representation is the group's matrices, dρ its algebra
    for g in LORENTZ_GROUPS:
        check_representation(StandardRepresentation(g))
        check_representation(Determinant(g))
    rep = StandardRepresentation(group)
    assert torch.equal(rep.lie_algebra(), algebra)
    for a in range(6):  # ρ(exp(tX)) = exp(t dρ(X)) through the group's own elements
        element = group.element(_expm(0.7 * algebra[a]))
        assert torch.allclose(rep.matrix(element), _expm(0.7 * rep.lie_algebra()[a]), rtol=0,
                              atol=1e-13)


@pytest.mark.parametrize("group", LORENTZ_GROUPS, ids=repr)
def test_lorentz_invariant_tensors(group):
    vector = StandardRepresentation(group)
    # (b) T(0,2) → trivial: the metric η, and only it
    metric_form = solve(tensor_power(vector, 0, 2), Trivial(group))
    assert metric_form.shape[0] == 1
    direction = ETA.reshape(-1) / ETA.norm()
    sign = float(torch.sign(metric_form[0, 0] @ direction))
    assert torch.allclose(sign * metric_form[0, 0], direction, rtol=0, atol=1e-12)
    # T(1,1) → trivial: the trace (δ)
    trace = solve(tensor_power(vector, 1, 1), Trivial(group))
    delta = torch.eye(4, dtype=torch.float64).reshape(-1) / 2
    assert trace.shape[0] == 1
    assert torch.allclose(float(torch.sign(trace[0, 0] @ delta)) * trace[0, 0], delta, rtol=0, atol=1e-12)
    # Hom(V, V) = the multiples of the identity
    endomorphisms = solve(vector, vector)
    assert endomorphisms.shape[0] == 1
    assert torch.allclose(endomorphisms[0].abs(), torch.eye(4, dtype=torch.float64) / 2, rtol=0, atol=1e-12)
    # T(0,4): the three pairings η⊗η, plus the Levi-Civita ε for the proper groups (det Λ = 1 keeps ε)
    four = solve(Trivial(group), tensor_power(vector, 0, 4))[:, :, 0]
    assert four.shape[0] == (4 if group.proper else 3)
    pairings = torch.stack([torch.einsum(spec, ETA, ETA).reshape(-1)
                            for spec in ("ab,cd->abcd", "ac,bd->abcd", "ad,bc->abcd")])
    assert _span_residual(four, pairings) < 1e-12
    levi_civita = torch.zeros(4, 4, 4, 4, dtype=torch.float64)
    for perm in itertools.permutations(range(4)):
        inversions = sum(perm[i] > perm[j] for i in range(4) for j in range(i + 1, 4))
        levi_civita[perm] = (-1) ** inversions
    epsilon_residual = _span_residual(four, levi_civita.reshape(1, -1))
    assert (epsilon_residual < 1e-12) if group.proper else (epsilon_residual > 0.5)


def test_lorentz_equivariance_uses_large_boosts():
    """Equivariance of T(0,2) → trivial holds for boosts far outside the sampled range (rapidity 4)."""
    group = Lorentz(max_rapidity=4.0)
    vector = StandardRepresentation(group)
    solve(tensor_power(vector, 0, 2), Trivial(group), elements=_test_elements(group, 8, seed=3))


# -- SO(3) / O(3): Wigner-D -------------------------------------------------------------------------------------
@pytest.mark.parametrize("group", [SO3, O3], ids=repr)
@pytest.mark.parametrize("degree", range(5))
def test_wigner_d_is_a_representation_and_integrates_its_lie_algebra(group, degree):
    for parity in (1, -1):
        rep = WignerD(group, degree, parity)
        check_representation(rep, tolerance=1e-12)
        assert rep.dim == 2 * degree + 1
        for g in _test_elements(group, 4):
            assert torch.allclose(rep.matrix(g) @ rep.matrix(g).T, torch.eye(rep.dim, dtype=torch.float64), rtol=0,
                                  atol=1e-13)
        algebra = rep.lie_algebra()
        assert algebra.shape == (3, rep.dim, rep.dim)
        for k, generator in enumerate(O3.lie_algebra()):
            for t in (0.3, -1.7, 3.1, math.pi):
                element = group.element(_expm(t * generator))
                error = (_expm(t * algebra[k]) - rep.matrix(element)).abs().max()
                assert float(error) < 1e-12, (rep, k, t, float(error))


def test_wigner_d_lie_algebra_is_a_homomorphism_of_brackets():
    """[dρ(L_a), dρ(L_b)] has the structure constants of gdl's basis (found from the 3×3 matrices, not from e3nn)."""
    basis = O3.lie_algebra()
    flat = basis.reshape(3, -1)
    for degree in range(1, 5):
        algebra = WignerD(SO3, degree).lie_algebra()
        for a, b in itertools.combinations(range(3), 2):
            bracket = basis[a] @ basis[b] - basis[b] @ basis[a]
            constants = flat @ bracket.reshape(-1) / 2  # ⟨L_j, L_k⟩_F = 2 δ_jk
            image = algebra[a] @ algebra[b] - algebra[b] @ algebra[a]
            assert torch.allclose(image, torch.einsum("c,cij->ij", constants, algebra), rtol=0, atol=1e-12)


def test_wigner_d_degree_one_is_the_standard_representation_up_to_the_basis_change():
    permutation = cartesian_basis_change()
    assert torch.equal(permutation @ permutation.T, torch.eye(3, dtype=torch.float64))
    assert torch.equal(permutation.abs().sum(0), torch.ones(3, dtype=torch.float64))
    vector, odd, even = StandardRepresentation(O3), WignerD(O3, 1, -1), WignerD(O3, 1, 1)
    for g in _test_elements(O3, 6):
        expected = permutation @ vector.matrix(g) @ permutation.T
        assert torch.allclose(odd.matrix(g), expected, rtol=0, atol=1e-13)
        assert torch.allclose(even.matrix(g), torch.linalg.det(g.data) * expected, rtol=0, atol=1e-13)  # pseudovector
    assert torch.allclose(odd.lie_algebra(), permutation @ O3.lie_algebra() @ permutation.T, rtol=0, atol=1e-14)
    # the solver agrees: Hom(V, 1o) is one-dimensional and spanned by P; Hom(V, 1e) = 0 for O(3), not for SO(3)
    intertwiner = solve(vector, odd)
    assert intertwiner.shape[0] == 1
    assert torch.allclose(intertwiner[0].abs(), permutation / math.sqrt(3), rtol=0, atol=1e-12)
    assert basis_dimension(vector, even) == 0
    assert basis_dimension(StandardRepresentation(SO3), WignerD(SO3, 1)) == 1


def test_wigner_d_matches_e3nn():
    from e3nn import o3

    from gdl.groups import IrrepsField

    A = generator_basis_change()
    assert torch.equal(A.abs().sum(0), torch.ones(3, dtype=torch.float64)) and set(A.unique().tolist()) <= {-1, 0, 1}
    for degree in range(5):
        e3nn_generators = o3.so3_generators(degree).to(torch.float64)  # float32 inside e3nn
        ours = WignerD(O3, degree).lie_algebra()
        assert torch.allclose(torch.einsum("ak,kij->aij", A, ours), e3nn_generators, rtol=0, atol=1e-6)
        for parity in (1, -1):
            rep = WignerD(O3, degree, parity)
            for g in _test_elements(O3, 3):
                reference = o3.Irrep(degree, parity).D_from_matrix(g.data)
                assert torch.allclose(rep.matrix(g), reference.to(torch.float64), rtol=0, atol=1e-5)
    # irreps strings: the same matrices as gdl's IrrepsField (the layers' field type), to float64 round-off
    for group in (SO3, O3):
        text = "2x0e + 1x1o + 1x1e + 2x2o + 1x3e"
        rep = irreps_representation(text, group)
        field = IrrepsField(group, text)
        assert rep.dim == field.dim == 2 + 3 + 3 + 10 + 7
        for g in _test_elements(group, 3):
            assert torch.allclose(rep.matrix(g), field.representation(g), rtol=0, atol=1e-12)


def test_wigner_d_is_accurate_near_the_euler_poles():
    """Rotations about e3nn's y axis, slightly tilted: β ≈ 0 and ≈ π, where acos-based angles lose digits."""
    rep = WignerD(O3, 3, -1)
    generators = O3.lie_algebra()
    about_y = -generators[1]  # L_02 = E_20 − E_02 rotates z into x: minus the rotation about y
    for tilt in (0.0, 1e-9, 1e-6, math.pi - 1e-9):
        for angle in (0.8, -2.9):
            a = O3.element(_expm(angle * about_y))
            b = O3.element(_expm(tilt * generators[2]))
            product = rep.matrix(a * b)
            assert torch.allclose(product, rep.matrix(a) @ rep.matrix(b), rtol=0, atol=1e-12), (tilt, angle)


def test_wigner_d_small_properties():
    assert WignerD(SO3, 2, -1) == WignerD(SO3, 2) and WignerD(SO3, 2, -1).parity == 1  # SO(3) ignores parity
    assert WignerD(O3, 2, -1) != WignerD(O3, 2)
    assert WignerD(O3, 0).is_trivial and not WignerD(O3, 0, -1).is_trivial and WignerD(SO3, 0, -1).is_trivial
    assert WignerD(O3, 3, -1).dual() == WignerD(O3, 3, -1)
    assert [repr(WignerD(O3, 1, -1)), repr(WignerD(O3, 2)), repr(WignerD(SO3, 2))] == ["1o", "2e", "D2"]
    reflection = O3.component_representatives()[0]
    assert torch.equal(WignerD(O3, 0, -1).matrix(reflection), -torch.ones(1, 1, dtype=torch.float64))
    rep = irreps_representation("2x0e + 1x1o", O3)
    assert [str(part) for part in rep.summands()] == ["0e", "0e", "1o"]
    assert rep.dim == 5


# -- (a) Clebsch–Gordan counting --------------------------------------------------------------------------------
def test_clebsch_gordan_counting_so3():
    counts = {}
    for l1, l2, total in itertools.product(range(4), repeat=3):
        counts[l1, l2, total] = basis_dimension(WignerD(SO3, l1) * WignerD(SO3, l2), WignerD(SO3, total))
    expected = {key: int(abs(key[0] - key[1]) <= key[2] <= key[0] + key[1]) for key in counts}
    assert counts == expected
    # spot-check equivariance of a few solved CG maps on sampled rotations
    for l1, l2, total in [(1, 1, 0), (1, 1, 1), (1, 2, 3), (2, 2, 2), (3, 3, 1)]:
        solve(WignerD(SO3, l1) * WignerD(SO3, l2), WignerD(SO3, total))


def test_clebsch_gordan_counting_o3_with_parities():
    mismatches = []
    for l1, l2, total in itertools.product(range(4), repeat=3):
        allowed = abs(l1 - l2) <= total <= l1 + l2
        for p1, p2, p in itertools.product((1, -1), repeat=3):
            count = basis_dimension(WignerD(O3, l1, p1) * WignerD(O3, l2, p2), WignerD(O3, total, p))
            if count != int(allowed and p1 * p2 == p):
                mismatches.append((l1, p1, l2, p2, total, p, count))
    assert not mismatches
    # equivariance under sampled improper elements (reflections, the inversion −I)
    elements = _test_elements(O3, 5) + [O3.element(-torch.eye(3, dtype=torch.float64))]
    for (l1, p1), (l2, p2), (total, p) in [((1, -1), (1, -1), (0, 1)), ((1, -1), (1, -1), (1, 1)),
                                           ((1, -1), (2, 1), (2, -1)), ((2, -1), (3, -1), (4, 1))]:
        basis = solve(WignerD(O3, l1, p1) * WignerD(O3, l2, p2), WignerD(O3, total, p), elements=elements)
        assert basis.shape[0] == 1


# -- (c) invariants of T^k for O(3) and SO(3) --------------------------------------------------------------------
@pytest.mark.parametrize("group, expected", [(O3, [1, 0, 1, 0, 3]), (SO3, [1, 0, 1, 1, 3])], ids=["O(3)", "SO(3)"])
def test_invariants_of_cartesian_tensors(group, expected):
    """δ in T², ε in T³ (SO(3) only: a reflection flips it), the three pairings δ⊗δ in T⁴."""
    for vector in (StandardRepresentation(group), WignerD(group, 1, -1)):
        counts = [solve(tensor_power(vector, k), Trivial(group)).shape[0] for k in range(5)]
        assert counts == expected, (vector, counts)
    # the pseudovector 1e: ε is invariant under O(3) too (each factor's det cancels with ε's)
    assert basis_dimension(WignerD(group, 1, 1) ** 3, Trivial(group)) == 1


def test_invariant_basis_of_t2_is_the_metric_for_o3():
    invariant = invariant_basis(tensor_power(StandardRepresentation(O3), 0, 2))
    assert torch.allclose(invariant.abs(), torch.eye(3, dtype=torch.float64).reshape(1, -1) / math.sqrt(3), rtol=0,
                          atol=1e-12)


# -- (f) bad input -----------------------------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match=r"SO\(3\).*O\(3\)|O\(3\).*SO\(3\)"):
        equivariant_basis(WignerD(SO3, 1), WignerD(O3, 1, -1))
    with pytest.raises(TypeError, match=r"SO\(3\).*O\(3\)|O\(3\).*SO\(3\)"):
        basis_dimension(WignerD(SO3, 1) * WignerD(O3, 1), WignerD(SO3, 0))
    with pytest.raises(ValueError, match="Minkowski metric"):
        Lorentz().element(torch.eye(4, dtype=torch.float64) * 2)
    with pytest.raises(ValueError, match="Minkowski metric"):
        euclidean_rotation_of_t_and_x = torch.zeros(4, 4, dtype=torch.float64)
        euclidean_rotation_of_t_and_x[1, 0], euclidean_rotation_of_t_and_x[0, 1] = 0.5, -0.5
        Lorentz().element(_expm(euclidean_rotation_of_t_and_x))  # orthogonal, but not a Lorentz map
    with pytest.raises(ValueError, match="4×4"):
        Lorentz().element(torch.eye(3))
    with pytest.raises(ValueError, match="det"):
        Lorentz(proper=True).element(torch.diag(ETA.diagonal()))
    with pytest.raises(ValueError, match="reverses time"):
        Lorentz(orthochronous=True).element(-torch.eye(4))
    with pytest.raises(ValueError, match="degree"):
        WignerD(SO3, -1)
    with pytest.raises(ValueError, match="parity"):
        WignerD(O3, 1, 2)
    with pytest.raises(TypeError, match=r"O\(2\)"):
        WignerD(Orthogonal(2), 1)
    with pytest.raises(ValueError, match="irreps"):
        irreps_representation("not irreps", O3)
    # hand-written "representations" that are not homomorphisms
    with pytest.raises(ValueError, match="not a representation"):
        check_representation(MatrixRepresentation(O3, 3, lambda g: g.data @ g.data, name="g ↦ g²"))
    with pytest.raises(ValueError, match=r"ρ\(e\)"):
        check_representation(MatrixRepresentation(O3, 2, lambda g: torch.tensor([[1.0, 1.0], [0.0, 1.0]]),
                                                  name="constant"))
    with pytest.raises(ValueError, match="not a representation"):
        check_representation(MatrixRepresentation(Lorentz(), 4, lambda g: g.data.T, name="Λ ↦ Λᵀ"))
