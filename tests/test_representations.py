"""gdl.representations: the representation algebra, the equivariant-basis solver and the layers solved from it.

Every basis is checked against numbers that do not come from the solver: Bell numbers and Stirling counts for S_n
on tensors, character inner products for finite groups, the dense SVD against the orbit and iterative methods,
and ρ_out(g) W = W ρ_in(g) on sampled elements (not only the generators the solver imposes). The layers are
compared with Deep Sets' layer (gdl.graphs.sets), a float64 reference the solver never sees.
"""

import time

import pytest
import torch

from gdl.graphs.sets import EquivariantSetLayer
from gdl.groups import CyclicGroup, DihedralGroup
from gdl.representations import (
    EMLP,
    Determinant,
    EquivariantLinear,
    MatrixRepresentation,
    QuotientRepresentation,
    RegularRepresentation,
    StandardRepresentation,
    Trivial,
    basis_dimension,
    character_inner_product,
    check_representation,
    constraint_residual,
    equivariant_basis,
    equivariant_blocks,
    invariant_basis,
    permutation_representation,
    tensor_power,
)
from gdl.symmetries import Orthogonal, Permutations, SpecialOrthogonal
from gdl.testing import assert_equivariant

BELL = (1, 1, 2, 5, 15, 52)
O3, SO3 = Orthogonal(3), SpecialOrthogonal(3)
V3 = StandardRepresentation(O3)


def stirling2(m: int, j: int) -> int:
    """S(m, j): the number of partitions of m labelled positions into exactly j blocks."""
    if m == j:
        return 1
    if j == 0 or j > m:
        return 0
    return j * stirling2(m - 1, j) + stirling2(m - 1, j - 1)


def partitions_with_at_most(m: int, n: int) -> int:
    """Set partitions of m positions with at most n blocks: the orbits of S_n on [n]^m."""
    return sum(stirling2(m, j) for j in range(n + 1))


def planar_standard(group):
    """C_n / D_n on R² by their matrices A(g) (a MatrixRepresentation: Standard/Determinant need matrix data)."""
    return MatrixRepresentation(group, 2, group.matrix, name="A")


def planar_determinant(group):
    return MatrixRepresentation(group, 1, lambda g: torch.linalg.det(group.matrix(g)).round().reshape(1, 1), name="det A")


def projector(basis: torch.Tensor) -> torch.Tensor:
    flat = basis.reshape(basis.shape[0], -1)
    return flat.T @ flat


def sampled(group, count=5, seed=0):
    """``count`` random elements (enumerating a finite group's elements when it has few)."""
    generator = torch.Generator().manual_seed(seed)
    return group.sample(count, generator)


# -- (a) Bell numbers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k_in,k_out", [(a, b) for a in range(5) for b in range(5) if a + b <= 4])
def test_sn_on_tensors_has_bell_many_maps(k_in, k_out):
    V = permutation_representation(Permutations(5))
    assert basis_dimension(tensor_power(V, k_in), tensor_power(V, k_out)) == BELL[k_in + k_out]


@pytest.mark.parametrize("n,k_in,k_out", [(2, 2, 2), (3, 2, 2), (2, 1, 2), (1, 1, 1)])
def test_small_n_counts_partitions_with_at_most_n_blocks(n, k_in, k_out):
    V = permutation_representation(Permutations(n))
    rep_in, rep_out = tensor_power(V, k_in), tensor_power(V, k_out)
    dimension = basis_dimension(rep_in, rep_out)
    assert dimension == partitions_with_at_most(k_in + k_out, n) < BELL[k_in + k_out]
    # the dense solver agrees with the orbit count
    assert equivariant_basis(rep_in, rep_out, method="dense").shape[0] == dimension


# -- (b) methods agree on the subspace ----------------------------------------------------------------------------
def _orbit_cases():
    S4 = Permutations(4)
    V = permutation_representation(S4)
    cases = [("S4 T2→T2", V * V, V * V), ("S4 V→T2", V, V * V)]
    for group in (CyclicGroup(5), DihedralGroup(4), DihedralGroup(3)):
        regular = RegularRepresentation(group)
        cases.append((f"{group!r} regular", regular, regular))
    D4 = DihedralGroup(4)
    cases.append(("D4 regular→D4/C4", RegularRepresentation(D4), QuotientRepresentation(D4, CyclicGroup(4))))
    return cases


@pytest.mark.parametrize("name,rep_in,rep_out", _orbit_cases(), ids=[c[0] for c in _orbit_cases()])
def test_orbit_and_dense_bases_span_the_same_space(name, rep_in, rep_out):
    orbits = equivariant_basis(rep_in, rep_out, method="orbits")
    dense = equivariant_basis(rep_in, rep_out, method="dense")
    assert orbits.shape == dense.shape
    assert float((projector(orbits) - projector(dense)).abs().max()) <= 1e-10


@pytest.mark.parametrize("rep_in,rep_out,count", [(V3 * V3, V3 * V3, 3), (Trivial(O3), V3 ** 4, 3)],
                         ids=["O3 T2→T2", "O3 trivial→V⊗4"])
def test_iterative_and_dense_bases_span_the_same_space(rep_in, rep_out, count):
    start = time.perf_counter()
    iterative = equivariant_basis(rep_in, rep_out, method="iterative")
    elapsed = time.perf_counter() - start
    dense = equivariant_basis(rep_in, rep_out, method="dense")
    assert iterative.shape[0] == dense.shape[0] == count  # δ_ij δ_kl, δ_ik δ_jl, δ_il δ_jk
    assert float((projector(iterative) - projector(dense)).abs().max()) <= 1e-8
    assert constraint_residual(iterative, rep_in, rep_out) <= 1e-8
    assert elapsed < 10.0


# -- (c) characters ------------------------------------------------------------------------------------------------
def _finite_families():
    families = {}
    for group in (DihedralGroup(4), DihedralGroup(3), CyclicGroup(4), CyclicGroup(6)):
        reps = {"regular": RegularRepresentation(group), "standard": planar_standard(group),
                "determinant": planar_determinant(group)}
        if isinstance(group, DihedralGroup) and group.reflections:
            reps["quotient D/C"] = QuotientRepresentation(group, CyclicGroup(group.n))
        reps["quotient G/G"] = QuotientRepresentation(group, group)
        families[repr(group)] = reps
    S4 = Permutations(4)
    V = permutation_representation(S4)
    families["S4"] = {"regular": RegularRepresentation(S4), "standard": StandardRepresentation(S4),
                      "determinant": Determinant(S4), "quotient G/G": QuotientRepresentation(S4, S4), "T2": V * V}
    return families


FAMILIES = _finite_families()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_character_inner_product_is_the_basis_dimension(family):
    reps = FAMILIES[family]
    for a_name, a in reps.items():
        check_representation(a)
        for b_name, b in reps.items():
            expected = character_inner_product(a, b)
            assert abs(expected - round(expected)) < 1e-9, (a_name, b_name, expected)
            assert basis_dimension(a, b) == round(expected), f"{family}: Hom({a_name}, {b_name})"


def test_character_counts_of_known_cases():
    D4 = DihedralGroup(4)
    regular = RegularRepresentation(D4)
    assert basis_dimension(regular, regular) == 8  # |G|: the group convolutions
    assert basis_dimension(planar_standard(D4), planar_standard(D4)) == 1  # irreducible over R
    assert basis_dimension(planar_standard(CyclicGroup(4)), planar_standard(CyclicGroup(4))) == 2  # I and J
    assert basis_dimension(Determinant(Permutations(4)), permutation_representation(Permutations(4))) == 0


# -- (d) every basis is orthonormal and equivariant on sampled elements --------------------------------------------
def _basis_cases():
    S4 = Permutations(4)
    P = permutation_representation(S4)
    D4 = DihedralGroup(4)
    SO2, O2 = SpecialOrthogonal(2), Orthogonal(2)
    V_so3 = StandardRepresentation(SO3)
    return [
        ("S4 T2→T2", P * P, P * P, "auto"),
        ("S4 V⊕1→T2⊕V", P + Trivial(S4), P * P + P, "auto"),
        ("S4 V*→V", P.dual(), P, "auto"),
        ("D4 regular→regular⊕A", RegularRepresentation(D4), RegularRepresentation(D4) + planar_standard(D4), "auto"),
        ("O3 T2→T2", V3 * V3, V3 * V3, "auto"),
        ("O3 2V⊕1→T2⊕V⊕1", 2 * V3 + Trivial(O3), V3 * V3 + V3 + Trivial(O3), "auto"),
        ("O3 V*⊗V→1", V3.dual() * V3, Trivial(O3), "auto"),
        ("O3 1→V⊗4 iterative", Trivial(O3), V3 ** 4, "iterative"),
        ("SO3 T2→V (cross product)", V_so3 * V_so3, V_so3, "auto"),
        ("SO2 V→V", StandardRepresentation(SO2), StandardRepresentation(SO2), "auto"),
        ("O2 T2→1", StandardRepresentation(O2) ** 2, Trivial(O2), "dense"),
        ("O3 det⊗V→V⊗V (ε)", Determinant(O3) * V3, V3 * V3, "auto"),
    ]


BASIS_CASES = _basis_cases()


@pytest.mark.parametrize("name,rep_in,rep_out,method", BASIS_CASES, ids=[c[0] for c in BASIS_CASES])
def test_every_basis_is_orthonormal_and_equivariant(name, rep_in, rep_out, method):
    basis = equivariant_basis(rep_in, rep_out, method=method)
    r = basis.shape[0]
    assert basis.dtype == torch.float64 and basis.shape[1:] == (rep_out.dim, rep_in.dim)
    flat = basis.reshape(r, -1)
    assert float((flat @ flat.T - torch.eye(r, dtype=torch.float64)).abs().max()) <= 1e-10
    tolerance = 1e-8 if method == "iterative" else 1e-10
    assert constraint_residual(basis, rep_in, rep_out) <= tolerance
    for g in sampled(rep_in.group):
        error = float((rep_out.matrix(g) @ basis - basis @ rep_in.matrix(g)).abs().max())
        assert error <= tolerance, f"{name}: ρ_out(g) W ≠ W ρ_in(g) by {error:.3g} at {g!r}"


def test_known_dimensions():
    SO3_V = StandardRepresentation(SO3)
    assert basis_dimension(SO3_V * SO3_V, SO3_V) == 1  # the cross product (ε_ijk) exists for SO(3) ...
    assert basis_dimension(V3 * V3, V3) == 0  # ... but not for O(3) (it is a pseudovector)
    assert basis_dimension(Determinant(O3) * V3 * V3, V3) == 1  # unless one factor is a pseudovector
    assert basis_dimension(StandardRepresentation(SpecialOrthogonal(2)), StandardRepresentation(SpecialOrthogonal(2))) == 2
    assert basis_dimension(StandardRepresentation(Orthogonal(2)), StandardRepresentation(Orthogonal(2))) == 1
    invariants = invariant_basis(V3 * V3)
    assert invariants.shape == (1, 9)
    torch.testing.assert_close(invariants[0].abs(), torch.eye(3, dtype=torch.float64).reshape(-1) / 3 ** 0.5,
                               rtol=0, atol=1e-12)


# -- (e) the algebra --------------------------------------------------------------------------------------------------
def test_tensor_product_direct_sum_and_dual_matrices():
    S4 = Permutations(4)
    P = permutation_representation(S4)
    D4 = DihedralGroup(4)
    pairs = [(P, Determinant(S4)), (V3, Determinant(O3) * V3), (RegularRepresentation(D4), planar_standard(D4))]
    for a, b in pairs:
        for g in sampled(a.group):
            kron = torch.kron(a.matrix(g).contiguous(), b.matrix(g).contiguous())  # torch.kron fails on mixed strides
            torch.testing.assert_close((a * b).matrix(g), kron, rtol=0, atol=1e-12)
            torch.testing.assert_close((a + b).matrix(g), torch.block_diag(a.matrix(g), b.matrix(g)), rtol=0, atol=0)
            inverse = a.group.inverse(g)
            torch.testing.assert_close(a.dual().matrix(g), a.matrix(inverse).T, rtol=0, atol=0)
            torch.testing.assert_close((3 * a).matrix(g), torch.block_diag(*[a.matrix(g)] * 3), rtol=0, atol=0)
            torch.testing.assert_close((a ** 2).matrix(g), torch.kron(a.matrix(g).contiguous(), a.matrix(g).contiguous()),
                                       rtol=0, atol=1e-12)
        check_representation(a * b)
        check_representation(a + b.dual())


def test_dual_of_a_non_orthogonal_representation():
    """ρ*(g) = ρ(g⁻¹)ᵀ differs from ρ(g) when ρ is not orthogonal; T(1, 1) = V ⊗ V* has the identity as invariant."""
    C4 = CyclicGroup(4)
    shear = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    rho = MatrixRepresentation(C4, 2, lambda g: shear @ C4.matrix(g) @ torch.linalg.inv(shear), name="σ")
    check_representation(rho)
    check_representation(rho.dual())
    g = C4.element(rotation=1)
    assert float((rho.dual().matrix(g) - rho.matrix(g)).abs().max()) > 0.1
    invariants = invariant_basis(tensor_power(rho, 1, 1))
    assert invariants.shape[0] == basis_dimension(rho, rho) == 2
    identity = torch.eye(2, dtype=torch.float64).reshape(-1)
    residual = identity - invariants.T @ (invariants @ identity)  # vec(I) lies in the invariant space
    assert float(residual.abs().max()) <= 1e-12


def _act_cases():
    S4 = Permutations(4)
    P = permutation_representation(S4)
    D4 = DihedralGroup(4)
    return [P * P * Determinant(S4), P + Determinant(S4) * P, RegularRepresentation(D4) * planar_standard(D4),
            V3 * (V3 + Trivial(O3)) * V3.dual(), (V3 * V3) + Determinant(O3) + V3.dual() * V3, tensor_power(P, 1, 2)]


@pytest.mark.parametrize("rep", _act_cases(), ids=repr)
def test_act_and_act_lie_equal_the_matrix_products(rep):
    generator = torch.Generator().manual_seed(3)
    vectors = torch.randn(rep.dim, 4, dtype=torch.float64, generator=generator)
    for g in sampled(rep.group) + rep.group.discrete_generators():
        matrix = rep.matrix(g)
        for transpose in (False, True):
            expected = (matrix.T if transpose else matrix) @ vectors
            torch.testing.assert_close(rep.act(g, vectors, transpose=transpose), expected, rtol=0, atol=1e-12)
    algebra = rep.lie_algebra()
    assert algebra.shape == (rep.group.lie_algebra_dimension, rep.dim, rep.dim)
    for transpose in (False, True):
        expected = (algebra.transpose(1, 2) if transpose else algebra) @ vectors
        torch.testing.assert_close(rep.act_lie(vectors, transpose=transpose), expected, rtol=0, atol=1e-12)


def test_lie_algebra_of_a_tensor_product_is_the_derivative():
    rep = V3 * V3
    algebra, group_algebra = rep.lie_algebra(), O3.lie_algebra()
    for t in (0.3, -1.1):
        for a in range(O3.lie_algebra_dimension):
            g = O3.element(torch.matrix_exp(t * group_algebra[a]))
            torch.testing.assert_close(torch.matrix_exp(t * algebra[a]), rep.matrix(g), rtol=0, atol=1e-12)
    # and of the dual: dρ* = −dρᵀ
    torch.testing.assert_close(V3.dual().lie_algebra(), -V3.lie_algebra().transpose(1, 2), rtol=0, atol=0)


# -- (f) caching ----------------------------------------------------------------------------------------------------
def test_a_second_call_is_cached_and_returns_a_copy():
    fresh = MatrixRepresentation(O3, 3, lambda g: g.data, lie_algebra_matrices=O3.lie_algebra(), name="V'")  # cold cache
    start = time.perf_counter()
    first = equivariant_basis(fresh * fresh, fresh * fresh)
    cold = time.perf_counter() - start
    kept = first.clone()
    first.mul_(0.0)  # mutating the returned tensor ...
    warm = []
    for _ in range(5):  # the fastest of a few calls: robust to a busy machine
        start = time.perf_counter()
        again = equivariant_basis(fresh * fresh, fresh * fresh)
        warm.append(time.perf_counter() - start)
        torch.testing.assert_close(again, kept, rtol=0, atol=0)  # ... does not change the next call
        again.add_(1.0)
    assert min(warm) < cold / 5 and min(warm) < 5e-3, (cold, warm)


def test_blocks_are_copies_too():
    P = permutation_representation(Permutations(3))
    blocks = equivariant_blocks(2 * P, P + Trivial(P.group))
    kept = [block.basis.clone() for block in blocks]
    for block in blocks:
        block.basis.mul_(0.0)
    for block, basis in zip(equivariant_blocks(2 * P, P + Trivial(P.group)), kept):
        torch.testing.assert_close(block.basis, basis, rtol=0, atol=0)
    assert equivariant_basis(2 * P, P + Trivial(P.group)).abs().max() > 0


# -- (g) bad input ----------------------------------------------------------------------------------------------
def test_representations_of_different_groups_are_refused_by_name():
    V4, V5 = permutation_representation(Permutations(4)), permutation_representation(Permutations(5))
    for combine in (lambda: equivariant_basis(V4, V5), lambda: basis_dimension(V5, V4), lambda: V4 + V5,
                    lambda: V4 * V5, lambda: EquivariantLinear(V4, V5), lambda: character_inner_product(V4, V5)):
        with pytest.raises(TypeError) as raised:
            combine()
        assert repr(V4.group) in str(raised.value) and repr(V5.group) in str(raised.value), str(raised.value)


def test_a_non_homomorphism_is_refused():
    D4 = DihedralGroup(4)
    # ρ(g) = A(g) transposed is an anti-homomorphism: ρ(gh) = ρ(h) ρ(g) ≠ ρ(g) ρ(h) for non-commuting g, h
    wrong = MatrixRepresentation(D4, 2, lambda g: D4.matrix(g).T, name="Aᵀ")
    with pytest.raises(ValueError, match="not a representation"):
        check_representation(wrong)
    offset = MatrixRepresentation(Permutations(3), 3, lambda g: torch.eye(3)[g.data] * 2, name="2P")
    with pytest.raises(ValueError, match="identity"):
        check_representation(offset)


def test_a_wrong_matrix_shape_is_refused():
    bad = MatrixRepresentation(Permutations(3), 3, lambda g: torch.eye(4), name="too big")
    with pytest.raises(ValueError, match=r"\[3, 3\].*got shape \[4, 4\]"):
        check_representation(bad)
    with pytest.raises(ValueError, match="got"):
        MatrixRepresentation(O3, 3, lambda g: g.data, lie_algebra_matrices=torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="positive integer"):
        MatrixRepresentation(O3, 0, lambda g: g.data)


def test_an_empty_hom_is_refused_naming_both():
    with pytest.raises(ValueError) as raised:
        equivariant_basis(Determinant(O3), Trivial(O3))
    message = str(raised.value)
    assert "det" in message and "trivial" in message and "{0}" in message
    assert equivariant_basis(Determinant(O3), Trivial(O3), allow_empty=True).shape == (0, 1, 1)
    assert basis_dimension(Determinant(O3), Trivial(O3)) == 0
    with pytest.raises(ValueError, match="det"):
        EquivariantLinear(Determinant(O3), Trivial(O3))


def test_non_representations_and_unknown_methods_are_refused():
    V = permutation_representation(Permutations(3))
    for bad in ((torch.eye(3), V), (V, "V"), (3, V)):
        with pytest.raises(TypeError, match="Representation"):
            equivariant_basis(*bad)
    with pytest.raises(TypeError, match="Representation"):
        check_representation(torch.eye(3))
    with pytest.raises(ValueError, match="method.*'svd'"):
        equivariant_basis(V, V, method="svd")
    with pytest.raises(ValueError, match="orbit method needs a discrete group"):
        equivariant_basis(V3, V3, method="orbits")
    with pytest.raises(TypeError, match="Representation"):
        EquivariantLinear(V, torch.eye(3))


# -- (h) layers ------------------------------------------------------------------------------------------------------
def test_equivariant_linear_lies_in_the_dense_span_and_commutes():
    S4 = Permutations(4)
    P = permutation_representation(S4)
    cases = [(2 * V3 + Trivial(O3), V3 * V3 + V3 + Trivial(O3)), (P * P + P, P + Trivial(S4) + P * P)]
    generator = torch.Generator().manual_seed(0)
    for rep_in, rep_out in cases:
        torch.manual_seed(0)
        layer = EquivariantLinear(rep_in, rep_out).double()
        for coefficients in layer.bias_expansion.coefficients:
            torch.nn.init.normal_(coefficients)
        weight = layer.weight.detach()
        dense = equivariant_basis(rep_in, rep_out, method="dense")
        coefficients = torch.einsum("rij,ij->r", dense, weight)
        residual = weight - torch.einsum("r,rij->ij", coefficients, dense)
        assert float(residual.abs().max()) <= 1e-12
        bias = layer.bias.detach()
        for g in sampled(rep_in.group):
            torch.testing.assert_close(rep_out.matrix(g) @ bias, bias, rtol=0, atol=1e-12)
        x = torch.randn(7, rep_in.dim, dtype=torch.float64, generator=generator)
        for g in sampled(rep_in.group, seed=1):
            with torch.no_grad():
                moved = layer(x @ rep_in.matrix(g).T)
                expected = layer(x) @ rep_out.matrix(g).T
            torch.testing.assert_close(moved, expected, rtol=0, atol=1e-12)
        assert layer.weight_expansion.dimension == basis_dimension(rep_in, rep_out)


def test_equivariant_linear_on_sets_is_deep_sets():
    """EquivariantLinear(C_in·P, C_out·P) for S_n equals Deep Sets' λ x_u + γ Σ_v x_v + β with mapped weights."""
    n, c_in, c_out = 6, 2, 3
    P = permutation_representation(Permutations(n))
    torch.manual_seed(1)
    deep = EquivariantSetLayer(c_in, c_out, aggr="sum").double()
    lam, gamma, beta = deep.own.weight.detach(), deep.pooled.weight.detach(), deep.own.bias.detach()  # [o, c]
    layer = EquivariantLinear(c_in * P, c_out * P).double()
    eye, ones = torch.eye(n, dtype=torch.float64), torch.ones(n, n, dtype=torch.float64)
    with torch.no_grad():
        for block, coefficients in zip(equivariant_blocks(c_in * P, c_out * P), layer.weight_expansion.coefficients):
            for k, (row, col) in enumerate(zip(block.out_offsets.tolist(), block.in_offsets.tolist())):
                o, c = row // n, col // n
                target = lam[o, c] * eye + gamma[o, c] * ones  # the (o, c) block of Deep Sets' map
                coefficients[k] = torch.einsum("rij,ij->r", block.basis, target)
        for block, coefficients in zip(equivariant_blocks(Trivial(P.group), c_out * P),
                                       layer.bias_expansion.coefficients):
            for k, row in enumerate(block.out_offsets.tolist()):
                coefficients[k] = torch.einsum("rij,ij->r", block.basis, beta[row // n] * torch.ones(n, 1,
                                                                                                     dtype=torch.float64))
    x = torch.randn(4, n, c_in, dtype=torch.float64)
    ours = layer(x.transpose(1, 2).reshape(4, c_in * n)).reshape(4, c_out, n).transpose(1, 2)
    torch.testing.assert_close(ours, deep(x), rtol=0, atol=1e-12)


def test_emlp_learns_an_invariant_and_stays_equivariant():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(256, 3, generator=generator)
    target = (x ** 2).sum(-1, keepdim=True)
    model = EMLP(V3, Trivial(O3), hidden=4 * Trivial(O3) + 2 * V3, num_layers=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-2)
    start = time.perf_counter()
    for _ in range(200):
        optimiser.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        optimiser.step()
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        mse = float(((model(x) - target) ** 2).mean())
    assert mse < 0.1 * float(target.var()), (mse, float(target.var()))
    assert elapsed < 5.0
    error = assert_equivariant(model.double(), (x.double()[:32],), dtype=torch.float64, n_samples=6,
                               generator=torch.Generator().manual_seed(1))
    assert error <= 1e-9


def test_the_partition_counts_of_this_file():
    assert [partitions_with_at_most(m, m) for m in range(6)] == list(BELL)
    assert [stirling2(4, j) for j in range(5)] == [0, 1, 7, 6, 1]
