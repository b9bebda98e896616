"""Geodesics: Riemannian manifolds and meshes (book §4.4–4.6, §5.6).

* :mod:`gdl.geodesics.manifolds`: geoopt manifolds with gdl's conventions and point checks.
* :mod:`gdl.geodesics.isometries`: isometry groups and manifold-valued field types.
* :mod:`gdl.geodesics.layers`: Möbius, distance, orthogonal and SPD layers.
* :mod:`gdl.geodesics.optim`: Riemannian optimisers with guards.
* :mod:`gdl.geodesics.embedding`: hierarchy embeddings (Nickel & Kiela 2017).
* :mod:`gdl.meshes.mesh`, :mod:`~gdl.geodesics.spectral`, :mod:`~gdl.geodesics.monet`: meshes and intrinsic
  mesh convolutions.
"""

from gdl.meshes import GEOMETRY_KEYS, Mesh, MeshField, wrap_angle

from .embedding import GEOMETRIES, HierarchyEmbedding, HierarchyLoss, reconstruction_metrics
from .isometries import (
    HyperbolicIsometries,
    LogSPDField,
    LorentzField,
    PoincareBallField,
    PositiveScalings,
    SPDField,
    SphereField,
    StiefelField,
)
from .layers import GeodesicDistances, HyperbolicDistanceLogits, MobiusLinear, OrthogonalLinear, SPDBiMap, SPDLayer, SPDLogMap
from .manifolds import BoundedLorentz, check_points, lorentz_model, poincare_ball, poincare_distance
from .monet import MoNetConv, log_map_coordinates
from .optim import ManifoldConstraintError, check_manifold_parameters, riemannian_optimizer
from .spectral import ChebMeshConv, apply_laplacian

__all__ = [
    "Mesh", "MeshField", "wrap_angle", "GEOMETRY_KEYS", "ChebMeshConv", "apply_laplacian", "MoNetConv",
    "log_map_coordinates", "HyperbolicIsometries", "PositiveScalings", "PoincareBallField", "LorentzField",
    "SphereField", "StiefelField", "SPDField", "LogSPDField", "MobiusLinear", "HyperbolicDistanceLogits",
    "GeodesicDistances", "OrthogonalLinear", "SPDBiMap", "SPDLogMap", "SPDLayer", "poincare_ball", "lorentz_model",
    "BoundedLorentz", "poincare_distance", "check_points", "riemannian_optimizer", "check_manifold_parameters",
    "ManifoldConstraintError", "GEOMETRIES", "HierarchyEmbedding", "HierarchyLoss", "reconstruction_metrics",
]
