"""The shared contract: groups, field types, equivariant modules, the blueprint.

Nothing here depends on torch-geometric, e3nn or geoopt; every domain builds on it.
"""

from .checks import check_int
from .field import FieldType, ProductField, RecordField, TrivialField, TupleField
from .group import Group, GroupElement, ProductGroup, common_subgroup
from .module import (
    ACTIVATIONS,
    Blueprint,
    EquivariantModule,
    InvariantLinear,
    Pointwise,
    SizeDependentTypes,
    registry,
    resolve_activation,
    seeded,
)

__all__ = [
    "Group", "GroupElement", "ProductGroup", "common_subgroup",
    "FieldType", "TrivialField", "TupleField", "ProductField", "RecordField",
    "EquivariantModule", "SizeDependentTypes", "Pointwise", "InvariantLinear", "Blueprint", "registry", "seeded",
    "check_int", "ACTIVATIONS", "resolve_activation",
]
