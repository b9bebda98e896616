"""Groups: rotations, reflections and rigid motions (book §4.3, §5.2, §5.5).

* :mod:`gdl.groups.euclidean`: SO(n) ⊂ O(n) ⊂ E(n), points and vectors they move.
"""

from .euclidean import Euclidean, Orthogonal, PointField, SpecialOrthogonal, VectorField, random_rotation_matrices

__all__ = ["SpecialOrthogonal", "Orthogonal", "Euclidean", "PointField", "VectorField", "random_rotation_matrices"]

from .e3nn_layers import (  # noqa: E402
    Gate,
    GraphReadout,
    InvariantReadout,
    IrrepsLinear,
    PointConvolution,
    TensorFieldNetwork,
    VectorReadout,
)
from .irreps import IrrepsField  # noqa: E402
from .point_clouds import radius_graph  # noqa: E402

# E(3) through e3nn: irreps-typed features (irreps.py), point-cloud field types and radius graphs (point_clouds.py),
# Tensor Field Network layers (e3nn_layers.py)
__all__ += ["IrrepsField", "IrrepsLinear", "Gate", "PointConvolution", "GraphReadout", "InvariantReadout", "VectorReadout",
            "TensorFieldNetwork", "radius_graph"]

# Finite rotation groups of the plane and G-CNNs: C_n ⊂ D_n, Z² ⋊ H (p4, p4m) and their fields (finite.py), lifting and
# group convolutions, pooling, batch norm, export to plain torch (gconv.py), P4CNN/P4MCNN blueprints (gcnn.py)
from .finite import (  # noqa: E402
    CyclicGroup,
    DihedralGroup,
    ImageField,
    RegularField,
    SemidirectProduct,
    act_on_grid,
    interpolate_on_grid,
    p4,
    p4m,
)
from .gcnn import GCNN, P4CNN, P4MCNN  # noqa: E402
from .gconv import GroupBatchNorm, GroupConv, GroupPool, InvariantPool, LiftingConv, SpatialPool, export  # noqa: E402

__all__ += ["CyclicGroup", "DihedralGroup", "SemidirectProduct", "p4", "p4m", "ImageField", "RegularField", "act_on_grid",
            "interpolate_on_grid", "LiftingConv", "GroupConv", "GroupPool", "SpatialPool", "InvariantPool", "GroupBatchNorm",
            "export", "GCNN", "P4CNN", "P4MCNN"]
