"""Grids: translation equivariance on periodic grids (book §4.2, §5.1).

* :class:`Translations`, :class:`GridField`: the group of shifts and the signals it moves.
* :class:`PeriodicConv`: circular convolution, exactly shift-equivariant.
* :class:`LocalPool`, :class:`GlobalPool`: the blueprint's P and A.
* :class:`GridCNN`: the CNN as a :class:`~gdl.core.Blueprint`.
"""

from .cnn import GridCNN
from .conv import PeriodicConv
from .pooling import GlobalPool, LocalPool, binomial_filter
from .translations import GridField, Translations, shift_each

__all__ = ["Translations", "GridField", "PeriodicConv", "LocalPool", "GlobalPool", "GridCNN", "binomial_filter", "shift_each"]
