"""Procedural meshes, all vectorised (each returns a :class:`~gdl.meshes.Mesh`).

* :func:`icosphere`: the subdivided icosahedron (10·4ⁿ + 2 vertices), nearly uniform triangles on a sphere;
* :func:`uv_sphere`: latitude–longitude rings (its rings are loops for holonomy);
* :func:`torus`: a ring torus, χ = 0;
* :func:`plane_grid`: a flat triangulated rectangle with a boundary (and :func:`fold`, an exact isometry of it);
* :func:`creature`: the *deformable surface*: an ellipsoidal body with five limbs of different lengths and
  directions (no intrinsic symmetry), and :func:`articulate` / :func:`random_poses` which bend the limbs at their
  joints. Bending keeps the body and the limbs beyond the joints rigid and blends the rotation over a short joint
  region, so the poses are near-isometric with known vertex correspondence (the same vertex ids in every pose): a
  FAUST-like set. On the 642-vertex creature with bends up to 1 rad, the mean edge-length change is below 1% and
  over 90% of the edges keep their length exactly; the few edges that cross a joint stretch by up to ~60%.
"""

from __future__ import annotations

import math

import torch

from gdl.core.checks import check_int

from .mesh import Mesh

__all__ = ["icosphere", "uv_sphere", "torus", "plane_grid", "fold", "creature", "articulate", "random_poses", "subdivide",
           "CREATURE_LIMBS"]

_ICOSAHEDRON_FACES = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2],
                      [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5],
                      [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]


def subdivide(pos: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Loop-style 1→4 split (no smoothing): a vertex at every edge midpoint, four triangles per face, same orientation."""
    V = pos.shape[0]
    halfedges = torch.stack([faces, faces.roll(-1, dims=1)], dim=-1).reshape(-1, 2)  # [3F, 2], corner c → c+1
    keys = halfedges.min(dim=1).values * V + halfedges.max(dim=1).values
    unique, inverse = torch.unique(keys, return_inverse=True)
    midpoints = (pos[unique // V] + pos[unique % V]) / 2
    mid = (V + inverse).reshape(-1, 3)  # midpoint of edge (c, c+1) for every face
    a, b, c = faces.unbind(1)
    ab, bc, ca = mid.unbind(1)
    new_faces = torch.cat([torch.stack(t, dim=1) for t in ((a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca))])
    return torch.cat([pos, midpoints]), new_faces


def icosphere(subdivisions: int = 3, radius: float = 1.0) -> Mesh:
    """The icosahedron subdivided ``subdivisions`` times and projected on the sphere of ``radius``.

    Sizes: 12, 42, 162, 642, 2,562, 10,242, 40,962, 163,842 vertices for 0…7 subdivisions.
    """
    check_int(subdivisions, "subdivisions", 0)
    t = (1 + math.sqrt(5)) / 2
    pos = torch.tensor([[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t], [0, -1, -t], [0, 1, -t],
                        [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], dtype=torch.float64)
    faces = torch.tensor(_ICOSAHEDRON_FACES)
    for _ in range(subdivisions):
        pos, faces = subdivide(pos, faces)
    return Mesh(radius * pos / pos.norm(dim=1, keepdim=True), faces)


def uv_sphere(rings: int = 16, segments: int = 32, radius: float = 1.0) -> Mesh:
    """A latitude–longitude sphere: two poles and ``rings − 1`` rings of ``segments`` vertices.

    Ring i (1 ≤ i < rings) sits at polar angle πi/rings; its vertices ``1 + (i−1)·segments + j`` (j = 0…segments−1)
    run counter-clockwise seen from the north pole (vertex 0), so the ring is a loop bounding the northern cap.
    """
    check_int(rings, "rings", 2)
    check_int(segments, "segments", 3)
    polar = math.pi * torch.arange(1, rings, dtype=torch.float64) / rings
    azimuth = 2 * math.pi * torch.arange(segments, dtype=torch.float64) / segments
    ring = torch.stack([polar.sin()[:, None] * azimuth.cos(), polar.sin()[:, None] * azimuth.sin(),
                        polar.cos()[:, None].expand(-1, segments)], dim=-1).reshape(-1, 3)
    pos = radius * torch.cat([torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64), ring,
                              torch.tensor([[0.0, 0.0, -1.0]], dtype=torch.float64)])
    j = torch.arange(segments)
    j1 = (j + 1) % segments
    north = torch.stack([torch.zeros_like(j), 1 + j, 1 + j1], dim=1)
    south_pole = 1 + (rings - 1) * segments
    last = 1 + (rings - 2) * segments
    south = torch.stack([torch.full_like(j, south_pole), last + j1, last + j], dim=1)
    i = torch.arange(rings - 2)[:, None]
    top, bottom = 1 + i * segments, 1 + (i + 1) * segments
    quads_a = torch.stack([(top + j).flatten(), (bottom + j).flatten(), (bottom + j1).flatten()], dim=1)
    quads_b = torch.stack([(top + j).flatten(), (bottom + j1).flatten(), (top + j1).flatten()], dim=1)
    return Mesh(pos, torch.cat([north, quads_a, quads_b, south]))


def torus(major_segments: int = 32, minor_segments: int = 16, major_radius: float = 1.0, minor_radius: float = 0.4) -> Mesh:
    """A ring torus with ``major_segments × minor_segments`` vertices (χ = 0), faces oriented outwards."""
    check_int(major_segments, "major_segments", 3)
    check_int(minor_segments, "minor_segments", 3)
    if not 0 < minor_radius < major_radius:
        raise ValueError(f"need 0 < minor_radius < major_radius, got {minor_radius} and {major_radius}")
    u = 2 * math.pi * torch.arange(major_segments, dtype=torch.float64)[:, None] / major_segments
    v = 2 * math.pi * torch.arange(minor_segments, dtype=torch.float64)[None, :] / minor_segments
    ring = major_radius + minor_radius * v.cos()
    pos = torch.stack([ring * u.cos(), ring * u.sin(), (minor_radius * v.sin()).expand(major_segments, -1)], dim=-1)
    return Mesh(pos.reshape(-1, 3), _grid_faces(major_segments, minor_segments, wrap=True))


def _grid_faces(rows: int, cols: int, wrap: bool) -> torch.Tensor:
    """Two triangles per grid cell (i, j)…(i+1, j+1) of a row-major ``rows × cols`` vertex grid."""
    i = torch.arange(rows if wrap else rows - 1)[:, None]
    j = torch.arange(cols if wrap else cols - 1)[None, :]
    i1, j1 = (i + 1) % rows, (j + 1) % cols
    a, b, c, d = i * cols + j, i1 * cols + j, i1 * cols + j1, i * cols + j1
    return torch.cat([torch.stack([a, b, c], dim=-1).reshape(-1, 3), torch.stack([a, c, d], dim=-1).reshape(-1, 3)])


def plane_grid(rows: int = 11, cols: int = 11, size: float = 1.0) -> Mesh:
    """A flat square sheet in the z = 0 plane, ``rows × cols`` vertices, counter-clockwise seen from +z (χ = 1)."""
    check_int(rows, "rows", 2)
    check_int(cols, "cols", 2)
    x = torch.linspace(-size / 2, size / 2, rows, dtype=torch.float64)[:, None].expand(rows, cols)
    y = torch.linspace(-size / 2, size / 2, cols, dtype=torch.float64)[None, :].expand(rows, cols)
    pos = torch.stack([x, y, torch.zeros_like(x)], dim=-1).reshape(-1, 3)
    return Mesh(pos, _grid_faces(rows, cols, wrap=False)[:, [0, 2, 1]])


def fold(mesh: Mesh, angle: float, axis_point: float = 0.0) -> Mesh:
    """Fold a :func:`plane_grid` along the line x = ``axis_point`` (a row of edges) by ``angle`` radians.

    The half x > axis_point turns rigidly about that line, so every triangle keeps its shape: an exact isometry
    that is not a rigid motion (edge lengths, corner angles and all intrinsic quantities are unchanged).
    """
    pos = mesh.pos.clone()
    side = pos[:, 0] > axis_point + 1e-12
    below = pos[:, 0] < axis_point - 1e-12
    straddling = side[mesh.faces].any(dim=1) & below[mesh.faces].any(dim=1)
    if bool(straddling.any()):
        raise ValueError(f"the fold line x = {axis_point} crosses {int(straddling.sum())} faces; fold along a row of "
                         "vertices (e.g. x = 0 of a plane_grid with an odd number of rows)")
    offset = pos[side, 0] - axis_point
    pos[side, 0] = axis_point + offset * math.cos(angle)
    pos[side, 2] = offset * math.sin(angle)
    return Mesh(pos, mesh.faces)


#: semi-axes of the creature's ellipsoidal body
BODY_SEMI_AXES = (1.4, 1.0, 0.8)
#: the creature's limbs: (direction, length, angular radius of the limb's base in radians)
CREATURE_LIMBS = (((0.85, 0.45, -0.30), 1.10, 0.42), ((0.80, -0.50, -0.35), 0.80, 0.40),
                  ((-0.75, 0.55, -0.40), 0.95, 0.38), ((-0.85, -0.40, -0.30), 0.70, 0.44),
                  ((0.10, 0.15, 1.00), 0.60, 0.50))


def _limb_weights(unit: torch.Tensor) -> torch.Tensor:
    """``[V, limbs]`` smooth membership of each unit-sphere point in each limb (1 near the axis, 0 outside)."""
    weights = []
    for direction, _, width in CREATURE_LIMBS:
        d = torch.tensor(direction, dtype=torch.float64)
        angle = torch.acos((unit @ (d / d.norm())).clamp(-1, 1))
        s = ((width - angle) / width).clamp(0, 1)
        weights.append(s * s * (3 - 2 * s))  # smoothstep
    return torch.stack(weights, dim=1)


def creature(subdivisions: int = 3) -> Mesh:
    """The deformable base surface: an ellipsoidal body (semi-axes 1.4, 1.0, 0.8) with five limbs.

    Built from :func:`icosphere` (same vertex ids and faces) by a radial displacement: a point at unit direction x̂
    moves to r(x̂)·x̂ scaled by the body's semi-axes, with r = 1 + Σ_k ℓ_k s_k(x̂), where s_k is a smoothstep of the
    angle between x̂ and the k-th limb's direction (:data:`CREATURE_LIMBS`: lengths ℓ_k and base radii differ, so the
    surface has no intrinsic symmetry).
    """
    sphere = icosphere(subdivisions)
    unit = sphere.pos
    radius = 1 + _limb_weights(unit) @ torch.tensor([length for _, length, _ in CREATURE_LIMBS], dtype=torch.float64)
    return Mesh(unit * radius[:, None] * torch.tensor(BODY_SEMI_AXES, dtype=torch.float64), sphere.faces)


def _rotation_about(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues: rotation matrices ``[N, 3, 3]`` about the unit ``axis [3]`` by ``angle [N]``."""
    k = torch.tensor([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]], dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    return eye + angle.sin()[:, None, None] * k + (1 - angle.cos())[:, None, None] * (k @ k)



def articulate(base: Mesh, angles: torch.Tensor, axes: torch.Tensor, joint: float = 0.35, blend: float = 0.5) -> Mesh:
    """Bend each limb of a :func:`creature` at its joint (a near-isometric pose).

    Limb k leaves the body at b_k = d_k ⊙ (semi-axes) along the unit axis a_k = b_k / |b_k|. A vertex of the limb
    at height h = (p − b_k)·a_k turns about ``axes[k]`` (made perpendicular to a_k, through the joint point
    b_k + ``joint``·a_k) by ``angles[k] · smoothstep((h − joint) / blend)``: the limb beyond the joint turns
    rigidly, the body stays, and only the joint region of width ``blend`` stretches a little.

    Args:
        base: the unposed creature (its vertex ids and faces are kept).
        angles: ``[limbs]`` bending angles (radians).
        axes: ``[limbs, 3]`` bending axes.
    """
    body = torch.tensor(BODY_SEMI_AXES, dtype=torch.float64)
    unscaled = base.pos / body
    membership = _limb_weights(unscaled / unscaled.norm(dim=1, keepdim=True)) > 0  # [V, limbs]
    pos = base.pos.clone()
    for k, (direction, _, _) in enumerate(CREATURE_LIMBS):  # five limbs, each moved in one vectorised step
        d = torch.tensor(direction, dtype=torch.float64)
        root = d / d.norm() * body
        limb_axis = root / root.norm()
        height = (base.pos - root) @ limb_axis
        s = ((height - joint) / blend).clamp(0, 1) * membership[:, k]
        s = s * s * (3 - 2 * s)
        axis = axes[k].to(torch.float64)
        axis = axis - (axis @ limb_axis) * limb_axis
        centre = root + joint * limb_axis
        rotation = _rotation_about(axis / axis.norm(), angles[k].to(torch.float64) * s)
        pos = centre + torch.einsum("vij,vj->vi", rotation, pos - centre)
    return Mesh(pos, base.faces)


def random_poses(count: int, subdivisions: int = 3, max_angle: float = 1.0, generator: torch.Generator | None = None,
                 ) -> list[Mesh]:
    """``count`` random poses of the :func:`creature`: each limb bent by an angle uniform in ±``max_angle`` radians
    about a random axis perpendicular to it. Vertex i of every pose is the same point of the body."""
    check_int(count, "count", 1)
    base = creature(subdivisions)
    limbs = len(CREATURE_LIMBS)
    angles = (2 * torch.rand(count, limbs, generator=generator, dtype=torch.float64) - 1) * max_angle
    axes = torch.randn(count, limbs, 3, generator=generator, dtype=torch.float64)
    return [articulate(base, angles[i], axes[i]) for i in range(count)]


