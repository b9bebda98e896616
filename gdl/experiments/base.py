"""Registered paper examples and the report they write.

An :class:`Experiment` reproduces one example of the book (or of a paper it
cites). ``gdl reproduce NAME`` calls :meth:`Experiment.run`, which trains
through :class:`gdl.train.Trainer`, saves plots, and returns a :class:`Result`:
rows of (model, metric, our value, the paper's value where one exists). Results
are stored as ``results/NAME/result.json`` and :func:`write_report` gathers
all of them into ``results/REPORT.md``.

One path from a model name to a trained model. A subclass describes one
model's training in :meth:`Experiment.make_task` (model, loss, data, settings,
and :class:`gdl.train.Callback` hooks for anything beyond the plain loop: a
test score at the best validation epoch, a learning-rate schedule, a metric
computed after the last epoch). The base class owns the rest:
:meth:`Experiment.task` checks the model name and applies the shrinking fields
of :class:`Settings` (``limit``, ``epochs``, ``dry_run``); :func:`init_model`
is the seeded initialisation; :meth:`Task.trainer` builds the
:class:`~gdl.train.Trainer`; :meth:`Experiment.train_model` fits it.
``gdl train NAME --model M`` and :meth:`Experiment.run` both go through
:meth:`Experiment.trainer`, so the same settings give the same numbers.

Every result records its mode. Quick mode is a CPU-minutes smoke version of
the experiment; its numbers are labelled as such and never presented as a
reproduction of a paper figure.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from gdl.core import seeded
from gdl.core.runtime import write_atomic
from gdl.train import TrainConfig, Trainer

__all__ = ["Settings", "Task", "Row", "Result", "Experiment", "write_report",
           "init_model", "DRY_RUN_STEPS", "DRY_RUN_ITEMS", "DRY_RUN_EVAL_BATCHES"]

#: optimisation steps of a dry run (``gdl reproduce NAME --dry-run``)
DRY_RUN_STEPS = 3
#: items kept of every data set in a dry run (the training set keeps DRY_RUN_STEPS full batches instead)
DRY_RUN_ITEMS = 256
#: a dry run validates on at most this many training batches' worth of items (and DRY_RUN_ITEMS)
DRY_RUN_EVAL_BATCHES = 1

_EXPERIMENTS: dict[str, type["Experiment"]] = {}


@dataclasses.dataclass
class Settings:
    """How to run an experiment.

    Attributes:
        quick: the CPU-minutes setting (``False``: the documented full setting).
        seed: seeds data splits, initialisation and shuffling.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        out_dir: the results folder (``out_dir/NAME/`` holds the experiment's files).
        progress: show progress bars.
        limit: cut every data set (and sample drawn for the report) to its first ``limit`` items (tests and smoke
            runs; ``None``: all).
        epochs: train every model for this many epochs instead of the setting's (``None``: the setting's).
        seeds: how many seeds an experiment that averages over seeds uses (``None``: the setting's).
        dry_run: the full configuration for :data:`DRY_RUN_STEPS` optimisation steps and one evaluation, on data
            sets cut to :data:`DRY_RUN_ITEMS` items (the training set to DRY_RUN_STEPS full batches, the validation
            set to at most :data:`DRY_RUN_EVAL_BATCHES` training batches' worth).
    """

    quick: bool = True
    seed: int = 0
    device: str = "auto"
    out_dir: Path = Path("results")
    progress: bool = True
    limit: int | None = None
    epochs: int | None = None
    seeds: int | None = None
    dry_run: bool = False

    def __post_init__(self):
        for name in ("limit", "epochs", "seeds"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"Settings.{name} must be a positive integer or None, got {value!r}")

    @property
    def mode(self) -> str:
        """``quick``, ``full`` or ``dry run``, with the shrinking fields that are set (a cut run says so)."""
        cuts = [f"{name} {value}" for name, value in (("limit", self.limit), ("epochs", self.epochs),
                                                       ("seeds", self.seeds)) if value is not None]
        return ("dry run" if self.dry_run else "quick" if self.quick else "full") + "".join(f", {c}" for c in cuts)

    @property
    def item_limit(self) -> int | None:
        """The number of items kept of each data set (``None``: all)."""
        return DRY_RUN_ITEMS if self.dry_run and self.limit is None else self.limit

    def size(self, count: int, batch_size: int | None = None, evaluation: bool = False) -> int:
        """How many of ``count`` items a run uses. Pass the training ``batch_size``: a dry run keeps
        :data:`DRY_RUN_STEPS` full batches of a training set, and at most :data:`DRY_RUN_EVAL_BATCHES` batches'
        worth of an ``evaluation`` set."""
        limit = self.item_limit
        if self.dry_run and batch_size is not None:
            if not evaluation:
                return min(count, DRY_RUN_STEPS * batch_size)
            limit = min(limit, DRY_RUN_EVAL_BATCHES * batch_size)
        return count if limit is None else min(count, limit)

    def cut(self, dataset: Any, batch_size: int | None = None, evaluation: bool = False) -> Any:
        """``dataset`` cut to its first :meth:`size` items (a list stays a list, a dataset becomes a ``Subset``)."""
        keep = self.size(len(dataset), batch_size, evaluation)
        if keep == len(dataset):
            return dataset
        return dataset[:keep] if isinstance(dataset, list) else Subset(dataset, range(keep))

    def seeded(self, seed: int) -> "Settings":
        """The same settings with another seed."""
        return dataclasses.replace(self, seed=seed)

    def repeats(self, quick: int, full: int) -> int:
        """The number of seeds of an experiment that repeats its training (``seeds`` overrides)."""
        return self.seeds if self.seeds is not None else quick if self.quick else full


def init_model(seed: int, build: Callable[..., nn.Module], *args: Any, **kwargs: Any) -> nn.Module:
    """``build(*args, **kwargs)`` with torch's RNG seeded from ``seed`` (the caller's RNG state is kept)."""
    with seeded(torch.Generator().manual_seed(seed)):
        return build(*args, **kwargs)


@dataclasses.dataclass
class Task:
    """One model trained on one data set: what ``gdl train`` and :meth:`Experiment.run` share."""

    model: Any
    loss_fn: Any
    train_set: Dataset
    val_set: Dataset | None
    config: TrainConfig
    collate_fn: Any = None
    #: ``params → optimiser`` when the model needs its own (manifold parameters need a Riemannian one); None: AdamW
    optimizer_factory: Any = None
    #: hooks on the training loop (:class:`gdl.train.Callback`): test scores, schedules, final metrics
    callbacks: list = dataclasses.field(default_factory=list)
    #: batching of the validation set when it differs from the training batching
    eval_collate_fn: Any = None

    def trainer(self, run_dir: str | Path | None = None, callbacks: Any = (), **overrides: Any) -> Trainer:
        """The :class:`~gdl.train.Trainer` of this task; ``overrides`` replace fields of its :class:`TrainConfig`.

        An ``lr`` override with the task's own optimiser factory scales every parameter group's learning rate by
        ``lr / config.lr`` (the factory fixed them).
        """
        config = dataclasses.replace(self.config, **overrides)
        factory = self.optimizer_factory
        if factory is not None and config.lr != self.config.lr:
            ratio, own = config.lr / self.config.lr, factory

            def factory(params):
                optimizer = own(params)
                for group in optimizer.param_groups:
                    group["lr"] *= ratio
                return optimizer

        return Trainer(self.model, self.loss_fn, self.train_set, val_set=self.val_set, config=config, run_dir=run_dir,
                       collate_fn=self.collate_fn, eval_collate_fn=self.eval_collate_fn, optimizer_factory=factory,
                       callbacks=[*self.callbacks, *callbacks])


@dataclasses.dataclass
class Row:
    """One line of the report: a model's value of a metric, beside the paper's when it exists."""

    model: str
    metric: str
    value: float
    fmt: str = "{:.4g}"
    paper: float | None = None
    paper_source: str = ""
    note: str = ""

    def formatted(self, value: float | None) -> str:
        return "—" if value is None else self.fmt.format(value)


@dataclasses.dataclass
class Result:
    """What one run of an experiment produced."""

    name: str
    title: str
    mode: str
    setting: str
    rows: list[Row]
    plots: list[str] = dataclasses.field(default_factory=list)
    notes: str = ""
    seconds: float = 0.0

    def value(self, model: str, metric: str) -> float:
        """Look up a row's value (used by tests and notebooks)."""
        for row in self.rows:
            if row.model == model and row.metric == metric:
                return row.value
        raise KeyError(f"no row for model {model!r} and metric {metric!r} in {self.name}; "
                       f"rows: {[(r.model, r.metric) for r in self.rows]}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Result":
        return cls(**{**data, "rows": [Row(**row) for row in data["rows"]]})


class Experiment:
    """Base class of a registered example; subclasses set ``name`` and ``models`` and implement
    :meth:`make_task` (one model's training) and :meth:`run` (train every model with :meth:`train_model`, then
    measure and plot)."""

    name: ClassVar[str]
    title: ClassVar[str]
    book_section: ClassVar[str] = ""
    #: model names accepted by :meth:`task` (what ``gdl train NAME --model M`` trains)
    models: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            _EXPERIMENTS[cls.name] = cls

    def check_model(self, model: str) -> None:
        """Raise ``ValueError`` naming the known models unless ``model`` is one of them."""
        if model not in self.models:
            raise ValueError(f"{self.name} has models {', '.join(self.models)}; got {model!r}")

    def make_task(self, model: str, settings: Settings, **options: Any) -> Task:
        """One model's training task (subclasses; ``model`` is already checked)."""
        raise NotImplementedError(f"{self.name} does not expose single-model training")

    def task(self, model: str, settings: Settings, **options: Any) -> Task:
        """The training task of ``model``: checked name, :meth:`make_task`, then the shrinking fields of
        ``settings`` applied (``epochs``; ``limit`` on the training and validation sets; a dry run's single
        epoch of :data:`DRY_RUN_STEPS` steps). What ``gdl train`` and :meth:`run` train."""
        self.check_model(model)
        task = self.make_task(model, settings, **options)
        changes: dict[str, Any] = {}
        if settings.epochs is not None:
            changes["epochs"] = settings.epochs
        if settings.dry_run:
            changes.update(epochs=1, max_steps=DRY_RUN_STEPS)
        task.config = dataclasses.replace(task.config, **changes)
        task.train_set = settings.cut(task.train_set, task.config.batch_size)
        if task.val_set is not None:
            task.val_set = settings.cut(task.val_set, task.config.batch_size, evaluation=True)
        return task

    def trainer(self, model: str, settings: Settings, *, run_dir: str | Path | None = None, callbacks: Any = (),
                overrides: dict[str, Any] | None = None, **options: Any) -> Trainer:
        """The :class:`~gdl.train.Trainer` of :meth:`task` (``overrides``: fields of its :class:`TrainConfig`)."""
        return self.task(model, settings, **options).trainer(run_dir=run_dir, callbacks=callbacks, **(overrides or {}))

    def train_model(self, model: str, settings: Settings, **options: Any) -> Trainer:
        """Train ``model`` afresh through :meth:`trainer`; return the trainer (its ``history``, ``model``)."""
        trainer = self.trainer(model, settings, **options)
        trainer.fit(resume=False)
        return trainer

    def dry_run(self, settings: Settings) -> dict[str, dict[str, float]]:
        """Every model in the full configuration: build its data, model and optimiser, take
        :data:`DRY_RUN_STEPS` steps and evaluate once on cut data sets (``gdl reproduce NAME --dry-run``).
        Returns each model's epoch record."""
        settings = dataclasses.replace(settings, quick=False, dry_run=True)
        return {model: self.train_model(model, settings).history[-1] for model in self.models}

    def run(self, settings: Settings) -> Result:
        raise NotImplementedError

    def output_dir(self, settings: Settings) -> Path:
        path = Path(settings.out_dir) / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def reproduce(self, settings: Settings) -> Result:
        """Run, time, save ``result.json`` and refresh ``REPORT.md``."""
        start = time.perf_counter()
        result = self.run(settings)
        result.seconds = time.perf_counter() - start
        text = json.dumps(result.to_json(), indent=2)
        write_atomic(self.output_dir(settings) / "result.json", lambda f: f.write(text.encode()))
        write_report(settings.out_dir)
        return result


def _table_cell(text: str) -> str:
    """Markdown table cell: a literal ``|`` (as in "max |Δlogit|") would end the cell, so it is escaped."""
    return str(text).replace("|", "\\|")


def write_report(out_dir: str | Path) -> Path:
    """Gather every ``out_dir/*/result.json`` into ``out_dir/REPORT.md``."""
    out_dir = Path(out_dir)
    order = sorted(_EXPERIMENTS)
    results = []
    for path in sorted(out_dir.glob("*/result.json")):
        results.append(Result.from_json(json.loads(path.read_text())))
    results.sort(key=lambda r: order.index(r.name) if r.name in order else len(order))
    lines = ["# gdl reproduction report", "",
             "Generated by `gdl reproduce`. **Mode** says whether a row comes from the quick (CPU-minutes) "
             "setting or the full one; quick-mode numbers are smoke tests of the pipeline, not reproductions. "
             "Where a paper figure is shown, the setting that differs from the paper's is stated in the "
             "experiment's section.", "",
             "| experiment | model | metric | ours | paper | mode |", "|---|---|---|---|---|---|"]
    for result in results:
        for row in result.rows:
            paper = row.formatted(row.paper) + (f" ({row.paper_source})" if row.paper is not None and row.paper_source else "")
            cells = [result.name, row.model, row.metric, row.formatted(row.value), paper, result.mode]
            lines.append("| " + " | ".join(_table_cell(cell) for cell in cells) + " |")
    for result in results:
        lines += ["", f"## {result.name}: {result.title}", "",
                  f"*Mode*: {result.mode}. *Setting*: {result.setting}. *Run time*: {result.seconds:.0f} s.", ""]
        if result.notes:
            lines += [result.notes.strip(), ""]
        notes = [f"- {row.model}, {row.metric}: {row.note}" for row in result.rows if row.note]
        if notes:
            lines += notes + [""]
        lines += [f"![{plot}]({result.name}/{plot})" for plot in result.plots]
    path = out_dir / "REPORT.md"
    text = "\n".join(lines).rstrip() + "\n"
    write_atomic(path, lambda f: f.write(text.encode()))
    return path
