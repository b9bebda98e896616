"""The emlp_synthetic experiment: representations that match the data, EMLP against MLP, exact equivariance, dry run."""

from __future__ import annotations

import math

import pytest
import torch

from gdl.cli import main
from gdl.experiments import Settings, get_experiment
from gdl.experiments.emlp_synthetic import (
    TASKS,
    EMLPSynthetic,
    group_elements,
    matched_width,
    paper_epochs,
    prediction_equivariance_error,
)
from gdl.testing import assert_equivariant


@pytest.mark.parametrize("key", list(TASKS))
def test_the_representations_are_the_symmetry_of_the_data(key):
    """ρ_out(g) y(x) = y(ρ_in(g) x) for the generators' own targets: the input layout and output layout are right
    (inertia: masses first, then the positions point by point; I ↦ R I Rᵀ row-major), reflections and P, T included."""
    task = TASKS[key]
    from gdl.datasets.emlp_synthetic import inertia_tensor, o5_target, scattering_matrix_element

    def target(x):
        if key == "o5":
            return o5_target(x[:, :5], x[:, 5:])
        if key == "inertia":
            return inertia_tensor(x[:, :5], x[:, 5:].reshape(-1, 5, 3)).reshape(-1, 9)
        return scattering_matrix_element(x.reshape(-1, 4, 4))

    x, y = task.generate(32, 3)
    assert torch.allclose(target(x), y, rtol=0, atol=1e-12)
    for g in group_elements(task.group, 3, torch.Generator().manual_seed(0)):
        moved = target(x @ task.rep_in.matrix(g).T)
        assert torch.allclose(moved, y @ task.rep_out.matrix(g).T, rtol=1e-9, atol=1e-9), (key, g)


def test_the_mlp_has_about_the_parameters_of_the_emlp():
    experiment = EMLPSynthetic()
    settings = Settings(quick=True, limit=32, epochs=1, progress=False)
    for key in TASKS:
        emlp = sum(p.numel() for p in experiment.task(f"emlp_{key}", settings).model.parameters())
        mlp = sum(p.numel() for p in experiment.task(f"mlp_{key}", settings).model.parameters())
        assert abs(mlp - emlp) <= 0.05 * emlp, (key, emlp, mlp)
    assert matched_width(10 * 65 + 65 * 64 + 65, 10, 1, 2) == 64
    assert paper_epochs(1000) == 900 and paper_epochs(30) == 1000


def test_a_tiny_run_the_emlp_beats_the_mlp_and_is_exactly_equivariant():
    """200 samples, 10 epochs on the O(5) task: the EMLP's test MSE is below the MLP's; the trained EMLP is
    equivariant to 1e-9 in float64 under O(5) (reflections included), the MLP is far from it."""
    experiment = get_experiment("emlp_synthetic")
    settings = Settings(quick=True, limit=200, epochs=10, progress=False, device="cpu")
    emlp, mlp = experiment.train("emlp_o5", settings), experiment.train("mlp_o5", settings)
    assert emlp["test"] < mlp["test"], (emlp["test"], mlp["test"])
    assert emlp["equivariance"] <= 1e-9 and emlp["harness"] <= 1e-9
    assert mlp["equivariance"] > 1e-2

    trainer = experiment.train_model("emlp_inertia", Settings(quick=True, limit=64, epochs=2, progress=False,
                                                              device="cpu"))
    task = TASKS["inertia"]
    x = task.generate(16, 7).inputs
    network = trainer.model.network
    assert_equivariant(network, (x / trainer.model.input_scale.double(),), dtype=torch.float64, n_samples=4,
                       generator=torch.Generator().manual_seed(1))
    elements = group_elements(task.group, 4, torch.Generator().manual_seed(2))
    assert prediction_equivariance_error(trainer.model, task, x, elements) <= 1e-9


def test_the_lorentz_emlp_is_invariant_under_boosts_parity_and_time_reversal():
    experiment = get_experiment("emlp_synthetic")
    task = experiment.task("emlp_lorentz", Settings(quick=True, limit=32, epochs=1, progress=False))
    x = TASKS["lorentz"].generate(16, 5).inputs
    elements = group_elements(TASKS["lorentz"].group, 4, torch.Generator().manual_seed(0))
    assert len(elements) == 4 + 3  # P, T and PT
    assert prediction_equivariance_error(task.model, TASKS["lorentz"], x, elements) <= 1e-9


def test_dry_run_of_the_full_settings(capsys):
    assert main(["reproduce", "emlp_synthetic", "--dry-run", "--no-progress", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    for model in EMLPSynthetic.models:
        line = next(line for line in out.splitlines() if line.split()[:1] == [model])
        value = float(line.split("train_loss=")[1].split()[0])
        assert math.isfinite(value), line
