"""Registered paper examples (``gdl reproduce``): one module each, found automatically."""

import importlib
import pkgutil
from pathlib import Path

from .base import _EXPERIMENTS, Experiment, Result, Row, Settings, Task, write_report

__all__ = ["Experiment", "Result", "Row", "Settings", "Task", "experiments", "get_experiment", "write_report"]


def experiments() -> dict[str, type[Experiment]]:
    """Every registered experiment, by name (imports every module of this package first)."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(_EXPERIMENTS.items()))


def get_experiment(name: str) -> Experiment:
    """An instance of the experiment registered as ``name`` (``KeyError`` naming the registered ones otherwise)."""
    known = experiments()
    if name not in known:
        raise KeyError(f"unknown experiment {name!r}; registered: {', '.join(sorted(known))}")
    return known[name]()
