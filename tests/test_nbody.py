"""Charged-particle N-body data: the vectorised integrator against a per-system loop of the reference scheme,
symmetries of the dynamics, determinism, splits, and the nbody experiment's pipeline."""

import math

import numpy as np
import pytest
import torch

from gdl.datasets import nbody
from gdl.datasets.nbody import (
    SPLIT_SIZES,
    NBody,
    coulomb_forces,
    initial_conditions,
    integrate_charged_particles,
    simulate_charged_particles,
)
from gdl.experiments.base import Settings
from gdl.experiments.nbody import PAPER_MSE, NBodyExperiment
from gdl.groups import random_rotation_matrices


def reference_trajectory(loc, vel, charges, num_frames, sample_every, dt=0.001, max_force=100.0, velocities=False):
    """One system at a time, in numpy, written the way the NRI/EGNN simulator writes it ([d, n] arrays, loops); the
    saved frames' velocities too with ``velocities=True`` (saved with the positions, before the next force kick)."""
    loc, vel = loc.T.copy(), vel.T.copy()  # [d, n]
    n = loc.shape[1]
    edges = np.outer(charges, charges)

    def force(loc):
        forces = np.zeros_like(loc)
        for i in range(n):
            for j in range(n):
                if i != j:
                    r = loc[:, i] - loc[:, j]
                    forces[:, i] += edges[i, j] * r / np.sqrt((r ** 2).sum()) ** 3
        return np.clip(forces, -max_force, max_force)

    saved = np.zeros((num_frames, loc.shape[0], n))
    saved_velocities = np.zeros_like(saved)
    counter = 0
    vel = vel + dt * force(loc)
    for step in range(1, num_frames * sample_every + 1):
        loc = loc + dt * vel
        if step % sample_every == 0:
            saved[counter], saved_velocities[counter] = loc, vel
            counter += 1
        vel = vel + dt * force(loc)
    if velocities:
        return saved.transpose(0, 2, 1), saved_velocities.transpose(0, 2, 1)
    return saved.transpose(0, 2, 1)  # [F, n, d]


def test_integrator_equals_the_per_system_reference():
    positions, velocities, charges = initial_conditions(3, seed=5)
    positions[0, 1] = positions[0, 0] + 0.01  # two particles so close that the force clipping acts
    ours = integrate_charged_particles(positions, velocities, charges, num_frames=4, sample_every=25)
    for s in range(3):
        expected = reference_trajectory(positions[s].numpy(), velocities[s].numpy(), charges[s].numpy(), 4, 25)
        assert np.allclose(ours.positions[s].numpy(), expected, atol=1e-10, rtol=0)
    assert float(coulomb_forces(positions, charges, max_force=None).abs().max()) > 100  # clipping was exercised


def test_forces_obey_newton_and_the_symmetries(generator):
    positions, _, charges = initial_conditions(50, seed=1)
    forces = coulomb_forces(positions, charges, max_force=None)
    assert forces.sum(1).abs().max() < 1e-9  # internal forces cancel
    rotation = random_rotation_matrices(1, 3, generator)[0]
    rotation[:, 0] *= -1  # a reflection
    moved = coulomb_forces(positions @ rotation.T + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), charges,
                           max_force=None)
    assert torch.allclose(moved, forces @ rotation.T, atol=1e-9)
    permutation = torch.randperm(5, generator=generator)
    assert torch.allclose(coulomb_forces(positions[:, permutation], charges[:, permutation], max_force=None),
                          forces[:, permutation], atol=1e-12)
    like = coulomb_forces(torch.tensor([[[0.0, 0, 0], [1.0, 0, 0]]], dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64))
    assert torch.allclose(like[0, 0], torch.tensor([-1.0, 0, 0], dtype=torch.float64))  # like charges repel


def test_trajectories_are_equivariant_and_conserve_energy(generator):
    positions, velocities, charges = initial_conditions(20, seed=2)
    rotation = random_rotation_matrices(1, 3, generator)[0]
    shift = torch.tensor([3.0, 0.0, -1.0], dtype=torch.float64)
    plain = integrate_charged_particles(positions, velocities, charges, num_frames=5, sample_every=100, max_force=None)
    moved = integrate_charged_particles(positions @ rotation.T + shift, velocities @ rotation.T, charges, num_frames=5,
                                        sample_every=100, max_force=None)
    assert torch.allclose(moved.positions, plain.positions @ rotation.T + shift, atol=1e-8)

    def energy(x, v):
        pairs = torch.triu_indices(5, 5, 1)
        distance = (x[:, pairs[0]] - x[:, pairs[1]]).norm(dim=-1)
        return 0.5 * (v ** 2).sum((1, 2)) + (charges[:, pairs[0]] * charges[:, pairs[1]] / distance).sum(1)

    drift = (energy(plain.positions[:, -1], plain.velocities[:, -1]) - energy(positions, velocities)).abs()
    assert float(drift.median()) < 0.01


def test_initial_conditions_and_determinism():
    positions, velocities, charges = initial_conditions(2000, seed=0)
    assert torch.allclose(velocities.norm(dim=-1), torch.full((2000, 5), 0.5, dtype=torch.float64))
    assert set(charges.unique().tolist()) == {-1.0, 1.0} and abs(float(charges.mean())) < 0.05
    assert abs(float(positions.std()) - 1.0) < 0.03
    a, b = simulate_charged_particles(4, 3, seed=7), simulate_charged_particles(4, 3, seed=7)
    assert torch.equal(a.positions, b.positions) and torch.equal(a.charges, b.charges)
    assert not torch.equal(a.positions, simulate_charged_particles(4, 3, seed=8).positions)


def test_dataset_splits_and_items():
    assert SPLIT_SIZES == {"train": 3000, "valid": 2000, "test": 2000}  # the paper's
    train, valid = NBody("train", 12, seed=3), NBody("valid", 12, seed=3)
    assert len(train) == 12 and not torch.equal(train.pos, valid.pos)  # independent streams
    item = train[4]
    assert {k: tuple(v.shape) for k, v in item.items()} == {"pos": (5, 3), "vel": (5, 3), "charges": (5,), "target": (5, 3)}
    assert all(v.dtype == torch.float32 for v in item.values())
    assert torch.equal(NBody("train", 12, seed=3).target, train.target)
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'valid', 'test'\), got 'val'"):
        NBody("val")
    with pytest.raises(ValueError, match="size must be a positive integer, got 0"):
        NBody("train", 0)
    with pytest.raises(ValueError, match="at least 2 particles"):
        initial_conditions(3, num_particles=1)
    with pytest.raises(ValueError, match=r"expected positions and velocities \[S, n, d\]"):
        integrate_charged_particles(torch.zeros(2, 5, 3), torch.zeros(2, 4, 3), torch.zeros(2, 5))


def test_dataset_items_follow_the_documented_frames_independently_of_the_module():
    """The task as documented (and as the EGNN loader's ``nbody_small``): positions *and velocities* at frame 30 → the
    positions at frame 40, frames saved every 100 steps, frame k after (k + 1)·100 steps. The reference integrates
    the initial conditions with the per-system loop above and reads the frames by these numbers, not by the module's
    constants, so a wrong frame constant (or velocities from another frame than the positions) fails here."""
    input_frame, target_frame, steps_per_frame = 30, 40, 100  # from the documentation, not from gdl.datasets.nbody
    data = NBody("valid", 6, seed=4)
    positions, velocities, charges = initial_conditions(6, seed=4 * 3 + 1)  # split streams: seed · 3 + (0, 1, 2)
    # every system, integrated from its initial conditions with the frame spacing given explicitly
    stream = integrate_charged_particles(positions, velocities, charges, num_frames=target_frame + 1,
                                         sample_every=steps_per_frame)
    expected = {"pos": stream.positions[:, input_frame], "vel": stream.velocities[:, input_frame],
                "target": stream.positions[:, target_frame], "charges": charges}
    for key, value in expected.items():
        assert torch.allclose(getattr(data, key), value.float(), atol=1e-6, rtol=0), key
    # system 0, a well-conditioned one, also by the per-system loop (the dynamics are chaotic: in some systems
    # round-off grows ~30× per frame, so a loop reference can follow only such a system for 40 frames)
    frames, frame_velocities = reference_trajectory(positions[0].numpy(), velocities[0].numpy(), charges[0].numpy(),
                                                    target_frame + 1, steps_per_frame, velocities=True)
    item = data[0]
    assert np.allclose(item["pos"].numpy(), frames[input_frame], atol=1e-5, rtol=0)
    assert np.allclose(item["vel"].numpy(), frame_velocities[input_frame], atol=1e-5, rtol=0)
    assert np.allclose(item["target"].numpy(), frames[target_frame], atol=1e-5, rtol=0)
    # neighbouring frames differ far more than the tolerance: a frame off by one cannot pass
    assert np.abs(frames[target_frame] - frames[target_frame - 1]).max() > 1e-2
    assert np.abs(frame_velocities[input_frame] - frame_velocities[input_frame - 1]).max() > 1e-3


def test_default_split_size_is_the_papers(monkeypatch):
    monkeypatch.setitem(nbody.SPLIT_SIZES, "test", 7)
    assert len(NBody("test", seed=11)) == 7


def test_nbody_experiment_pipeline(tmp_path, monkeypatch):
    """A miniature run: rows with the paper's values and the mode, plots, and models that learned something."""
    monkeypatch.setattr(NBodyExperiment, "sizes", lambda self, settings: {"train": 200, "valid": 100, "test": 200})
    monkeypatch.setattr(NBodyExperiment, "epochs", lambda self, model, settings: 10)
    result = NBodyExperiment().run(Settings(quick=True, out_dir=tmp_path, progress=False))
    assert result.mode == "quick" and "quick mode" in result.setting
    no_motion = float((NBody("test", 200).target - NBody("test", 200).pos).pow(2).mean())
    for model, paper in PAPER_MSE.items():
        row = next(r for r in result.rows if r.model == model)
        assert row.paper == paper and row.paper_source == "Satorras et al. 2021, Table 2"
        assert math.isfinite(row.value)
    assert result.value("egnn", "test MSE of positions") < 0.5 * no_motion
    for plot in result.plots:
        assert (tmp_path / "nbody" / plot).stat().st_size > 1000
