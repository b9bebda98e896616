"""Triangle meshes (foundation floor, book §4.4–4.6): the :class:`Mesh` data structure and procedural shapes.

* :mod:`gdl.meshes.mesh`: a validated mesh with its cotangent Laplacian, frames, log map and Levi-Civita transport,
  and :class:`MeshField`, the action of rigid motions on a mesh ``Data``.
* :mod:`gdl.meshes.shapes`: icosphere, UV sphere, torus, plane, and the deformable creature with its poses.

The intrinsic mesh convolutions (:mod:`gdl.geodesics`) and the gauge-equivariant ones (:mod:`gdl.gauges`) both
build on it; :mod:`gdl.datasets` adds scanned meshes that ship in a package.
"""

from .mesh import GEOMETRY_KEYS, Mesh, MeshField, change_gauge, gauge_angles, wrap_angle
from .shapes import articulate, creature, fold, icosphere, plane_grid, random_poses, subdivide, torus, uv_sphere

__all__ = ["Mesh", "MeshField", "wrap_angle", "change_gauge", "gauge_angles", "GEOMETRY_KEYS", "icosphere", "uv_sphere",
           "torus", "plane_grid", "fold", "creature", "articulate", "random_poses", "subdivide"]
