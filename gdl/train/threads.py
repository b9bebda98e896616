"""CPU thread control for workloads of many small tensor operations."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["single_threaded"]


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run a block with one intra-op CPU thread (the previous count is restored afterwards).

    For workloads made of many small tensor operations (5-particle systems, 34-node graphs, ``[128, 64]`` matmuls)
    extra threads cost more in synchronisation than they save, and on a machine shared with other jobs they can
    stall badly. Experiments use it on the CPU only; CUDA work is unaffected.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
