"""N-body dynamics: an E(3)-equivariant GNN against a plain GNN and a linear model (Satorras et al. 2021, Table 2).

Charged 5-particle systems (:mod:`gdl.datasets.nbody`): from positions, velocities and charges at one time, predict
the positions 1,000 integration steps later. Models (the paper's, with its sizes):

* ``egnn``: :class:`gdl.graphs.EGNN` with velocities (eq. 7), 4 layers × 64 channels, SiLU, h = ‖v‖,
  edge attributes (q_i q_j, ‖x_i − x_j‖²) on the complete graph; equivariant to S_5 × E(3), so it never has to learn
  that the physics is the same in every frame.
* ``gnn``: a plain message-passing GNN on raw coordinates: node inputs [x ‖ v] embedded to 64 channels, 4
  :class:`gdl.graphs.MessagePassingLayer` (residual, sum aggregation, edge attribute q_i q_j), a 2-layer decoder
  to the predicted positions. Permutation-equivariant only.
* ``linear``: one linear map [x_i ‖ v_i] ↦ x̂_i per particle (no interactions).

Training as the paper's: MSE on the positions, Adam(W) with weight decay 10⁻¹², batches of 100, the test MSE of the
epoch with the best validation MSE (validation every epoch; the test set is scored at evenly spaced
checkpoints (every 5 epochs in quick mode, 50 in full mode; the paper: 5) whenever the validation MSE there is the
best so far).

* quick: 1,000 train / 500 validation / 1,000 test systems, 40 epochs (EGNN, GNN) and 30 (linear), learning
  rates 1e-3 (EGNN), 3e-3 (GNN), 5e-3 (linear), one CPU thread (small graphs). About a CPU minute. Fewer samples
  and far fewer epochs than the paper: it shows the ranking, it is not a reproduction.
* full: the paper's 3,000 / 2,000 / 2,000 systems, 10,000 epochs and lr 5·10⁻⁴ for every model (GPU hours).

Not included: the O(3)/SE(3) tensor-field models of the paper's table (TFN, SE(3)-Transformer, Radial Field); a
point-convolution model from :mod:`gdl.groups` can be added as a fourth row once it exists.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from gdl.datasets.nbody import SPLIT_SIZES, NBody, simulate_charged_particles
from gdl.graphs import EGNN, MessagePassingGNN, NodeMLP, complete_graph
from gdl.train import Evaluate, TrainConfig, count_parameters

from .base import Experiment, Result, Row, Settings, Task, init_model
from .plotting import saved_figure

__all__ = ["NBodyExperiment", "EGNNDynamics", "GNNDynamics", "LinearDynamics", "position_mse_step", "PAPER_MSE"]

#: test MSE of Satorras et al. 2021, Table 2 (3,000 training systems)
PAPER_MSE = {"egnn": 0.0071, "gnn": 0.0107, "linear": 0.0819}
PAPER_SOURCE = "Satorras et al. 2021, Table 2"
#: quick mode's learning rates (the best validation MSE of {5e-4, 1e-3, 2e-3, 3e-3} tried in quick mode)
QUICK_LEARNING_RATES = {"egnn": 1e-3, "gnn": 3e-3, "linear": 5e-3}
#: epochs between the checkpoints at which the test MSE is read if the validation MSE is the best so far
EVALUATE_EVERY = {"quick": 5, "full": 50}


def best_validation_checkpoint(every: int):
    """``when`` of :class:`gdl.train.Evaluate`: at every ``every``-th epoch and the last, if the validation MSE
    there is below that of every earlier checkpoint that was scored."""

    def when(trainer, record) -> bool:
        if record["epoch"] % every and record["epoch"] != trainer.config.epochs:
            return False
        earlier = [r["val_loss"] for r in trainer.history if "test_loss" in r]
        return not earlier or record["val_loss"] < min(earlier)

    return when


def _graph(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Flatten a batch of B systems of n particles into one graph: x, v ``[B·n, 3]``, q ``[B·n]``, complete edges."""
    systems, particles, dim = batch["pos"].shape
    edge_index = complete_graph(particles, self_loops=False, device=batch["pos"].device, num_graphs=systems)
    return (batch["pos"].reshape(-1, dim), batch["vel"].reshape(-1, dim), batch["charges"].reshape(-1), edge_index)


class EGNNDynamics(nn.Module):
    """The paper's EGNN for N-body: h = ‖v‖, a_ij = (q_i q_j, ‖x_i − x_j‖²), output x̂ = x after the last layer."""

    def __init__(self, hidden_channels: int = 64, num_layers: int = 4):
        super().__init__()
        self.egnn = EGNN(1, hidden_channels, None, num_layers, edge_channels=2, velocity=True, coords_aggr="mean")

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x, v, q, edge_index = _graph(batch)
        source, target = edge_index
        squared_distance = (x[target] - x[source]).pow(2).sum(-1)
        edge_attr = torch.stack([q[source] * q[target], squared_distance], dim=-1)
        prediction = self.egnn(v.norm(dim=-1, keepdim=True), x, v, edge_index, edge_attr)[1]  # (h, x, v) out
        return prediction.view_as(batch["pos"])


class GNNDynamics(nn.Module):
    """A plain GNN on raw coordinates: [x ‖ v] → 64 → 4 × message passing (a_ij = q_i q_j) → MLP → x̂
    (:class:`gdl.graphs.MessagePassingGNN`, a registered blueprint)."""

    def __init__(self, hidden_channels: int = 64, num_layers: int = 4):
        super().__init__()
        self.network = MessagePassingGNN(6, hidden_channels, 3, num_layers, edge_channels=1, activation="silu")

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x, v, q, edge_index = _graph(batch)
        source, target = edge_index
        edge_attr = (q[source] * q[target]).unsqueeze(-1)
        return self.network(torch.cat([x, v], dim=-1), edge_index, edge_attr).view_as(batch["pos"])


class LinearDynamics(nn.Module):
    """x̂_i = W [x_i ‖ v_i] + b for every particle (no interactions; :class:`gdl.graphs.NodeMLP` with one layer)."""

    def __init__(self):
        super().__init__()
        self.network = NodeMLP(6, 6, 3, num_layers=1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.network(torch.cat([batch["pos"], batch["vel"]], dim=-1))


MODELS = {"egnn": EGNNDynamics, "gnn": GNNDynamics, "linear": LinearDynamics}


def position_mse_step(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Mean squared error of the predicted positions (over particles and coordinates), the paper's metric."""
    prediction = model(batch)
    return {"loss": nn.functional.mse_loss(prediction.float(), batch["target"])}


class NBodyExperiment(Experiment):
    name = "nbody"
    title = "N-body charged particles: EGNN vs GNN vs linear (Satorras et al. 2021, Table 2)"
    book_section = "§5.5"
    models = tuple(MODELS)

    def sizes(self, settings: Settings) -> dict[str, int]:
        return {"train": 1000, "valid": 500, "test": 1000} if settings.quick else dict(SPLIT_SIZES)

    def epochs(self, model: str, settings: Settings) -> int:
        if not settings.quick:
            return 10_000
        return 30 if model == "linear" else 40

    def learning_rate(self, model: str, settings: Settings) -> float:
        return QUICK_LEARNING_RATES[model] if settings.quick else 5e-4

    def data(self, settings: Settings) -> dict[str, NBody]:
        return {split: NBody(split, settings.size(size, 100 if split == "train" else None), seed=settings.seed)
                for split, size in self.sizes(settings).items()}

    def make_task(self, model: str, settings: Settings) -> Task:
        """One model; the test MSE is scored at the checkpoints where the validation MSE is the best so far
        (``test_loss`` in those epochs' records: the last one is the model's result)."""
        data = self.data(settings)
        # small graphs: one thread is fastest on a CPU
        config = TrainConfig(epochs=self.epochs(model, settings), batch_size=100, eval_batch_size=1000,
                             lr=self.learning_rate(model, settings), weight_decay=1e-12, seed=settings.seed,
                             device=settings.device, progress=settings.progress, threads=1)
        test = Evaluate({"test": data["test"]}, when=best_validation_checkpoint(EVALUATE_EVERY[
            "quick" if settings.quick else "full"]))
        return Task(init_model(settings.seed, MODELS[model]), position_mse_step, data["train"], data["valid"], config,
                    callbacks=[test])

    def train(self, model: str, settings: Settings) -> dict:
        """Train one model; the test MSE is read at the validation checkpoint with the lowest MSE."""
        start = time.perf_counter()
        trainer = self.train_model(model, settings)
        best = [record for record in trainer.history if "test_loss" in record][-1]
        return {"val": best["val_loss"], "test": best["test_loss"], "epoch": best["epoch"], "history": trainer.history,
                "seconds": time.perf_counter() - start, "parameters": count_parameters(trainer.model),
                "model": trainer.model.eval(), "epochs": trainer.config.epochs}

    def run(self, settings: Settings) -> Result:
        out = self.output_dir(settings)
        runs = {model: self.train(model, settings) for model in self.models}
        sizes = self.sizes(settings)
        rows = [Row(model, "test MSE of positions", runs[model]["test"], "{:.4f}", paper=PAPER_MSE[model],
                    paper_source=PAPER_SOURCE,
                    note=f"{runs[model]['parameters']:,} parameters, {runs[model]['epochs']} epochs "
                         f"(best validation at epoch {runs[model]['epoch']}), {runs[model]['seconds']:.0f} s")
                for model in self.models]
        plots = [self._plot_training(out, runs), self._plot_trajectories(out, runs, settings)]
        setting = (f"{settings.mode} mode: {sizes['train']:,} train / {sizes['valid']:,} validation / {sizes['test']:,} test "
                   f"systems; epochs " + ", ".join(f"{m} {runs[m]['epochs']:,}" for m in self.models)
                   + "; batch 100, AdamW, learning rates " + ", ".join(f"{m} {self.learning_rate(m, settings):g}" for m in self.models)
                   + ", weight decay 1e-12")
        notes = ("Data: 5 charged particles in 3-D generated by `gdl.datasets.nbody` (the simulator of Kipf et al. "
                 "2018 as adapted by Satorras et al. 2021: no box, charges ±1, frame 30 → 40), a fresh draw, not the paper's "
                 f"files; {sizes['train']:,} / {sizes['valid']:,} / {sizes['test']:,} systems against the paper's 3,000 / "
                 "2,000 / 2,000. Test MSE is read at the epoch with the best validation MSE. "
                 + ("Quick mode trains on a third of the paper's training data for 40 epochs (linear: 30) instead of "
                    "10,000, with larger learning rates: the numbers show the ranking, not the paper's values. "
                    if settings.quick else "")
                 + "The paper's O(3)/SE(3) models (TFN, SE(3)-Transformer, Radial Field) are not part of this run.")
        return Result(self.name, self.title, settings.mode, setting, rows, plots, notes)

    @staticmethod
    def _plot_training(out, runs) -> str:
        with saved_figure(out / "validation_mse.png") as axis:
            for model, run in runs.items():
                history = run["history"]
                axis.plot([r["epoch"] for r in history], [r["val_loss"] for r in history], label=model)
            axis.set(xlabel="epoch", ylabel="validation MSE", yscale="log", title="N-body: validation MSE")
        return "validation_mse.png"

    @staticmethod
    def _plot_trajectories(out, runs, settings) -> str:
        """One test-like system: its trajectory from frame 30 to 40 (x–y plane) and every model's prediction."""
        from gdl.datasets.nbody import FRAME_END, FRAME_START

        system = simulate_charged_particles(1, FRAME_END + 1, seed=10_000 + settings.seed)
        path = system.positions[0, FRAME_START:FRAME_END + 1].float()  # [11, 5, 3]
        batch = {"pos": path[:1], "vel": system.velocities[0, FRAME_START:FRAME_START + 1].float(),
                 "charges": system.charges.float(), "target": path[-1:]}
        with saved_figure(out / "trajectories.png", figsize=(5.0, 5.0)) as axis:
            for particle in range(path.shape[1]):
                colour = "tab:red" if system.charges[0, particle] > 0 else "tab:blue"
                axis.plot(path[:, particle, 0], path[:, particle, 1], color=colour, alpha=0.6)
                axis.scatter(path[0, particle, 0], path[0, particle, 1], color=colour, marker="o", s=15)
                axis.scatter(path[-1, particle, 0], path[-1, particle, 1], color=colour, marker="*", s=80)
            for (model, run), marker in zip(runs.items(), ("x", "+", "1")):
                device = next(run["model"].parameters()).device
                with torch.no_grad():
                    prediction = run["model"]({k: v.to(device) for k, v in batch.items()})[0].cpu()
                axis.scatter(prediction[:, 0], prediction[:, 1], marker=marker, s=60, color="black", label=model)
            axis.set(xlabel="x", ylabel="y", title="frame 30 (●) → 40 (★): red +1, blue −1", aspect="equal")
        return "trajectories.png"
