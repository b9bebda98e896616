"""Groups: rotations, reflections and rigid motions (book §4.3, §5.2, §5.5).

* :mod:`gdl.groups.euclidean`: SO(n) ⊂ O(n) ⊂ E(n), points and vectors they move.
"""

from .euclidean import Euclidean, Orthogonal, PointField, SpecialOrthogonal, VectorField, random_rotation_matrices

__all__ = ["SpecialOrthogonal", "Orthogonal", "Euclidean", "PointField", "VectorField", "random_rotation_matrices"]
