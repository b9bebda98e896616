"""The trainer: determinism, resume, atomic checkpoints, safe loading, clear failures."""

import json

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from gdl.core.runtime import write_atomic
from gdl.train import CheckpointError, TrainConfig, Trainer, classification_step, load_checkpoint, resolve_device, save_checkpoint


def _data(seed=0, n=96):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return TensorDataset(x, y)


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


def _trainer(run_dir, epochs, model=None, **kw):
    config = TrainConfig(epochs=epochs, batch_size=16, lr=1e-2, seed=3, device="cpu", progress=False)
    return Trainer(model or _model(), classification_step, _data(), val_set=_data(1, 64), config=config,
                   run_dir=run_dir, **kw)


def test_training_learns_and_logs_every_epoch(tmp_path):
    trainer = _trainer(tmp_path, epochs=10)
    history = trainer.fit()
    assert len(history) == 10
    assert history[-1]["val_accuracy"] >= 0.85
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 11))


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    """Stop after 2 epochs, build everything afresh, resume to 5: bitwise the same as 5 epochs in one go."""
    straight = _trainer(tmp_path / "straight", epochs=5)
    straight.fit()
    _trainer(tmp_path / "split", epochs=2).fit()
    resumed = _trainer(tmp_path / "split", epochs=5, model=_model(seed=99))  # different init: must be overwritten
    assert resumed.resume() and resumed.epoch == 2
    resumed.fit(resume=False)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    drop_time = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert drop_time(straight.history) == drop_time(resumed.history)


def test_an_interrupted_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"epoch": 1, "weights": torch.ones(3)}, path)

    def crash(file):
        file.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, crash)
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and torch.equal(state["weights"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


class Payload:
    """Not a tensor or plain container: weights_only loading must refuse it."""


def test_checkpoints_load_weights_only(tmp_path):
    path = tmp_path / "unsafe.pt"
    torch.save({"payload": Payload()}, path)
    with pytest.raises(CheckpointError, match="weights_only=True and refuses it"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


def test_non_finite_loss_is_an_error(tmp_path):
    def nan_step(model, batch):
        return {"loss": model(batch[0]).sum() * float("nan")}

    trainer = Trainer(_model(), nan_step, _data(), config=TrainConfig(epochs=1, device="cpu", progress=False))
    with pytest.raises(FloatingPointError, match=r"non-finite loss at epoch 1, step 0 \(local loss nan\)"):
        trainer.fit()


def test_device_resolution():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")


def test_progress_bar_does_not_change_the_run(tmp_path):
    """The shuffle depends on (seed, epoch) only, not on how the batches are iterated or displayed."""
    runs = []
    for progress in (False, True):
        config = TrainConfig(epochs=2, batch_size=16, lr=1e-2, seed=3, device="cpu", progress=progress)
        trainer = Trainer(_model(), classification_step, _data(), config=config)
        trainer.fit()
        runs.append([p.detach().clone() for p in trainer.model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))
