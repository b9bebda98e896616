"""The symmetry groups every domain shares (foundation floor, book §3.1, §4.1, §4.3).

* :mod:`gdl.symmetries.permutations`: the symmetric group S_n and its actions on sets, edge lists and PyG graphs.
* :mod:`gdl.symmetries.euclidean`: SO(n) ⊂ O(n) ⊂ E(n), and the points and vectors they move.
* :mod:`gdl.symmetries.lorentz`: the Lorentz group O(1,3) ⊃ SO⁺(1,3) of Minkowski space, η = diag(1, −1, −1, −1).
* :mod:`gdl.symmetries.geometric`: geometric graphs under S_N × E(n): positions, vectors, edges, radius graphs.

Graphs (S_n), groups (E(3), point clouds), geodesics (isometries) and meshes all build on these; none of them
imports another domain for its symmetry.
"""

from .euclidean import (
    EQUALITY_TOLERANCE,
    Euclidean,
    Orthogonal,
    PointField,
    SpecialOrthogonal,
    VectorField,
    random_rotation_matrices,
    rotation_and_translation,
)
from .geometric import AbsentField, edge_index_field, invariant_node_field, position_field, radius_graph, vector_field
from .lorentz import Lorentz, boost_matrices, minkowski_metric
from .permutations import EdgeIndexField, GraphField, Permutations, SetField

__all__ = [
    "Permutations", "SetField", "EdgeIndexField", "GraphField",
    "Orthogonal", "SpecialOrthogonal", "Euclidean", "PointField", "VectorField", "random_rotation_matrices",
    "rotation_and_translation", "EQUALITY_TOLERANCE", "Lorentz", "minkowski_metric", "boost_matrices",
    "position_field", "vector_field", "edge_index_field", "invariant_node_field", "AbsentField", "radius_graph",
]
