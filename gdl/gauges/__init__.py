"""Gauges: tangent frames, parallel transport and gauge-equivariant mesh CNNs (book §4.5, §5.6)."""

from .gauge import (
    GaugeGroup,
    MeshGaugeField,
    SO2Field,
    feature_field,
    irreps_dim,
    irreps_rotation,
    mesh_field,
    mesh_symmetry,
    rotate_irreps,
    scalar_field,
)
from .gem import GEMConv, GEMNet, GEMResidualBlock, IrrepsToScalars, RegularNonlinearity, ScalarLinear, ScalarsToIrreps

__all__ = ["GaugeGroup", "SO2Field", "MeshGaugeField", "rotate_irreps", "irreps_rotation", "irreps_dim", "mesh_symmetry",
           "feature_field", "scalar_field", "mesh_field", "GEMConv", "RegularNonlinearity", "GEMNet", "GEMResidualBlock",
           "ScalarsToIrreps", "IrrepsToScalars", "ScalarLinear"]
