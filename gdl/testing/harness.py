"""Numerical equivariance checks for any layer (public: test your own layers with it).

For a layer f with input action ρ_in and output action ρ_out over a group G,
the *equivariance error* at an input x and element g is

    ε(g, x) = max | f(ρ_in(g) x) − ρ_out(g) f(x) |          (entrywise)

:func:`equivariance_error` measures it over sampled (or, for small finite
groups, all) elements; :func:`assert_equivariant` raises an ``AssertionError``
naming the layer, the worst element and the error when it exceeds the
tolerance. Following e3nn's ``assert_equivariant``, the module runs in the
requested dtype while the group actions are applied in float64, so the
measured error is the layer's own and not the transformation's round-off.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from typing import Any

import torch

from gdl.core import EquivariantModule, FieldType, Group, GroupElement, TupleField

__all__ = ["EquivarianceReport", "equivariance_error", "assert_equivariant", "default_tolerance", "cast_floating",
           "graph_break_count"]

#: tolerances for exact symmetries, by the dtype the module runs in
DEFAULT_TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}
#: finite groups up to this order are checked on every element instead of a sample
ENUMERATE_UP_TO = 64


@dataclasses.dataclass
class EquivarianceReport:
    """What :func:`equivariance_error` measured.

    Attributes:
        max_error: the largest ε(g, x) over the elements tried.
        worst_element: the element attaining it.
        errors: ε for every element tried, in order.
        elements: the elements tried.
        dtype: the dtype the module ran in.
        group: the group the elements came from.
    """

    max_error: float
    worst_element: GroupElement
    errors: list[float]
    elements: list[GroupElement]
    dtype: torch.dtype
    group: Group


def cast_floating(value: Any, dtype: torch.dtype) -> Any:
    """Cast every floating tensor inside ``value`` (tensors, tuples, lists, dicts, PyG data) to ``dtype``."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, tuple):
        return tuple(cast_floating(v, dtype) for v in value)
    if isinstance(value, list):
        return [cast_floating(v, dtype) for v in value]
    if isinstance(value, dict):
        return {k: cast_floating(v, dtype) for k, v in value.items()}
    if hasattr(value, "apply") and hasattr(value, "clone"):  # torch_geometric Data / Batch
        return value.clone().apply(lambda t: t.to(dtype) if t.is_floating_point() else t)
    return value


def _leaves(value: Any, path: str = "output") -> list[tuple[str, torch.Tensor]]:
    """Flatten an output into (path, tensor) pairs in a deterministic order."""
    if isinstance(value, torch.Tensor):
        return [(path, value)]
    if isinstance(value, (tuple, list)):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [leaf for k in sorted(value) for leaf in _leaves(value[k], f"{path}[{k!r}]")]
    if hasattr(value, "to_dict"):  # torch_geometric Data
        return _leaves(value.to_dict(), path)
    if value is None:  # an absent optional output (compared as present/absent by the structure check)
        return [(f"{path}=None", torch.zeros(0))]
    raise TypeError(f"cannot compare an output of type {type(value).__name__} at {path}: the harness knows tensors, "
                    "tuples, lists, dicts and torch_geometric Data")


def _difference(actual: Any, expected: Any, rtol: float) -> float:
    """Max of |a − b| − rtol·|b| over all leaves (integer leaves must match exactly)."""
    actual_leaves, expected_leaves = _leaves(actual), _leaves(expected)
    if [p for p, _ in actual_leaves] != [p for p, _ in expected_leaves]:
        raise AssertionError(f"outputs differ in structure: {[p for p, _ in actual_leaves]} vs {[p for p, _ in expected_leaves]}")
    worst = 0.0
    for (path, a), (_, b) in zip(actual_leaves, expected_leaves):
        if a.shape != b.shape:
            raise AssertionError(f"{path}: shape {list(a.shape)} after transforming the input, "
                                 f"{list(b.shape)} after transforming the output")
        if not (a.is_floating_point() or a.is_complex()):
            if not torch.equal(a, b):
                return float("inf")
            continue
        a64, b64 = a.detach().to(torch.float64), b.detach().to(torch.float64)
        if not (torch.isfinite(a64).all() and torch.isfinite(b64).all()):
            raise AssertionError(f"{path} contains non-finite values")
        if a.numel():
            excess = (a64 - b64).abs() - rtol * b64.abs()
            worst = max(worst, float(excess.max()))
    return worst


def _apply(field: FieldType, inputs: tuple, g: GroupElement) -> tuple:
    if isinstance(field, TupleField):
        return field.transform(inputs, g)
    if len(inputs) != 1:
        raise TypeError(f"the module takes {len(inputs)} inputs but its in_type {field!r} describes one; "
                        "describe several arguments with a TupleField")
    return (field.transform(inputs[0], g),)


def default_tolerance(module: EquivariantModule, dtype: torch.dtype) -> float:
    """The tolerance the registry sweep uses: the layer's declared one, else the exact-symmetry default."""
    declared = getattr(module, "equivariance_tolerance", None)
    if isinstance(declared, dict):
        declared = declared.get(dtype)
    exact = DEFAULT_TOLERANCE.get(dtype, 1e-4)
    return exact if declared is None else max(float(declared), exact)


def equivariance_error(module: EquivariantModule, inputs: Any, *, group: Group | None = None, n_samples: int = 4,
                       dtype: torch.dtype = torch.float64, generator: torch.Generator | None = None,
                       train: bool = False, rtol: float = 0.0, autocast: torch.dtype | None = None) -> EquivarianceReport:
    """Measure max |f(ρ_in(g) x) − ρ_out(g) f(x)| over group elements.

    Args:
        module: the layer f (it is copied, cast to ``dtype`` and put in eval mode
            unless ``train``; the original is untouched).
        inputs: the positional inputs x (a tuple, or one value); the field types come from
            ``module.field_types(*inputs)``.
        group: where to draw g from; defaults to the group of the input type. A subgroup
            checks less, a supergroup may reveal broken symmetries.
        n_samples: elements drawn; finite groups of order ≤ 64 are enumerated, and an element of every
            component of the group (``group.component_representatives()``: reflections) is always added.
        dtype: dtype the module runs in (the actions are applied in float64).
        generator: seeds the draw.
        train: run the module in training mode (batch statistics etc.).
        rtol: relative part of the error, subtracted as ``rtol · |g·f(x)|``.
        autocast: run the module under ``torch.autocast`` with this dtype (e.g. ``torch.bfloat16``) to measure
            what mixed precision costs; ``dtype`` should then be float32.
    """
    if not isinstance(module, EquivariantModule):
        raise TypeError(f"equivariance_error expects an EquivariantModule, got {type(module).__name__}")
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    in_type, out_type = module.check_types(*inputs)
    group = in_type.group if group is None else group
    model = copy.deepcopy(module).to(dtype).train(train)

    def run(args: tuple) -> Any:
        args = cast_floating(args, dtype)
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        mixed = torch.autocast(device.type, dtype=autocast) if autocast is not None else contextlib.nullcontext()
        with torch.no_grad(), mixed:
            return model(*args)

    if group.order is not None and group.order <= ENUMERATE_UP_TO:
        elements = group.elements()
    else:  # random draws, plus an element of every component (a reflection) that a draw could miss
        elements = group.sample(n_samples, generator=generator) + group.component_representatives()
    x64 = cast_floating(inputs, torch.float64)
    fx = cast_floating(run(inputs), torch.float64)
    errors = []
    for g in elements:
        f_gx = run(cast_floating(_apply(in_type, x64, g), dtype))
        g_fx = out_type.transform(fx, g)
        errors.append(_difference(f_gx, g_fx, rtol=rtol))
    worst = max(range(len(errors)), key=errors.__getitem__)
    return EquivarianceReport(errors[worst], elements[worst], errors, elements, dtype, group)


def assert_equivariant(module: EquivariantModule, inputs: Any, *, group: Group | None = None, n_samples: int = 4,
                       atol: float | None = None, rtol: float = 0.0, dtype: torch.dtype = torch.float64,
                       generator: torch.Generator | None = None, train: bool = False,
                       autocast: torch.dtype | None = None) -> float:
    """Assert f(ρ_in(g) x) ≈ ρ_out(g) f(x) and return the max error.

    ``atol`` defaults to :func:`default_tolerance` (1e-9 in float64 and 1e-4 in
    float32 for exact symmetries, the declared bound for approximate ones). The
    other arguments are those of :func:`equivariance_error`.
    Raises ``AssertionError`` naming the layer, the group element and the error.

    Example:
        >>> import torch
        >>> from gdl.grids import PeriodicConv
        >>> from gdl.testing import assert_equivariant
        >>> conv = PeriodicConv(3, 8, kernel_size=3)
        >>> assert_equivariant(conv, torch.randn(2, 3, 16, 16)) < 1e-9
        True
    """
    tolerance = default_tolerance(module, dtype) if atol is None else atol
    report = equivariance_error(module, inputs, group=group, n_samples=n_samples, dtype=dtype,
                                generator=generator, train=train, rtol=rtol, autocast=autocast)
    if not report.max_error <= tolerance:
        raise AssertionError(
            f"{type(module).__name__} is not equivariant under {report.group!r} in {str(dtype).replace('torch.', '')}: "
            f"max |f(g·x) − g·f(x)| = {report.max_error:.3e} > {tolerance:.1e} at g = {report.worst_element!r}")
    return report.max_error


def graph_break_count(module: torch.nn.Module, inputs: Any) -> int:
    """How many times ``torch.compile`` has to break the graph of ``module(*inputs)`` (0: one graph)."""
    import torch._dynamo

    torch._dynamo.reset()
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return int(torch._dynamo.explain(module)(*inputs).graph_break_count)
