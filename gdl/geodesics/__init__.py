"""Geodesics: Riemannian manifolds and meshes (book §4.4–4.6, §5.6).

* :mod:`gdl.geodesics.manifolds`: geoopt manifolds with gdl's conventions and point checks.
* :mod:`gdl.geodesics.isometries`: isometry groups and manifold-valued field types.
* :mod:`gdl.geodesics.layers`: Möbius, distance, orthogonal and SPD layers.
* :mod:`gdl.geodesics.optim`: Riemannian optimisers with guards.
* :mod:`gdl.geodesics.hierarchy`: hierarchies as transitive closures (what the embeddings are trained on).
* :mod:`gdl.geodesics.embedding`: hierarchy embeddings (Nickel & Kiela 2017).
* :mod:`~gdl.geodesics.spectral`, :mod:`~gdl.geodesics.monet`: intrinsic mesh convolutions on :mod:`gdl.meshes`
  and the mesh networks built from them (:class:`ChebMeshNet`, :class:`MoNet`: blueprints with the mesh as context).
"""

from gdl import _lazy_exports
from gdl.meshes import GEOMETRY_KEYS, Mesh, MeshField, wrap_angle

# geoopt (and scipy, torch-geometric) load on first use of a name that needs them: `import gdl.geodesics` and
# `gdl.geodesics.hierarchy` (what gdl.datasets.wordnet builds) stay light
_LAZY_EXPORTS = {
    "embedding": ("GEOMETRIES", "HierarchyEmbedding", "HierarchyLoss", "reconstruction_metrics"),
    "hierarchy": ("Hierarchy",),
    "isometries": ("HyperbolicIsometries", "LogSPDField", "LorentzField", "PoincareBallField", "PositiveScalings",
                   "SPDField", "SphereField", "StiefelField"),
    "layers": ("GeodesicDistances", "HyperbolicDistanceLogits", "MobiusLinear", "OrthogonalLinear", "SPDBiMap",
               "SPDLayer", "SPDLogMap"),
    "manifolds": ("BoundedLorentz", "check_points", "lorentz_model", "poincare_ball", "poincare_distance"),
    "monet": ("MoNet", "MoNetConv", "log_map_coordinates"),
    "optim": ("ManifoldConstraintError", "check_manifold_parameters", "riemannian_optimizer"),
    "spectral": ("ChebMeshConv", "ChebMeshNet", "apply_laplacian"),
}
__getattr__, __dir__ = _lazy_exports(__name__, _LAZY_EXPORTS)

__all__ = [
    "Mesh", "MeshField", "wrap_angle", "GEOMETRY_KEYS", "ChebMeshConv", "ChebMeshNet", "apply_laplacian", "MoNetConv",
    "MoNet", "Hierarchy",
    "log_map_coordinates", "HyperbolicIsometries", "PositiveScalings", "PoincareBallField", "LorentzField",
    "SphereField", "StiefelField", "SPDField", "LogSPDField", "MobiusLinear", "HyperbolicDistanceLogits",
    "GeodesicDistances", "OrthogonalLinear", "SPDBiMap", "SPDLogMap", "SPDLayer", "poincare_ball", "lorentz_model",
    "BoundedLorentz", "poincare_distance", "check_points", "riemannian_optimizer", "check_manifold_parameters",
    "ManifoldConstraintError", "GEOMETRIES", "HierarchyEmbedding", "HierarchyLoss", "reconstruction_metrics",
]
