"""The shared contract: groups, field types, equivariant modules, the blueprint, generic checks, runtime helpers.

* :mod:`gdl.core.group`: ``Group``, ``GroupElement``, direct products.
* :mod:`gdl.core.field`: field types (``transform(value, g)``, ``validate(value)``) and their compositions.
* :mod:`gdl.core.module`: ``EquivariantModule`` (contract v2: ``field_types(*inputs)``, ``example``, ``bad_inputs``,
  ``export``), the registry, ``Pointwise``, ``InvariantLinear`` and the ``Blueprint``.
* :mod:`gdl.core.checks`: input checks shared by every domain, and the switch for value-reading checks.
* :mod:`gdl.core.runtime`: CPU thread control and atomic file writes.

Nothing here depends on torch-geometric, e3nn or geoopt; every other floor builds on it.
"""

from .checks import check_choice, check_int, checking, value_checks
from .field import FieldType, ProductField, RecordField, TrivialField, TupleField
from .group import Group, GroupElement, ProductGroup, common_subgroup
from .module import (
    ACTIVATIONS,
    Blueprint,
    EquivariantModule,
    InvariantLinear,
    Pointwise,
    activation_module,
    registry,
    resolve_activation,
    seeded,
)

__all__ = [
    "Group", "GroupElement", "ProductGroup", "common_subgroup",
    "FieldType", "TrivialField", "TupleField", "ProductField", "RecordField",
    "EquivariantModule", "Pointwise", "InvariantLinear", "Blueprint", "registry", "seeded",
    "check_int", "check_choice", "checking", "value_checks", "ACTIVATIONS", "resolve_activation", "activation_module",
]
