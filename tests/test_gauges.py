"""Gauges: the group SO(2)^V and its fields, the solved GEM kernels against de Haan et al.'s table, the GEM
convolution against a per-edge float64 reference, gauge equivariance (and that a broken layer fails the check),
the sampled nonlinearity's measured error, and what gauge changes do to MoNet and the spectral layer."""

import math

import pytest
import torch
from torch_geometric.data import Batch

from gdl.core import Blueprint, ProductGroup
from gdl.gauges import (
    GaugeGroup,
    GEMConv,
    GEMNet,
    MeshGaugeField,
    RegularNonlinearity,
    SO2Field,
    mesh_field,
    mesh_symmetry,
    rotate_irreps,
)
from gdl.gauges.gauge import irreps_rotation
from gdl.gauges.gem import neighbour_kernel, regular_sampling_matrix, self_interaction_basis
from gdl.geodesics import ChebMeshConv, MoNetConv, wrap_angle
from gdl.meshes import MeshField, creature, gauge_angles, plane_grid, torus
from gdl.symmetries.euclidean import Euclidean, SpecialOrthogonal
from gdl.testing import assert_equivariant, equivariance_error
from gdl.testing.fixtures import table_kernel_basis


def angles(count: int, seed: int = 0) -> torch.Tensor:
    return 2 * math.pi * torch.rand(count, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# -- the group and its fields ---------------------------------------------------------------------------------------
def test_gauge_group_law_and_sampling():
    G = GaugeGroup(5)
    a, b = G.sample(2, torch.Generator().manual_seed(0))
    assert a * a.inverse() == G.identity() and (a * b) * b.inverse() == a
    assert G.element(a.data + 4 * math.pi) == a  # angles are taken mod 2π
    assert torch.equal(G.sample(1, torch.Generator().manual_seed(3))[0].data, G.sample(1, torch.Generator().manual_seed(3))[0].data)
    assert not G.contains(GaugeGroup(4).identity()) and repr(G) == "SO(2)^5"
    with pytest.raises(ValueError, match=r"needs one angle per vertex \(5\), got 3"):
        G.element([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="number of vertices of a GaugeGroup must be a positive integer, got 0"):
        GaugeGroup(0)
    with pytest.raises(ValueError, match="must be a positive integer, got True"):
        GaugeGroup(True)
    with pytest.raises(TypeError, match=r"expected an element of SO\(2\)\^5"):
        SO2Field(G, 2, 1).transform(torch.zeros(5, 2, 3), GaugeGroup(4).identity())


def test_rotate_irreps_is_the_block_diagonal_rotation():
    x = torch.randn(6, 3, 7, dtype=torch.float64)
    psi = angles(6)
    expected = torch.zeros_like(x)
    for row in range(6):
        blocks = [torch.ones(1, 1, dtype=torch.float64)]
        for n in range(1, 4):
            c, s = math.cos(n * psi[row]), math.sin(n * psi[row])
            blocks.append(torch.tensor([[c, -s], [s, c]], dtype=torch.float64))
        expected[row] = x[row] @ torch.block_diag(*blocks).T
    assert float((rotate_irreps(x, psi, 3) - expected).abs().max()) < 1e-14


def test_feature_field_is_a_group_action_and_checks_shapes():
    G = GaugeGroup(4)
    field = SO2Field(G, 3, 2)
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    g, h = G.sample(2, torch.Generator().manual_seed(1))
    assert torch.allclose(field.transform(field.transform(x, h), g), field.transform(x, g * h), atol=1e-14)
    with pytest.raises(ValueError, match=r"expects features \[4, 3, 5\] \(vertices, channels, 2L \+ 1\), got shape \[4, 3, 4\]"):
        field.validate(torch.zeros(4, 3, 4))
    with pytest.raises(TypeError, match="is acted on by a GaugeGroup"):
        SO2Field(torch.zeros(1), 3, 2)


def test_gauge_change_of_the_mesh_turns_angles_and_frames_together():
    """On a flat sheet the log map is the projection on the frame: after a gauge change the new angles must be the
    projections on the new frames, and transport must still map R³ vectors to themselves."""
    mesh = plane_grid(6, 6)
    data = mesh.to_data(torch.float64)
    G = GaugeGroup(mesh.num_vertices)
    g = G.sample(1, torch.Generator().manual_seed(2))[0]
    moved = MeshGaugeField(G).transform(data, g)
    source, target = data.edge_index
    corner = mesh.angle_sum < 2.0
    inside = ~corner[source] & ~corner[target]
    offset = data.pos[source] - data.pos[target]
    projected = torch.atan2((offset * moved.frame[target, 1]).sum(1), (offset * moved.frame[target, 0]).sum(1))
    assert float(wrap_angle(projected - moved.edge_angle)[inside].abs().max()) < 1e-12
    phi = angles(source.numel(), 3)
    at_source = phi.cos()[:, None] * moved.frame[source, 0] + phi.sin()[:, None] * moved.frame[source, 1]
    psi = phi + moved.edge_transport
    at_target = psi.cos()[:, None] * moved.frame[target, 0] + psi.sin()[:, None] * moved.frame[target, 1]
    assert float((at_source - at_target)[inside].abs().max()) < 1e-12
    assert torch.equal(moved.cot_weight, data.cot_weight) and torch.equal(moved.pos, data.pos)
    with pytest.raises(ValueError, match=r"SO\(2\)\^35 acts on a mesh with 35 vertices, got a mesh with 36"):
        MeshGaugeField(GaugeGroup(35)).validate(data)


# -- the kernel constraints and their solution ------------------------------------------------------------------------
@pytest.mark.parametrize("in_order, out_order", [(0, 0), (0, 2), (2, 0), (1, 3), (2, 2)])
def test_solved_kernels_satisfy_the_constraint_and_span_the_table_basis(in_order, out_order):
    D_in, D_out = 2 * in_order + 1, 2 * out_order + 1
    theta, gamma = angles(12, 1), angles(12, 2)
    rho_in, rho_out = irreps_rotation(gamma, in_order), irreps_rotation(gamma, out_order)
    weight = torch.randn(D_out, D_in, dtype=torch.float64)
    # Θ(ϑ + γ) ρ_in(γ) = ρ_out(γ) Θ(ϑ), i.e. Θ(ϑ − γ) = ρ_out(−γ) Θ(ϑ) ρ_in(γ)
    left = neighbour_kernel(weight, theta + gamma, in_order, out_order) @ rho_in
    right = rho_out @ neighbour_kernel(weight, theta, in_order, out_order)
    assert float((left - right).abs().max()) < 1e-12
    table = table_kernel_basis(theta, in_order, out_order)  # [N, B, D_out, D_in]
    table_left = table_kernel_basis(theta + gamma, in_order, out_order) @ rho_in[:, None]
    assert float((table_left - rho_out[:, None] @ table).abs().max()) < 1e-12
    # the same space: every elementary W, sampled at the angles, and the table's kernels have equal and joint rank
    elementary = torch.eye(D_out * D_in, dtype=torch.float64).reshape(-1, D_out, D_in)
    ours = torch.stack([neighbour_kernel(w, theta, in_order, out_order).flatten() for w in elementary])
    theirs = table.permute(1, 0, 2, 3).flatten(1)
    rank = torch.linalg.matrix_rank
    assert rank(ours) == rank(theirs) == rank(torch.cat([ours, theirs])) == D_out * D_in


def test_self_interaction_basis_is_the_commutant_of_so2():
    basis = self_interaction_basis(2, 3)
    rho_in, rho_out = irreps_rotation(angles(5), 2), irreps_rotation(angles(5), 3)
    assert basis.shape == (5, 7, 5)
    assert float((basis[None] @ rho_in[:, None] - rho_out[:, None] @ basis[None]).abs().max()) < 1e-14
    # a matrix mixing orders 1 and 2 does not commute: the basis leaves it out for a reason
    mixing = torch.zeros(5, 5, dtype=torch.float64)
    mixing[1, 3] = 1.0
    assert float((mixing @ rho_in[0] - rho_in[0] @ mixing).abs().max()) > 0.1


# -- the convolution ------------------------------------------------------------------------------------------------------
def reference_gem(conv: GEMConv, x: torch.Tensor, data) -> torch.Tensor:
    """Book eq. 37 one edge at a time, with explicit matrices Θ_neigh(ϑ) = ρ_out(ϑ) W ρ_in(−ϑ) and ρ_in(g)."""
    C_in, C_out, D_in, D_out = conv.in_channels, conv.out_channels, x.shape[2], 2 * conv.out_order + 1
    W = conv.neighbour_weight.detach().double().reshape(C_out * D_out, C_in * D_in)
    out = torch.zeros(x.shape[0], C_out * D_out, dtype=torch.float64)
    count = torch.zeros(x.shape[0], dtype=torch.float64)
    for e in range(data.edge_index.shape[1]):
        v, u = data.edge_index[:, e].tolist()
        theta, g = data.edge_angle[e : e + 1], data.edge_transport[e : e + 1]
        rho_in_theta = torch.block_diag(*[irreps_rotation(-theta, conv.in_order)[0]] * C_in)
        rho_out_theta = torch.block_diag(*[irreps_rotation(theta, conv.out_order)[0]] * C_out)
        transport = torch.block_diag(*[irreps_rotation(g, conv.in_order)[0]] * C_in)
        out[u] += rho_out_theta @ W @ rho_in_theta @ transport @ x[v].flatten()
        count[u] += 1
    out = (out / count[:, None]).reshape(-1, C_out, D_out)
    out = out + torch.einsum("oaib,vib->voa", conv.self_kernel().detach().double(), x)
    out[:, :, 0] += conv.bias.detach().double()
    return out


def test_gem_conv_equals_the_per_edge_reference():
    conv, (x, data) = GEMConv.example(torch.Generator().manual_seed(0))
    conv = conv.double()
    assert float((conv(x, data) - reference_gem(conv, x, data)).abs().max()) < 1e-12


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_gem_conv_is_gauge_equivariant_on_a_curved_mesh(dtype, tolerance):
    data = creature(2).to_data(torch.float64)
    conv = GEMConv(4, 5, in_order=2, out_order=3)
    x = torch.randn(data.num_nodes, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert assert_equivariant(conv, (x, data), dtype=dtype, atol=tolerance, generator=torch.Generator().manual_seed(1)) < tolerance


class TransportFreeConv(GEMConv, register=False):
    """A wrong GEM layer: it forgets to parallel-transport the neighbours' features."""

    def forward(self, x, data):
        data = data.clone()
        data.edge_transport = torch.zeros_like(data.edge_transport)
        return super().forward(x, data)


def test_the_equivariance_check_catches_a_layer_without_parallel_transport():
    conv, inputs = GEMConv.example(torch.Generator().manual_seed(0))
    broken = TransportFreeConv(3, 4, in_order=2, out_order=1)
    broken.load_state_dict(conv.state_dict())
    assert equivariance_error(broken, inputs, generator=torch.Generator().manual_seed(1)).max_error > 0.1
    # with order-0 inputs transport does nothing, and the broken layer is (correctly) equivariant again
    scalar_in = TransportFreeConv(3, 4, in_order=0, out_order=1)
    x = torch.randn(inputs[1].num_nodes, 3, 1, dtype=torch.float64)
    assert equivariance_error(scalar_in, (x, inputs[1])).max_error < 1e-9


def test_gem_conv_input_errors():
    conv, (x, data) = GEMConv.example(torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"expects features \[42, 3, 5\] on this mesh, got \[42, 3, 3\]"):
        conv.double()(x[..., :3], data)
    with pytest.raises(TypeError, match=r"GEMConv has no fixed in_type.*use layer.field_types\(\*inputs\)"):
        _ = GEMConv(2, 2).in_type
    # the types come from the inputs: V from the mesh, and the group is E(3) × SO(2)^V
    in_type, out_type = conv.field_types(x, data)
    assert in_type.group == ProductGroup((Euclidean(3), GaugeGroup(42))) == out_type.group
    bigger = creature(2).to_data(torch.float64)
    assert conv.field_types(torch.zeros(bigger.num_nodes, 3, 5), bigger)[1].group.factors[1] == GaugeGroup(162)
    broken = data.clone()
    del broken.edge_transport
    with pytest.raises(ValueError, match=r"lacks \['edge_transport'\]"):
        conv(x, broken)


def test_regular_nonlinearity_input_errors():
    layer, (x,) = RegularNonlinearity.example(torch.Generator().manual_seed(0))
    assert layer(x[:29]).shape == (29, 4, 5)  # any number of vertices
    with pytest.raises(ValueError, match=r"expects features \[V, 4, 5\], got \[30, 3, 5\]"):
        layer(x[:, :3])
    with pytest.raises(TypeError, match=r"floating-point tensor \[V, 4, 5\], got torch.int64"):
        layer(x.long())
    with pytest.raises(TypeError, match=r"floating-point tensor \[V, 4, 5\], got list"):
        layer(x.tolist())
    with pytest.raises(ValueError, match=r"channels must be a positive integer, got 2.5"):
        RegularNonlinearity(2.5, 2)
    with pytest.raises(ValueError, match=r"num_samples .* must be an integer ≥ 5, got True"):
        RegularNonlinearity(4, 2, num_samples=True)


def test_gem_conv_on_a_batch_equals_each_mesh_alone():
    first, second = creature(1).to_data(torch.float64), torus(6, 5).to_data(torch.float64)
    batch = Batch.from_data_list([first, second])
    conv = GEMConv(2, 3, 1, 2).double()
    x = torch.randn(batch.num_nodes, 2, 3, dtype=torch.float64)
    apart = torch.cat([conv(x[:42], first), conv(x[42:], second)])
    assert float((conv(x, batch) - apart).abs().max()) < 1e-12


# -- the regular nonlinearity ---------------------------------------------------------------------------------------------
def test_regular_nonlinearity_is_exact_for_rotations_by_the_sampling_step_and_converges():
    vertices, N = 50, 12
    layer = RegularNonlinearity(6, max_order=2, num_samples=N).double()
    x = torch.randn(vertices, 6, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    G = GaugeGroup(vertices)
    steps = torch.randint(0, N, (vertices,), generator=torch.Generator().manual_seed(1))
    on_grid = G.element(2 * math.pi * steps.double() / N)
    field = SO2Field(G, 6, 2)
    assert float((layer(field.transform(x, on_grid)) - field.transform(layer(x), on_grid)).abs().max()) < 1e-12
    errors = {}
    for samples in (16, 64):
        errors[samples] = equivariance_error(RegularNonlinearity(6, 2, samples), (x,),
                                             generator=torch.Generator().manual_seed(2), n_samples=8).max_error
    assert errors[16] > 4 * errors[64] > 0  # σ(f) aliases less with more samples (≈ N⁻²)
    declared, _ = RegularNonlinearity.example(torch.Generator().manual_seed(0))
    assert errors[16] < declared.equivariance_tolerance


def test_regular_nonlinearity_reproduces_band_limited_signals_and_checks_its_arguments():
    layer = RegularNonlinearity(3, max_order=3, num_samples=7, activation=lambda t: t).double()
    x = torch.randn(10, 3, 7, dtype=torch.float64)
    assert float((layer(x) - x).abs().max()) < 1e-12  # identity σ: sample, project back
    sampling = regular_sampling_matrix(3, 7)
    assert float((torch.linalg.pinv(sampling) @ sampling - torch.eye(7, dtype=torch.float64)).abs().max()) < 1e-12
    with pytest.raises(ValueError, match=r"num_samples \(≥ 2L \+ 1 to determine orders ≤ 3\) must be an integer ≥ 7, got 6"):
        RegularNonlinearity(3, max_order=3, num_samples=6)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        RegularNonlinearity(3, max_order=1, activation="swish")


# -- what a gauge change does to the other mesh layers ----------------------------------------------------------------
def test_only_the_fixed_gauge_layer_depends_on_the_gauge():
    data = creature(2).to_data(torch.float64)
    G = GaugeGroup(data.num_nodes)
    moved = MeshGaugeField(G).transform(data, G.sample(1, torch.Generator().manual_seed(4))[0])
    x = torch.randn(data.num_nodes, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.manual_seed(0)
    monet, cheb, gem = MoNetConv(3, 4).double(), ChebMeshConv(3, 4).double(), GEMNet(3, 8, 4, max_order=2, num_samples=64).double()
    with torch.no_grad():
        assert float((monet(x, moved) - monet(x, data)).abs().max()) > 0.05  # MoNet: the reference direction matters
        assert float((cheb(x, moved) - cheb(x, data)).abs().max()) == 0.0  # isotropic: sees no direction at all
        change = float((gem(x, moved) - gem(x, data)).abs().max())
        assert change < 0.02 * float(gem(x, data).abs().max())  # only the sampled nonlinearity's small error


def test_gem_layers_sweep_dtype_tolerances():
    for cls in (GEMConv, RegularNonlinearity):
        module, inputs = cls.example(torch.Generator().manual_seed(0))
        for dtype in (torch.float64, torch.float32):
            assert_equivariant(module, inputs, dtype=dtype, generator=torch.Generator().manual_seed(7), n_samples=3)


@pytest.mark.parametrize("module", ["gdl.meshes.mesh", "gdl.gauges.gauge"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


# -- rigid motions × gauge changes, and the network ---------------------------------------------------------------------
def test_rigid_motions_keep_the_gauge_so_the_product_group_acts_on_meshes():
    """MeshField moves the frames with the surface: a rigid motion of a re-gauged mesh keeps its gauge angles, so
    rigid motions and gauge changes commute and (R, γ) ↦ mesh_field(R, γ) is an action of E(3) × SO(2)^V."""
    data = creature(1).to_data(torch.float64)
    group = mesh_symmetry(data.num_nodes)
    gauges = group.factors[1]
    generator = torch.Generator().manual_seed(3)
    gamma = gauges.sample(1, generator)[0]
    gauged = MeshGaugeField(gauges).transform(data, gamma)
    for rigid in Euclidean(3).sample(2, generator) + Euclidean(3).component_representatives():
        moved, reference = MeshField().transform(gauged, rigid), MeshField().transform(data, rigid)
        assert float(wrap_angle(gauge_angles(moved.frame, reference.frame) - gamma.data).abs().max()) < 1e-10
        target = data.edge_index[1]
        assert float(wrap_angle(moved.edge_angle - (reference.edge_angle - gamma.data[target])).abs().max()) < 1e-10
    field = mesh_field(group)
    a, b = group.sample(2, generator)
    reflection = group.component_representatives()[0]
    assert float(torch.linalg.det(reflection.data[0].data[0])) < 0
    for first, second in ((a, b), (reflection, a), (b, reflection)):
        twice = field.transform(field.transform(gauged, second), first)
        once = field.transform(gauged, first * second)
        for key in ("edge_angle", "edge_transport"):
            assert float(wrap_angle(twice[key] - once[key]).abs().max()) < 1e-10, key
        for key in ("pos", "frame", "normal", "cot_weight"):
            assert float((twice[key] - once[key]).abs().max()) < 1e-10, key


def test_gauge_groups_are_connected_and_the_mesh_group_adds_the_reflections():
    assert GaugeGroup(5).component_representatives() == []
    representatives = mesh_symmetry(5).component_representatives()
    assert len(representatives) == 1
    rigid, gauge = representatives[0].data
    assert float(torch.linalg.det(rigid.data[0])) < 0 and gauge == GaugeGroup(5).identity()


def _reference_regular(layer: RegularNonlinearity, x: torch.Tensor) -> torch.Tensor:
    """σ sampled at N angles and projected back, the sampling matrix written out from the Fourier series."""
    phi = 2 * math.pi * torch.arange(layer.num_samples, dtype=torch.float64) / layer.num_samples
    columns = [torch.ones_like(phi)]
    for n in range(1, layer.max_order + 1):
        columns += [torch.cos(n * phi), torch.sin(n * phi)]
    sampling = torch.stack(columns, dim=1)
    return torch.relu(x @ sampling.T) @ torch.linalg.pinv(sampling).T


def test_gem_net_is_the_composition_of_its_layers_written_out():
    """GEMNet (with its classifier) against per-edge convolutions, a hand-written regular ReLU and the residual."""
    net, (x, data) = GEMNet.example(torch.Generator().manual_seed(0))
    assert isinstance(net, Blueprint) and net.context == ("mesh",)
    first, nonlinearity, block, last = net.layers[1], net.layers[2], net.layers[3], net.layers[4]
    head = net.layers[-1].linear
    with torch.no_grad():
        h = _reference_regular(nonlinearity, reference_gem(first, x[:, :, None], data))
        h = h + _reference_regular(block.nonlinearity, reference_gem(block.conv, h, data))
        h = reference_gem(last, h, data)[:, :, 0]
        expected = torch.relu(h) @ head.weight.T + head.bias
        assert float((net(x, data) - expected).abs().max()) < 1e-12
        assert float((net.export()(x, data) - expected).abs().max()) < 1e-12


def test_gem_net_types_are_the_intersection_of_its_layers_and_hold_exactly_for_rigid_motions():
    net, (x, data) = GEMNet.example(torch.Generator().manual_seed(0))
    in_type, out_type = net.field_types(x, data)
    assert in_type.group == out_type.group == ProductGroup((Euclidean(3), GaugeGroup(data.num_nodes)))
    with pytest.raises(TypeError, match="no fixed in_type"):
        _ = net.in_type
    # one layer stated over SO(3) only: the network respects SO(3) × SO(2)^V
    mixed = GEMNet(3, 6, 4, num_layers=2)
    assert mixed.field_types(x.float(), data)[0].group.factors[0] == Euclidean(3)
    mixed.layers[2] = RegularNonlinearity(6, 2, group=SpecialOrthogonal(3))
    assert mixed.field_types(x.float(), data)[0].group.factors[0] == SpecialOrthogonal(3)
    # rigid motions alone (gauge unchanged) are an exact symmetry; the full group only up to the nonlinearity's error
    group = in_type.group
    rigid = [group.element(g, group.factors[1].identity())
             for g in Euclidean(3).sample(3, torch.Generator().manual_seed(1)) + Euclidean(3).component_representatives()]
    with torch.no_grad():
        for g in rigid:
            moved = in_type.transform((x, data), g)
            assert float((net(*moved) - net(x, data)).abs().max()) < 1e-9
    error = equivariance_error(net, (x, data), generator=torch.Generator().manual_seed(2)).max_error
    assert 1e-6 < error < net.equivariance_tolerance


def test_gem_net_refuses_malformed_meshes_at_its_boundary():
    net, (x, data) = GEMNet.example(torch.Generator().manual_seed(0))
    short = data.clone()
    short.edge_angle = data.edge_angle[:-1]
    E = data.edge_index.shape[1]
    with pytest.raises(ValueError, match=rf"data.edge_angle must have one entry per edge \[{E}\], got \[{E - 1}\]"):
        net(x, short)
    broken = data.clone()
    broken.edge_index = data.edge_index.clone()
    broken.edge_index[1, 3] = -1
    with pytest.raises(ValueError, match=r"refers to nodes -1\.\.41, but the graph has 42 nodes.*got"):
        net(x, broken)
    with pytest.raises(ValueError, match=r"ScalarsToIrreps expects vertex scalars \[V, 3\], got \[42, 2\]"):
        net(x[:, :2], data)
    with pytest.raises(ValueError, match=r"num_layers must be an integer ≥ 2, got 1"):
        GEMNet(3, 4, 2, num_layers=1)
