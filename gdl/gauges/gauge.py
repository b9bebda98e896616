"""The gauge group SO(2)^V and the fields it acts on (book §4.5, §5.6).

A *gauge* is a choice of tangent frame (e₁, e₂) at every vertex of a mesh (:class:`gdl.geodesics.Mesh` picks one:
e₁ along a reference edge). Nothing intrinsic singles one frame out, so a layer on a mesh should not depend on the
choice: changing the gauge by an angle γ_u at every vertex u (the new frame is the old one turned
counter-clockwise by γ_u) must change its outputs only as the outputs' own type says. The gauge changes form the
group SO(2)^V, one angle per vertex, composed by addition mod 2π.

What a gauge change γ does (de Haan, Weiler, Cohen & Welling 2021, §3):

* a feature of type ρ at u is re-expressed in the new frame: x_u ↦ ρ(−γ_u) x_u;
* log-map angles, measured from e₁ of their vertex: ϑ_uv ↦ ϑ_uv − γ_u;
* transport angles g_{v→u} (a vector of angle φ in v's gauge has angle φ + g_{v→u} in u's): g ↦ g − γ_u + γ_v;
* the frame vectors: e₁' = cos γ e₁ + sin γ e₂, e₂' = −sin γ e₁ + cos γ e₂.

Feature layout (:class:`SO2Field`): ``[V, C, 2L + 1]``, every channel a sum of the real irreducible representations
ρ_0 ⊕ ρ_1 ⊕ … ⊕ ρ_L of SO(2): index 0 holds the order-0 (invariant) component, indices 2n − 1, 2n the (cos, sin)
pair of order n, on which ρ_n(γ) acts by the rotation matrix of angle nγ. Read as Fourier coefficients,
f(φ) = x_0 + Σ_n x_{2n−1} cos nφ + x_{2n} sin nφ is a band-limited function on the circle of directions at u, and
the gauge change is the relabelling of directions φ ↦ φ − γ_u.

Rigid motions too. The gauge of :class:`gdl.meshes.Mesh` is chosen combinatorially (e₁ along a reference edge) and
the angles, transport and lengths are intrinsic, so a rigid motion (R, t) ∈ E(3) of the mesh leaves every feature
coefficient unchanged: it acts trivially on features, and on the mesh ``Data`` by :class:`gdl.meshes.MeshField`
(moved vertices, recomputed geometry, the same gauge). The two actions commute, so gauge-equivariant mesh layers
are typed over the product E(3) × SO(2)^V (:func:`mesh_symmetry`): :func:`feature_field`, :func:`scalar_field`
and :func:`mesh_field` build the field types. SO(2)^V is connected (a torus), so it has no component
representatives; E(3)'s reflections are its second component, which the harness always tries.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from gdl.core import FieldType, Group, GroupElement, ProductField, ProductGroup, TrivialField
from gdl.core.checks import check_int
from gdl.meshes.mesh import MeshField, change_gauge, vertex_count
from gdl.symmetries.euclidean import Euclidean

__all__ = ["GaugeGroup", "SO2Field", "MeshGaugeField", "rotate_irreps", "irreps_rotation", "irreps_dim",
           "EQUALITY_TOLERANCE", "mesh_symmetry", "feature_field", "scalar_field", "mesh_field"]

TWO_PI = 2 * math.pi
#: two gauge changes are equal when every angle agrees to this, mod 2π
EQUALITY_TOLERANCE = 1e-10


def irreps_dim(max_order: int) -> int:
    """2L + 1: the size of ρ_0 ⊕ ρ_1 ⊕ … ⊕ ρ_L."""
    return 2 * max_order + 1


def irreps_rotation(angle: torch.Tensor, max_order: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``[N, 2L+1, 2L+1]``: the block-diagonal matrices ρ_0(ψ) ⊕ ρ_1(ψ) ⊕ … ⊕ ρ_L(ψ) for angles ψ ``[N]``."""
    dtype = dtype or angle.dtype
    dim = irreps_dim(max_order)
    matrix = torch.zeros(angle.shape[0], dim, dim, device=angle.device, dtype=dtype)
    matrix[:, 0, 0] = 1
    if max_order:
        phase = angle.to(dtype)[:, None] * torch.arange(1, max_order + 1, device=angle.device, dtype=dtype)
        c = torch.arange(1, dim, 2, device=angle.device)
        cos, sin = phase.cos(), phase.sin()
        matrix[:, c, c] = cos
        matrix[:, c + 1, c + 1] = cos
        matrix[:, c, c + 1] = -sin
        matrix[:, c + 1, c] = sin
    return matrix


def rotate_irreps(x: torch.Tensor, angle: torch.Tensor, max_order: int) -> torch.Tensor:
    """Apply ρ_0(ψ) ⊕ ρ_1(ψ) ⊕ … ⊕ ρ_L(ψ) to features in the :class:`SO2Field` layout.

    Args:
        x: ``[N, C, 2L + 1]``.
        angle: ψ ``[N]`` (one angle per row).
        max_order: L.

    Returns:
        ``[N, C, 2L + 1]`` with the order-n pair (c, s) turned into (c cos nψ − s sin nψ, c sin nψ + s cos nψ)
        (one batched matrix product with :func:`irreps_rotation`).
    """
    if max_order == 0:
        return x
    return torch.bmm(x, irreps_rotation(angle, max_order, x.dtype).transpose(1, 2))


@dataclasses.dataclass(frozen=True)
class GaugeGroup(Group):
    """SO(2)^V: one frame rotation γ_u per vertex; elements are float64 angle vectors ``[V]`` in [0, 2π).

    Composition adds the angles (mod 2π); sampling is uniform (the Haar measure) and reproducible with a seeded
    ``torch.Generator``.

    Example:
        >>> G = GaugeGroup(3)
        >>> g = G.element([0.5, 0.0, 7.0])
        >>> (g * g.inverse()) == G.identity()
        True
    """

    num_vertices: int

    def __post_init__(self):
        check_int(self.num_vertices, "the number of vertices of a GaugeGroup")

    def element(self, angles: Any) -> GroupElement:
        """The gauge change turning the frame at vertex u by ``angles[u]`` radians."""
        angles = torch.as_tensor(angles, dtype=torch.float64).reshape(-1)
        if angles.numel() != self.num_vertices:
            raise ValueError(f"{self!r} needs one angle per vertex ({self.num_vertices}), got {angles.numel()}")
        if not bool(torch.isfinite(angles).all()):
            raise ValueError(f"gauge angles must be finite, got {int((~torch.isfinite(angles)).sum())} NaN or ±inf")
        return self._element(torch.remainder(angles, TWO_PI))

    def identity(self) -> GroupElement:
        return self._element(torch.zeros(self.num_vertices, dtype=torch.float64))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        return self._element(torch.remainder(self.check(a).data + self.check(b).data, TWO_PI))

    def inverse(self, a: GroupElement) -> GroupElement:
        return self._element(torch.remainder(-self.check(a).data, TWO_PI))

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        angles = TWO_PI * torch.rand(n, self.num_vertices, generator=generator, dtype=torch.float64)
        return [self._element(row) for row in angles]

    def equal(self, a: GroupElement, b: GroupElement) -> bool:
        difference = torch.remainder(a.data - b.data + math.pi, TWO_PI) - math.pi
        return bool(difference.abs().max() <= EQUALITY_TOLERANCE)

    def describe(self, g: GroupElement) -> str:
        head = ", ".join(f"{value:.4f}" for value in g.data[:4].tolist())
        return f"angles=[{head}{', …' if self.num_vertices > 4 else ''}]"

    def contains(self, g: object) -> bool:
        return isinstance(g, GroupElement) and isinstance(g.group, GaugeGroup) and g.group.num_vertices == self.num_vertices

    def __repr__(self) -> str:
        return f"SO(2)^{self.num_vertices}"


def _check_gauge_group(group: Any, what: str) -> None:
    if not isinstance(group, GaugeGroup):
        raise TypeError(f"{what} is acted on by a GaugeGroup(num_vertices), got {group!r}")


@dataclasses.dataclass(frozen=True)
class SO2Field(FieldType):
    """Features ``[V, C, 2L + 1]`` of C channels of type ρ_0 ⊕ … ⊕ ρ_L; γ acts by x_u ↦ ρ(−γ_u) x_u.

    Args:
        group: ``GaugeGroup(V)``.
        channels: C (``None``: any).
        max_order: L.
    """

    group: GaugeGroup
    channels: int | None
    max_order: int

    def __post_init__(self):
        _check_gauge_group(self.group, "SO2Field")
        check_int(self.max_order, "max_order", 0)
        if self.channels is not None:
            check_int(self.channels, "channels")

    @property
    def supports_pointwise(self) -> bool:  # type: ignore[override]
        return self.max_order == 0

    def validate(self, value: Any) -> None:
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            given = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
            raise TypeError(f"SO2Field expects a floating-point tensor [V, C, {irreps_dim(self.max_order)}], got {given}")
        dim = irreps_dim(self.max_order)
        expected = f"[{self.group.num_vertices}, {'C' if self.channels is None else self.channels}, {dim}]"
        if (value.dim() != 3 or value.shape[0] != self.group.num_vertices or value.shape[2] != dim
                or (self.channels is not None and value.shape[1] != self.channels)):
            raise ValueError(f"SO2Field(max_order={self.max_order}) expects features {expected} (vertices, channels, "
                             f"2L + 1), got shape {list(value.shape)}")

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        self.group.check(g)
        self.validate(value)
        return rotate_irreps(value, -g.data.to(value.device), self.max_order)


@dataclasses.dataclass(frozen=True)
class MeshGaugeField(FieldType):
    """The gauge-dependent geometry of a mesh ``Data`` (from :meth:`gdl.geodesics.Mesh.to_data`).

    γ acts by ϑ_uv ↦ ϑ_uv − γ_u on ``edge_angle`` (u the target of the edge), g_{v→u} ↦ g_{v→u} − γ_u + γ_v on
    ``edge_transport``, and turns ``frame`` (when present) by γ_u; every other entry is gauge-invariant (lengths,
    weights, positions) and kept.
    """

    group: GaugeGroup

    def __post_init__(self):
        _check_gauge_group(self.group, "MeshGaugeField")

    def validate(self, value: Any) -> None:
        if not (hasattr(value, "keys") and hasattr(value, "clone")):
            raise TypeError(f"MeshGaugeField expects a torch_geometric Data made by Mesh.to_data(), got {type(value).__name__}")
        missing = [key for key in ("edge_index", "edge_angle", "edge_transport") if getattr(value, key, None) is None]
        if missing:
            raise ValueError(f"MeshGaugeField expects a mesh Data with edge_index, edge_angle and edge_transport "
                             f"(Mesh.to_data()); missing {missing} (got entries {sorted(value.keys())})")
        if vertex_count(value) != self.group.num_vertices:
            raise ValueError(f"the gauge group {self.group!r} acts on a mesh with {self.group.num_vertices} vertices, "
                             f"got a mesh with {vertex_count(value)}")
        edge_index = value.edge_index
        if edge_index.dtype != torch.long or edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"data.edge_index must be an int64 tensor [2, E], got {edge_index.dtype} {list(edge_index.shape)}")
        for key in ("edge_angle", "edge_transport"):
            if value[key].shape != (edge_index.shape[1],) or not value[key].is_floating_point():
                raise ValueError(f"data.{key} must be a float tensor with one entry per edge [{edge_index.shape[1]}], "
                                 f"got {value[key].dtype} {list(value[key].shape)}")

    def transform(self, value: Any, g: GroupElement) -> Any:
        self.group.check(g)
        self.validate(value)
        return change_gauge(value, g.data)


def mesh_symmetry(num_vertices: int, rigid_motions: Group | None = None) -> ProductGroup:
    """E(3) × SO(2)^V (or ``rigid_motions`` × SO(2)^V): rigid motions of a mesh with V vertices and gauge changes."""
    return ProductGroup((rigid_motions or Euclidean(3), GaugeGroup(num_vertices)))


def feature_field(group: ProductGroup, channels: int | None, max_order: int) -> ProductField:
    """Features ``[V, C, 2L + 1]`` over :func:`mesh_symmetry`: rigid motions leave them, gauge changes turn them."""
    rigid, gauge = group.factors
    return ProductField((TrivialField(rigid), SO2Field(gauge, channels, max_order)))


def scalar_field(group: ProductGroup, channels: int | None) -> TrivialField:
    """Invariant vertex features ``[V, C]`` over :func:`mesh_symmetry`."""
    return TrivialField(group, channels)


def mesh_field(group: ProductGroup) -> ProductField:
    """A mesh ``Data`` over :func:`mesh_symmetry`: moved by :class:`~gdl.meshes.MeshField`, then re-gauged."""
    rigid, gauge = group.factors
    return ProductField((MeshField(rigid), MeshGaugeField(gauge)))
