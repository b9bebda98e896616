"""Graphs and sets: the symmetric group S_n (book §4.1, §5.3–5.5).

* :mod:`gdl.graphs.permutations`: ``Permutations(n)`` and its actions on sets, edge lists and PyG graphs.
"""

from .permutations import EdgeIndexField, GraphField, Permutations, SetField

__all__ = ["Permutations", "SetField", "EdgeIndexField", "GraphField"]
