"""Runtime helpers every floor may use: CPU thread control and atomic file writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

__all__ = ["single_threaded", "write_atomic"]


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


def write_atomic(path: str | os.PathLike, write: Any) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
