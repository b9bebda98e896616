"""The one trainer: seeded, device-aware, distributed, resumable, with JSON-lines metrics.

An experiment supplies a model, data sets and a *step function*
``loss_fn(model, batch) -> {"loss": tensor, "accuracy": tensor, ...}`` giving
batch means; the trainer owns everything else: the optimiser, batching, the
device, data parallelism, mixed precision, compilation, the progress bar,
metrics and checkpoints. It knows no domain.

Determinism. The training order of epoch e is the permutation that
``DistributedSampler(seed, epoch=e)`` draws, shared by all ranks and sharded
among them; before step s of epoch e, rank r seeds torch's RNG with a hash of
(seed, e, s, r), so dropout and every other random draw depend on nothing
else. A run resumed from any checkpoint, also one written mid-epoch, therefore
continues exactly as the uninterrupted run would have (on the same hardware).

Data parallelism. Under ``torchrun`` each of the K ranks takes ``batch_size /
K`` samples of every global batch and DDP averages the gradients, so one step
equals a single-process step on the same global batch. Metrics are summed
over ranks; only rank 0 writes checkpoints and metrics.

No host-device synchronisation per step. Metrics stay on the device as sums
weighted by the number of samples of each batch (epoch metrics are per-sample
means, also with a short last batch); finiteness of the loss is accumulated in
a device flag that also records the first non-finite step. Both are read back
only at logging points: every ``check_every`` steps, before a checkpoint and at
the end of an epoch. A non-finite loss therefore stops training at the next
logging point, with an error naming the first non-finite step; no checkpoint is
written after it.

Hooks. A :class:`Callback` sees the start of ``fit``, the start and end of every
epoch, and may add entries to an epoch's record (e.g. :class:`Evaluate` scores
a test set): non-standard loops (the test score at the best validation epoch, a
learning-rate schedule, printing) are hooks on this one loop, not other loops.

Torch's global RNG state is restored when :meth:`Trainer.fit` and
:meth:`Trainer.evaluate` return (they reseed it per step), so calling them does
not change the caller's random draws.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, write_json_lines
from .distributed import (
    DistributedContext,
    all_reduce_min,
    all_reduce_sums,
    barrier,
    init_distributed,
    resolve_device,
    world_size_from_environment,
)

__all__ = ["TrainConfig", "Trainer", "Callback", "Evaluate", "Measure", "resolve_device", "move_to", "batch_size_of",
           "classification_step", "count_parameters", "LossFn"]

LossFn = Callable[[nn.Module, Any], dict[str, torch.Tensor]]


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings.

    Attributes:
        epochs: passes over the training set.
        batch_size: the global training batch (split evenly over ranks under torchrun).
        eval_batch_size: per-rank evaluation batch.
        lr, weight_decay: AdamW settings (used when no optimiser factory is given).
        seed: seeds the order of every epoch and the randomness of every step.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``…
        progress: show a tqdm bar per epoch (rank 0, terminals only).
        amp: run forward and loss under bfloat16 autocast (optimiser state stays float32).
        compile: wrap the model in ``torch.compile`` for training.
        grad_clip: clip the global gradient norm to this value.
        checkpoint_every: also checkpoint every this many steps inside an epoch (``None``: at epoch ends only).
        val_every: evaluate the validation set every this many epochs, and always after the last.
        max_steps: stop every epoch after this many optimisation steps (``None``: a full pass; dry runs).
        threads: CPU intra-op threads during :meth:`Trainer.fit` and :meth:`Trainer.evaluate` (``None``: torch's
            current setting; 1 suits models made of many small operations). Ignored on other devices.
        check_every: steps between the host-side reads of the loss (finiteness check, progress bar); they are
            also made before every checkpoint and at the end of every epoch.
    """

    epochs: int = 10
    batch_size: int = 64
    eval_batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    amp: bool = False
    compile: bool = False
    grad_clip: float | None = None
    checkpoint_every: int | None = None
    val_every: int = 1
    max_steps: int | None = None
    threads: int | None = None
    check_every: int = 100


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
    """Number of samples in a batch: ``batch_size`` of a neighbour-sampled subgraph (its seed nodes), ``num_graphs``
    of a batch of graphs, else the first dimension of its first tensor."""
    if isinstance(getattr(batch, "batch_size", None), int):
        return batch.batch_size
    if hasattr(batch, "num_graphs"):
        return int(batch.num_graphs)
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    if isinstance(batch, (tuple, list)) and batch:
        return batch_size_of(batch[0])
    if isinstance(batch, dict) and batch:
        return batch_size_of(next(iter(batch.values())))
    raise TypeError(f"cannot tell the batch size of a {type(batch).__name__}")


def step_seed(seed: int, epoch: int, step: int, rank: int) -> int:
    """The RNG seed of one training step: a fixed mixing of (seed, epoch, step, rank) into 63 bits."""
    value = seed
    for part in (epoch, step, rank):
        value = (value * 6364136223846793005 + part * 1442695040888963407 + 1) % (1 << 63)
    return value


class Callback:
    """A hook on :meth:`Trainer.fit`; override any of the methods (they do nothing by default).

    ``on_epoch_end`` runs after the epoch's training and validation (``record`` then holds their metrics and
    ``seconds``) and before the record is stored and the checkpoint written: entries it adds to ``record`` are part
    of the history (and of ``metrics.jsonl``), so a resumed run sees them. Callback state that must survive a resume
    belongs in the history. Callbacks run in order, so a printing one goes last.
    """

    def on_fit_start(self, trainer: "Trainer") -> None:
        """Once per :meth:`Trainer.fit` call, after resuming."""

    def on_epoch_start(self, trainer: "Trainer") -> None:
        """Before the epoch ``trainer.epoch + 1`` (0-based ``trainer.epoch``) trains."""

    def on_epoch_end(self, trainer: "Trainer", record: dict[str, float]) -> None:
        """After the epoch trained and validated; ``record`` holds its metrics (``record["epoch"]`` is 1-based)."""


class Evaluate(Callback):
    """Score further data sets (e.g. a test set) with the loss function: adds ``{name}_{metric}`` to the record.

    Args:
        datasets: ``{name: dataset}``.
        when: ``when(trainer, record) -> bool`` decides at the end of every epoch (``None``: after the last epoch).
        collate_fn: batching of these data sets (``None``: the trainer's evaluation batching).
    """

    def __init__(self, datasets: dict[str, Dataset], when: Callable[["Trainer", dict], bool] | None = None,
                 collate_fn: Callable | None = None):
        self.datasets, self.when, self.collate_fn = dict(datasets), when, collate_fn

    def on_epoch_end(self, trainer: "Trainer", record: dict[str, float]) -> None:
        due = record["epoch"] == trainer.config.epochs if self.when is None else self.when(trainer, record)
        if due:
            for name, dataset in self.datasets.items():
                metrics = trainer.evaluate(dataset, name, collate_fn=self.collate_fn)
                record.update({f"{name}_{key}": value for key, value in metrics.items()})


class Measure(Callback):
    """Add ``measure(model)`` (a dict of numbers, e.g. a retrieval metric) to the record after the last epoch."""

    def __init__(self, measure: Callable[[nn.Module], dict[str, float]]):
        self.measure = measure

    def on_epoch_end(self, trainer: "Trainer", record: dict[str, float]) -> None:
        if record["epoch"] == trainer.config.epochs:
            was_training = trainer.model.training
            trainer.model.eval()
            with torch.no_grad(), trainer._rng(), trainer._threads():
                record.update({key: float(value) for key, value in self.measure(trainer.model).items()})
            trainer.model.train(was_training)


class Trainer:
    """Fit a model with one loss function; checkpoint and log.

    Args:
        model: the network (moved to the device; wrapped in DDP under torchrun).
        loss_fn: ``loss_fn(model, batch)`` → dict of batch-mean scalars with a ``"loss"`` key.
        train_set: a map-style dataset.
        val_set: evaluated after every epoch when given.
        config: :class:`TrainConfig`.
        optimizer_factory: ``params → optimiser``; default AdamW(lr, weight_decay).
        run_dir: where ``checkpoint.pt`` and ``metrics.jsonl`` go (nothing is written when ``None``).
        collate_fn: batching function for the data loaders.
        eval_collate_fn: batching of the evaluated data sets (``None``: ``collate_fn``).
        callbacks: :class:`Callback` hooks on :meth:`fit`, called in order.

    The default optimiser is AdamW; a model with parameters on a (non-Euclidean) geoopt manifold needs a
    Riemannian one (``optimizer_factory``, e.g. :func:`gdl.geodesics.riemannian_optimizer`, which also keeps
    weight decay off the manifold parameters), and the default refuses such a model.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, train_set: Dataset, *, val_set: Dataset | None = None,
                 config: TrainConfig | None = None,
                 optimizer_factory: Callable[[Any], torch.optim.Optimizer] | None = None,
                 run_dir: str | Path | None = None, collate_fn: Callable | None = None,
                 eval_collate_fn: Callable | None = None, callbacks: Any = ()):
        self.config = config or TrainConfig()
        world = world_size_from_environment()  # checked before joining the process group, so every rank fails fast
        if len(train_set) < world:
            raise ValueError(f"{world} processes need at least {world} training samples (one per rank), "
                             f"but the training set has {len(train_set)}")
        if self.config.batch_size % world:
            raise ValueError(f"the global batch size {self.config.batch_size} must be divisible by the "
                             f"{world} processes (each rank takes an equal share)")
        self.context: DistributedContext = init_distributed(self.config.device)
        self.device = self.context.device
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        self.train_set, self.val_set = train_set, val_set
        self.collate_fn = collate_fn
        self.eval_collate_fn = eval_collate_fn
        self.callbacks = list(callbacks)
        self.optimizer = (optimizer_factory or self._default_optimizer)(self.model.parameters())
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.history: list[dict[str, float]] = []
        self.epoch = 0  # completed epochs
        self.step = 0  # completed steps of the current epoch
        self.train_seconds = 0.0  # wall time spent in training passes (not evaluation) by this object
        self._partial: dict[str, Any] = {}  # summed metrics of the current epoch's completed steps (device tensors)
        self._reset_finite_flag()
        self._training_model = self._wrap(self.model)

    def _default_optimizer(self, params: Any) -> torch.optim.Optimizer:
        params = list(params)
        on_manifold = [p for p in params if _on_manifold(p)]
        if on_manifold:
            names = [name for name, p in self.model.named_parameters() if any(p is q for q in on_manifold)]
            raise ValueError(f"parameters {names} lie on a manifold ({type(on_manifold[0].manifold).__name__}); AdamW "
                             "would step them off it and decay them towards 0: pass optimizer_factory=lambda p: "
                             "gdl.geodesics.riemannian_optimizer(model, lr=..., weight_decay=...)")
        return torch.optim.AdamW(params, lr=self.config.lr, weight_decay=self.config.weight_decay)

    def _wrap(self, model: nn.Module) -> nn.Module:
        if self.context.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if self.config.compile:
            model = torch.compile(model)
        return model

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
                "model_class": type(self.model).__qualname__, "epoch": self.epoch, "step": self.step,
                "partial": all_reduce_sums(self._host(self._partial), self.context), "history": self.history,
                "config": dataclasses.asdict(self.config), "world_size": self.context.world_size}

    def load_state_dict(self, state: dict[str, Any], source: str = "the checkpoint") -> None:
        if state.get("model_class") != type(self.model).__qualname__:
            raise CheckpointError(f"{source} holds a {state.get('model_class')!r} model, not a "
                                  f"{type(self.model).__qualname__!r}; refusing to load it")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as error:
            raise CheckpointError(f"{source} does not fit this model: {error}") from None
        if int(state["step"]) and int(state["world_size"]) != self.context.world_size:
            raise CheckpointError(f"{source} was written mid-epoch by {state['world_size']} processes; resume it with "
                                  f"the same number (got {self.context.world_size}) or from an epoch-end checkpoint")
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.step, self.history = int(state["epoch"]), int(state["step"]), list(state["history"])
        # The epoch's partial sums were reduced over ranks when saved; rank 0 carries them on.
        partial = state["partial"] if self.context.is_main else {key: 0.0 for key in state["partial"]}
        self._partial = {key: value if key == "count" else torch.tensor(float(value), dtype=torch.float64,
                                                                          device=self.device)
                         for key, value in partial.items()}

    def resume(self) -> bool:
        """Load ``run_dir/checkpoint.pt`` when it exists; return whether it did."""
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return False
        self.load_state_dict(load_checkpoint(self.checkpoint_path, map_location=self.device),
                             source=str(self.checkpoint_path))
        return True

    def _save(self) -> None:
        if self.run_dir is None:
            return
        self._check_finite()  # never checkpoint weights that a non-finite step has touched
        state = self.state_dict()  # collective (reduces partial sums): every rank calls it
        if self.context.is_main:
            save_checkpoint(state, self.checkpoint_path)
            write_json_lines(self.metrics_path, self.history)
        barrier(self.context)

    # -- loops ---------------------------------------------------------------------
    def _train_order(self) -> list[int]:
        """This rank's sample indices for the current epoch, from the current step on."""
        sampler = DistributedSampler(self.train_set, num_replicas=self.context.world_size, rank=self.context.rank,
                                     shuffle=True, seed=self.config.seed)
        sampler.set_epoch(self.epoch)
        local_batch = self.config.batch_size // self.context.world_size
        return list(sampler)[self.step * local_batch:]

    def _loader(self, dataset: Dataset, indices: list[int], batch_size: int, collate_fn: Callable | None = None
                ) -> DataLoader:
        # A dedicated generator: creating the loader's iterator never draws from torch's global RNG.
        return DataLoader(dataset, batch_size=batch_size, sampler=indices, collate_fn=collate_fn or self.collate_fn,
                          generator=torch.Generator().manual_seed(self.config.seed))

    def _seed(self, seed: int) -> None:
        """Seed the generators this trainer draws from: the CPU's and its device's. (``torch.manual_seed`` also
        queues seeds for every uninitialised accelerator backend, capturing a Python stack trace each time: 1–2 ms,
        more than a small model's whole step.)"""
        torch.default_generator.manual_seed(seed)
        if self.device.type == "cuda":
            torch.cuda.default_generators[self.device.index or 0].manual_seed(seed)
        elif self.device.type != "cpu":
            torch.manual_seed(seed)

    def _rng(self) -> contextlib.AbstractContextManager:
        """Torch's global RNG state (CPU, and this trainer's CUDA device) restored on exit."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices)

    @contextlib.contextmanager
    def _threads(self):
        """``config.threads`` intra-op CPU threads inside the block (restored afterwards)."""
        threads = self.config.threads
        if threads is None or self.device.type != "cpu" or threads == torch.get_num_threads():
            yield
            return
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _progress(self, batches: Any, description: str, total: int) -> Any:
        if not (self.config.progress and self.context.is_main):
            return batches
        from tqdm import tqdm

        return tqdm(batches, desc=description, total=total, leave=False, dynamic_ncols=True, mininterval=0.5,
                    disable=None)  # None: no bar when stderr is not a terminal

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.config.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def _accumulate(self, totals: dict[str, Any], metrics: dict[str, torch.Tensor], n: int) -> None:
        """Add ``n`` × each batch mean to ``totals`` on the device (no synchronisation); ``count`` is a host int."""
        totals["count"] = totals.get("count", 0) + n
        for key, value in metrics.items():
            value = value.detach().to(self.device, torch.float64) if isinstance(value, torch.Tensor) else float(value)
            totals[key] = totals.get(key, 0.0) + value * n

    @staticmethod
    def _host(totals: dict[str, Any]) -> dict[str, float]:
        """The sums as floats: one device-to-host copy for all of them."""
        keys = [key for key, value in totals.items() if isinstance(value, torch.Tensor)]
        values = torch.stack([totals[key] for key in keys]).tolist() if keys else []
        return {**{key: float(value) for key, value in totals.items()}, **dict(zip(keys, values))}

    @staticmethod
    def _means(totals: dict[str, float], description: str) -> dict[str, float]:
        count = totals.pop("count", 0.0)
        if count == 0:
            raise ValueError(f"the {description} data set is empty")
        return {key: total / count for key, total in totals.items()}

    # -- finiteness ------------------------------------------------------------------
    def _reset_finite_flag(self) -> None:
        self._first_nonfinite = torch.full((), -1, dtype=torch.long, device=self.device)  # step index, -1: none
        self._nonfinite_loss = torch.zeros((), dtype=torch.float64, device=self.device)

    def _record_finite(self, loss: torch.Tensor) -> None:
        """Remember (on the device) the first step of this epoch whose loss is not finite."""
        first = (~torch.isfinite(loss.detach()).all()) & (self._first_nonfinite < 0)
        self._first_nonfinite = torch.where(first, self.step, self._first_nonfinite)
        self._nonfinite_loss = torch.where(first, loss.detach().to(torch.float64), self._nonfinite_loss)

    def _check_finite(self) -> None:
        """Raise ``FloatingPointError`` naming the first non-finite step (one synchronisation; all ranks agree)."""
        local = int(self._first_nonfinite)
        step = all_reduce_min(float(local) if local >= 0 else float("inf"), self.context)
        if step != float("inf"):
            value = f"local loss {float(self._nonfinite_loss)}" if local == step else "on another rank"
            raise FloatingPointError(f"non-finite loss at epoch {self.epoch + 1}, step {int(step)} ({value}); "
                                     "lower the learning rate or check the inputs")

    def _train_epoch(self) -> dict[str, float]:
        self._training_model.train()
        order = self._train_order()
        local_batch = self.config.batch_size // self.context.world_size
        steps_per_epoch = self.step + -(-len(order) // local_batch)
        if self.config.max_steps is not None:
            steps_per_epoch = min(steps_per_epoch, self.config.max_steps)
        batches = self._progress(self._loader(self.train_set, order, local_batch),
                                 f"epoch {self.epoch + 1}/{self.config.epochs}", total=steps_per_epoch - self.step)
        self._reset_finite_flag()
        start = time.perf_counter()
        for batch in batches:
            if self.step >= steps_per_epoch:
                break
            self._seed(step_seed(self.config.seed, self.epoch, self.step, self.context.rank))
            batch = move_to(batch, self.device)
            with self._autocast():
                metrics = self.loss_fn(self._training_model, batch)
            loss = metrics["loss"]
            self._record_finite(loss)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.optimizer.step()
            self._accumulate(self._partial, metrics, batch_size_of(batch))
            self.step += 1
            if self.step % self.config.check_every == 0:  # a logging point: read the loss back
                self._check_finite()
                if hasattr(batches, "set_postfix"):
                    batches.set_postfix(loss=f"{float(loss.detach()):.4f}", refresh=False)
            every = self.config.checkpoint_every
            if every and self.step % every == 0 and self.step < steps_per_epoch:
                self._save()
        self._check_finite()
        totals = all_reduce_sums(self._host(self._partial), self.context)
        self.train_seconds += time.perf_counter() - start
        self._partial, self.step = {}, 0
        return self._means(totals, "training")

    def evaluate(self, dataset: Dataset, description: str = "eval", collate_fn: Callable | None = None
                 ) -> dict[str, float]:
        """Batch-size-weighted means of ``loss_fn``'s outputs over ``dataset`` (eval mode, summed over ranks).

        Random draws inside ``loss_fn`` (sampled negatives, say) are seeded from ``(seed, epoch)``, and torch's
        global RNG state is restored afterwards. ``collate_fn`` defaults to the trainer's evaluation batching.
        """
        if len(dataset) < self.context.world_size:
            raise ValueError(f"cannot evaluate {len(dataset)} samples on {self.context.world_size} processes")
        was_training = self.model.training
        self.model.eval()
        indices = list(range(self.context.rank, len(dataset), self.context.world_size))
        totals: dict[str, Any] = {"count": 0}
        loader = self._loader(dataset, indices, self.config.eval_batch_size,
                              collate_fn or self.eval_collate_fn or self.collate_fn)
        with torch.no_grad(), self._rng(), self._threads():
            self._seed(step_seed(self.config.seed, self.epoch, -1, self.context.rank))
            for batch in self._progress(loader, description, total=len(loader)):
                batch = move_to(batch, self.device)
                with self._autocast():
                    metrics = self.loss_fn(self.model, batch)
                self._accumulate(totals, metrics, batch_size_of(batch))
        self.model.train(was_training)
        return self._means(all_reduce_sums(self._host(totals), self.context), description)

    def fit(self, resume: bool = True) -> list[dict[str, float]]:
        """Train until ``config.epochs`` epochs are done (continuing a checkpoint when ``resume``).

        The validation set is scored every ``config.val_every`` epochs and after the last; callbacks see every
        epoch. Torch's global RNG state is the same afterwards as before.
        """
        with self._rng(), self._threads():
            if resume:
                self.resume()
            for callback in self.callbacks:
                callback.on_fit_start(self)
            while self.epoch < self.config.epochs:
                for callback in self.callbacks:
                    callback.on_epoch_start(self)
                start = time.perf_counter()
                record: dict[str, float] = {"epoch": self.epoch + 1}
                record.update({f"train_{k}": v for k, v in self._train_epoch().items()})
                last = self.epoch + 1 == self.config.epochs
                if self.val_set is not None and (last or (self.epoch + 1) % self.config.val_every == 0):
                    record.update({f"val_{k}": v for k, v in self.evaluate(self.val_set, "validation").items()})
                record["seconds"] = time.perf_counter() - start  # training and validation
                for callback in self.callbacks:
                    callback.on_epoch_end(self, record)
                self.epoch += 1
                self.history.append(record)
                self._save()
        return self.history


def classification_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cross-entropy and accuracy for ``(inputs, labels)`` batches."""
    inputs, labels = batch
    logits = model(inputs)
    return {"loss": nn.functional.cross_entropy(logits.float(), labels),
            "accuracy": (logits.argmax(dim=-1) == labels).float().mean()}


def _on_manifold(parameter: torch.Tensor) -> bool:
    """A geoopt ``ManifoldParameter`` on a non-Euclidean manifold (duck-typed: the trainer does not import geoopt)."""
    manifold = getattr(parameter, "manifold", None)
    return manifold is not None and type(manifold).__name__ != "Euclidean"


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
