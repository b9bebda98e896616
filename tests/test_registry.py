"""The registry sweep: every registered layer, with its own example, in float64 and float32.

Exact symmetries must hold to 1e-9 (float64) and 1e-4 (float32); layers that
declare an approximate symmetry are held to their declared tolerance. Layers
opted out of the registry must appear inside some registered example, so no
layer escapes measurement.
"""

import importlib
import pkgutil

import pytest
import torch

import gdl
from gdl.core import EquivariantModule, registry
from gdl.testing import assert_equivariant, default_tolerance

for _module in pkgutil.walk_packages(gdl.__path__, prefix="gdl."):
    if not _module.name.endswith("__main__"):
        importlib.import_module(_module.name)

REGISTRY = registry()


def _all_subclasses(cls):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _all_subclasses(subclass)


def test_registry_lists_the_layers_of_every_domain():
    assert REGISTRY, "no layer registered"
    domains = {name.split(".")[1] for name in REGISTRY}
    assert "grids" in domains


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_layer_is_equivariant(name, dtype):
    cls = REGISTRY[name]
    assert "example" in cls.__dict__, f"{name} is registered but defines no example()"
    generator = torch.Generator().manual_seed(0)
    module, inputs = cls.example(generator)
    assert isinstance(module, cls)
    module.check_types()
    tolerance = default_tolerance(module, dtype)
    if module.equivariance_tolerance is None:
        assert tolerance == {torch.float64: 1e-9, torch.float32: 1e-4}[dtype]
    error = assert_equivariant(module, inputs, dtype=dtype, generator=generator, n_samples=6)
    assert error <= tolerance


def test_every_unregistered_gdl_layer_is_covered_by_a_registered_example():
    used = set()
    for cls in REGISTRY.values():
        module, _ = cls.example(torch.Generator().manual_seed(0))
        used.update(type(m) for m in module.modules())
    unregistered = {cls for cls in _all_subclasses(EquivariantModule)
                    if cls.__module__.startswith("gdl.") and not cls._registered}
    missing = sorted(cls.__qualname__ for cls in unregistered if not any(issubclass(u, cls) for u in used))
    assert not missing, f"layers never checked by the sweep: {missing}"
