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

import math
from typing import Any

import torch
from torch_geometric.nn import GMMConv

from gdl.core import EquivariantModule, seeded
from gdl.meshes.mesh import check_mesh_data, check_vertex_features, example_mesh_data, intrinsic_layer_types, vertex_count

__all__ = ["MoNetConv", "log_map_coordinates"]


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

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 8, separate_gaussians: bool = False,
                 root_weight: bool = True, bias: bool = True, group=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv = GMMConv(in_channels, out_channels, dim=2, kernel_size=kernel_size,
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
        check_mesh_data(data, ("edge_index", "edge_angle", "edge_length"))
        return self.conv(x, data.edge_index, log_map_coordinates(data, x.dtype))

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["MoNetConv", tuple]:
        data = example_mesh_data()
        with seeded(generator):
            module = cls(3, 4, kernel_size=4).double()  # float64: see example_mesh_data
            module.conv.bias.data.normal_()
        return module, (torch.randn(data.num_nodes, 3, generator=generator, dtype=torch.float64), data)

    def extra_repr(self) -> str:
        return f"{self.in_channels} → {self.out_channels}, kernel_size={self.conv.kernel_size}"
