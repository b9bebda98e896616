"""Timing helpers shared by the benchmark scripts: median wall time and peak memory, with warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def measure(fn: Callable[[], object], *, warmup: int = 3, repeats: int = 20, device: torch.device | None = None) -> dict:
    """Median seconds per call of ``fn`` (after ``warmup`` calls) and peak CUDA memory when on a GPU."""
    cuda = device is not None and device.type == "cuda"
    for _ in range(warmup):
        fn()
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) if cuda else None
    return {"seconds": statistics.median(times), "peak_bytes": peak}


def forward_backward(module: torch.nn.Module, *inputs) -> Callable[[], None]:
    """A closure running one forward and backward pass of ``module`` on ``inputs`` (the output is summed).

    Gradients of the module and of inputs that require them are cleared first, so they never accumulate.
    """
    leaves = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]

    def step():
        module.zero_grad(set_to_none=True)
        for tensor in leaves:
            tensor.grad = None
        module(*inputs).sum().backward()
    return step


def row(operation: str, ours: dict, peer_name: str, peer: dict, note: str = "") -> dict:
    """One benchmark row from two :func:`measure` results (gdl's and its peer's)."""
    return {"operation": operation, "gdl": ours["seconds"], "peer_name": peer_name, "peer": peer["seconds"],
            "gdl_peak_bytes": ours["peak_bytes"], "peer_peak_bytes": peer["peak_bytes"], "note": note}


def _milliseconds(seconds: float) -> str:
    return "—" if seconds != seconds else f"{1e3 * seconds:.2f}"  # NaN: the row was not timed (see its note)


def _memory(value) -> str:
    return "—" if value is None else f"{value / 2**20:.0f} MiB"


def table(rows: list[dict]) -> str:
    """Markdown table of benchmark rows: [benchmark,] operation, gdl, peer, ratio gdl/peer, peak memory, note."""
    named = any("benchmark" in r for r in rows)
    head = ["benchmark"] * named + ["operation", "gdl (ms)", "peer", "peer (ms)", "ratio gdl/peer",
                                    "peak memory gdl / peer", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ratio = r["gdl"] / r["peer"]
        cells = [r.get("benchmark", "")] * named + [
            r["operation"], _milliseconds(r["gdl"]), r["peer_name"], _milliseconds(r["peer"]),
            "—" if ratio != ratio else f"{ratio:.2f}",
            f"{_memory(r.get('gdl_peak_bytes'))} / {_memory(r.get('peer_peak_bytes'))}",
            str(r.get("note") or "").replace("|", "/")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(run: Callable[..., list[dict]], **extra_arguments) -> None:
    """The command line of a benchmark script: ``--device`` (default cuda when present) and the script's own options.

    ``extra_arguments`` maps option names to ``(default, help, parse)``; ``run(device, **options)`` gets them parsed.
    """
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    for name, (default, help_text, _) in extra_arguments.items():
        parser.add_argument(f"--{name.replace('_', '-')}", default=default, help=help_text)
    arguments = vars(parser.parse_args())
    device = torch.device(arguments.pop("device"))
    options = {name: extra_arguments[name][2](value) for name, value in arguments.items()}
    print(table(run(device, **options)))
