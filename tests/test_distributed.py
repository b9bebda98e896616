"""Data parallelism with torchrun (gloo on CPU), and a run killed mid-epoch that resumes exactly."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gdl.train import CheckpointError, TrainConfig, Trainer, load_checkpoint

WORKER = str(Path(__file__).parent / "workers" / "train_worker.py")
sys.path.insert(0, str(Path(__file__).parent / "workers"))
import train_worker  # noqa: E402


def _torchrun(*args, nproc=2, timeout=240):
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--standalone", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _drop_seconds(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def test_two_process_ddp_matches_single_process_on_the_same_global_batch(tmp_path):
    _torchrun(WORKER, str(tmp_path / "ddp"), "--epochs", "2")
    single_dir = tmp_path / "single"
    single_dir.mkdir()
    train_worker.main([str(single_dir), "--epochs", "2"])
    rank0, rank1 = (torch.load(tmp_path / "ddp" / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    single = torch.load(single_dir / "rank0.pt", weights_only=True)
    for a, b in zip(rank0["params"], rank1["params"]):
        assert torch.equal(a, b), "parameters diverged across ranks"
    for a, b in zip(rank0["params"], single["params"]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    for ddp_epoch, single_epoch in zip(rank0["history"], single["history"]):
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            assert ddp_epoch[key] == pytest.approx(single_epoch[key], abs=1e-5), key
    metrics = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in metrics] == [1, 2]


def test_more_processes_than_samples_is_refused(tmp_path):
    data = train_worker.dataset(n=1)
    os.environ.update(WORLD_SIZE="2", RANK="0", LOCAL_RANK="0")
    try:
        with pytest.raises(ValueError, match="2 processes need at least 2 training samples"):
            Trainer(train_worker.model(), lambda m, b: {}, data, config=TrainConfig(device="cpu"))
    finally:
        for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
            os.environ.pop(key)


def test_run_killed_mid_epoch_resumes_to_the_same_final_metrics(tmp_path):
    """SIGKILL after a mid-epoch checkpoint, restart, finish: identical to an uninterrupted run (dropout included)."""
    args = ["--epochs", "3", "--checkpoint-every", "3", "--dropout", "0.3"]
    straight = tmp_path / "straight"
    straight.mkdir()
    train_worker.main([str(straight), *args])

    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, WORKER, str(killed), *args, "--sleep", "0.05"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    state = None
    while time.time() < deadline:
        if (killed / "checkpoint.pt").exists():
            state = load_checkpoint(killed / "checkpoint.pt")
            if state["epoch"] >= 1 and state["step"] > 0:
                break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert state is not None and state["step"] > 0, "the run was not caught mid-epoch"
    assert not (killed / "rank0.pt").exists(), "the run finished before it was killed"

    train_worker.main([str(killed), *args])  # resumes from the mid-epoch checkpoint
    resumed = torch.load(killed / "rank0.pt", weights_only=True)
    reference = torch.load(straight / "rank0.pt", weights_only=True)
    assert _drop_seconds(resumed["history"]) == _drop_seconds(reference["history"])
    for a, b in zip(resumed["params"], reference["params"]):
        assert torch.equal(a, b)


def test_checkpoint_of_another_model_or_truncated_is_refused_and_kept(tmp_path):
    train_worker.main([str(tmp_path), "--epochs", "1"])
    checkpoint = tmp_path / "checkpoint.pt"
    original = checkpoint.read_bytes()
    other = Trainer(torch.nn.Linear(6, 2), lambda m, b: {}, train_worker.dataset(),
                    config=TrainConfig(device="cpu"), run_dir=tmp_path)
    with pytest.raises(CheckpointError, match="holds a 'Sequential' model, not a 'Linear'"):
        other.fit()
    wider = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Dropout(), torch.nn.Linear(8, 2))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        Trainer(wider, lambda m, b: {}, train_worker.dataset(), config=TrainConfig(device="cpu"), run_dir=tmp_path).fit()
    checkpoint.write_bytes(original[: len(original) // 2])
    with pytest.raises(CheckpointError, match="unreadable"):
        Trainer(train_worker.model(), lambda m, b: {}, train_worker.dataset(), config=TrainConfig(device="cpu"),
                run_dir=tmp_path).fit()
    assert checkpoint.read_bytes() == original[: len(original) // 2], "a failed resume must not overwrite anything"


def test_a_nan_on_one_rank_stops_every_rank_naming_the_step(tmp_path):
    """256 samples, global batch 32: 8 steps per epoch. Rank 1's loss is NaN at its step 11 (epoch 2, step 3); the
    deferred check is collective, so both ranks stop there and name the step; no rank hangs in a collective."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", WORKER,
               str(tmp_path), "--epochs", "3", "--nan-step", "11", "--nan-rank", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode != 0
    errors = [(tmp_path / f"error_rank{rank}.txt").read_text() for rank in (0, 1)]
    assert errors == ["non-finite loss at epoch 2, step 3 (on another rank); lower the learning rate or check the inputs",
                      "non-finite loss at epoch 2, step 3 (local loss nan); lower the learning rate or check the inputs"]
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])["epoch"] == 1


def test_gdl_train_under_torchrun(tmp_path):
    done = _torchrun("-m", "gdl", "train", "shift_mnist", "--model", "gdl_cnn", "--epochs", "1", "--batch-size", "128",
                     "--run-dir", str(tmp_path), "--no-progress", "--device", "cpu")
    assert done.stdout.count("epoch=1") == 1, "only rank 0 reports"
    assert load_checkpoint(tmp_path / "checkpoint.pt")["world_size"] == 2
