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


def forward_backward(module: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """A closure running one forward and backward pass of ``module`` on ``x``."""
    def step():
        module.zero_grad(set_to_none=True)
        module(x).sum().backward()
    return step


def table(rows: list[dict]) -> str:
    """Markdown table of benchmark rows: operation, gdl, peer, ratio (gdl / peer)."""
    lines = ["| operation | gdl (ms) | peer | peer (ms) | ratio gdl/peer |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['operation']} | {1e3 * row['gdl']:.2f} | {row['peer_name']} | {1e3 * row['peer']:.2f} | "
                     f"{row['gdl'] / row['peer']:.2f} |")
    return "\n".join(lines)
