"""Registered paper examples and the report they write.

An :class:`Experiment` reproduces one example of the book (or of a paper it
cites). ``gdl reproduce NAME`` calls :meth:`Experiment.run`, which trains
through :class:`gdl.train.Trainer`, saves plots, and returns a :class:`Result`:
rows of (model, metric, our value, the paper's value where one exists). Results
are stored as ``results/NAME/result.json`` and :func:`write_report` gathers
all of them into ``results/REPORT.md``.

Every result records its mode. Quick mode is a CPU-minutes smoke version of
the experiment; its numbers are labelled as such and never presented as a
reproduction of a paper figure.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import time
from pathlib import Path
from typing import Any, ClassVar

from torch.utils.data import Dataset

from gdl.core.runtime import write_atomic
from gdl.train import TrainConfig

__all__ = ["Settings", "Task", "Row", "Result", "Experiment", "experiments", "get_experiment", "write_report"]

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
    """

    quick: bool = True
    seed: int = 0
    device: str = "auto"
    out_dir: Path = Path("results")
    progress: bool = True

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"


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
    """Base class of a registered example; subclasses set ``name`` and implement :meth:`run`."""

    name: ClassVar[str]
    title: ClassVar[str]
    book_section: ClassVar[str] = ""
    #: model names accepted by :meth:`task` (what ``gdl train NAME --model M`` trains)
    models: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            _EXPERIMENTS[cls.name] = cls

    def task(self, model: str, settings: Settings) -> Task:
        """The training task for one model (for ``gdl train``)."""
        raise NotImplementedError(f"{self.name} does not expose single-model training")

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


def experiments() -> dict[str, type[Experiment]]:
    """Every registered experiment, by name (imports every module of this package first)."""
    package = importlib.import_module("gdl.experiments")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"gdl.experiments.{module.name}")
    return dict(_EXPERIMENTS)


def get_experiment(name: str) -> Experiment:
    known = experiments()
    if name not in known:
        raise KeyError(f"unknown experiment {name!r}; registered: {', '.join(sorted(known))}")
    return known[name]()


def _table_cell(text: str) -> str:
    """Markdown table cell: a literal ``|`` (as in "max |Δlogit|") would end the cell, so it is escaped."""
    return str(text).replace("|", "\\|")


def write_report(out_dir: str | Path) -> Path:
    """Gather every ``out_dir/*/result.json`` into ``out_dir/REPORT.md``."""
    out_dir = Path(out_dir)
    order = list(experiments())
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
