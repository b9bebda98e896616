"""Triangle meshes and their discrete differential geometry (book §4.4–4.6).

A :class:`Mesh` is V vertices ``pos [V, 3]`` and F oriented triangles ``faces [F, 3]``. Constructing one
validates it and computes, vectorised over faces, halfedges and edges (no Python loop over mesh elements):

* face areas and normals, area-weighted vertex normals, the lumped mass ``m_u = Σ_{f∋u} A_f / 3``;
* the cotangent Laplacian (book eqs. 24–25): for the edge uv with opposite corner angles α_uv, β_uv,
  ``w_uv = (cot α_uv + cot β_uv) / 2`` and the symmetric positive semi-definite *stiffness* matrix
  ``L_uv = −w_uv``, ``L_uu = Σ_v w_uv``; the Laplace–Beltrami operator is ``Δ = M⁻¹L`` (``(Δx)_u =
  (1/m_u) Σ_v w_uv (x_u − x_v)``), whose eigenpairs solve the generalised problem ``L φ = λ M φ``;
* a *gauge*: a tangent frame (e₁, e₂, n) per vertex, e₁ pointing along a reference edge;
* the discrete *log map* of every edge in the gauge of its target vertex: angle ϑ_uv and length r_uv;
* the discrete Levi-Civita connection: transport angles g_{v→u} ∈ SO(2) along every edge.

Intrinsic angles (Polthier & Schmies 2006; Knöppel et al. 2013; Sharp et al. 2019, "The Vector Heat Method").
At an interior vertex u the corner angles α of its faces add up to Θ_u, which is 2π only where the surface is
flat; Θ_u ≠ 2π is the angular defect d_u = 2π − Θ_u (the discrete Gaussian curvature). Walking around u
counter-clockwise (the orientation of the faces) from the reference edge, the direction of an edge u→v is
given the *rescaled* accumulated angle

    ϑ_uv = (2π / Θ_u) · Σ_{corners at u between the reference edge and uv} α        (∈ [0, 2π))

(π / Θ_u at a boundary vertex, whose fan then spans a half plane, the reference being its first boundary edge).
These angles and the edge lengths depend only on the edge lengths and the combinatorics of the mesh: they are
*intrinsic*, unchanged by rigid motions (reflections included) and by any bending that keeps edge lengths.

Transport. A vector leaving v towards u, i.e. at angle ϑ_vu + π in v's gauge, arrives at u pointing away from
v, at angle ϑ_uv in u's gauge. Transport along the edge is the rotation that maps one to the other,

    g_{v→u} = ϑ_uv − ϑ_vu − π        (mod 2π; a vector of angle φ at v has angle φ + g_{v→u} at u),

and g_{u→v} = −g_{v→u}. Around the boundary of a face (i, j, k) (its orientation) the transport angles add up
to the face's curvature κ_f = Σ_{corners c of f} (s_c − 1) α_c with s_c = 2π/Θ_c (π/Θ_c on the boundary): the
scaling distributes each vertex's defect over its faces in proportion to their corner angles. Hence, for any
loop that bounds a set of faces, the holonomy (the sum of the transport angles along it, mod 2π) is the sum of
κ_f inside, and over a closed mesh Σ_f κ_f = Σ_u d_u = 2πχ (discrete Gauss–Bonnet). A loop around one
vertex encloses the faces of its star, whose κ add up to d_u plus shares of the neighbours' defects; a loop that
encloses every vertex of non-zero defect with all of its faces picks up exactly their total defect. (No vertex-based
connection can give each one-ring loop exactly d_u: summed over a closed mesh that would count 2πχ three times.)

Bad input raises ``ValueError`` naming what is wrong: out-of-range or repeated indices in a face, duplicate faces,
faces of zero area, NaN/inf coordinates, vertices in no face (repair: :meth:`Mesh.compact`), edges shared by more
than two faces, inconsistently oriented faces and non-manifold ("bow-tie") vertices.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from gdl.core import FieldType, Group, GroupElement, TrivialField, TupleField
from gdl.core.checks import check_edge_index, check_int
from gdl.symmetries.euclidean import Euclidean, rotation_and_translation

__all__ = ["Mesh", "MeshField", "wrap_angle", "change_gauge", "gauge_angles", "GEOMETRY_KEYS", "intrinsic_layer_types",
           "check_vertex_features", "check_mesh_data", "vertex_count", "mesh_bad_inputs"]

TWO_PI = 2 * math.pi
#: a face is degenerate when twice its area is below this fraction of its longest edge squared
DEGENERATE_FACE_TOLERANCE = 1e-12
#: gauge angles below this (radians) are round-off of a frame in the mesh's own gauge, and are taken as 0
GAUGE_ROUND_OFF = 1e-12
#: the entries :meth:`Mesh.to_data` computes from ``pos`` and ``face`` (what a rigid motion recomputes)
GEOMETRY_KEYS = ("edge_index", "edge_angle", "edge_length", "edge_transport", "cot_weight", "mass", "normal", "frame",
                 "laplacian_bound")


def wrap_angle(angle: torch.Tensor) -> torch.Tensor:
    """Angles reduced to [−π, π] (by a multiple of 2π)."""
    return angle - TWO_PI * torch.round(angle / TWO_PI)


def change_gauge(data: Any, angles: torch.Tensor) -> Any:
    """A copy of a mesh ``Data`` in the gauge turned by ``angles`` γ ``[V]`` (radians, counter-clockwise).

    ϑ_uv ↦ ϑ_uv − γ_u on ``edge_angle`` (u the target of the edge), g_{v→u} ↦ g_{v→u} − γ_u + γ_v on
    ``edge_transport``, and the frame (when present) e₁' = cos γ e₁ + sin γ e₂, e₂' = −sin γ e₁ + cos γ e₂; every
    other entry is gauge-invariant and kept. The arithmetic runs in float64; entries keep their dtypes.
    """
    source, target = data.edge_index
    gamma = angles.to(device=data.edge_angle.device, dtype=torch.float64)
    moved = data.clone()
    moved.edge_angle = torch.remainder(data.edge_angle.double() - gamma[target], TWO_PI).to(data.edge_angle.dtype)
    transport = data.edge_transport.double() - gamma[target] + gamma[source]
    moved.edge_transport = wrap_angle(transport).to(data.edge_transport.dtype)
    frame = getattr(data, "frame", None)
    if frame is not None:
        cos, sin = gamma.cos()[:, None], gamma.sin()[:, None]
        e1, e2 = frame[:, 0].double(), frame[:, 1].double()
        moved.frame = torch.stack([cos * e1 + sin * e2, -sin * e1 + cos * e2], dim=1).to(frame.dtype)
    return moved


def gauge_angles(frame: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """γ ``[V]``: the angle from each ``reference`` frame's e₁ to ``frame``'s e₁, measured in the reference's
    (e₁, e₂) plane, so that ``frame`` is ``reference`` turned by γ (:func:`change_gauge`). Frames ``[V, 2, 3]``."""
    frame, reference = frame.double(), reference.double()
    return torch.atan2((frame[:, 0] * reference[:, 1]).sum(-1), (frame[:, 0] * reference[:, 0]).sum(-1))


def _first(indices: torch.Tensor, count: int = 5) -> list[int]:
    return indices.flatten()[:count].tolist()


def _lookup(sorted_keys: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Positions of ``queries`` in the sorted 1-D ``sorted_keys`` (−1 where absent)."""
    position = torch.searchsorted(sorted_keys, queries).clamp(max=max(sorted_keys.numel() - 1, 0))
    found = sorted_keys[position] == queries if sorted_keys.numel() else torch.zeros_like(queries, dtype=torch.bool)
    return torch.where(found, position, torch.full_like(position, -1))


class Mesh:
    """An oriented, manifold triangle mesh with its discrete differential geometry.

    Args:
        pos: vertex positions ``[V, 3]`` (any float dtype; the geometry is computed in float64).
        faces: triangles ``[F, 3]`` of vertex indices, counter-clockwise seen from outside (consistently oriented).

    Attributes (all float64 where real):
        pos ``[V, 3]``, faces ``[F, 3]``;
        edges ``[E, 2]`` the undirected edges (u < v), edge_index ``[2, 2E]`` both directions (row 0 the source v,
        row 1 the target u: torch-geometric's ``source_to_target`` flow);
        face_areas ``[F]``, face_normals ``[F, 3]``, corner_angles ``[F, 3]``, vertex_normals ``[V, 3]``,
        mass ``[V]`` (lumped, barycentric), cot_weight ``[2E]`` (w_uv of each directed edge);
        angle_sum ``[V]`` (Θ_u), is_boundary ``[V]``, angle_defect ``[V]`` (2π − Θ inside, π − Θ on the boundary);
        frames ``[V, 3, 3]`` rows (e₁, e₂, n), reference_neighbor ``[V]`` (the vertex e₁ points to);
        edge_angle ``[2E]`` ϑ_uv ∈ [0, 2π) (direction of the source seen from the target, in the target's gauge),
        edge_length ``[2E]``, edge_transport ``[2E]`` g_{source→target} ∈ [−π, π];
        face_curvature ``[F]`` κ_f; component ``[V]`` connected-component labels;
        laplacian_bound ``[V]`` an upper bound of the spectrum of Δ = M⁻¹L on the vertex's component
        (Gershgorin: max over the component of (L_uu + Σ_v |L_uv|) / m_u).

    Example:
        >>> from gdl.meshes import icosphere
        >>> mesh = icosphere(2)
        >>> mesh.num_vertices, mesh.num_faces, mesh.euler_characteristic
        (162, 320, 2)
        >>> round(float(mesh.face_curvature.sum()) / math.pi, 10)  # discrete Gauss–Bonnet: 2πχ
        4.0
    """

    def __init__(self, pos: Any, faces: Any):
        pos, faces = torch.as_tensor(pos), torch.as_tensor(faces)
        if not pos.is_floating_point():
            raise TypeError(f"pos must be a floating-point tensor [V, 3], got {pos.dtype}")
        if pos.dim() != 2 or pos.shape[1] != 3:
            raise ValueError(f"pos must have shape [V, 3], got {list(pos.shape)}")
        if faces.is_floating_point() or faces.is_complex() or faces.dtype == torch.bool:
            raise TypeError(f"faces must be an integer tensor [F, 3], got {faces.dtype}")
        if faces.dim() != 2 or faces.shape[1] != 3:
            raise ValueError(f"faces must have shape [F, 3] (triangles), got {list(faces.shape)}"
                             + ("; torch-geometric stores data.face as [3, F]: use Mesh.from_data or faces.T"
                                if faces.dim() == 2 and faces.shape[0] == 3 else ""))
        if faces.shape[0] == 0:
            raise ValueError("a mesh needs at least one face, got faces of shape [0, 3]")
        self.pos = pos.to(torch.float64)
        self.faces = faces.to(device=pos.device, dtype=torch.long)
        self._check_values()
        self._connectivity()
        self._geometry()

    # -- construction ----------------------------------------------------------------------------------------------
    @property
    def num_vertices(self) -> int:
        return self.pos.shape[0]

    @property
    def num_faces(self) -> int:
        return self.faces.shape[0]

    @property
    def num_edges(self) -> int:
        """Number of undirected edges."""
        return self.edges.shape[0]

    @property
    def euler_characteristic(self) -> int:
        """χ = V − E + F (2 for a sphere, 0 for a torus, 1 for a disk)."""
        return self.num_vertices - self.num_edges + self.num_faces

    @property
    def device(self) -> torch.device:
        return self.pos.device

    def _check_values(self) -> None:
        pos, faces, V = self.pos, self.faces, self.num_vertices
        bad = ~torch.isfinite(pos).all(dim=1)
        if bool(bad.any()):
            raise ValueError(f"pos must be finite, but {int(bad.sum())} of {V} vertices have NaN or infinite "
                             f"coordinates (first: {_first(bad.nonzero())})")
        out = (faces < 0) | (faces >= V)
        if bool(out.any()):
            face = int(out.any(dim=1).nonzero()[0])
            raise ValueError(f"faces refer to vertices outside 0..{V - 1}: face {face} is {faces[face].tolist()} "
                             f"({int(out.any(dim=1).sum())} such faces)")
        repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
        if bool(repeated.any()):
            face = int(repeated.nonzero()[0])
            raise ValueError(f"degenerate face {face} = {faces[face].tolist()} repeats a vertex "
                             f"({int(repeated.sum())} such faces); a triangle needs three distinct vertices")
        ordered = faces.sort(dim=1).values
        keys = (ordered[:, 0] * V + ordered[:, 1]) * V + ordered[:, 2]
        unique, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
        if bool((counts > 1).any()):
            twice = (counts[inverse] > 1).nonzero().flatten()
            first = twice[inverse[twice] == inverse[twice[0]]]
            raise ValueError(f"duplicate faces: faces {first.tolist()} have the same vertices {ordered[first[0]].tolist()} "
                             f"({int((counts > 1).sum())} repeated triangles)")
        a, b, c = pos[faces[:, 0]], pos[faces[:, 1]], pos[faces[:, 2]]
        double_area = torch.linalg.cross(b - a, c - a).norm(dim=1)
        longest = torch.stack([(b - a).norm(dim=1), (c - b).norm(dim=1), (a - c).norm(dim=1)]).amax(dim=0)
        flat = double_area <= DEGENERATE_FACE_TOLERANCE * longest.square()
        if bool(flat.any()):
            face = int(flat.nonzero()[0])
            raise ValueError(f"degenerate face {face} = {faces[face].tolist()} has zero area (collinear or coincident "
                             f"vertices; {int(flat.sum())} such faces): its cotangent weights would be infinite")
        used = torch.zeros(V, dtype=torch.bool, device=pos.device)
        used[faces.flatten()] = True
        if not bool(used.all()):
            isolated = (~used).nonzero().flatten()
            raise ValueError(f"{isolated.numel()} vertices belong to no face (first: {_first(isolated)}); an isolated "
                             "vertex has no area and no Laplacian row. Remove them with Mesh.compact(pos, faces)")

    def _connectivity(self) -> None:
        """Halfedges, undirected edges and the counter-clockwise fan of every vertex (raises if non-manifold)."""
        faces, V, device = self.faces, self.num_vertices, self.device
        F = faces.shape[0]
        H = 3 * F
        # halfedge h = 3f + c runs from corner c to corner c+1 of face f; `third` is the corner c+2
        self._src = faces.flatten()
        self._dst = faces.roll(-1, dims=1).flatten()
        self._third = faces.roll(-2, dims=1).flatten()
        low, high = torch.minimum(self._src, self._dst), torch.maximum(self._src, self._dst)
        edge_keys, self._halfedge_edge, counts = torch.unique(low * V + high, return_inverse=True, return_counts=True)
        if bool((counts > 2).any()):
            worst = int(counts.argmax())
            u, v = divmod(int(edge_keys[worst]), V)
            sharing = (self._halfedge_edge == worst).nonzero().flatten() // 3
            raise ValueError(f"non-manifold edge ({u}, {v}) is shared by {int(counts[worst])} faces {sharing.tolist()} "
                             f"({int((counts > 2).sum())} such edges); a manifold mesh has at most two faces per edge")
        directed = self._src * V + self._dst
        self._halfedge_keys, self._halfedge_order = torch.sort(directed)
        repeated = self._halfedge_keys[1:] == self._halfedge_keys[:-1]
        if bool(repeated.any()):
            u, v = divmod(int(self._halfedge_keys[1:][repeated][0]), V)
            both = (directed == u * V + v).nonzero().flatten() // 3
            raise ValueError(f"faces {both.tolist()} both traverse the edge {u}→{v} in the same direction: the faces are "
                             "not consistently oriented (every face must list its vertices counter-clockwise, seen "
                             "from the same side)")
        self.edges = torch.stack([edge_keys // V, edge_keys % V], dim=1)
        self.edge_counts = counts
        # next halfedge counter-clockwise around the source: src→third (in the face across the edge src–third)
        nxt = self._find_halfedges(self._src, self._third)
        has_pred = torch.zeros(H, dtype=torch.bool, device=device)
        has_pred[nxt[nxt >= 0]] = True
        out_degree = torch.bincount(self._src, minlength=V)
        starts = torch.bincount(self._src[~has_pred], minlength=V)
        if bool((starts > 1).any()):
            u = int((starts > 1).nonzero()[0])
            raise ValueError(f"non-manifold vertex {u}: its faces form {int(starts[u])} separate fans joined only at the "
                             f"vertex (a 'bow-tie'; {int((starts > 1).sum())} such vertices)")
        self.is_boundary = starts == 1
        # reference halfedge: the boundary fan's first edge, else the edge to the lowest-numbered neighbour
        halfedges = torch.arange(H, device=device)
        priority = (has_pred.long() * V + self._dst) * H + halfedges
        best = torch.full((V,), (2 * V + 1) * H, dtype=torch.long, device=device).scatter_reduce(
            0, self._src, priority, reduce="amin")
        self._reference = best % H
        is_reference = torch.zeros(H, dtype=torch.bool, device=device)
        is_reference[self._reference] = True
        cut = (nxt >= 0) & is_reference[nxt.clamp(min=0)]
        nxt = torch.where(cut, torch.full_like(nxt, -1), nxt)
        self._next, self._out_degree = nxt, out_degree

    def _find_halfedges(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Halfedge ids of src→dst (−1 where no face has that directed edge)."""
        position = _lookup(self._halfedge_keys, src * self.num_vertices + dst)
        return torch.where(position >= 0, self._halfedge_order[position.clamp(min=0)], position)

    def _geometry(self) -> None:
        pos, faces, V, device = self.pos, self.faces, self.num_vertices, self.device
        corners = pos[faces]  # [F, 3, 3]
        to_next = corners.roll(-1, dims=1) - corners  # corner c → corner c+1
        to_prev = corners.roll(-2, dims=1) - corners  # corner c → corner c+2
        cross = torch.linalg.cross(to_next, to_prev)
        sin_area = cross.norm(dim=-1)  # 2 A_f at every corner
        cosine = (to_next * to_prev).sum(-1)
        self.corner_angles = torch.atan2(sin_area, cosine)  # [F, 3]
        cotangent = cosine / sin_area
        face_cross = cross[:, 0]
        self.face_areas = face_cross.norm(dim=1) / 2
        self.face_normals = face_cross / (2 * self.face_areas[:, None])
        normals = torch.zeros(V, 3, dtype=torch.float64, device=device).index_add_(
            0, faces.flatten(), face_cross.repeat_interleave(3, dim=0))
        self.vertex_normals = normals / normals.norm(dim=1, keepdim=True)
        self.mass = torch.zeros(V, dtype=torch.float64, device=device).index_add_(
            0, faces.flatten(), (self.face_areas / 3).repeat_interleave(3))

        # fan angles by pointer jumping along each vertex's chain of outgoing halfedges (suffix sums)
        alpha = self.corner_angles.flatten()  # angle at the source of halfedge h between h and next(h)
        H = alpha.numel()
        sentinel = H
        suffix = torch.cat([alpha, alpha.new_zeros(1)])
        length = torch.cat([torch.ones(H, dtype=torch.long, device=device), torch.zeros(1, dtype=torch.long, device=device)])
        jump = torch.cat([torch.where(self._next >= 0, self._next, torch.full_like(self._next, sentinel)),
                          torch.tensor([sentinel], device=device)])
        for _ in range(int(self._out_degree.max()).bit_length() + 1):
            suffix, length, jump = suffix + suffix[jump], length + length[jump], jump[jump]
        chain = length[self._reference]
        if not bool((chain == self._out_degree).all()):
            u = int((chain != self._out_degree).nonzero()[0])
            raise ValueError(f"non-manifold vertex {u}: its {int(self._out_degree[u])} faces do not form one fan around "
                             f"it (one fan has {int(chain[u])}); the surface touches itself at that vertex")
        self.angle_sum = suffix[self._reference]
        full_turn = torch.full_like(self.angle_sum, TWO_PI).masked_fill(self.is_boundary, math.pi)  # 2π, π on the boundary
        scale = full_turn / self.angle_sum
        self.angle_defect = full_turn - self.angle_sum
        halfedge_angle = scale[self._src] * (self.angle_sum[self._src] - suffix[:H])  # ϑ of halfedge src→dst
        self.face_curvature = ((scale[faces] - 1) * self.corner_angles).sum(dim=1)

        # directed edges: both directions of every undirected edge; row 0 source v, row 1 target u
        E = self.edges.shape[0]
        self.edge_index = torch.cat([self.edges.T, self.edges.T.flip(0)], dim=1)
        source, target = self.edge_index
        outgoing = self._find_halfedges(target, source)  # halfedge target→source (absent: end of a boundary fan)
        self.edge_angle = torch.where(outgoing >= 0, halfedge_angle[outgoing.clamp(min=0)],
                                      torch.full_like(halfedge_angle[:1], math.pi))
        reverse = torch.arange(2 * E, device=device).roll(E)
        self.edge_transport = wrap_angle(self.edge_angle - self.edge_angle[reverse] - math.pi)
        self.edge_length = (pos[source] - pos[target]).norm(dim=1)
        # cotangent weights: the corner opposite halfedge h is its `third` corner
        weight = torch.zeros(E, dtype=torch.float64, device=device).index_add_(
            0, self._halfedge_edge, cotangent.roll(-2, dims=1).flatten() / 2)
        self.cot_weight = torch.cat([weight, weight])

        # the gauge: e₁ along the reference edge projected on the tangent plane, e₂ = n × e₁
        self.reference_neighbor = self._dst[self._reference]
        direction = pos[self.reference_neighbor] - pos
        n = self.vertex_normals
        e1 = direction - (direction * n).sum(1, keepdim=True) * n
        e1 = e1 / e1.norm(dim=1, keepdim=True)
        self.frames = torch.stack([e1, torch.linalg.cross(n, e1), n], dim=1)

        # connected components and the Gershgorin bound of M⁻¹L on each
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        edges = self.edges.cpu().numpy()
        graph = coo_matrix((np.ones(E), (edges[:, 0], edges[:, 1])), shape=(V, V))
        _, labels = connected_components(graph, directed=False)
        self.component = torch.as_tensor(labels, dtype=torch.long, device=device)
        diagonal = torch.zeros(V, dtype=torch.float64, device=device).index_add_(0, target, self.cot_weight)
        absolute = torch.zeros(V, dtype=torch.float64, device=device).index_add_(0, target, self.cot_weight.abs())
        row_bound = (diagonal + absolute) / self.mass
        component_bound = torch.zeros(int(self.component.max()) + 1, dtype=torch.float64, device=device).scatter_reduce(
            0, self.component, row_bound, reduce="amax")
        self.laplacian_bound = component_bound[self.component]

    # -- repair and conversion ---------------------------------------------------------------------------------------
    @staticmethod
    def compact(pos: Any, faces: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Drop vertices that belong to no face (the documented repair for isolated vertices).

        Returns:
            ``(pos [V', 3], faces [F, 3], kept [V'])`` with ``kept`` the original index of every remaining vertex.
        """
        pos, faces = torch.as_tensor(pos), torch.as_tensor(faces, dtype=torch.long)
        used = torch.zeros(pos.shape[0], dtype=torch.bool, device=pos.device)
        used[faces.flatten()] = True
        kept = used.nonzero().flatten()
        new_index = torch.full((pos.shape[0],), -1, dtype=torch.long, device=pos.device)
        new_index[kept] = torch.arange(kept.numel(), device=pos.device)
        return pos[kept], new_index[faces], kept

    @classmethod
    def from_data(cls, data: Any) -> "Mesh":
        """The mesh of a torch-geometric ``Data`` with ``pos [V, 3]`` and ``face [3, F]``."""
        pos, face = getattr(data, "pos", None), getattr(data, "face", None)
        if pos is None or face is None:
            raise ValueError(f"a mesh Data needs entries 'pos' [V, 3] and 'face' [3, F]; got entries {sorted(data.keys())}")
        return cls(pos, face.T)

    def moved(self, rotation: Any, translation: Any = None) -> "Mesh":
        """The mesh after the rigid motion x ↦ R x + t (R orthogonal ``[3, 3]``, t ``[3]``)."""
        rotation = torch.as_tensor(rotation, dtype=torch.float64, device=self.device)
        moved = self.pos @ rotation.T
        if translation is not None:
            moved = moved + torch.as_tensor(translation, dtype=torch.float64, device=self.device)
        return Mesh(moved, self.faces)

    def to_data(self, dtype: torch.dtype = torch.float32, **extra: Any):
        """A torch-geometric ``Data`` with the mesh and its geometry (batching with ``Batch`` works as for graphs).

        Entries: ``pos [V, 3]``, ``face [3, F]``, ``edge_index [2, 2E]``, ``edge_angle``, ``edge_length``,
        ``edge_transport``, ``cot_weight`` ``[2E]``, ``mass [V]``, ``normal [V, 3]``, ``frame [V, 2, 3]`` (e₁, e₂),
        ``laplacian_bound [V]``, plus any ``extra`` entries (e.g. ``x=features``, ``y=labels``).
        """
        from torch_geometric.data import Data

        floats = dict(pos=self.pos, edge_angle=self.edge_angle, edge_length=self.edge_length,
                      edge_transport=self.edge_transport, cot_weight=self.cot_weight, mass=self.mass,
                      normal=self.vertex_normals, frame=self.frames[:, :2], laplacian_bound=self.laplacian_bound)
        entries = {key: value.to(dtype) for key, value in floats.items()}
        return Data(face=self.faces.T.contiguous(), edge_index=self.edge_index, num_nodes=self.num_vertices,
                    **entries, **extra)

    # -- operators ---------------------------------------------------------------------------------------------------
    def stiffness(self) -> torch.Tensor:
        """The cotangent stiffness matrix L (symmetric, PSD, L·1 = 0) as a sparse COO tensor ``[V, V]``."""
        V = self.num_vertices
        diagonal = torch.zeros(V, dtype=torch.float64, device=self.device).index_add_(0, self.edge_index[1], self.cot_weight)
        loops = torch.arange(V, device=self.device)
        index = torch.cat([self.edge_index.flip(0), torch.stack([loops, loops])], dim=1)
        values = torch.cat([-self.cot_weight, diagonal])
        return torch.sparse_coo_tensor(index, values, (V, V), check_invariants=True).coalesce()

    def stiffness_scipy(self):
        """L as a ``scipy.sparse.csr_matrix`` (float64)."""
        from scipy.sparse import coo_matrix

        L = self.stiffness()
        index = L.indices().cpu().numpy()
        return coo_matrix((L.values().cpu().numpy(), (index[0], index[1])), shape=L.shape).tocsr()

    def eigenpairs(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The k smallest eigenpairs of L φ = λ M φ (the Laplace–Beltrami spectrum, book §4.4).

        Returns:
            eigenvalues ``[k]`` ascending and eigenvectors ``[V, k]``, M-orthonormal (φᵀ M φ = I), each with its
            largest-magnitude entry positive (a deterministic sign).
        """
        import scipy.linalg
        import scipy.sparse
        import scipy.sparse.linalg

        V = self.num_vertices
        check_int(k, "k (the number of eigenpairs)")
        if k > V:
            raise ValueError(f"k must be in 1..{V} (the number of vertices), got {k}")
        L, M = self.stiffness_scipy(), self.mass.cpu().numpy()
        if V <= 1000 or k >= V - 1:
            values, vectors = scipy.linalg.eigh(L.toarray(), np.diag(M), subset_by_index=(0, k - 1))
        else:
            shift = -1e-8 * float(L.diagonal().max() / M.min())  # just below 0: L − σM is positive definite
            start = np.random.default_rng(0).standard_normal(V)
            values, vectors = scipy.sparse.linalg.eigsh(L, k=k, M=scipy.sparse.diags(M), sigma=shift, which="LM", v0=start)
            order = np.argsort(values)
            values, vectors = values[order], vectors[:, order]
        signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(k)])
        return (torch.as_tensor(values, device=self.device),
                torch.as_tensor(vectors * signs, device=self.device))

    def heat_kernel_signature(self, num_times: int = 16, num_eigenpairs: int = 64) -> torch.Tensor:
        """The scaled heat kernel signature (Sun, Ovsjanikov & Guibas 2009), an intrinsic vertex descriptor.

        HKS(u, t) = Σ_i exp(−λ_i t) φ_i(u)², at ``num_times`` times log-spaced in [4 ln 10 / λ_max, 4 ln 10 / λ_1]
        (λ_1 the first non-zero eigenvalue), each channel divided by its area-weighted mean so that it does not
        depend on the overall scale. Isometry-invariant (it depends only on L and M).

        Returns:
            ``[V, num_times]`` float64.
        """
        check_int(num_times, "num_times")
        k = min(check_int(num_eigenpairs, "num_eigenpairs", 2), self.num_vertices)
        values, vectors = self.eigenpairs(k)
        values = values.clamp(min=0)
        first = values[values > 1e-9 * values[-1]][0]
        times = torch.logspace(math.log10(4 * math.log(10) / values[-1]), math.log10(4 * math.log(10) / first),
                               num_times, dtype=torch.float64, device=self.device)
        hks = vectors.square() @ torch.exp(-values[:, None] * times[None, :])  # [V, T]
        return hks / ((self.mass[:, None] * hks).sum(0) / self.mass.sum())

    # -- loops and neighbourhoods --------------------------------------------------------------------------------------
    def edge_ids(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Column of ``edge_index`` for each directed edge source→target (raises if one is not an edge)."""
        V = self.num_vertices
        keys = self.edge_index[0] * V + self.edge_index[1]
        sorted_keys, order = torch.sort(keys)
        position = _lookup(sorted_keys, torch.as_tensor(source, device=self.device) * V + torch.as_tensor(target, device=self.device))
        if bool((position < 0).any()):
            bad = int((position < 0).nonzero()[0])
            raise ValueError(f"({int(torch.as_tensor(source).flatten()[bad])}, {int(torch.as_tensor(target).flatten()[bad])}) "
                             "is not an edge of the mesh")
        return order[position]

    def holonomy(self, loop: Sequence[int] | torch.Tensor) -> float:
        """The rotation (radians, in [−π, π]) a tangent vector undergoes when transported around a closed loop.

        Args:
            loop: vertices v₀, v₁, …, v_{k−1} with consecutive ones adjacent (v_{k−1}v₀ too); the transport is
                Σ_t g_{v_t → v_{t+1}}. For a counter-clockwise loop bounding a set of faces it equals Σ κ_f inside.
        """
        loop = torch.as_tensor(loop, dtype=torch.long, device=self.device).flatten()
        if loop.numel() < 3:
            raise ValueError(f"a loop needs at least three vertices, got {loop.tolist()}")
        ids = self.edge_ids(loop, loop.roll(-1))
        return float(wrap_angle(self.edge_transport[ids].sum()))

    def one_ring(self, vertex: int) -> torch.Tensor:
        """The neighbours of ``vertex`` in counter-clockwise order, starting at the reference neighbour."""
        if not 0 <= vertex < self.num_vertices:
            raise ValueError(f"vertex must be in 0..{self.num_vertices - 1}, got {vertex}")
        incoming = (self.edge_index[1] == vertex).nonzero().flatten()
        order = torch.argsort(self.edge_angle[incoming])
        return self.edge_index[0, incoming[order]]

    def extrinsic_log_map(self) -> torch.Tensor:
        """Each edge vector p_source − p_target projected on the target's tangent frame: ``[2E, 2]`` (e₁, e₂) coordinates.

        On a planar mesh this is exactly r_uv (cos ϑ_uv, sin ϑ_uv); on a curved one it approximates it.
        """
        source, target = self.edge_index
        difference = self.pos[source] - self.pos[target]
        return torch.einsum("ec,ekc->ek", difference, self.frames[target, :2])

    def graph_geodesic_distances(self, sources: Any = None) -> torch.Tensor:
        """Shortest-path distances along the edges (Dijkstra; an upper bound of the geodesic distance).

        Args:
            sources: vertex indices (``None``: all vertices).

        Returns:
            ``[len(sources), V]`` float64.
        """
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import dijkstra

        source, target = self.edge_index.cpu().numpy()
        graph = coo_matrix((self.edge_length.cpu().numpy(), (source, target)), shape=(self.num_vertices,) * 2).tocsr()
        indices = None if sources is None else np.asarray(torch.as_tensor(sources).cpu()).reshape(-1)
        return torch.as_tensor(dijkstra(graph, directed=False, indices=indices), device=self.device)

    def __repr__(self) -> str:
        return (f"Mesh(vertices={self.num_vertices}, faces={self.num_faces}, edges={self.num_edges}, "
                f"boundary_vertices={int(self.is_boundary.sum())}, χ={self.euler_characteristic})")


@dataclasses.dataclass(frozen=True)
class MeshField(FieldType):
    """A mesh stored as a torch-geometric ``Data`` (from :meth:`Mesh.to_data`), moved by rigid motions of R³.

    (R, t) ∈ E(3) acts by moving the vertices, x ↦ x Rᵀ + t, and *recomputing* every geometric entry
    (:data:`GEOMETRY_KEYS`) from the moved mesh, in float64; other entries (features, labels) are left as they are.
    Intrinsic quantities (edge lengths, log-map angles, transport, cotangent weights, mass) come out the same, so an
    intrinsic layer must be invariant; extrinsic ones (normals, frames) turn with R. Build the ``Data`` in float64 for
    float64 checks: its stored geometry must be the one of its own positions.

    The gauge moves with the surface. A ``Data`` whose frames were turned away from :class:`Mesh`'s reference-edge
    gauge (by a gauge change, :func:`change_gauge`) keeps that gauge: the recomputed reference frames of the moved
    mesh are R times those of the original (also for reflections, e₂ = n × e₁ with n from the face winding), so
    the input's gauge angles γ (:func:`gauge_angles` against the original's reference frames R⁻¹·F') are applied to
    the recomputed geometry. Hence rigid motions and gauge changes commute, and
    ``ProductField((MeshField(E(3)), MeshGaugeField(SO(2)^V)))`` (:mod:`gdl.gauges`) is an action of E(3) × SO(2)^V.

    Args:
        group: ``Euclidean(3)`` or a subgroup (``SpecialOrthogonal(3)``).
    """

    group: Group = Euclidean(3)

    def validate(self, value: Any) -> None:
        if not (hasattr(value, "keys") and hasattr(value, "clone")):
            raise TypeError(f"MeshField expects a torch_geometric Data made by Mesh.to_data(), got {type(value).__name__}")
        missing = [key for key in ("pos", "face") + GEOMETRY_KEYS if getattr(value, key, None) is None]
        if missing:
            raise ValueError(f"MeshField expects a mesh Data from Mesh.to_data() with entries pos, face, "
                             f"{', '.join(GEOMETRY_KEYS)}; missing {missing} (got entries {sorted(value.keys())})")
        pos, face, edge_index = value.pos, value.face, value.edge_index
        if not pos.is_floating_point() or pos.dim() != 2 or pos.shape[1] != 3:
            raise ValueError(f"data.pos must be a floating-point tensor [V, 3], got {pos.dtype} {list(pos.shape)}")
        if face.dtype != torch.long or face.dim() != 2 or face.shape[0] != 3:
            raise ValueError(f"data.face must be an int64 tensor [3, F], got {face.dtype} {list(face.shape)}")
        if edge_index.dtype != torch.long or edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"data.edge_index must be an int64 tensor [2, E], got {edge_index.dtype} {list(edge_index.shape)}")
        for key in ("edge_angle", "edge_length", "edge_transport", "cot_weight"):
            if value[key].shape != (edge_index.shape[1],):
                raise ValueError(f"data.{key} must have one entry per edge, shape [{edge_index.shape[1]}], "
                                 f"got {list(value[key].shape)}")
        for key in ("mass", "laplacian_bound"):
            if value[key].shape != (pos.shape[0],):
                raise ValueError(f"data.{key} must have one entry per vertex, shape [{pos.shape[0]}], "
                                 f"got {list(value[key].shape)}")

    def transform(self, value: Any, g: GroupElement) -> Any:
        self.group.check(g)
        self.validate(value)
        rotation, translation = rotation_and_translation(g)
        pos = value.pos.to(torch.float64)
        moved_pos = pos @ rotation.to(pos).T + translation.to(pos)
        geometry = Mesh(moved_pos, value.face.T).to_data(dtype=torch.float64)
        # the input's gauge, relative to the reference frames of its own mesh (R⁻¹ times the moved ones)
        reference = torch.einsum("vkc,cd->vkd", geometry.frame, rotation.to(geometry.frame))
        gamma = gauge_angles(value.frame, reference)
        # a canonical input measures γ ~ 1e-16 of round-off: keep its angles exactly (ϑ = 0 must not wrap to 2π − ε)
        gamma = torch.where(gamma.abs() < GAUGE_ROUND_OFF, torch.zeros_like(gamma), gamma)
        geometry = change_gauge(geometry, gamma)
        moved = value.clone()
        moved.pos = geometry.pos.to(device=value.pos.device, dtype=value.pos.dtype)
        for key in GEOMETRY_KEYS:
            moved[key] = geometry[key].to(device=value[key].device, dtype=value[key].dtype)
        return moved


def intrinsic_layer_types(in_channels: int | None, out_channels: int | None,
                          group: Group | None = None) -> tuple[FieldType, FieldType]:
    """``(in_type, out_type)`` of an intrinsic mesh layer ``f(x, mesh_data) → y``: invariant features in and out.

    The input is a tuple (features ``[V, C_in]``, mesh ``Data``); a rigid motion leaves the features alone and moves
    the mesh (:class:`MeshField`); an intrinsic layer's output ``[V, C_out]`` must not change.
    """
    group = group or Euclidean(3)
    return TupleField((TrivialField(group, in_channels), MeshField(group))), TrivialField(group, out_channels)


def vertex_count(data: Any) -> int:
    """V of a mesh ``Data``, read from ``pos`` (a shape, so ``torch.compile`` traces it) or else ``num_nodes``."""
    pos = getattr(data, "pos", None)
    return pos.shape[0] if isinstance(pos, torch.Tensor) else data.num_nodes


def check_vertex_features(x: Any, data: Any, channels: int | None, name: str = "x") -> int:
    """Raise unless ``x`` is a floating-point ``[V, channels]`` tensor with V = the mesh's vertex count; return V."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        given = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point tensor [V, C] of vertex features, got {given}")
    vertices = vertex_count(data)
    if x.dim() != 2 or x.shape[0] != vertices or (channels is not None and x.shape[1] != channels):
        raise ValueError(f"{name} must have shape [{vertices}, {'C' if channels is None else channels}] (one row per "
                         f"mesh vertex), got {list(x.shape)}")
    return vertices


def check_mesh_data(data: Any, keys: Sequence[str]) -> None:
    """Raise unless ``data`` is a mesh ``Data`` holding ``keys``, one entry per edge or per vertex as the key says.

    ``edge_index`` must be int64 ``[2, E]`` with vertex ids in 0 … V−1 (the id range is read only outside
    ``torch.compile``, :func:`gdl.core.checks.check_edge_index`).
    """
    if not (hasattr(data, "keys") and hasattr(data, "edge_index")):
        raise TypeError(f"expected a torch_geometric Data made by Mesh.to_data(), got {type(data).__name__}")
    missing = [key for key in keys if getattr(data, key, None) is None]
    if missing:
        raise ValueError(f"the mesh Data lacks {missing}; build it with Mesh.to_data() (entries: "
                         f"{', '.join(GEOMETRY_KEYS)}; got entries {sorted(data.keys())})")
    vertices = vertex_count(data)
    edge_index = check_edge_index(data.edge_index, vertices, name="data.edge_index")
    for key in keys:
        if key != "edge_index" and not data[key].is_floating_point():
            raise TypeError(f"data.{key} must be a floating-point tensor, got {data[key].dtype}")
        if key.startswith("edge_") and key != "edge_index" or key == "cot_weight":
            if data[key].shape != (edge_index.shape[1],):
                raise ValueError(f"data.{key} must have one entry per edge [{edge_index.shape[1]}], got {list(data[key].shape)}")
        elif key in ("mass", "laplacian_bound") and data[key].shape != (vertices,):
            raise ValueError(f"data.{key} must have one entry per vertex [{vertices}], got {list(data[key].shape)}")


def mesh_bad_inputs(bad: dict[str, tuple], signal: tuple, data: Any, keys: tuple[str, ...]) -> dict[str, tuple]:
    """``bad`` plus malformed mesh ``Data`` for a layer ``f(*signal, data)`` that reads ``keys``: the last key
    missing, a vertex id past the last vertex, 32-bit vertex ids, and every per-edge entry one entry short."""
    missing = data.clone()
    del missing[keys[-1]]
    out_of_range = data.clone()
    out_of_range.edge_index = data.edge_index.clone()
    out_of_range.edge_index[0, 0] = vertex_count(data)
    narrow = data.clone()
    narrow.edge_index = data.edge_index.int()
    bad = {**bad, f"a mesh Data without {keys[-1]}": (*signal, missing),
           "a vertex id past the last vertex": (*signal, out_of_range), "int32 vertex ids": (*signal, narrow)}
    for key in keys:
        if key != "edge_index" and (key.startswith("edge_") or key == "cot_weight"):
            short = data.clone()
            short[key] = data[key][:-1]
            bad[f"{key} with one entry too few"] = (*signal, short)
    return bad
