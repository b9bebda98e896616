"""The one trainer, checkpoints, data parallelism (domain-agnostic)."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, write_atomic
from .distributed import DistributedContext, init_distributed, shutdown
from .threads import single_threaded
from .trainer import TrainConfig, Trainer, classification_step, count_parameters, move_to, resolve_device

__all__ = ["Trainer", "TrainConfig", "classification_step", "count_parameters", "move_to", "resolve_device",
           "save_checkpoint", "load_checkpoint", "write_atomic", "CheckpointError", "DistributedContext",
           "init_distributed", "shutdown", "single_threaded"]
