"""Groups: rotations, reflections and rigid motions (book §4.3, §5.2, §5.5).

* :mod:`gdl.groups.finite`: C_n ⊂ D_n, Z² ⋊ H (p4, p4m) and their image / regular fields.
* :mod:`gdl.groups.gconv`: lifting and group convolutions (one ``conv2d``), pooling, batch norm, ``export()``.
* :mod:`gdl.groups.gcnn`: the G-CNN blueprint, ``P4CNN`` and ``P4MCNN``.
* :mod:`gdl.groups.irreps`: features typed by e3nn ``Irreps``, acted on by Wigner-D matrices.
* :mod:`gdl.groups.point_clouds`: irreps-typed point-cloud field types.

SO(n) ⊂ O(n) ⊂ E(n) and radius graphs live in :mod:`gdl.symmetries` and are re-exported here.
* :mod:`gdl.groups.e3nn_layers`: Tensor Field Network layers, gates and readouts.
"""

from gdl.symmetries import Euclidean, Orthogonal, PointField, SpecialOrthogonal, VectorField, radius_graph, random_rotation_matrices

from .e3nn_layers import Gate, GraphReadout, InvariantReadout, IrrepsLinear, PointConvolution, TensorFieldNetwork, VectorReadout
from .finite import CyclicGroup, DihedralGroup, ImageField, RegularField, SemidirectProduct, act_on_grid, interpolate_on_grid, p4, p4m
from .gcnn import GCNN, P4CNN, P4MCNN
from .gconv import GroupBatchNorm, GroupConv, GroupPool, InvariantPool, LiftingConv, SpatialPool, export
from .irreps import IrrepsField

__all__ = [
    "SpecialOrthogonal", "Orthogonal", "Euclidean", "PointField", "VectorField", "random_rotation_matrices",
    "IrrepsField", "IrrepsLinear", "Gate", "PointConvolution", "GraphReadout", "InvariantReadout", "VectorReadout",
    "TensorFieldNetwork", "radius_graph", "CyclicGroup", "DihedralGroup", "SemidirectProduct", "p4", "p4m",
    "ImageField", "RegularField", "act_on_grid", "interpolate_on_grid", "LiftingConv", "GroupConv", "GroupPool",
    "SpatialPool", "InvariantPool", "GroupBatchNorm", "export", "GCNN", "P4CNN", "P4MCNN",
]
