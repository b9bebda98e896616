"""The registry sweep: every registered layer, with its own example, on 3 seeds, in float64 and float32.

Exact symmetries must hold to 1e-9 (float64) and 1e-4 (float32); layers that declare an approximate symmetry are
held to their declared tolerance. The harness adds an element of every component of the group (a reflection) to
its random draws. Every layer's bad inputs must raise a named error; every export must compute the same function.
Layers opted out of the registry must appear inside some registered example, so no layer escapes measurement.
"""

import collections
import importlib
import inspect
import os
import pkgutil

import pytest
import torch

import gdl
from gdl.core import EquivariantModule, registry
from gdl.testing import assert_equivariant, cast_floating, default_tolerance
from gdl.testing.harness import _leaves as leaves

#: for local work on one domain, GDL_SWEEP=gdl.graphs (comma-separated prefixes) imports and sweeps only those
#: packages; unset (CI), every module is imported and every layer swept
ONLY = tuple(p.strip() for p in os.environ.get("GDL_SWEEP", "").split(",") if p.strip())

for _module in pkgutil.walk_packages(gdl.__path__, prefix="gdl."):
    if not _module.name.endswith("__main__") and (not ONLY or _module.name.startswith(ONLY)):
        importlib.import_module(_module.name)

REGISTRY = {name: cls for name, cls in registry().items() if name.startswith(ONLY or ("gdl.",))}
DOMAINS = ("grids", "groups", "graphs", "geodesics", "gauges")
SEEDS = (0, 1, 2)
#: constructor arguments that would fix the size of the inputs (the contract reads it from them instead)
SIZE_ARGUMENTS = {"num_nodes", "num_points", "num_vertices", "num_atoms"}


def _all_subclasses(cls):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _all_subclasses(subclass)


def _domain(name: str) -> str:
    return name.split(".")[1]


def test_registry_lists_the_layers_of_every_domain():
    if ONLY:
        pytest.skip(f"GDL_SWEEP={','.join(ONLY)}: only part of the registry is loaded")
    counts = collections.Counter(_domain(name) for name in REGISTRY)
    print("registered layers per domain:", dict(sorted(counts.items())))
    for domain in DOMAINS:
        assert counts[domain] >= 3, f"{domain} registers {counts[domain]} layers: {dict(counts)}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_layer_is_built_without_a_size(name):
    parameters = set(inspect.signature(REGISTRY[name].__init__).parameters)
    assert not parameters & SIZE_ARGUMENTS, f"{name} takes {parameters & SIZE_ARGUMENTS}: read N from the inputs"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_layer_is_equivariant(name, dtype, seed):
    cls = REGISTRY[name]
    assert "example" in cls.__dict__, f"{name} is registered but defines no example()"
    generator = torch.Generator().manual_seed(seed)
    module, inputs = cls.example(generator)
    assert isinstance(module, cls)
    module.check_types(*inputs)
    tolerance = default_tolerance(module, dtype)
    if module.equivariance_tolerance is None:
        assert tolerance == {torch.float64: 1e-9, torch.float32: 1e-4}[dtype]
    error = assert_equivariant(module, inputs, dtype=dtype, generator=generator, n_samples=6)
    assert error <= tolerance


BAD_INPUTS_TRIED: collections.Counter = collections.Counter()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_layer_refuses_bad_inputs_by_name(name):
    module, inputs = REGISTRY[name].example(torch.Generator().manual_seed(0))
    bad = module.bad_inputs(*inputs)
    assert bad, f"{name} describes no bad inputs"
    for what, bad_inputs in bad.items():
        with pytest.raises((ValueError, TypeError)) as raised:
            module(*bad_inputs)
        message = str(raised.value)
        assert "got" in message or "given" in message, f"{name}, {what}: the error does not say what was given: {message!r}"
    BAD_INPUTS_TRIED[_domain(name)] += len(bad)


def test_bad_inputs_were_tried_in_every_domain():
    if not BAD_INPUTS_TRIED or ONLY:
        pytest.skip("needs the whole registry and test_registered_layer_refuses_bad_inputs_by_name in the same run")
    print("bad inputs tried per domain:", dict(sorted(BAD_INPUTS_TRIED.items())))
    assert set(DOMAINS) <= set(BAD_INPUTS_TRIED)


def _max_difference(a, b) -> float:
    left, right = leaves(a), leaves(b)
    assert [p for p, _ in left] == [p for p, _ in right]
    return max((float((x.double() - y.double()).abs().max()) for (_, x), (_, y) in zip(left, right) if x.numel()),
               default=0.0)


EXPORTED: list[str] = []


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_export_computes_the_same_function_or_says_why_not(name):
    module, inputs = REGISTRY[name].example(torch.Generator().manual_seed(0))
    module.eval()
    try:
        exported = module.export()
    except NotImplementedError as error:
        assert type(module).__name__ in str(error), f"the NotImplementedError of {name} does not name the class"
        return
    assert not isinstance(exported, EquivariantModule), f"{name}.export() returned a gdl module, not plain torch"
    exported.eval()
    for dtype, tolerance in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        args = cast_floating(inputs, dtype)
        with torch.no_grad():
            expected = module.to(dtype)(*args)
            actual = exported.to(dtype)(*args)
        assert _max_difference(actual, expected) <= tolerance, f"{name}.export() differs in {dtype}"
    EXPORTED.append(name)


def test_every_unregistered_gdl_layer_is_covered_by_a_registered_example():
    used = set()
    for cls in REGISTRY.values():
        module, _ = cls.example(torch.Generator().manual_seed(0))
        used.update(type(m) for m in module.modules())
    unregistered = {cls for cls in _all_subclasses(EquivariantModule)
                    if cls.__module__.startswith(ONLY or ("gdl.",)) and not cls._registered}
    missing = sorted(cls.__qualname__ for cls in unregistered if not any(issubclass(u, cls) for u in used))
    assert not missing, f"layers never checked by the sweep: {missing}"
