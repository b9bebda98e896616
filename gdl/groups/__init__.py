"""Groups: rotations, reflections and rigid motions (book §4.3, §5.2, §5.5).

* :mod:`gdl.groups.finite`: C_n ⊂ D_n, Z² ⋊ H (p4, p4m) and their image / regular fields.
* :mod:`gdl.groups.gconv`: lifting and group convolutions (one ``conv2d``), pooling, batch norm; each layer's
  ``export()`` gives the same function in plain torch.
* :mod:`gdl.groups.gcnn`: the G-CNN blueprint, ``Z2CNN`` (shifts only), ``P4CNN`` and ``P4MCNN``.
* :mod:`gdl.groups.planar_representations`: the irreps of C_n, D_n, SO(2), O(2) (frequencies ψ_m, sign, half turns).
* :mod:`gdl.groups.steerable`: steerable kernel bases and convolutions (Weiler & Cesa 2019), norm / gated /
  pointwise nonlinearities and invariant pooling for fields of any planar representation.
* :mod:`gdl.groups.irreps`: features typed by e3nn ``Irreps``, acted on by Wigner-D matrices.
* :mod:`gdl.groups.representations`: the SO(3)/O(3) irreps ``WignerD`` as solver-ready representations.
* :mod:`gdl.groups.point_clouds`: irreps-typed point-cloud field types.
* :mod:`gdl.groups.e3nn_layers`: Tensor Field Network layers, gates, readouts and the network (a Blueprint).

SO(n) ⊂ O(n) ⊂ E(n) and radius graphs live in :mod:`gdl.symmetries` and are re-exported here.
"""

from gdl import _lazy_exports
from gdl.symmetries import Euclidean, Orthogonal, PointField, SpecialOrthogonal, VectorField, radius_graph, random_rotation_matrices

from .finite import CyclicGroup, DihedralGroup, ImageField, RegularField, SemidirectProduct, act_on_grid, interpolate_on_grid, p4, p4m
from .gcnn import GCNN, P4CNN, P4MCNN, Z2CNN
from .gconv import GroupBatchNorm, GroupConv, GroupPool, InvariantPool, LiftingConv, SpatialPool
from .planar_representations import CircularHarmonic, FrequencyIrrep, HalfTurnIrrep, SignIrrep, planar_irreps
from .steerable import (
    NormNonlinearity,
    PointwiseNonlinearity,
    SteerableConv,
    SteerableField,
    SteerableGate,
    SteerableInvariantPool,
    SteerableSpatialPool,
    steerable_kernel_basis,
)

# e3nn and torch-geometric load on first use of an E(3) name, so `import gdl.groups` stays light for the G-CNNs
_LAZY_EXPORTS = {
    "e3nn_layers": ("AtomEmbedding", "Gate", "GraphReadout", "InvariantReadout", "IrrepsLinear", "PointConvolution",
                    "TensorFieldNetwork", "VectorReadout"),
    "irreps": ("IrrepsField",),
    "representations": ("WignerD", "irreps_representation"),
}
__getattr__, __dir__ = _lazy_exports(__name__, _LAZY_EXPORTS)

__all__ = [
    "SpecialOrthogonal", "Orthogonal", "Euclidean", "PointField", "VectorField", "random_rotation_matrices",
    "IrrepsField", "IrrepsLinear", "Gate", "PointConvolution", "GraphReadout", "InvariantReadout", "VectorReadout",
    "AtomEmbedding", "TensorFieldNetwork", "radius_graph", "CyclicGroup", "DihedralGroup", "SemidirectProduct", "p4", "p4m",
    "ImageField", "RegularField", "act_on_grid", "interpolate_on_grid", "LiftingConv", "GroupConv", "GroupPool",
    "SpatialPool", "InvariantPool", "GroupBatchNorm", "GCNN", "Z2CNN", "P4CNN", "P4MCNN",
    "WignerD", "irreps_representation",
    "FrequencyIrrep", "SignIrrep", "HalfTurnIrrep", "CircularHarmonic", "planar_irreps", "SteerableField", "SteerableConv",
    "NormNonlinearity", "SteerableGate", "PointwiseNonlinearity", "SteerableInvariantPool", "SteerableSpatialPool",
    "steerable_kernel_basis",
]
