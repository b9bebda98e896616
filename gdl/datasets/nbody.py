"""Charged particles in 3-D: the N-body data of Satorras et al. 2021 (after the simulator of Kipf et al. 2018).

Each system has 5 particles with charges q_i ∈ {−1, +1} (probability ½ each), positions x_i ~ N(0, I₃) and
initial velocities of norm 0.5 in uniformly random directions. They move under Coulomb-like forces (like charges
repel)

    F_i = Σ_{j≠i} q_i q_j (x_i − x_j) / ‖x_i − x_j‖³,         each component clipped to ±100,

integrated with the simulator's leapfrog-style scheme with step Δt = 0.001: v ← v + Δt F(x) once, then repeatedly
x ← x + Δt v, v ← v + Δt F(x). There is no bounding box (the EGNN version removes the NRI walls), so the dynamics
commute with rotations, reflections and translations up to the rare force clipping. Frames are saved every 100
steps, frame k being the state after (k + 1)·100 steps (the simulator's convention). The task, as in the EGNN
data loader (``nbody_small``): from positions and velocities at frame 30, predict the positions at frame 40, a
horizon of 1,000 steps (1.0 time units).

All systems of a split are integrated at once as ``[S, 5, 3]`` float64 tensors, so generating the paper's 3,000 /
2,000 / 2,000 systems takes seconds. The data are deterministic given ``(seed, split)``; the three splits use
independent random streams. The values differ from the files the paper used (another random generator), not in
distribution.
"""

from __future__ import annotations

import dataclasses
import functools

import torch
from torch.utils.data import Dataset

from gdl.core import check_int
from gdl.core.runtime import single_threaded

__all__ = ["ChargedParticles", "simulate_charged_particles", "initial_conditions", "integrate_charged_particles",
           "coulomb_forces", "NBody", "SPLIT_SIZES", "FRAME_START",
           "FRAME_END", "SAMPLE_EVERY"]

#: the paper's split sizes (Satorras et al. 2021, §5.1)
SPLIT_SIZES = {"train": 3000, "valid": 2000, "test": 2000}
#: input and target frames of the ``nbody_small`` task, and the simulation steps between frames
FRAME_START, FRAME_END, SAMPLE_EVERY = 30, 40, 100
_SPLIT_STREAMS = {"train": 0, "valid": 1, "test": 2}


@dataclasses.dataclass
class ChargedParticles:
    """Trajectories of S systems of n particles in R^d.

    Attributes:
        positions: ``[S, F, n, d]`` float64, frame k after (k + 1)·``sample_every`` steps.
        velocities: ``[S, F, n, d]`` float64.
        charges: ``[S, n]`` float64, ±1.
    """

    positions: torch.Tensor
    velocities: torch.Tensor
    charges: torch.Tensor


def coulomb_forces(positions: torch.Tensor, charges: torch.Tensor, strength: float = 1.0,
                   max_force: float | None = 100.0) -> torch.Tensor:
    """F_i = strength Σ_{j≠i} q_i q_j (x_i − x_j)/‖x_i − x_j‖³ for every system at once, clipped to ±``max_force``.

    Computed once per unordered pair i < j (Newton's third law: the pair pushes i by f_ij and j by −f_ij), then
    gathered per particle with the ``[n, n(n−1)/2]`` incidence matrix.

    Shapes:
        positions ``[S, n, d]``, charges ``[S, n]`` → ``[S, n, d]``.
    """
    first, second = torch.triu_indices(positions.shape[1], positions.shape[1], 1, device=positions.device)
    difference = positions[:, first] - positions[:, second]  # x_i − x_j  [S, P, d]
    inverse = (difference * difference).sum(-1).rsqrt()
    pair_forces = (strength * charges[:, first] * charges[:, second] * inverse ** 3).unsqueeze(-1) * difference
    pairs = torch.arange(first.numel(), device=positions.device)
    incidence = positions.new_zeros(positions.shape[1], first.numel())
    incidence[first, pairs], incidence[second, pairs] = 1.0, -1.0
    forces = torch.matmul(incidence, pair_forces)
    return forces if max_force is None else forces.clamp(-max_force, max_force)


def initial_conditions(num_systems: int, num_particles: int = 5, dim: int = 3, *, seed: int = 0,
                       position_std: float = 1.0, speed: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Charges ±1 (each with probability ½), positions N(0, position_std² I), velocities of norm ``speed`` in uniformly
    random directions, drawn in that order from a generator seeded with ``seed``.

    Returns:
        positions ``[S, n, d]``, velocities ``[S, n, d]``, charges ``[S, n]``, all float64.
    """
    for name, value in (("num_systems", num_systems), ("num_particles", num_particles), ("dim", dim)):
        check_int(value, name)
    if num_particles < 2:
        raise ValueError(f"a system needs at least 2 particles to interact, got num_particles={num_particles}")
    generator = torch.Generator().manual_seed(seed)
    uniform = torch.rand(num_systems, num_particles, generator=generator, dtype=torch.float64)
    charges = torch.where(uniform < 0.5, -1.0, 1.0).to(torch.float64)
    positions = torch.randn(num_systems, num_particles, dim, generator=generator, dtype=torch.float64) * position_std
    directions = torch.randn(num_systems, num_particles, dim, generator=generator, dtype=torch.float64)
    return positions, directions * (speed / directions.norm(dim=-1, keepdim=True)), charges


def integrate_charged_particles(positions: torch.Tensor, velocities: torch.Tensor, charges: torch.Tensor,
                                num_frames: int = FRAME_END + 1, *, sample_every: int = SAMPLE_EVERY, dt: float = 0.001,
                                strength: float = 1.0, max_force: float | None = 100.0) -> ChargedParticles:
    """Integrate given initial states with the simulator's scheme (module docstring), all systems at once.

    v ← v + Δt F(x); then for steps s = 1 … F·``sample_every``: x ← x + Δt v, save frame s/``sample_every`` − 1 when
    ``sample_every`` divides s, v ← v + Δt F(x).

    Shapes:
        positions, velocities ``[S, n, d]``, charges ``[S, n]`` → trajectories ``[S, F, n, d]``.
    """
    for name, value in (("num_frames", num_frames), ("sample_every", sample_every)):
        check_int(value, name)
    if positions.shape != velocities.shape or positions.dim() != 3 or charges.shape != positions.shape[:2]:
        raise ValueError(f"expected positions and velocities [S, n, d] and charges [S, n], got "
                         f"{list(positions.shape)}, {list(velocities.shape)} and {list(charges.shape)}")
    with single_threaded():  # thousands of small tensor ops: threads only add overhead (and stall on a busy machine)
        x, v = positions.clone(), velocities.clone()
        saved_positions = x.new_empty(x.shape[0], num_frames, *x.shape[1:])
        saved_velocities = torch.empty_like(saved_positions)
        v = v + dt * coulomb_forces(x, charges, strength, max_force)
        for step in range(1, num_frames * sample_every + 1):
            x = x + dt * v
            if step % sample_every == 0:
                frame = step // sample_every - 1
                saved_positions[:, frame], saved_velocities[:, frame] = x, v
            v = v + dt * coulomb_forces(x, charges, strength, max_force)
    return ChargedParticles(saved_positions, saved_velocities, charges)


def simulate_charged_particles(num_systems: int, num_frames: int = FRAME_END + 1, *, num_particles: int = 5,
                               dim: int = 3, sample_every: int = SAMPLE_EVERY, seed: int = 0, dt: float = 0.001,
                               position_std: float = 1.0, speed: float = 0.5, strength: float = 1.0,
                               max_force: float | None = 100.0) -> ChargedParticles:
    """:func:`initial_conditions` then :func:`integrate_charged_particles` (see the module docstring for the defaults)."""
    positions, velocities, charges = initial_conditions(num_systems, num_particles, dim, seed=seed,
                                                        position_std=position_std, speed=speed)
    return integrate_charged_particles(positions, velocities, charges, num_frames, sample_every=sample_every, dt=dt,
                                       strength=strength, max_force=max_force)


@functools.lru_cache(maxsize=8)
def _split_tensors(split: str, size: int, seed: int) -> tuple[torch.Tensor, ...]:
    stream = seed * len(_SPLIT_STREAMS) + _SPLIT_STREAMS[split]
    systems = simulate_charged_particles(size, FRAME_END + 1, seed=stream)
    start, end = systems.positions[:, FRAME_START], systems.positions[:, FRAME_END]
    return (start.float(), systems.velocities[:, FRAME_START].float(), systems.charges.float(), end.float())


class NBody(Dataset):
    """One split of the charged-particle task: (x, v, q) at frame 30 → x at frame 40.

    Args:
        split: ``"train"``, ``"valid"`` or ``"test"``.
        size: number of systems (default: the paper's, :data:`SPLIT_SIZES`).
        seed: the data seed (the splits use independent streams derived from it).

    Items are dicts of float32 tensors ``{"pos": [5, 3], "vel": [5, 3], "charges": [5], "target": [5, 3]}``; the
    default ``DataLoader`` collation stacks them into ``[B, 5, 3]`` batches. Generated splits are cached in memory.
    """

    def __init__(self, split: str = "train", size: int | None = None, seed: int = 0):
        if split not in SPLIT_SIZES:
            raise ValueError(f"split must be one of {tuple(SPLIT_SIZES)}, got {split!r}")
        size = SPLIT_SIZES[split] if size is None else size
        check_int(size, "size")
        self.split, self.size, self.seed = split, size, seed
        self.pos, self.vel, self.charges, self.target = _split_tensors(split, size, seed)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"pos": self.pos[index], "vel": self.vel[index], "charges": self.charges[index],
                "target": self.target[index]}

    def __repr__(self) -> str:
        return f"NBody(split={self.split!r}, size={self.size}, seed={self.seed})"
