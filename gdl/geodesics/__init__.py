"""Geodesics: Riemannian manifolds and meshes (book §4.4–4.6, §5.6)."""

from .mesh import GEOMETRY_KEYS, Mesh, MeshField, wrap_angle
from .monet import MoNetConv, log_map_coordinates
from .spectral import ChebMeshConv, apply_laplacian

__all__ = ["Mesh", "MeshField", "wrap_angle", "GEOMETRY_KEYS", "ChebMeshConv", "apply_laplacian", "MoNetConv",
           "log_map_coordinates"]

# Riemannian manifolds through geoopt (book §4.4): conventions and point checks (manifolds.py), isometry groups and
# manifold-valued field types (isometries.py), layers (layers.py), Riemannian optimisers with guards (optim.py),
# hierarchy embeddings (embedding.py)
from .embedding import GEOMETRIES, HierarchyEmbedding, HierarchyLoss, reconstruction_metrics  # noqa: E402
from .isometries import (  # noqa: E402
    HyperbolicIsometries,
    LogSPDField,
    LorentzField,
    PoincareBallField,
    PositiveScalings,
    SPDField,
    SphereField,
    StiefelField,
)
from .layers import (  # noqa: E402
    GeodesicDistances,
    HyperbolicDistanceLogits,
    MobiusLinear,
    OrthogonalLinear,
    SPDBiMap,
    SPDLayer,
    SPDLogMap,
)
from .manifolds import BoundedLorentz, check_points, lorentz_model, poincare_ball, poincare_distance  # noqa: E402
from .optim import ManifoldConstraintError, check_manifold_parameters, riemannian_optimizer  # noqa: E402

__all__ += ["HyperbolicIsometries", "PositiveScalings", "PoincareBallField", "LorentzField", "SphereField",
            "StiefelField", "SPDField", "LogSPDField", "MobiusLinear", "HyperbolicDistanceLogits", "GeodesicDistances",
            "OrthogonalLinear", "SPDBiMap", "SPDLogMap", "SPDLayer", "poincare_ball", "lorentz_model", "BoundedLorentz",
            "poincare_distance", "check_points", "riemannian_optimizer", "check_manifold_parameters",
            "ManifoldConstraintError", "GEOMETRIES", "HierarchyEmbedding", "HierarchyLoss", "reconstruction_metrics"]
