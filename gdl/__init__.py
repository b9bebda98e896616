"""gdl: the geometric deep learning blueprint made executable.

Domains (each a subpackage on one shared interface, :mod:`gdl.core`):

* :mod:`gdl.grids`: translation-equivariant CNNs on periodic grids (book §4.2, §5.1)

Equivariance of every layer is checked numerically by :mod:`gdl.testing`.
Subpackages are imported on demand so that ``import gdl`` stays light.
"""

__version__ = "0.1.0"
