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

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from gdl.core import Blueprint, EquivariantModule, Group, InvariantLinear, Pointwise, TrivialField, seeded
from gdl.core.checks import check_int
from gdl.meshes.mesh import check_mesh_data, check_vertex_features, intrinsic_layer_types, mesh_bad_inputs
from gdl.symmetries.euclidean import Euclidean
from gdl.testing.fixtures import example_mesh_data

__all__ = ["ChebMeshConv", "ChebMeshNet", "apply_laplacian", "chebyshev_filter", "LAPLACIAN_KEYS"]

#: the mesh entries the spectral layer reads
LAPLACIAN_KEYS = ("edge_index", "cot_weight", "mass", "laplacian_bound")


def apply_laplacian(x: torch.Tensor, data: Any) -> torch.Tensor:
    """(Δx)_u = (1/m_u) Σ_v w_uv (x_u − x_v) on vertex features ``x [V, C]`` of a mesh ``Data``."""
    source, target = data.edge_index
    weight = data.cot_weight.to(x.dtype)[:, None]
    summed = x.new_zeros(x.shape).index_add_(0, target, weight * (x[target] - x[source]))
    return summed / data.mass.to(x.dtype)[:, None]


def chebyshev_filter(x: torch.Tensor, data: Any, weights: Sequence[torch.Tensor], bias: torch.Tensor | None) -> torch.Tensor:
    """y = Σ_{k<K} T_k(Δ̃) x Θ_kᵀ + b on tensors, no checks (the computation of :class:`ChebMeshConv` and its export).

    Args:
        x: ``[V, C_in]``; data: a mesh ``Data`` with ``edge_index``, ``cot_weight``, ``mass``, ``laplacian_bound``.
        weights: K matrices Θ_k ``[C_out, C_in]``; bias: ``[C_out]`` or ``None``.
    """
    scale = 2 / data.laplacian_bound.to(x.dtype)[:, None]

    def scaled(h: torch.Tensor) -> torch.Tensor:  # Δ̃ h = (2/λ) Δh − h
        return scale * apply_laplacian(h, data) - h

    previous, current = x, scaled(x) if len(weights) > 1 else x
    out = x @ weights[0].T
    if len(weights) > 1:
        out = out + current @ weights[1].T
    for weight in weights[2:]:
        previous, current = current, 2 * scaled(current) - previous
        out = out + current @ weight.T
    return out if bias is None else out + bias


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

    context_keys = ("mesh",)

    def __init__(self, in_channels: int, out_channels: int, K: int = 3, bias: bool = True, group: Group | None = None):
        super().__init__()
        self.in_channels, self.out_channels = check_int(in_channels, "in_channels"), check_int(out_channels, "out_channels")
        self.K = check_int(K, "K (the number of Chebyshev terms)")
        self.lins = nn.ModuleList(nn.Linear(in_channels, out_channels, bias=False) for _ in range(K))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.in_type, self.out_type = intrinsic_layer_types(in_channels, out_channels, group)

    def forward(self, x: torch.Tensor, data: Any) -> torch.Tensor:
        check_vertex_features(x, data, self.in_channels)
        check_mesh_data(data, LAPLACIAN_KEYS)
        return chebyshev_filter(x, data, [lin.weight for lin in self.lins], self.bias)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["ChebMeshConv", tuple]:
        data = example_mesh_data()
        with seeded(generator):
            module = cls(3, 4, K=4).double()  # float64: see gdl.testing.fixtures.example_mesh_data
            module.bias.data.normal_()
        return module, (torch.randn(data.num_nodes, 3, generator=generator, dtype=torch.float64), data)

    def bad_inputs(self, x: Any, data: Any) -> dict[str, tuple]:
        bad = super().bad_inputs(x, data)
        bad[f"{self.in_channels - 1} channels instead of {self.in_channels}"] = (x[:, :-1], data)
        return mesh_bad_inputs(bad, (x,), data, LAPLACIAN_KEYS)

    def export(self) -> nn.Module:
        """The same filter as a plain module ``(x, data) → y`` reading the mesh ``Data``'s tensors."""
        return _PlainChebConv([lin.weight for lin in self.lins], self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels} → {self.out_channels}, K={self.K}"


class _PlainChebConv(nn.Module):
    """:class:`ChebMeshConv` without checks or types: :func:`chebyshev_filter` with the layer's current weights."""

    def __init__(self, weights: Sequence[torch.Tensor], bias: torch.Tensor | None):
        super().__init__()
        self.weights = nn.ParameterList(nn.Parameter(w.detach().clone()) for w in weights)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())

    def forward(self, x: torch.Tensor, data: Any) -> torch.Tensor:
        return chebyshev_filter(x, data, list(self.weights), self.bias)


class ChebMeshNet(Blueprint):
    """A spectral mesh network (a :class:`~gdl.core.Blueprint` with context ``"mesh"``): ``num_layers`` ×
    (:class:`ChebMeshConv` → σ), then a per-vertex linear map (:class:`~gdl.core.InvariantLinear`) to ``out_channels``.

    Every layer reads intrinsic geometry only (cotangent weights and vertex areas), so the network is invariant under
    rigid motions of the mesh (and bendings that keep edge lengths); its group is the intersection of its layers'.

    Args:
        in_channels, hidden_channels, out_channels: widths (``out_channels``: e.g. the classes of a per-vertex
            classifier).
        num_layers: number of Chebyshev convolutions (≥ 1).
        K: Chebyshev terms per convolution.
        activation: σ, a name in :data:`gdl.core.ACTIVATIONS` or a callable.
        group: the rigid motions the types are stated over (default ``Euclidean(3)``).

    Shapes:
        x ``[V, C_in]`` and a mesh ``Data`` from :meth:`gdl.meshes.Mesh.to_data` → ``[V, C_out]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 3, K: int = 3,
                 activation: Any = "relu", group: Group | None = None):
        num_layers = check_int(num_layers, "num_layers")
        widths = [in_channels] + [hidden_channels] * num_layers
        layers: list[EquivariantModule] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [ChebMeshConv(a, b, K=K, group=group), Pointwise(activation=activation)]
        layers.append(InvariantLinear(TrivialField(group or Euclidean(3), hidden_channels), out_channels))
        super().__init__(*layers, context=("mesh",))
        self.in_channels, self.out_channels = in_channels, out_channels

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["ChebMeshNet", tuple]:
        data = example_mesh_data()
        with seeded(generator):
            module = cls(3, 6, 5, num_layers=2, K=3).double()
            for layer in module.layers:
                if isinstance(layer, ChebMeshConv):
                    layer.bias.data.normal_()
        return module, (torch.randn(data.num_nodes, 3, generator=generator, dtype=torch.float64), data)

    def bad_inputs(self, x: Any, data: Any) -> dict[str, tuple]:
        bad = super().bad_inputs(x, data)
        bad[f"{self.in_channels + 1} input channels instead of {self.in_channels}"] = (torch.cat([x, x[:, :1]], 1), data)
        return mesh_bad_inputs(bad, (x,), data, LAPLACIAN_KEYS)
