"""Registered paper examples (``gdl reproduce``): one module each, found automatically."""

from .base import Experiment, Result, Row, Settings, Task, experiments, get_experiment, write_report

__all__ = ["Experiment", "Result", "Row", "Settings", "Task", "experiments", "get_experiment", "write_report"]
