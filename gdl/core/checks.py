"""Argument checks shared by every domain (errors name what was expected and what was given)."""

from __future__ import annotations

from typing import Any

__all__ = ["check_int"]


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) ≥ ``minimum``; else raise ``ValueError`` naming both.

    Example:
        >>> check_int(3, "channels")
        3
        >>> check_int(0, "channels")
        Traceback (most recent call last):
        ...
        ValueError: channels must be a positive integer, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value
