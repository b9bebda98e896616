"""Graph Transformers and positional encodings: the karate club, and a task that cannot be solved without them (§5.4).

**Karate club.** Zachary's karate club (34 members, 78 friendships; torch-geometric's built-in ``KarateClub``:
one-hot node identities as features, 4 communities as labels, one labelled member per community) is classified
transductively from its 4 labelled nodes; the other 30 are the test set. Models, all 2 layers wide 16:

* ``transformer_lap``: :class:`gdl.graphs.TransformerGNNLayer` on the *complete* graph (every member attends to
  every member; the dense fast path), with the first 4 non-trivial Laplacian eigenvectors as positional
  encodings (:class:`gdl.graphs.LaplacianPE`, random sign flips in training) — Dwivedi & Bresson's graph
  Transformer;
* ``transformer_lap_fixed``: the same with the eigenvectors' canonical signs (largest entry positive) and no
  flips: the sign information is usable, at the price of depending on a convention;
* ``transformer_nope``: the same without positional encodings: the complete graph carries no structure, so
  nothing ties a test member to its community (the control);
* ``transformer_edges``: the same layer restricted to the friendship edges plus self-loops, no positional
  encodings: the attentional GNN flavour with dot-product attention (book eq. 36 on the given graph);
* ``gat``: gdl's attentional flavour :class:`gdl.graphs.flavours.AttentionalLayer` with GAT scores (Veličković et
  al. 2018; the same function as torch-geometric's ``GATConv``), two layers, 4 heads, ELU between them;
* ``transformer_lap_no_ids``, ``transformer_nope_no_ids``: ``transformer_lap`` and ``transformer_nope`` with the
  one-hot identities replaced by one constant feature, the measurement of why the PEs do nothing above.

Why the Laplacian PEs (with sign flips) do not beat the control on karate is measured in the report: every
Transformer fits the 4 labelled members exactly (training accuracy), with or without PEs, through their private
one-hot embedding columns, so nothing in the loss asks for the PEs; the PEs do hold the communities (a
nearest-labelled-member rule on them, with and without their signs); and once the identities are replaced by a
constant feature, the PEs are the only thing that tells members apart and the PE model beats the control.

**Cycles** (:func:`gdl.datasets.cycles.cycle_union_graphs`). Graphs of 24 nodes made of disjoint cycles of lengths
3–8, every node with feature 1 and the label of its cycle's length (6 classes); 128 training graphs, 64 test graphs.
Every node has degree 2 and the same feature, so 1-WL gives every node one colour: every message-passing GNN and
every Transformer without positional encodings outputs one vector for all nodes, and predicts one class (accuracy
at most the largest class share, reported). Models, 2 layers wide 32, 4 heads, pre-norm:

* ``cycles_transformer_nope`` / ``_lap`` / ``_rw``: :class:`gdl.graphs.GPS` with ``local=None`` (a graph Transformer:
  attention over the complete graph of each graph, the dense path), without PEs, with 8 Laplacian eigenvectors of
  the graph (canonical signs, random sign flips in training), or with 8 random-walk return probabilities (RWSE,
  standardised with the training set's mean and deviation per step);
* ``cycles_gps_lap`` / ``_rw``: GPS layers (:class:`gdl.graphs.GPSLayer`, GCN local branch + global attention, summed,
  then the feed-forward block) with the same encodings;
* ``cycles_gat``: two GAT layers, no encodings (blind by 1-WL).

The relabelling column permutes the test graphs (3 times), *recomputes* the encodings of the relabelled graphs and
compares predictions: random-walk encodings are exact invariants, Laplacian eigenvectors are fixed only up to sign
and, for repeated eigenvalues (one zero eigenvalue per cycle, a double eigenvalue per frequency of each cycle), up to
a rotation of the eigenspace, which sign flips do not teach the model to ignore.

Training: karate full batch, AdamW lr 0.01, weight decay 5e-4, 100 epochs; cycles batches of 32 graphs, AdamW lr
3e-3, weight decay 1e-4, 60 epochs. Seeds: karate 4 (quick) / 50 (full), cycles 2 / 10. Small graphs: training
runs on one CPU thread (restored afterwards); with two threads on a busy machine, every tiny scatter waits for a
descheduled thread. No paper reports these settings, so there is no paper column.
"""

from __future__ import annotations

import functools
import statistics

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from torch_geometric.data import Batch, Data
from torch_geometric.utils import add_self_loops

from gdl.core.runtime import single_threaded
from gdl.datasets.cycles import CYCLE_LENGTHS, cycle_union_graphs
from gdl.datasets.graphs import load_karate_club
from gdl.graphs import GPS, AttentionalGNN, GraphField, Permutations, laplacian_eigenvectors, random_walk_encoding
from gdl.graphs import GraphTransformer as GraphTransformerNetwork
from gdl.train import TrainConfig

from .base import Experiment, Result, Row, Settings, Task, init_model
from .plotting import saved_figure

__all__ = ["GraphTransformer", "GATNet", "CycleModel", "karate_club", "with_graph_inputs", "node_step", "cycle_data",
           "pe_nearest_member", "GraphTransformerExperiment"]

PE_DIM = 4
WIDTH = 16
EPOCHS = 100
#: the cycles task: graphs, nodes per graph, encodings, model and training
CYCLE_TRAIN, CYCLE_TEST, CYCLE_NODES = 128, 64, 24
CYCLE_PE_DIM = CYCLE_WALK = 8
CYCLE_WIDTH, CYCLE_EPOCHS, CYCLE_BATCH, CYCLE_LR = 32, 60, 32, 3e-3
#: the local flavour of the GPS models on the cycles task
CYCLE_LOCAL = "gcn"
#: relabellings of the test graphs in the report's relabelling column of the cycles task
CYCLE_RELABELLINGS = 3


def karate_club(pe_dim: int = PE_DIM) -> Data:
    """KarateClub with ``lap_pe [N, pe_dim]`` (Laplacian eigenvectors) and ``attention_edge_index`` (edges + self-loops)."""
    return with_graph_inputs(load_karate_club("communities"), pe_dim)


def with_graph_inputs(data: Data, pe_dim: int = PE_DIM) -> Data:
    """Add the models' graph inputs to ``data`` (in place): ``lap_pe`` and ``attention_edge_index``."""
    _, data.lap_pe = laplacian_eigenvectors(data.edge_index, data.num_nodes, pe_dim)
    data.attention_edge_index, _ = add_self_loops(data.edge_index, num_nodes=data.num_nodes)
    return data


def pe_nearest_member(data: Data, mode: str) -> float:
    """Test accuracy of labelling every unlabelled member like the labelled member nearest to it in PE space.

    ``mode``: ``"signed"`` (Euclidean distance of the eigenvectors with their canonical signs), ``"absolute"``
    (of |φ|, invariant to every sign) or ``"inner"`` (largest ⟨φ_i, φ_j⟩, invariant to flipping a column, which
    changes φ_i and φ_j alike). Uses no training: what the PEs say about the communities, by themselves.
    """
    pe, train = data.lap_pe, data.train_mask
    if mode == "inner":
        nearest = (pe[~train] @ pe[train].T).argmax(1)
    elif mode in ("signed", "absolute"):
        features = pe if mode == "signed" else pe.abs()
        nearest = torch.cdist(features[~train], features[train]).argmin(1)
    else:
        raise ValueError(f"mode must be 'signed', 'absolute' or 'inner', got {mode!r}")
    return float((data.y[train][nearest] == data.y[~train]).float().mean())


class GraphTransformer(nn.Module):
    """Node classifier: linear embedding (+ Laplacian PE) → TransformerGNNLayers → linear head, on a ``Data``.

    The network is :class:`gdl.graphs.GraphTransformer` (a registered blueprint, ``self.network``); this module reads
    its inputs from the ``Data``.

    Args:
        in_features, num_classes: sizes of the task.
        graph: ``"complete"`` (every node attends to every node) or ``"edges"`` (the graph's edges + self-loops).
        pe_dim: number of Laplacian eigenvectors added as positional encodings (0: none).
        sign_flip: flip the eigenvectors' signs at random in training.
        width, nhead, num_layers: the Transformer's sizes (feed-forward 2 · width, pre-norm).

    Shapes:
        a ``Data``/``Batch`` with ``x [N, in_features]`` (and ``lap_pe``, ``attention_edge_index``) → ``[N, num_classes]``.
    """

    def __init__(self, in_features: int, num_classes: int, graph: str = "complete", pe_dim: int = 0, width: int = WIDTH,
                 nhead: int = 4, num_layers: int = 2, sign_flip: bool = True):
        super().__init__()
        if graph not in ("complete", "edges"):
            raise ValueError(f"graph must be 'complete' or 'edges', got {graph!r}")
        self.graph = graph
        self.network = GraphTransformerNetwork(in_features, num_classes, width, nhead, num_layers, pe_dim=pe_dim,
                                               sign_flip=sign_flip, dim_feedforward=2 * width, norm_first=True)

    def forward(self, data: Data) -> torch.Tensor:
        edge_index = data.attention_edge_index if self.graph == "edges" else None
        if edge_index is None and getattr(data, "num_graphs", 1) != 1:
            raise ValueError("the complete-graph model attends within one graph; got a batch of several")
        signal = (data.x, data.lap_pe) if self.network.pe_dim else (data.x,)
        return self.network(*signal, edge_index)


class GATNet(nn.Module):
    """Two GAT layers (gdl's attentional flavour; 4 heads of width/4, ELU between them), a graph attention network:
    :class:`gdl.graphs.AttentionalGNN` (a registered blueprint, ``self.network``) on a ``Data``."""

    def __init__(self, in_features: int, num_classes: int, width: int = WIDTH, heads: int = 4):
        super().__init__()
        self.network = AttentionalGNN(in_features, width, num_classes, num_layers=2, heads=heads, activation="elu",
                                      score="gat")

    def forward(self, data: Data) -> torch.Tensor:
        return self.network(data.x, data.edge_index)


class CycleModel(nn.Module):
    """A node classifier of the cycles task on a ``Batch``: :class:`gdl.graphs.GPS` (``self.network``) with an optional
    encoding read from the batch, or ``kind="gat"``.

    Args:
        kind: ``"transformer"`` (GPS layers without a local branch: attention within every graph), ``"gps"`` (local
            :data:`CYCLE_LOCAL` flavour + attention) or ``"gat"`` (two GAT layers; no encoding).
        encoding: ``None``, ``"lap"`` (``batch.lap_pe``, random sign flips in training) or ``"rw"`` (``batch.rw_pe``).
        num_classes, width, nhead, num_layers: sizes.

    Shapes:
        a ``Batch`` with ``x [N, 1]``, ``edge_index``, ``batch`` (and the encoding) → ``[N, num_classes]``.
    """

    def __init__(self, kind: str, encoding: str | None = None, num_classes: int = len(CYCLE_LENGTHS),
                 width: int = CYCLE_WIDTH, nhead: int = 4, num_layers: int = 2):
        super().__init__()
        if kind not in ("transformer", "gps", "gat") or encoding not in (None, "lap", "rw") or (kind == "gat" and encoding):
            raise ValueError(f"kind must be 'transformer', 'gps' or 'gat' and encoding None, 'lap' or 'rw' (none for "
                             f"'gat'), got kind={kind!r}, encoding={encoding!r}")
        self.kind, self.encoding = kind, encoding
        if kind == "gat":
            self.network = AttentionalGNN(1, width, num_classes, num_layers=num_layers, heads=nhead, score="gat")
        else:
            pe_dim = {None: 0, "lap": CYCLE_PE_DIM, "rw": CYCLE_WALK}[encoding]
            self.network = GPS(1, num_classes, width, nhead, num_layers, local=None if kind == "transformer" else
                               CYCLE_LOCAL, pe_dim=pe_dim, sign_flip=encoding == "lap", norm_first=True)

    def forward(self, data: Data) -> torch.Tensor:
        if self.kind == "gat":
            return self.network(data.x, data.edge_index)
        encoding = (data[f"{self.encoding}_pe"],) if self.encoding else ()
        return self.network(data.x, *encoding, data.edge_index, getattr(data, "batch", None))


class OneBatch(Dataset):
    """A one-item data set holding an already collated batch: full-graph training re-collates nothing per step."""

    def __init__(self, batch: Batch):
        self.batch = batch

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> Batch:
        return self.batch

    @staticmethod
    def collate(items: list) -> Batch:
        return items[0]


def node_step(model: nn.Module, data: Batch) -> dict[str, torch.Tensor]:
    """Cross-entropy and accuracy on the nodes selected by ``data.loss_mask``."""
    logits = model(data)[data.loss_mask]
    labels = data.y[data.loss_mask]
    return {"loss": F.cross_entropy(logits, labels), "accuracy": (logits.argmax(-1) == labels).float().mean()}


def _standardise(graphs: list[Data], mean: torch.Tensor, std: torch.Tensor) -> list[Data]:
    for graph in graphs:
        graph.rw_pe = (graph.rw_pe - mean) / std
    return graphs


@functools.lru_cache(maxsize=4)
def cycle_data(seed: int) -> tuple[list[Data], list[Data], tuple[torch.Tensor, torch.Tensor]]:
    """The cycles task's training and test graphs for ``seed`` (test graphs from the seed 10,000 + ``seed``), every
    node in the loss (``loss_mask``), ``rw_pe`` standardised per step with the training graphs' mean and deviation
    (returned too: relabelled graphs are standardised alike). Cached: every model of a seed sees the same graphs."""
    train = cycle_union_graphs(CYCLE_TRAIN, CYCLE_NODES, pe_dim=CYCLE_PE_DIM, walk_length=CYCLE_WALK, seed=seed)
    test = cycle_union_graphs(CYCLE_TEST, CYCLE_NODES, pe_dim=CYCLE_PE_DIM, walk_length=CYCLE_WALK, seed=10_000 + seed)
    walks = torch.cat([graph.rw_pe for graph in train])
    stats = (walks.mean(0), walks.std(0).clamp(min=1e-6))
    for graph in train + test:
        graph.loss_mask = torch.ones(graph.num_nodes, dtype=torch.bool)
    return _standardise(train, *stats), _standardise(test, *stats), stats


class GraphTransformerExperiment(Experiment):
    name = "graph_transformer"
    title = "Graph Transformers and positional encodings: karate club, and cycles that need them (GPS, GAT)"
    book_section = "§5.4"
    karate_models = ("transformer_lap", "transformer_lap_fixed", "transformer_nope", "transformer_edges", "gat",
                     "transformer_lap_no_ids", "transformer_nope_no_ids")
    cycle_models = ("cycles_transformer_nope", "cycles_transformer_lap", "cycles_transformer_rw", "cycles_gps_lap",
                    "cycles_gps_rw", "cycles_gat")
    models = karate_models + cycle_models

    @staticmethod
    def build_model(model: str, data: Data) -> nn.Module:
        if model.startswith("cycles_"):
            kind, _, encoding = model.removeprefix("cycles_").partition("_")
            return CycleModel(kind, None if encoding in ("", "nope") else encoding)
        classes = int(data.y.max()) + 1
        if model == "gat":
            return GATNet(data.num_features, classes)
        graph = "edges" if model == "transformer_edges" else "complete"
        return GraphTransformer(data.num_features, classes, graph, PE_DIM if model.startswith("transformer_lap") else 0,
                                sign_flip=model != "transformer_lap_fixed")

    @staticmethod
    def karate_data(model: str) -> Data:
        """KarateClub with the model's inputs; the ``_no_ids`` models get one constant feature instead of identities."""
        data = karate_club()
        if model.endswith("_no_ids"):
            data.x = torch.ones(data.num_nodes, 1)
        return data

    def make_task(self, model: str, settings: Settings) -> Task:
        if model.startswith("cycles_"):
            train_graphs, test_graphs, _ = cycle_data(settings.seed)
            # evaluated once, after the last epoch (the report's number): the test set does not steer training
            config = TrainConfig(epochs=CYCLE_EPOCHS, batch_size=CYCLE_BATCH, eval_batch_size=CYCLE_TEST, lr=CYCLE_LR,
                                 weight_decay=1e-4, seed=settings.seed, device=settings.device, progress=False, threads=1,
                                 val_every=CYCLE_EPOCHS)
            return Task(init_model(settings.seed, self.build_model, model, train_graphs[0]), node_step, list(train_graphs),
                        list(test_graphs), config, collate_fn=Batch.from_data_list)
        data = self.karate_data(model)
        train, test = data.clone(), data.clone()
        train.loss_mask, test.loss_mask = data.train_mask, ~data.train_mask
        # a 34-node graph: one thread is fastest on the CPU
        config = TrainConfig(epochs=EPOCHS, batch_size=1, eval_batch_size=1, lr=0.01, weight_decay=5e-4,
                             seed=settings.seed, device=settings.device, progress=False, threads=1)
        return Task(init_model(settings.seed, self.build_model, model, data), node_step,
                    OneBatch(Batch.from_data_list([train])), OneBatch(Batch.from_data_list([test])), config,
                    collate_fn=OneBatch.collate)

    def run(self, settings: Settings) -> Result:
        out = self.output_dir(settings)
        accuracies: dict[str, list[float]] = {name: [] for name in self.models}
        train_accuracies: dict[str, list[float]] = {name: [] for name in self.models}
        curves: dict[str, list[float]] = {}
        trained: dict[str, nn.Module] = {}
        seed_counts = {}
        for group, (quick, full) in ((self.karate_models, (4, 50)), (self.cycle_models, (2, 10))):
            seeds = range(settings.seed, settings.seed + settings.repeats(quick, full))
            for model_name in group:
                seed_counts[model_name] = len(seeds)
                for seed in seeds:
                    # the first seed's test curve is plotted; the others are evaluated after their last epoch only
                    # (evaluation draws no randomness: the trained models are the same)
                    overrides = None if seed == settings.seed else {"val_every": EPOCHS}
                    trainer = self.train_model(model_name, settings.seeded(seed), overrides=overrides)
                    history = trainer.history
                    accuracies[model_name].append(history[-1]["val_accuracy"])
                    train_accuracies[model_name].append(history[-1]["train_accuracy"])
                    if seed == settings.seed:
                        curves[model_name] = [record.get("val_accuracy", float("nan")) for record in history]
                        trained[model_name] = trainer.model.eval().cpu()
        with single_threaded():  # small graphs: one thread is fastest on the CPU
            relabelling = {name: self._relabelling(model, data=self.karate_data(name))
                           for name, model in trained.items() if name in self.karate_models}
            _, test_graphs, stats = cycle_data(settings.seed)
            test_graphs = test_graphs[:settings.size(len(test_graphs))]
            moved = self._relabelled_cycles(test_graphs, stats)
            relabelling.update({name: self._cycle_relabelling(model, test_graphs, moved)
                                for name, model in trained.items() if name in self.cycle_models})

        rows = []
        for model_name in self.models:
            values = accuracies[model_name]
            rows.append(Row(model_name, f"test accuracy, mean over {len(values)} seeds", statistics.mean(values), "{:.1%}"))
            rows.append(Row(model_name, "test accuracy, std over seeds", statistics.stdev(values) if len(values) > 1 else 0.0,
                            "{:.1%}"))
            rows.append(Row(model_name, "training accuracy, last epoch (training mode, mean)",
                            statistics.mean(train_accuracies[model_name]), "{:.1%}"))
            count = 20 if model_name in self.karate_models else CYCLE_RELABELLINGS
            rows.append(Row(model_name, f"predictions kept under {count} relabellings (encodings recomputed)",
                            relabelling[model_name], "{:.1%}"))
        karate = karate_club()
        nearest = {mode: pe_nearest_member(karate, mode) for mode in ("signed", "absolute", "inner")}
        for mode, label in (("signed", "signed eigenvectors (canonical signs)"), ("absolute", "|eigenvectors| (sign-free)"),
                            ("inner", "largest ⟨φ_i, φ_j⟩ (sign-free)")):
            rows.append(Row("karate_pe_probe", f"nearest labelled member by {label}: test accuracy", nearest[mode],
                            "{:.1%}"))
        labels = torch.cat([graph.y for graph in test_graphs])
        ceiling = float(torch.bincount(labels).max()) / labels.numel()
        rows.append(Row("cycles_data", "largest class share of the test nodes (the most a blind model gets)", ceiling,
                        "{:.1%}"))
        plots = [self._plot(out, curves, accuracies)]
        mean = {name: statistics.mean(values) for name, values in accuracies.items()}
        train_mean = {name: statistics.mean(values) for name, values in train_accuracies.items()}
        karate_seeds, cycle_seeds = seed_counts["transformer_lap"], seed_counts["cycles_gat"]
        setting = (f"Karate club (34 nodes, 4 classes, 4 labelled nodes, 30 test nodes): {EPOCHS} full-batch epochs, AdamW "
                   f"lr 0.01, weight decay 5e-4, width {WIDTH}, 2 layers, {karate_seeds} seeds, {PE_DIM} Laplacian "
                   f"eigenvectors. Cycles: {CYCLE_TRAIN} training and {CYCLE_TEST} test graphs of {CYCLE_NODES} nodes "
                   f"(cycles of lengths {CYCLE_LENGTHS[0]}–{CYCLE_LENGTHS[-1]}, label = the node's cycle length), "
                   f"{CYCLE_EPOCHS} epochs of batches of {CYCLE_BATCH} graphs, AdamW lr 3e-3, weight decay 1e-4, width "
                   f"{CYCLE_WIDTH}, 4 heads, 2 pre-norm layers, {cycle_seeds} seeds; encodings: {CYCLE_PE_DIM} Laplacian "
                   f"eigenvectors (normalised Laplacian, canonical signs, random sign flips in training) or "
                   f"{CYCLE_WALK}-step random-walk return probabilities (standardised); GPS local branch: "
                   f"{CYCLE_LOCAL.upper()}")
        notes = (
            "Positional encodings used: Laplacian eigenvectors (the k eigenvectors of L = I − D^{-1/2} A D^{-1/2} after "
            "the first, each with its largest entry made positive; LaplacianPE flips every column's sign at random in "
            "training so that the model cannot rely on that convention, except in transformer_lap_fixed, which keeps "
            "the canonical signs) and random-walk return probabilities (RWSE, [P_ii, (P²)_ii, …], P = D^{-1} A: exact "
            "invariants, no sign or basis to choose). Sign flips handle the sign ambiguity only; the basis of a "
            "repeated eigenvalue stays arbitrary, and the relabelling column measures what that costs. "
            f"Karate: every Transformer fits the 4 labelled members (training accuracy {train_mean['transformer_nope']:.0%} "
            f"without PEs, {train_mean['transformer_lap']:.0%} with them) through their private one-hot embedding columns, "
            "so the loss never asks for the PEs, and an unlabelled member's prediction comes from its own untrained "
            f"column: transformer_lap {mean['transformer_lap']:.1%} vs transformer_nope {mean['transformer_nope']:.1%}. "
            "The PEs do hold the communities: labelling each member like the nearest labelled one gives "
            f"{nearest['signed']:.1%} with signed eigenvectors, {nearest['absolute']:.1%} with |φ| and "
            f"{nearest['inner']:.1%} with the sign-free ⟨φ_i, φ_j⟩, and with fixed canonical signs the Transformer uses "
            f"them ({mean['transformer_lap_fixed']:.1%}). With one constant feature instead of the identities the PEs "
            f"are what tells members apart: transformer_lap_no_ids {mean['transformer_lap_no_ids']:.1%} against "
            f"transformer_nope_no_ids {mean['transformer_nope_no_ids']:.1%} (it predicts one class). "
            "Cycles: every node has degree 2 and feature 1, so 1-WL colours all nodes alike and every model without "
            f"encodings predicts one class ({ceiling:.1%} at most: cycles_transformer_nope "
            f"{mean['cycles_transformer_nope']:.1%}, cycles_gat {mean['cycles_gat']:.1%}). Random-walk encodings decide "
            "the cycle length exactly ((P^t)_ii first differs from the infinite path's at t = L): "
            f"cycles_transformer_rw {mean['cycles_transformer_rw']:.1%}, cycles_gps_rw {mean['cycles_gps_rw']:.1%}. "
            "Laplacian eigenvectors help but are ambiguous here: each cycle contributes one eigenvector to the "
            "eigenvalue 0 and a pair (sine, cosine) to each of its other eigenvalues, so the computed eigenvectors are "
            f"fixed only up to rotations of those eigenspaces: cycles_transformer_lap {mean['cycles_transformer_lap']:.1%}, "
            f"and only {relabelling['cycles_transformer_lap']:.1%} of its predictions survive a relabelling (the "
            "recomputed eigenvectors come out in another basis). GPS adds a local GCN branch, which sets a node's "
            "encoding beside its neighbours' (L φ = λ φ: the eigenvalue does not depend on the basis): cycles_gps_lap "
            f"{mean['cycles_gps_lap']:.1%}, {relabelling['cycles_gps_lap']:.1%} kept under relabelling. Training "
            "accuracy is the last epoch's, in training mode (with the random sign flips). The attentional-flavour "
            "reference is gdl's AttentionalLayer with GAT scores (= torch-geometric's GATConv).")
        return Result(self.name, self.title, settings.mode, setting, rows, plots, notes)

    @staticmethod
    @torch.no_grad()
    def _relabelling(model: nn.Module, count: int = 20, data: Data | None = None) -> float:
        """Fraction of (relabelling, node) pairs whose predicted class follows the node (karate; ``data``: the
        unlabelled graph with the model's features, default the karate club)."""
        data = load_karate_club("communities") if data is None else data
        data = Data(x=data.x, edge_index=data.edge_index, y=data.y)
        reference = model(Batch.from_data_list([with_graph_inputs(data.clone())])).argmax(-1)
        relabel = GraphField(Permutations(data.num_nodes))
        kept = []
        # a few relabellings of one 34-node graph (not a loop inside a forward pass); the inputs are recomputed
        for g in relabel.group.sample(count, torch.Generator().manual_seed(0)):
            moved = with_graph_inputs(relabel.transform(data, g))
            kept.append((model(Batch.from_data_list([moved])).argmax(-1) == reference[g.data]).float().mean())
        return float(torch.stack(kept).mean())

    @staticmethod
    def _relabelled_cycles(graphs: list[Data], stats: tuple[torch.Tensor, torch.Tensor],
                           count: int = CYCLE_RELABELLINGS) -> list[tuple[list[Data], list[torch.Tensor]]]:
        """``count`` relabellings of every graph, with encodings recomputed from the relabelled edges (and ``rw_pe``
        standardised with ``stats``), and the permutation of each graph."""
        generator = torch.Generator().manual_seed(0)
        relabellings = []
        for _ in range(count):  # a few relabellings of 64 small graphs (not a loop inside a forward pass)
            moved, perms = [], []
            for graph in graphs:
                relabel = GraphField(Permutations(graph.num_nodes))
                g = relabel.group.sample(1, generator)[0]
                new = relabel.transform(graph, g)
                _, new.lap_pe = laplacian_eigenvectors(new.edge_index, new.num_nodes, CYCLE_PE_DIM)
                new.rw_pe = (random_walk_encoding(new.edge_index, new.num_nodes, CYCLE_WALK) - stats[0]) / stats[1]
                moved.append(new)
                perms.append(g.data)
            relabellings.append((moved, perms))
        return relabellings

    @staticmethod
    @torch.no_grad()
    def _cycle_relabelling(model: nn.Module, graphs: list[Data], relabellings: list) -> float:
        """Fraction of (relabelling, node) pairs of the test graphs whose predicted class follows the node."""
        reference = model(Batch.from_data_list(graphs)).argmax(-1)
        sizes = [graph.num_nodes for graph in graphs]
        offsets = torch.cumsum(torch.tensor([0] + sizes[:-1]), 0)
        kept = []
        for moved, perms in relabellings:
            index = torch.cat([perm + offset for perm, offset in zip(perms, offsets)])
            kept.append((model(Batch.from_data_list(moved)).argmax(-1) == reference[index]).float().mean())
        return float(torch.stack(kept).mean())

    def _plot(self, out, curves, accuracies) -> str:
        with saved_figure(out / "test_accuracy.png", figsize=(13.0, 3.6), ncols=3) as (left, middle, right):
            for model_name, curve in curves.items():
                if model_name in self.karate_models:
                    left.plot(range(1, len(curve) + 1), [100 * v for v in curve], label=model_name)
            left.set(xlabel="epoch", ylabel="test accuracy (%)", title="Karate club, one seed", ylim=(0, 100))
            for axis, names, title in ((middle, self.karate_models, "Karate club, all seeds"),
                                       (right, self.cycle_models, "Cycles, all seeds")):
                axis.boxplot([[100 * v for v in accuracies[name]] for name in names])
                axis.set_xticks(range(1, len(names) + 1), [name.replace("transformer_", "tf_").replace("cycles_", "")
                                                           for name in names], rotation=30)
                axis.set(ylabel="test accuracy (%)", title=title, ylim=(0, 104))  # 100 % stays visible
        return "test_accuracy.png"
