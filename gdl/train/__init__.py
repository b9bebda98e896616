"""The one trainer, checkpoints, data parallelism (domain-agnostic)."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .distributed import DistributedContext, init_distributed, shutdown
from .trainer import (
    Callback,
    Evaluate,
    Measure,
    TrainConfig,
    Trainer,
    classification_step,
    count_parameters,
    move_to,
    resolve_device,
)

__all__ = ["Trainer", "TrainConfig", "Callback", "Evaluate", "Measure", "classification_step", "count_parameters",
           "move_to", "resolve_device", "save_checkpoint", "load_checkpoint", "CheckpointError", "DistributedContext",
           "init_distributed", "shutdown"]
