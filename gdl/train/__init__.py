"""The one trainer, checkpoints and training helpers (domain-agnostic)."""

from .checkpoint import load_checkpoint, save_checkpoint, write_atomic
from .trainer import TrainConfig, Trainer, classification_step, count_parameters, move_to, resolve_device

__all__ = ["Trainer", "TrainConfig", "classification_step", "count_parameters", "move_to", "resolve_device",
           "save_checkpoint", "load_checkpoint", "write_atomic"]
