"""What mixed precision and torch.compile cost each registered layer, measured.

* bf16 autocast: the equivariance error of every registered layer under ``torch.autocast(bfloat16)``, against the
  layer's output scale. Layers for which bf16 is not numerically safe say so in ``amp_unsafe`` (a reason), and the
  test asserts their error really is large, so the flag cannot rot.
* torch.compile: every registered layer is traced by dynamo; layers that need graph breaks declare
  ``expected_graph_breaks`` (a count with the reason in the class docstring), all others must compile to one graph,
  and the compiled (aot_eager) module equals the eager one.
"""

import pytest
import torch
from test_registry import REGISTRY

from gdl.grids import PeriodicConv
from gdl.testing import equivariance_error, graph_break_count

BF16_RELATIVE_TOLERANCE = 3e-2  # bf16 keeps 8 significant bits: ~4e-3 per rounding, a few roundings per layer


def _scale(output) -> float:
    leaves = [output] if isinstance(output, torch.Tensor) else [t for t in (output.values() if isinstance(output, dict)
                                                                             else output) if isinstance(t, torch.Tensor)]
    return max(float(t.detach().abs().max()) for t in leaves if t.is_floating_point() and t.numel()) or 1.0


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_bf16_autocast_cost(name):
    module, inputs = REGISTRY[name].example(torch.Generator().manual_seed(0))
    report = equivariance_error(module, inputs, dtype=torch.float32, autocast=torch.bfloat16,
                                generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        scale = _scale(module(*inputs))
    relative = report.max_error / scale
    print(f"{name}: bf16 equivariance error {report.max_error:.2e} (relative {relative:.2e})")
    reason = getattr(module, "amp_unsafe", None)
    if reason:
        assert relative > BF16_RELATIVE_TOLERANCE, f"{name} says bf16 is unsafe ({reason}) but its error is small"
    else:
        assert relative <= BF16_RELATIVE_TOLERANCE


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_layers_compile_without_unexpected_graph_breaks(name):
    module, inputs = REGISTRY[name].example(torch.Generator().manual_seed(0))
    breaks = graph_break_count(module, inputs)
    expected = module.expected_graph_breaks  # declared on the base (0), set by layers that need breaks
    print(f"{name}: {breaks} graph breaks")
    assert breaks == expected, f"{name} compiles with {breaks} graph breaks, declared {expected}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_compiled_equals_eager(name):
    torch._dynamo.reset()
    module, inputs = REGISTRY[name].example(torch.Generator().manual_seed(0))
    module.eval()
    compiled = torch.compile(module, backend="aot_eager")
    with torch.no_grad():
        eager, traced = module(*inputs), compiled(*inputs)
    eager_leaves = eager if isinstance(eager, (tuple, list)) else [eager]
    traced_leaves = traced if isinstance(traced, (tuple, list)) else [traced]
    for a, b in zip(eager_leaves, traced_leaves):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_inductor_compiled_conv_equals_eager():
    """One real code-generating compile (inductor, C++ on CPU / Triton on GPU) of the core grid layer."""
    torch._dynamo.reset()
    conv = PeriodicConv(3, 4, kernel_size=3)
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(torch.compile(conv)(x), conv(x), rtol=1e-5, atol=1e-5)
