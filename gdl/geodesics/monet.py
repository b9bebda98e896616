"""MoNet on meshes: Gaussian-mixture patch operators on log-map pseudo-coordinates (Monti et al. 2017; book §5.6).

A geodesic patch around u reads its neighbours v at pseudo-coordinates u_uv; MoNet weighs them with K learnable
Gaussians w_k(u) = exp(−½ (u − μ_k)ᵀ Σ_k⁻¹ (u − μ_k)) and applies one weight matrix per Gaussian:

    y_u = Θ_root x_u + (1/|N_u|) Σ_{v∈N_u} Σ_k w_k(u_uv) Θ_k x_v + b

(torch-geometric's ``GMMConv``). Here u_uv is the discrete log map of the edge in the *fixed gauge* of
:class:`gdl.geodesics.Mesh`: ρ_uv (cos ϑ_uv, sin ϑ_uv), with ρ_uv the edge length divided by the mean length of
the edges at u. The coordinates are intrinsic, so the layer is invariant to rigid motions and bendings; but they
are measured from an arbitrary reference direction (a combinatorial choice of edge), so the layer is *not*
gauge-equivariant: rotating the frames changes its output, which is what GEM-CNN fixes.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn
from torch_geometric.nn import GMMConv

from gdl.core import Blueprint, EquivariantModule, Group, InvariantLinear, Pointwise, TrivialField, seeded
from gdl.core.checks import check_int
from gdl.meshes.mesh import check_mesh_data, check_vertex_features, intrinsic_layer_types, mesh_bad_inputs, vertex_count
from gdl.symmetries.euclidean import Euclidean
from gdl.testing.fixtures import example_mesh_data

__all__ = ["MoNetConv", "MoNet", "log_map_coordinates", "MONET_KEYS"]

#: the mesh entries MoNet reads
MONET_KEYS = ("edge_index", "edge_angle", "edge_length")


def log_map_coordinates(data: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``[E, 2]`` pseudo-coordinates ρ_uv (cos ϑ_uv, sin ϑ_uv), ρ_uv = r_uv / mean_{v'} r_uv' (u the edge's target)."""
    target = data.edge_index[1]
    length = data.edge_length.to(dtype or data.edge_length.dtype)
    angle = data.edge_angle.to(length.dtype)
    vertices = vertex_count(data)
    total = length.new_zeros(vertices).index_add_(0, target, length)
    count = length.new_zeros(vertices).index_add_(0, target, torch.ones_like(length))
    radius = length / (total / count.clamp(min=1))[target]
    return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)


class MoNetConv(EquivariantModule):
    """MoNet's Gaussian-mixture convolution (``GMMConv``) on a mesh's log-map pseudo-coordinates.

    .. math::
        y_u = \\Theta_{root} x_u + \\frac{1}{|N_u|} \\sum_{v \\in N_u} \\sum_{k<K} w_k(u_{uv})\\, \\Theta_k x_v + b,
        \\qquad w_k(u) = \\exp\\big(-\\tfrac12 (u - \\mu_k)^\\top \\Sigma_k^{-1} (u - \\mu_k)\\big)

    with u_uv = ρ_uv (cos ϑ_uv, sin ϑ_uv) (:func:`log_map_coordinates`) and diagonal Σ_k. Invariant under rigid
    motions of the mesh (intrinsic coordinates); not gauge-equivariant (module docstring).

    Args:
        in_channels, out_channels: widths.
        kernel_size: K Gaussians.
        separate_gaussians: one mixture per (input, output) channel pair (GMMConv's option).
        root_weight, bias: GMMConv's self-connection and bias.
        group: the rigid motions the types are stated over (default ``Euclidean(3)``).

    Shapes:
        x ``[V, C_in]`` and a mesh ``Data`` (``edge_index``, ``edge_angle``, ``edge_length``) → ``[V, C_out]``.
    """

    context_keys = ("mesh",)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 8, separate_gaussians: bool = False,
                 root_weight: bool = True, bias: bool = True, group: Group | None = None):
        super().__init__()
        self.in_channels, self.out_channels = check_int(in_channels, "in_channels"), check_int(out_channels, "out_channels")
        self.conv = GMMConv(in_channels, out_channels, dim=2, kernel_size=check_int(kernel_size, "kernel_size"),
                            separate_gaussians=separate_gaussians, aggr="mean", root_weight=root_weight, bias=bias)
        self.reset_parameters()
        self.in_type, self.out_type = intrinsic_layer_types(in_channels, out_channels, group)

    def reset_parameters(self) -> None:
        """GMMConv's initialisation, with the Gaussians spread over the unit disk (means on rings, σ = 0.5)."""
        self.conv.reset_parameters()
        K = self.conv.kernel_size
        angle = 2 * math.pi * torch.arange(K, dtype=torch.float64) / K
        radius = torch.where(torch.arange(K) % 2 == 0, 1.0, 0.5).to(torch.float64)
        means = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=-1)
        with torch.no_grad():
            self.conv.mu.copy_(means.expand_as(self.conv.mu.view(-1, K, 2)).reshape(self.conv.mu.shape))
            self.conv.sigma.fill_(0.5)

    def forward(self, x: torch.Tensor, data: Any) -> torch.Tensor:
        check_vertex_features(x, data, self.in_channels)
        check_mesh_data(data, MONET_KEYS)
        return self.conv(x, data.edge_index, log_map_coordinates(data, x.dtype))

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["MoNetConv", tuple]:
        data = example_mesh_data()
        with seeded(generator):
            module = cls(3, 4, kernel_size=4).double()  # float64: see gdl.testing.fixtures.example_mesh_data
            module.conv.bias.data.normal_()
        return module, (torch.randn(data.num_nodes, 3, generator=generator, dtype=torch.float64), data)

    def bad_inputs(self, x: Any, data: Any) -> dict[str, tuple]:
        bad = super().bad_inputs(x, data)
        bad[f"{self.in_channels - 1} channels instead of {self.in_channels}"] = (x[:, :-1], data)
        return mesh_bad_inputs(bad, (x,), data, MONET_KEYS)

    def export(self) -> nn.Module:
        """torch-geometric's ``GMMConv`` (a copy) on the log-map coordinates of the mesh ``Data``: ``(x, data) → y``."""
        return _PlainMoNetConv(copy.deepcopy(self.conv))

    def extra_repr(self) -> str:
        return f"{self.in_channels} → {self.out_channels}, kernel_size={self.conv.kernel_size}"


class _PlainMoNetConv(nn.Module):
    """:class:`MoNetConv` without checks or types."""

    def __init__(self, conv: GMMConv):
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor, data: Any) -> torch.Tensor:
        return self.conv(x, data.edge_index, log_map_coordinates(data, x.dtype))


class MoNet(Blueprint):
    """MoNet on a mesh (a :class:`~gdl.core.Blueprint` with context ``"mesh"``): ``num_layers`` × (:class:`MoNetConv`
    → σ), then a per-vertex linear map (:class:`~gdl.core.InvariantLinear`) to ``out_channels`` (Monti et al. 2017's
    correspondence network: ELU, a classifier over the reference vertices).

    Intrinsic pseudo-coordinates make it invariant under rigid motions of the mesh; it is not gauge-equivariant (its
    kernels read ϑ in the mesh's fixed gauge). Its group is the intersection of its layers' groups.

    Args:
        in_channels, hidden_channels, out_channels: widths.
        num_layers: number of MoNet convolutions (≥ 1).
        kernel_size: Gaussians per convolution.
        activation: σ, a name in :data:`gdl.core.ACTIVATIONS` or a callable.
        group: the rigid motions the types are stated over (default ``Euclidean(3)``).

    Shapes:
        x ``[V, C_in]`` and a mesh ``Data`` from :meth:`gdl.meshes.Mesh.to_data` → ``[V, C_out]``.

    Example:
        >>> import torch
        >>> from gdl.meshes import creature
        >>> data = creature(1).to_data(torch.float64)
        >>> net = MoNet(3, 8, 5, num_layers=2).double()
        >>> net(torch.randn(data.num_nodes, 3, dtype=torch.float64), data).shape
        torch.Size([42, 5])
        >>> net.field_types(torch.randn(data.num_nodes, 3, dtype=torch.float64), data)[1]
        TrivialField(group=E(3), channels=5)
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 4,
                 kernel_size: int = 8, activation: Any = "elu", group: Group | None = None):
        num_layers = check_int(num_layers, "num_layers")
        widths = [in_channels] + [hidden_channels] * num_layers
        layers: list[EquivariantModule] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [MoNetConv(a, b, kernel_size, group=group), Pointwise(activation=activation)]
        layers.append(InvariantLinear(TrivialField(group or Euclidean(3), hidden_channels), out_channels))
        super().__init__(*layers, context=("mesh",))
        self.in_channels, self.out_channels = in_channels, out_channels

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["MoNet", tuple]:
        data = example_mesh_data()
        with seeded(generator):
            module = cls(3, 6, 5, num_layers=2, kernel_size=4).double()
        return module, (torch.randn(data.num_nodes, 3, generator=generator, dtype=torch.float64), data)

    def bad_inputs(self, x: Any, data: Any) -> dict[str, tuple]:
        bad = super().bad_inputs(x, data)
        bad[f"{self.in_channels + 1} input channels instead of {self.in_channels}"] = (torch.cat([x, x[:, :1]], 1), data)
        return mesh_bad_inputs(bad, (x,), data, MONET_KEYS)
