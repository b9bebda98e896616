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


# -- no host-device sync per step: deferred finiteness checks, device-side metric sums -----------------------------
def _nan_at(calls_to_poison):
    """A classification step whose loss is NaN at the given (0-based, counted over the whole run) training calls."""
    calls = {"train": 0}

    def step(model, batch):
        metrics = classification_step(model, batch)
        if model.training:
            if calls["train"] in calls_to_poison:
                metrics["loss"] = metrics["loss"] * float("nan")
            calls["train"] += 1
        return metrics

    return step, calls


def test_a_nan_loss_at_step_k_stops_training_naming_step_k(tmp_path):
    """96 samples in batches of 16: 6 steps per epoch. NaN at run steps 9 and 10 = epoch 2, steps 3 and 4: the
    error names the first; the check is deferred (no sync per step) but no checkpoint is written after it."""
    step, calls = _nan_at({9, 10})
    config = TrainConfig(epochs=3, batch_size=16, lr=1e-2, seed=3, device="cpu", progress=False, checkpoint_every=2)
    trainer = Trainer(_model(), step, _data(), config=config, run_dir=tmp_path)
    with pytest.raises(FloatingPointError, match=r"non-finite loss at epoch 2, step 3 \(local loss nan\)"):
        trainer.fit()
    assert calls["train"] == 10  # the check before the step-4 checkpoint stopped it
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (state["epoch"], state["step"]) == (1, 2), "the last checkpoint must precede the non-finite step"
    assert all(bool(torch.isfinite(value).all()) for value in state["model"].values())


def test_a_nan_loss_is_caught_at_the_epoch_end_and_at_logging_points():
    step, _ = _nan_at({5})  # the last step of epoch 1: only the epoch-end check can see it
    config = TrainConfig(epochs=2, batch_size=16, lr=1e-2, device="cpu", progress=False)
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 5 \(local loss nan\)"):
        Trainer(_model(), step, _data(), config=config).fit()
    step, calls = _nan_at({1, 2})
    config = TrainConfig(epochs=1, batch_size=16, lr=1e-2, device="cpu", progress=False, check_every=3)
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 1 \(local loss nan\)"):  # the first, not the last
        Trainer(_model(), step, _data(), config=config).fit()
    assert calls["train"] == 3, "check_every=3: the check after the third step stops the run"


class _Indexed(torch.utils.data.Dataset):
    """Sample i is (i, value_i): the step functions below see which samples a batch holds."""

    def __init__(self, values):
        self.values = torch.as_tensor(values, dtype=torch.float64)

    def __len__(self):
        return len(self.values)

    def __getitem__(self, index):
        return index, self.values[index]


def test_epoch_metrics_are_per_sample_means_with_a_short_last_batch():
    """10 samples in batches of 4 (4 + 4 + 2): a mean of batch means would weight the last two samples 5/3 too much."""
    values = torch.tensor([0.0, 1, 2, 3, 4, 5, 6, 7, 40, 90], dtype=torch.float64)
    weight = nn.Parameter(torch.tensor(0.5, dtype=torch.float64))
    model = nn.Module()
    model.weight = weight

    def step(model, batch):
        _, x = batch
        per_sample = (model.weight * x - 1.0) ** 2
        return {"loss": per_sample.mean(), "x": x.mean()}

    config = TrainConfig(epochs=2, batch_size=4, eval_batch_size=4, lr=0.0, seed=1, device="cpu", progress=False)
    trainer = Trainer(model, step, _Indexed(values), val_set=_Indexed(values), config=config)
    history = trainer.fit()
    naive_loss = float(((0.5 * values - 1.0) ** 2).mean())  # lr = 0: the weight stays 0.5
    for record in history:
        assert record["train_x"] == pytest.approx(float(values.mean()), abs=1e-12)
        assert record["train_loss"] == pytest.approx(naive_loss, rel=1e-12)
        assert record["val_x"] == pytest.approx(float(values.mean()), abs=1e-12)  # unshuffled: 1.5, 5.5, 65 per batch
        assert record["val_loss"] == pytest.approx(naive_loss, rel=1e-12)


def test_every_epoch_draws_a_new_order():
    seen: list[list[int]] = []

    def step(model, batch):
        indices, x = batch
        if model.training:
            seen.append(indices.tolist())
        return {"loss": (model.weight * x).mean()}

    model = nn.Module()
    model.weight = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
    config = TrainConfig(epochs=2, batch_size=5, lr=1e-3, seed=0, device="cpu", progress=False)
    Trainer(model, step, _Indexed(torch.arange(20.0)), config=config).fit()
    first, second = sum(seen[:4], []), sum(seen[4:], [])
    assert sorted(first) == sorted(second) == list(range(20))
    assert first != second, "epoch 1 repeated the order of epoch 0"


def test_fit_and_evaluate_leave_torch_s_global_rng_as_they_found_it():
    trainer = _trainer(None, epochs=2)  # dropout: the steps draw from (and reseed) the global RNG
    torch.manual_seed(2024)
    expected = torch.rand(1)
    torch.manual_seed(2024)
    trainer.fit()
    trainer.evaluate(_data(1, 64))
    assert torch.equal(torch.rand(1), expected)


def test_evaluation_draws_are_seeded():
    """A step function that draws in evaluation (sampled negatives, say) gives the same metrics on every call."""
    def noisy(model, batch):
        metrics = classification_step(model, batch)
        return {**metrics, "noise": torch.rand(())}

    trainer = Trainer(_model(), noisy, _data(), config=TrainConfig(epochs=1, device="cpu", progress=False))
    torch.manual_seed(0)
    first = trainer.evaluate(_data(1, 64))
    torch.manual_seed(1)
    assert trainer.evaluate(_data(1, 64)) == first


# -- weight decay and manifold parameters ---------------------------------------------------------------------------
def test_weight_decay_is_not_applied_to_manifold_parameters():
    """weight_decay > 0 configured, zero gradients: the Euclidean parameter decays, the points in the Poincaré ball
    stay put (decay towards 0 would move them: its Riemannian gradient there is ((1 − ‖x‖²)² / 4) · wd · x ≠ 0)."""
    geoopt = pytest.importorskip("geoopt")
    from gdl.geodesics.optim import riemannian_optimizer

    model = nn.Module()
    points = torch.tensor([[0.3, -0.2, 0.1], [-0.5, 0.4, 0.2]])
    model.w = geoopt.ManifoldParameter(points, manifold=geoopt.PoincareBall())
    model.b = nn.Parameter(torch.ones(3))
    start_w = model.w.detach().clone()

    def zero_gradient(model, batch):
        return {"loss": (model.w.sum() + model.b.sum()) * 0.0 + batch[0].sum() * 0.0}

    data = TensorDataset(torch.zeros(8, 1))
    config = TrainConfig(epochs=1, batch_size=4, lr=0.1, weight_decay=0.5, device="cpu", progress=False)
    trainer = Trainer(model, zero_gradient, data, config=config,
                      optimizer_factory=lambda params: riemannian_optimizer(model, "adam", lr=config.lr,
                                                                            weight_decay=config.weight_decay))
    trainer.fit()
    assert float(model.b.detach().max()) < 0.9, "the Euclidean parameter should have decayed (two Adam steps)"
    torch.testing.assert_close(model.w.detach(), start_w, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=r"parameters \['w'\] lie on a manifold \(PoincareBall\)"):
        Trainer(model, zero_gradient, data, config=config)  # the default AdamW would decay and leave the manifold


# -- atomic checkpoints, tested on save_checkpoint itself ---------------------------------------------------------
def test_save_checkpoint_interrupted_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import io

    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"epoch": 1, "weights": torch.ones(3)}, path)
    real_save = torch.save

    def half_then_fail(obj, file, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError("no space left on device")

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(OSError, match="no space left"):
        save_checkpoint({"epoch": 2, "weights": torch.zeros(1000)}, path)
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and torch.equal(state["weights"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"], "the partial file must be cleaned up"


def test_save_checkpoint_killed_mid_write_keeps_the_previous_checkpoint(tmp_path):
    """SIGKILL inside torch.save (no cleanup code can run): the previous checkpoint is still the one at the path."""
    import subprocess
    import sys

    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"epoch": 1, "weights": torch.ones(3)}, path)
    script = f"""
import io, os, signal, torch
from gdl.train import save_checkpoint
real_save = torch.save
def killed(obj, file, *args, **kwargs):
    buffer = io.BytesIO()
    real_save(obj, buffer)
    file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = killed
save_checkpoint({{"epoch": 2, "weights": torch.zeros(1000)}}, {str(path)!r})
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr[-2000:]
    state = load_checkpoint(path)
    assert state["epoch"] == 1 and torch.equal(state["weights"], torch.ones(3))
