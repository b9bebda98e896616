"""Argument and input checks shared by every domain (errors name what was expected and what was given).

Conventions for graphs (torch-geometric's ``flow="source_to_target"``): column e of ``edge_index`` is the directed edge
``(j, i) = (edge_index[0, e], edge_index[1, e])`` and node i *receives* from j.

Value-reading checks (node ids in range, finite positions, repeated edges) read tensor values, which costs a device
sync and breaks a ``torch.compile`` graph; they run only when :func:`checking` is true. Shape and dtype checks always
run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["check_int", "check_choice", "check_edge_policy", "checking", "value_checks", "check_node_features",
           "check_edge_index", "check_edge_features", "check_edge_weight", "repeated_edges", "check_positions",
           "check_batch", "SELF_LOOP_MODES", "DUPLICATE_MODES", "AGGREGATIONS"]

SELF_LOOP_MODES = ("keep", "add", "append", "remove")
DUPLICATE_MODES = ("keep", "merge", "error")
#: neighbourhood aggregators ⊕ every gdl graph layer accepts (book §5.3: a permutation-invariant ⊕)
AGGREGATIONS = ("sum", "mean", "max")


def check_int(value: Any, name: str, minimum: int | None = 1, allow_none: bool = False) -> Any:
    """Return ``value`` if it is an ``int`` (not a ``bool``) ≥ ``minimum`` (any integer when ``minimum`` is
    ``None``; also ``None`` itself when ``allow_none``); else raise ``ValueError`` naming both.

    The one integer check in gdl: every integer argument goes through it.

    Example:
        >>> check_int(3, "channels")
        3
        >>> check_int(0, "channels")
        Traceback (most recent call last):
        ...
        ValueError: channels must be a positive integer, got 0
        >>> check_int(True, "limit", allow_none=True)
        Traceback (most recent call last):
        ...
        ValueError: limit must be a positive integer or None, got True
    """
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        expected = ("an integer" if minimum is None else "a positive integer" if minimum == 1
                    else f"an integer ≥ {minimum}")
        raise ValueError(f"{name} must be {expected}{' or None' if allow_none else ''}, got {value!r}")
    return value


def _env_enabled() -> bool:
    return os.environ.get("GDL_VALUE_CHECKS", "1").strip().lower() not in ("0", "false", "off", "no")


_value_checks = _env_enabled()


def checking() -> bool:
    """Whether value-reading checks run: unless switched off (:func:`value_checks`, ``GDL_VALUE_CHECKS=0``), and
    never while ``torch.compile`` traces.

    Value-reading checks (node ids in range, finite positions, graph ids) read a tensor's values: on a GPU each one
    is a host-device sync. Networks (:class:`~gdl.core.Blueprint`) run them once, where data enters, and switch them
    off for their inner layers; a training loop on trusted data can switch them off entirely.
    """
    return _value_checks and not torch.compiler.is_compiling()


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Turn value-reading checks on or off inside a block (the previous setting is restored afterwards).

    Shape and dtype checks always run. The process-wide default is on; the environment variable
    ``GDL_VALUE_CHECKS=0`` starts a process with them off.

    Example:
        >>> import torch
        >>> from gdl.core.checks import check_edge_index, value_checks
        >>> with value_checks(False):
        ...     _ = check_edge_index(torch.tensor([[0], [7]]), num_nodes=2)   # the range is not read
    """
    global _value_checks
    previous = _value_checks
    _value_checks = bool(enabled)
    try:
        yield
    finally:
        _value_checks = previous


def check_choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` naming both."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_edge_policy(self_loops: Any, duplicates: Any) -> tuple[str, str]:
    """Return ``(self_loops, duplicates)`` if they are known edge policies (:data:`SELF_LOOP_MODES`,
    :data:`DUPLICATE_MODES`; see :mod:`gdl.graphs.edges`), else raise ``ValueError`` naming the choices."""
    return check_choice(self_loops, SELF_LOOP_MODES, "self_loops"), check_choice(duplicates, DUPLICATE_MODES, "duplicates")


def check_node_features(x: Any, num_nodes: int | None = None, channels: int | None = None, name: str = "x") -> int:
    """Raise unless ``x`` is a floating-point ``[N, C]`` tensor (N = ``num_nodes``, C = ``channels`` when given).

    Returns:
        N, the number of rows.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        given = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point tensor [N, C], got {given}")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape [N, C] (one row per node), got {list(x.shape)}")
    if num_nodes is not None and x.shape[0] != num_nodes:
        raise ValueError(f"{name} must have one row per node: expected {num_nodes} rows, got shape {list(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels: expected [N, {channels}], got {list(x.shape)}")
    return x.shape[0]


def check_edge_index(edge_index: Any, num_nodes: int, name: str = "edge_index") -> torch.Tensor:
    """Raise unless ``edge_index`` is an int64 ``[2, E]`` tensor of node ids in 0 … N−1."""
    if not isinstance(edge_index, torch.Tensor) or edge_index.dtype != torch.long:
        given = edge_index.dtype if isinstance(edge_index, torch.Tensor) else type(edge_index).__name__
        raise TypeError(f"{name} must be an int64 tensor [2, E], got {given}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{name} must have shape [2, E], got {list(edge_index.shape)}")
    if checking() and edge_index.numel():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= num_nodes:
            raise ValueError(f"{name} refers to nodes {low}..{high}, but the graph has {num_nodes} nodes: expected "
                             f"ids 0..{num_nodes - 1}, got {low}..{high} in an edge list of {edge_index.shape[1]} edges")
    return edge_index


def check_edge_features(edge_attr: Any, num_edges: int, channels: int | None = None, name: str = "edge_attr") -> None:
    """Raise unless ``edge_attr`` is a floating-point ``[E, C]`` tensor (one row per column of ``edge_index``)."""
    if not isinstance(edge_attr, torch.Tensor) or not edge_attr.is_floating_point():
        given = edge_attr.dtype if isinstance(edge_attr, torch.Tensor) else type(edge_attr).__name__
        raise TypeError(f"{name} must be a floating-point tensor [E, C], got {given}")
    if edge_attr.dim() != 2 or edge_attr.shape[0] != num_edges:
        raise ValueError(f"{name} must have one row per edge: expected [{num_edges}, C], got {list(edge_attr.shape)}")
    if channels is not None and edge_attr.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels: expected [{num_edges}, {channels}], "
                         f"got {list(edge_attr.shape)}")


def check_edge_weight(edge_weight: Any, num_edges: int, name: str = "edge_weight") -> None:
    """Raise unless ``edge_weight`` is a floating-point ``[E]`` tensor."""
    if not isinstance(edge_weight, torch.Tensor) or not edge_weight.is_floating_point():
        given = edge_weight.dtype if isinstance(edge_weight, torch.Tensor) else type(edge_weight).__name__
        raise TypeError(f"{name} must be a floating-point tensor [E], got {given}")
    if edge_weight.shape != (num_edges,):
        raise ValueError(f"{name} must hold one weight per edge: expected [{num_edges}], got {list(edge_weight.shape)}")


def repeated_edges(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Columns of ``edge_index`` that repeat an earlier column ``[R]`` (sorted; empty for a simple graph)."""
    keys = edge_index[1] * num_nodes + edge_index[0]
    order = torch.argsort(keys, stable=True)
    repeat = torch.zeros_like(keys, dtype=torch.bool)
    repeat[order[1:]] = keys[order[1:]] == keys[order[:-1]]
    return repeat.nonzero().flatten()


def check_positions(pos: Any, num_nodes: int | None = None) -> torch.Tensor:
    """Raise unless ``pos`` is a finite floating-point tensor ``[N, 3]`` (with N = ``num_nodes`` when given).

    The finiteness test reads the values (a device sync); it is skipped while ``torch.compile`` traces the caller,
    so compiled models run without a graph break, and NaN positions then give NaN outputs.
    """
    if not isinstance(pos, torch.Tensor) or not pos.is_floating_point():
        given = pos.dtype if isinstance(pos, torch.Tensor) else type(pos).__name__
        raise TypeError(f"positions must be a floating-point tensor [N, 3], got {given}")
    if pos.dim() != 2 or pos.shape[1] != 3:
        raise ValueError(f"positions must have shape [N, 3], got {list(pos.shape)}")
    if num_nodes is not None and pos.shape[0] != num_nodes:
        raise ValueError(f"positions must have one row per node: expected [{num_nodes}, 3], got {list(pos.shape)}")
    if checking() and pos.numel() and not bool(torch.isfinite(pos).all()):
        bad = (~torch.isfinite(pos)).any(dim=1).nonzero().flatten()
        raise ValueError(f"positions must be finite, got NaN or infinite coordinates in {bad.numel()} of "
                         f"{pos.shape[0]} points (first: point {int(bad[0])}, {pos[bad[0]].tolist()})")
    return pos


def check_batch(batch: Any, num_nodes: int, num_graphs: int | None = None) -> torch.Tensor:
    """Raise unless ``batch`` is an int64 tensor ``[N]`` of graph ids in 0 … ``num_graphs`` − 1 (when given).

    The range test reads the values; like :func:`check_positions` it is skipped while ``torch.compile`` traces.
    """
    if not isinstance(batch, torch.Tensor) or batch.dtype != torch.long or batch.shape != (num_nodes,):
        given = f"{batch.dtype} {list(batch.shape)}" if isinstance(batch, torch.Tensor) else type(batch).__name__
        raise ValueError(f"batch must be an int64 tensor [{num_nodes}] of graph ids, got {given}")
    if checking() and batch.numel():
        low, high = int(batch.min()), int(batch.max())
        if low < 0 or (num_graphs is not None and high >= num_graphs):
            limit = "" if num_graphs is None else f" < num_graphs = {num_graphs}"
            raise ValueError(f"batch must hold graph ids 0 ≤ id{limit}, got ids {low}..{high}")
    return batch
