"""Testing support (public: test your own layers with it).

* :mod:`gdl.testing.harness`: :func:`assert_equivariant`, :func:`equivariance_error` and friends: numerical
  equivariance checks for any layer, group actions applied in float64.
* :mod:`gdl.testing.fixtures`: small inputs the layers' ``example()`` methods, the tests and users build on
  (random graphs, smooth images, small meshes).

This package sits on the foundation floor: it imports :mod:`gdl.core` and the foundation packages only, so every
domain may use its fixtures in ``example()``.
"""

from .harness import (
    DEFAULT_TOLERANCE,
    EquivarianceReport,
    assert_equivariant,
    cast_floating,
    default_tolerance,
    equivariance_error,
    graph_break_count,
)

__all__ = ["EquivarianceReport", "equivariance_error", "assert_equivariant", "default_tolerance", "cast_floating",
           "graph_break_count", "DEFAULT_TOLERANCE"]
