"""Checkpoints that survive interrupted writes and load without executing code.

:func:`save_checkpoint` writes to a temporary file in the same directory,
flushes it to disk and renames it over the target with ``os.replace`` (atomic
on POSIX and Windows), so a crash mid-write leaves the previous checkpoint
intact. :func:`load_checkpoint` always uses ``torch.load(weights_only=True)``,
which unpickles only tensors and plain containers: a checkpoint file cannot
run code on the machine that opens it.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from gdl.core.runtime import write_atomic

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "write_json_lines"]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unreadable, truncated, unsafe, or written for another model."""


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Atomically save ``state`` (tensors, state dicts, numbers, strings, lists, dicts)."""
    return write_atomic(path, lambda file: torch.save(state, file))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code execution)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(f"{path} holds objects other than tensors and plain containers; gdl loads checkpoints "
                              f"with weights_only=True and refuses it ({str(error).splitlines()[0]})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is unreadable (truncated or corrupted?): {error}") from None


def write_json_lines(path: str | os.PathLike, records: list[dict[str, Any]]) -> Path:
    """Atomically (re)write ``records`` as one JSON object per line."""
    text = "".join(json.dumps(record, sort_keys=True) + "\n" for record in records)
    return write_atomic(path, lambda file: file.write(text.encode()))
