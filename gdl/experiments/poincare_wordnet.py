"""Poincaré embeddings of the WordNet mammal hierarchy against Euclidean ones (Nickel & Kiela 2017; book §4.4).

Data: the transitive closure of ``mammal.n.01`` read from WordNet 3.0 (Debian's ``wordnet-base``; see
:mod:`gdl.datasets.wordnet`): 1,170 synsets, 6,448 pairs u ≺ v. Every synset gets a point, trained with the
softmax ranking loss of Nickel & Kiela (2017, eq. 6) and sampled negatives (:mod:`gdl.geodesics.embedding`), in

* ``poincare``: the Poincaré ball, hyperbolic distance, RiemannianAdam (geoopt) through
  :func:`gdl.geodesics.riemannian_optimizer`;
* ``lorentz``: the same space as a hyperboloid (Nickel & Kiela 2018), the same optimiser;
* ``euclidean``: Rⁿ with the paper's Euclidean baseline d = ‖u − v‖², Adam (RiemannianAdam on Rⁿ is Adam);

at dimensions 2, 5 and 10, and evaluated by reconstruction (rank every node against the true ancestors; mean rank
and MAP, the paper's Table 1 metrics).

Schedule (every geometry alike, float64 parameters, batch 512, 50 uniform negatives):

* quick: burn-in 10 epochs at lr/10 with 10 negatives drawn ∝ (in-degree + 1)^0.75, then 30 epochs at lr = 0.1,
  then 10 epochs at lr/10 (50 epochs, about 6 s per model on one CPU core);
* full: burn-in 20 epochs, 400 epochs at lr, 100 epochs at lr/10.

One training loop runs the three phases (:class:`Phases`): each phase has its own negatives, and a phase change
starts a fresh RiemannianAdam at the phase's learning rate.

The paper's reference code for this subtree (``train-mammals.sh`` of facebookresearch/poincare-embeddings) uses
Riemannian SGD with lr 0.3, 50 negatives, batch 10, a 20-epoch burn-in at lr/10 with degree-based negatives and
300+ epochs; its Table 1 reports the whole noun hierarchy (82,115 nouns, 743,241 pairs, dimensions 5 to 200),
not this subtree. Those figures are shown beside ours for dimensions 5 and 10 as the paper's reference point;
they are not the same data set, only the same question (does hyperbolic space reconstruct a hierarchy better
than Euclidean space at equal dimension?).
"""

from __future__ import annotations

import dataclasses
import time

import torch

from gdl.datasets.wordnet import Hierarchy, wordnet_closure
from gdl.geodesics.embedding import (
    GEOMETRIES,
    EdgeDataset,
    HierarchyEmbedding,
    HierarchyLoss,
    collate_edges,
    reconstruction_metrics,
)
from gdl.geodesics.optim import riemannian_optimizer
from gdl.train import Callback, Measure, TrainConfig

from .base import Experiment, Result, Row, Settings, Task, init_model
from .plotting import saved_figure

__all__ = ["PoincareWordNet", "Schedule", "train_embedding", "PAPER_TABLE_1"]

DIMENSIONS = (2, 5, 10)
#: Nickel & Kiela (2017), Table 1, reconstruction of the WordNet noun hierarchy: {(geometry, dim): (rank, MAP)}
PAPER_TABLE_1 = {("euclidean", 5): (3542.3, 0.024), ("euclidean", 10): (2286.9, 0.059),
                 ("poincare", 5): (4.9, 0.823), ("poincare", 10): (4.02, 0.851)}
PAPER_SOURCE = "Nickel & Kiela 2017, Table 1 (all WordNet nouns)"
#: synsets named in the disk plot
LABELLED = ("mammal.n.01", "placental.n.01", "carnivore.n.01", "primate.n.02", "ungulate.n.01", "rodent.n.01",
            "dog.n.01", "cat.n.01", "whale.n.02", "horse.n.01", "bat.n.01", "marsupial.n.01", "homo.n.02")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A burn-in, a main phase and a cool-down, in epochs, with their learning rates and negatives."""

    burn_in: int
    main: int
    cool_down: int
    lr: float = 0.1
    batch_size: int = 512
    negatives: int = 50
    burn_in_negatives: int = 10

    @property
    def epochs(self) -> int:
        return self.burn_in + self.main + self.cool_down


QUICK, FULL = Schedule(10, 30, 10), Schedule(20, 400, 100)


class Phases(Callback):
    """Burn-in, main phase and cool-down on one training loop: each phase's loss (its negatives) from its first
    epoch on, and a fresh optimiser with the phase's learning rate at every phase change.

    Args:
        phases: ``(epochs, lr, loss_fn)`` in order (phases of 0 epochs are skipped); epochs past the last phase
            stay in it.
        optimizer: ``lr → optimiser``.
    """

    def __init__(self, phases: list, optimizer):
        self.phases = [(epochs, lr, loss) for epochs, lr, loss in phases if epochs > 0]
        self.optimizer = optimizer

    def phase(self, epoch: int) -> tuple[int, float, object]:
        """(first epoch, lr, loss) of the phase holding the 0-based ``epoch``."""
        start = 0
        for epochs, lr, loss in self.phases:
            if epoch < start + epochs:
                return start, lr, loss
            start += epochs
        epochs, lr, loss = self.phases[-1]
        return start - epochs, lr, loss

    def on_epoch_start(self, trainer) -> None:
        start, lr, loss = self.phase(trainer.epoch)
        trainer.loss_fn = loss
        if start == trainer.epoch > 0 and trainer.step == 0:  # a new phase starts afresh (a resumed one keeps its state)
            trainer.optimizer = self.optimizer(lr)


def train_embedding(hierarchy: Hierarchy, geometry: str, dim: int, schedule: Schedule, settings: Settings
                    ) -> tuple[HierarchyEmbedding, list[dict]]:
    """Train one embedding through burn-in, main phase and cool-down (:meth:`PoincareWordNet.train_model`); return
    it (on the CPU) and its history."""
    trainer = PoincareWordNet().train_model(f"{geometry}-{dim}", settings, hierarchy=hierarchy, schedule=schedule)
    return trainer.model.cpu(), trainer.history


class PoincareWordNet(Experiment):
    name = "poincare_wordnet"
    title = "Poincaré vs Euclidean embeddings of the WordNet mammal hierarchy (reconstruction)"
    book_section = "§4.4"
    models = tuple(f"{geometry}-{dim}" for geometry in GEOMETRIES for dim in DIMENSIONS)

    @staticmethod
    def _parse(model: str) -> tuple[str, int]:
        geometry, _, dim = model.partition("-")
        if geometry not in GEOMETRIES or not dim.isdigit() or int(dim) < 1:
            raise ValueError(f"poincare_wordnet models look like 'poincare-5' (geometry {GEOMETRIES}, dimension ≥ 1), "
                             f"got {model!r}")
        return geometry, int(dim)

    def check_model(self, model: str) -> None:
        self._parse(model)

    def make_task(self, model: str, settings: Settings, hierarchy: Hierarchy | None = None,
                  schedule: Schedule | None = None) -> Task:
        """One embedding through the whole schedule (:class:`Phases`); the reconstruction metrics (``mean_rank``,
        ``map``) are measured after the last epoch. ``hierarchy`` and ``schedule`` replace the mammal closure and
        the quick/full schedule."""
        geometry, dim = self._parse(model)
        hierarchy = hierarchy or wordnet_closure("mammal.n.01")
        schedule = schedule or (QUICK if settings.quick else FULL)
        embedding = init_model(settings.seed, lambda: HierarchyEmbedding(hierarchy.num_nodes, dim, geometry).double())
        in_degree = torch.bincount(hierarchy.closure[:, 1], minlength=hierarchy.num_nodes).double()
        phases = Phases([(schedule.burn_in, schedule.lr / 10, HierarchyLoss(hierarchy, schedule.burn_in_negatives,
                                                                            weights=(in_degree + 1) ** 0.75)),
                         (schedule.main, schedule.lr, HierarchyLoss(hierarchy, schedule.negatives)),
                         (schedule.cool_down, schedule.lr / 10, HierarchyLoss(hierarchy, schedule.negatives))],
                        optimizer=lambda lr: riemannian_optimizer(embedding, "adam", lr))
        _, lr, loss = phases.phase(0)
        # N × n parameters: one thread is fastest on a CPU
        config = TrainConfig(epochs=schedule.epochs, batch_size=schedule.batch_size, lr=lr, seed=settings.seed,
                             device=settings.device, progress=settings.progress, threads=1)
        measure = Measure(lambda model: reconstruction_metrics(model.distances_from, hierarchy))
        return Task(embedding, loss, EdgeDataset(hierarchy), None, config, collate_edges,
                    optimizer_factory=lambda params: riemannian_optimizer(embedding, "adam", lr),
                    callbacks=[phases, measure])

    def run(self, settings: Settings) -> Result:
        out = self.output_dir(settings)
        hierarchy = wordnet_closure("mammal.n.01")
        schedule = QUICK if settings.quick else FULL
        metrics: dict[tuple[str, int], dict] = {}
        seconds: dict[tuple[str, int], float] = {}
        trained: dict[tuple[str, int], HierarchyEmbedding] = {}
        histories: dict[tuple[str, int], list[dict]] = {}
        for geometry in GEOMETRIES:
            for dim in DIMENSIONS:
                start = time.perf_counter()
                trainer = self.train_model(f"{geometry}-{dim}", settings, hierarchy=hierarchy)
                seconds[geometry, dim] = time.perf_counter() - start
                histories[geometry, dim] = trainer.history
                metrics[geometry, dim] = {key: trainer.history[-1][key] for key in ("mean_rank", "map")}
                trained[geometry, dim] = trainer.model.cpu()
        rows = []
        for geometry in GEOMETRIES:
            for dim in DIMENSIONS:
                paper = PAPER_TABLE_1.get((geometry, dim), (None, None))
                source = PAPER_SOURCE if paper[0] is not None else ""
                differs = (f"paper: all 82,115 nouns, Riemannian SGD, many more epochs; ours: the {hierarchy.num_nodes}-node "
                           f"mammal subtree, RiemannianAdam, {schedule.burn_in + schedule.main + schedule.cool_down} epochs"
                           if paper[0] is not None else "")
                label = f"{geometry} d={dim}"
                rows += [Row(label, "mean rank", metrics[geometry, dim]["mean_rank"], "{:.2f}", paper[0], source, differs),
                         Row(label, "MAP", metrics[geometry, dim]["map"], "{:.3f}", paper[1], source, differs)]
        plots = [self._plot_disk(out, trained["poincare", 2], hierarchy),
                 self._plot_metrics(out, metrics), self._plot_training(out, histories)]
        setting = (f"WordNet 3.0 mammal closure ({hierarchy.num_nodes} synsets, {hierarchy.num_edges} pairs), "
                   f"RiemannianAdam, float64, batch {schedule.batch_size}, {schedule.negatives} negatives; burn-in "
                   f"{schedule.burn_in} epochs at lr {schedule.lr / 10:g} ({schedule.burn_in_negatives} negatives ∝ "
                   f"(in-degree+1)^0.75), {schedule.main} epochs at lr {schedule.lr:g}, {schedule.cool_down} at "
                   f"lr {schedule.lr / 10:g}")
        notes = (
            "Reconstruction as in the paper's code: every synset is ranked against all others by distance; the rank of a "
            "true pair (u, v) counts the non-ancestors of u closer than v, plus one; AP averages the precision at each "
            "ancestor. The paper column is Table 1 of Nickel & Kiela (2017) for the **whole noun hierarchy** (82,115 "
            "nouns, 743,241 pairs), which they embed with Riemannian SGD for many more epochs; our data is its mammal "
            "subtree (1,170 nodes) and our optimiser RiemannianAdam with the schedule above, so the numbers are not the "
            "same experiment. What carries over is the comparison at equal dimension: hyperbolic space (Poincaré ball or "
            "the hyperboloid, the same geometry in two coordinate systems) reconstructs the tree far better than "
            "Euclidean space, most visibly in low dimension. The Euclidean baseline uses the paper's squared distance; "
            "its Table 1 Euclidean numbers have been questioned (a later reproduction, \"Comparing Euclidean and "
            "hyperbolic embeddings on the WordNet nouns hypernymy graph\", found Euclidean embeddings competitive from 50 "
            "dimensions on), which does not touch the low-dimensional regime compared here. "
            f"Training time per model ({schedule.epochs} epochs): "
            + ", ".join(f"{g} d={d} {seconds[g, d]:.0f} s" for g in GEOMETRIES for d in DIMENSIONS) + ". "
            "Quick mode is not a reproduction of the paper's figures.")
        return Result(self.name, self.title, settings.mode, setting, rows, plots, notes)

    @staticmethod
    def _plot_disk(out, model: HierarchyEmbedding, hierarchy: Hierarchy) -> str:
        from matplotlib.patches import Circle

        points = model.poincare_points().to(torch.float64)
        depth = hierarchy.depth()
        direct = hierarchy.closure[depth[hierarchy.closure[:, 0]] == depth[hierarchy.closure[:, 1]] + 1]
        # each direct edge drawn as a geodesic arc (geoopt's geodesic, 24 points per edge, vectorised)
        t = torch.linspace(0, 1, 24, dtype=torch.float64).view(-1, 1, 1)
        arcs = model.manifold.geodesic(t, points[direct[:, 0]].unsqueeze(0), points[direct[:, 1]].unsqueeze(0))
        labelled = [hierarchy.index(name) for name in LABELLED if name in hierarchy.names]
        with saved_figure(out / "poincare_disk.png", figsize=(6.0, 6.0)) as axis:
            axis.add_patch(Circle((0, 0), 1.0, fill=False, color="black", linewidth=1.0))
            axis.plot(arcs[..., 0].numpy(), arcs[..., 1].numpy(), color="tab:blue", alpha=0.15, linewidth=0.5)
            axis.scatter(points[:, 0], points[:, 1], s=3, c=depth.numpy(), cmap="viridis", zorder=3)
            for node in labelled:
                x, y = points[node].tolist()
                axis.annotate(hierarchy.names[node].split(".")[0], (x, y), fontsize=8, zorder=4,
                              bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7, "lw": 0})
            axis.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal",
                     title="WordNet mammals in the Poincaré disk (d = 2)")
        return "poincare_disk.png"

    @staticmethod
    def _plot_metrics(out, metrics) -> str:
        with saved_figure(out / "rank_map.png", figsize=(9.0, 3.5), ncols=2) as (rank_axis, map_axis):
            for geometry in GEOMETRIES:
                rank_axis.plot(DIMENSIONS, [metrics[geometry, d]["mean_rank"] for d in DIMENSIONS], marker="o", label=geometry)
                map_axis.plot(DIMENSIONS, [metrics[geometry, d]["map"] for d in DIMENSIONS], marker="o", label=geometry)
            rank_axis.set(xlabel="dimension", ylabel="mean rank (lower is better)", yscale="log", xticks=DIMENSIONS,
                          title="Reconstruction: mean rank")
            map_axis.set(xlabel="dimension", ylabel="MAP (higher is better)", ylim=(0, 1), xticks=DIMENSIONS,
                         title="Reconstruction: MAP")
        return "rank_map.png"

    @staticmethod
    def _plot_training(out, histories) -> str:
        with saved_figure(out / "training_loss.png") as axis:
            for (geometry, dim), history in histories.items():
                if dim == 5:
                    axis.plot([r["epoch"] for r in history], [r["train_loss"] for r in history], label=f"{geometry} d=5")
            axis.set(xlabel="epoch", ylabel="ranking loss", yscale="log", title="Training loss (d = 5)")
        return "training_loss.png"
