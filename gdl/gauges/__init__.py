"""Gauges: tangent frames, parallel transport and gauge-equivariant mesh CNNs (book §4.5, §5.6)."""

from .gauge import GaugeGroup, MeshGaugeField, SO2Field, irreps_dim, irreps_rotation, rotate_irreps
from .gem import GEMConv, GEMNet, RegularNonlinearity

__all__ = ["GaugeGroup", "SO2Field", "MeshGaugeField", "rotate_irreps", "irreps_rotation", "irreps_dim", "GEMConv",
           "RegularNonlinearity", "GEMNet"]
