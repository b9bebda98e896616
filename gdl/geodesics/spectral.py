"""Spectral filtering on meshes: Chebyshev polynomials of the cotangent Laplace–Beltrami operator (book §4.4, §5.6).

A spectral filter multiplies each Laplace–Beltrami eigenfunction φ_i of a signal by a response g(λ_i):
y = Φ g(Λ) Φᵀ M x. A polynomial response needs no eigenvectors, only matrix–vector products with Δ = M⁻¹L
(ChebNet, Defferrard, Bresson & Vandergheynst 2016): with the spectrum mapped into [−1, 1] by
Δ̃ = 2Δ/λ_bound − I (λ_bound ≥ λ_max, :attr:`gdl.geodesics.Mesh.laplacian_bound`),

    y = Σ_{k<K} T_k(Δ̃) x Θ_k,     T_0 = I, T_1 = Δ̃, T_k = 2Δ̃T_{k−1} − T_{k−2},

a K-hop localised filter. Δ is built from edge lengths only (cotangent weights and vertex areas), so the layer is
*isometry-invariant*: rigid motions and bendings that keep edge lengths do not change its output. It is also
*isotropic*: it uses no direction, so it is trivially gauge-invariant, and it cannot tell a pattern from its
rotated copy around a vertex (the limitation GEM-CNN removes).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gdl.core import EquivariantModule, seeded
from gdl.meshes.mesh import check_mesh_data, check_vertex_features, example_mesh_data, intrinsic_layer_types

__all__ = ["ChebMeshConv", "apply_laplacian"]

LAPLACIAN_KEYS = ("edge_index", "cot_weight", "mass", "laplacian_bound")


def apply_laplacian(x: torch.Tensor, data: Any) -> torch.Tensor:
    """(Δx)_u = (1/m_u) Σ_v w_uv (x_u − x_v) on vertex features ``x [V, C]`` of a mesh ``Data``."""
    source, target = data.edge_index
    weight = data.cot_weight.to(x.dtype)[:, None]
    summed = x.new_zeros(x.shape).index_add_(0, target, weight * (x[target] - x[source]))
    return summed / data.mass.to(x.dtype)[:, None]


class ChebMeshConv(EquivariantModule):
    """Chebyshev spectral convolution with the cotangent Laplacian: y = Σ_{k<K} T_k(Δ̃) x Θ_k + b.

    The weights are laid out as torch-geometric's ``ChebConv`` (``lins[k]`` holds Θ_k), which it equals when every
    vertex mass is 1 and ``normalization=None`` with the cotangent weights as edge weights.

    Args:
        in_channels, out_channels: widths.
        K: number of Chebyshev terms (the filter reaches K − 1 rings).
        bias: learn b.
        group: the rigid motions the types are stated over (default ``Euclidean(3)``).

    Shapes:
        x ``[V, C_in]`` and a mesh ``Data`` (``edge_index``, ``cot_weight``, ``mass``, ``laplacian_bound``) →
        ``[V, C_out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 3, bias: bool = True, group=None):
        super().__init__()
        if not isinstance(K, int) or K < 1:
            raise ValueError(f"K (the number of Chebyshev terms) must be a positive integer, got {K!r}")
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.lins = nn.ModuleList(nn.Linear(in_channels, out_channels, bias=False) for _ in range(K))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.in_type, self.out_type = intrinsic_layer_types(in_channels, out_channels, group)

    def forward(self, x: torch.Tensor, data: Any) -> torch.Tensor:
        check_vertex_features(x, data, self.in_channels)
        check_mesh_data(data, LAPLACIAN_KEYS)
        scale = 2 / data.laplacian_bound.to(x.dtype)[:, None]

        def scaled(h: torch.Tensor) -> torch.Tensor:  # Δ̃ h = (2/λ) Δh − h
            return scale * apply_laplacian(h, data) - h

        previous, current = x, scaled(x) if self.K > 1 else x
        out = self.lins[0](x)
        if self.K > 1:
            out = out + self.lins[1](current)
        for lin in self.lins[2:]:
            previous, current = current, 2 * scaled(current) - previous
            out = out + lin(current)
        return out if self.bias is None else out + self.bias

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["ChebMeshConv", tuple]:
        data = example_mesh_data()
        with seeded(generator):
            module = cls(3, 4, K=4).double()  # float64: see example_mesh_data
            module.bias.data.normal_()
        return module, (torch.randn(data.num_nodes, 3, generator=generator, dtype=torch.float64), data)

    def extra_repr(self) -> str:
        return f"{self.in_channels} → {self.out_channels}, K={self.K}"
