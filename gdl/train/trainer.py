"""The one trainer: seeded, device-aware, resumable, with JSON-lines metrics.

An experiment supplies a model, data sets and a *step function*
``loss_fn(model, batch) -> {"loss": tensor, "accuracy": tensor, ...}`` giving
batch means; the trainer owns everything else: the optimiser, batching, the
device, the progress bar, metrics and checkpoints. It knows no domain.

Reproducibility: the model is initialised by the caller (seed it); each
epoch's shuffle is drawn from a generator seeded by ``(seed, epoch)`` and the
global RNG state is checkpointed, so a run resumed from the checkpoint of
epoch e continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .checkpoint import load_checkpoint, save_checkpoint, write_json_lines

__all__ = ["TrainConfig", "Trainer", "resolve_device", "move_to", "batch_size_of", "classification_step", "count_parameters", "LossFn"]

LossFn = Callable[[nn.Module, Any], dict[str, torch.Tensor]]


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings.

    Attributes:
        epochs: passes over the training set.
        batch_size: training batch size (evaluation uses ``eval_batch_size``).
        lr, weight_decay: Adam(W) settings (used when no optimiser factory is given).
        seed: seeds the shuffling of every epoch.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``…
        progress: show a tqdm bar per epoch.
    """

    epochs: int = 10
    batch_size: int = 64
    eval_batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    progress: bool = True


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → ``cuda`` when available, else ``cpu``; anything else is passed to ``torch.device``."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available on this machine")
    return device


def move_to(batch: Any, device: torch.device) -> Any:
    """Move tensors (and objects with ``.to``, such as PyG batches) inside ``batch`` to ``device``."""
    if isinstance(batch, torch.Tensor) or (hasattr(batch, "to") and not isinstance(batch, (tuple, list, dict))):
        return batch.to(device)
    if isinstance(batch, (tuple, list)):
        return type(batch)(move_to(item, device) for item in batch)
    if isinstance(batch, dict):
        return {key: move_to(value, device) for key, value in batch.items()}
    return batch


def batch_size_of(batch: Any) -> int:
    """Number of samples in a batch: the first dimension of its first tensor (or ``num_graphs``)."""
    if hasattr(batch, "num_graphs"):
        return int(batch.num_graphs)
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    if isinstance(batch, (tuple, list)) and batch:
        return batch_size_of(batch[0])
    if isinstance(batch, dict) and batch:
        return batch_size_of(next(iter(batch.values())))
    raise TypeError(f"cannot tell the batch size of a {type(batch).__name__}")


class Trainer:
    """Fit a model with one loss function; checkpoint and log every epoch.

    Args:
        model: the network (moved to the configured device).
        loss_fn: ``loss_fn(model, batch)`` → dict of batch-mean scalars with a ``"loss"`` key.
        train_set: a map-style dataset.
        val_set: evaluated after every epoch when given.
        config: :class:`TrainConfig`.
        optimizer_factory: ``params → optimiser``; default AdamW(lr, weight_decay).
        run_dir: where ``checkpoint.pt`` and ``metrics.jsonl`` go (nothing is written when ``None``).
        collate_fn: batching function for the data loaders.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, train_set: Dataset, *, val_set: Dataset | None = None,
                 config: TrainConfig | None = None,
                 optimizer_factory: Callable[[Any], torch.optim.Optimizer] | None = None,
                 run_dir: str | Path | None = None, collate_fn: Callable | None = None):
        self.config = config or TrainConfig()
        self.device = resolve_device(self.config.device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        self.train_set, self.val_set = train_set, val_set
        self.collate_fn = collate_fn
        factory = optimizer_factory or (lambda params: torch.optim.AdamW(
            params, lr=self.config.lr, weight_decay=self.config.weight_decay))
        self.optimizer = factory(self.model.parameters())
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.history: list[dict[str, float]] = []
        self.epoch = 0

    # -- paths -------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoint.pt"

    @property
    def metrics_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "metrics.jsonl"

    # -- checkpoints ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "epoch": self.epoch, "history": self.history, "rng": torch.get_rng_state(),
                "config": dataclasses.asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.history = int(state["epoch"]), list(state["history"])
        torch.set_rng_state(state["rng"])

    def resume(self) -> bool:
        """Load ``run_dir/checkpoint.pt`` when it exists; return whether it did."""
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return False
        self.load_state_dict(load_checkpoint(self.checkpoint_path, map_location=self.device))
        return True

    # -- loops ---------------------------------------------------------------------
    def _loader(self, dataset: Dataset, train: bool) -> DataLoader:
        """Batches of ``dataset``; training order is a permutation drawn from ``(seed, epoch)`` alone."""
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.epoch)
        # The loader gets its own generator too: creating an iterator then never draws from torch's global RNG,
        # which the model (dropout) uses.
        if not train:
            return DataLoader(dataset, batch_size=self.config.eval_batch_size, collate_fn=self.collate_fn,
                              generator=generator)
        order = torch.randperm(len(dataset), generator=generator).tolist()
        return DataLoader(dataset, batch_size=self.config.batch_size, sampler=order, collate_fn=self.collate_fn,
                          generator=generator)

    def _run_epoch(self, dataset: Dataset, train: bool, description: str) -> dict[str, float]:
        self.model.train(train)
        totals: dict[str, float] = {}
        count = 0
        batches = self._loader(dataset, train)
        if self.config.progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc=description, leave=False, dynamic_ncols=True, mininterval=0.5,
                           disable=None)  # None: no bar when stderr is not a terminal
        with torch.set_grad_enabled(train):
            for step, batch in enumerate(batches):
                batch = move_to(batch, self.device)
                metrics = self.loss_fn(self.model, batch)
                loss = metrics["loss"]
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite loss {loss.item()} at epoch {self.epoch + 1}, step {step} "
                                             f"({description}); lower the learning rate or check the inputs")
                if train:
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                n = batch_size_of(batch)
                count += n
                for key, value in metrics.items():
                    totals[key] = totals.get(key, 0.0) + float(value.detach()) * n
                if self.config.progress:
                    batches.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        if count == 0:
            raise ValueError(f"the {description} data set is empty")
        return {key: total / count for key, total in totals.items()}

    def evaluate(self, dataset: Dataset, description: str = "eval") -> dict[str, float]:
        """Batch-size-weighted means of ``loss_fn``'s outputs over ``dataset``, in eval mode."""
        return self._run_epoch(dataset, train=False, description=description)

    def fit(self, resume: bool = True) -> list[dict[str, float]]:
        """Train until ``config.epochs`` epochs are done (continuing a checkpoint when ``resume``)."""
        if resume:
            self.resume()
        while self.epoch < self.config.epochs:
            start = time.perf_counter()
            record: dict[str, float] = {"epoch": self.epoch + 1}
            train_metrics = self._run_epoch(self.train_set, True, f"epoch {self.epoch + 1}/{self.config.epochs}")
            record.update({f"train_{k}": v for k, v in train_metrics.items()})
            if self.val_set is not None:
                record.update({f"val_{k}": v for k, v in self.evaluate(self.val_set, "validation").items()})
            record["seconds"] = time.perf_counter() - start
            self.epoch += 1
            self.history.append(record)
            if self.run_dir is not None:
                save_checkpoint(self.state_dict(), self.checkpoint_path)
                write_json_lines(self.metrics_path, self.history)
        return self.history


def classification_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cross-entropy and accuracy for ``(inputs, labels)`` batches."""
    inputs, labels = batch
    logits = model(inputs)
    return {"loss": nn.functional.cross_entropy(logits, labels),
            "accuracy": (logits.argmax(dim=-1) == labels).float().mean()}


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


