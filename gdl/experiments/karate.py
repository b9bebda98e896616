"""Zachary's karate club: semi-supervised node classification with a GCN (Kipf & Welling 2017; book §5.3).

The graph is the only information: node features are one-hot identities, and one member per class is labelled.
A two-layer GCN (:class:`gdl.graphs.ConvolutionalLayer`, GCN normalisation with self-loops, ReLU in between)
spreads the four (or two) labels along the friendships; an MLP on the same features sees a new one-hot vector for
every unlabelled member and cannot do better than guessing. Two label sets (:func:`gdl.datasets.load_karate_club`):

* ``communities``: torch-geometric's ``KarateClub`` labels (4 modularity-based communities), nodes 0, 4, 8, 24 labelled;
* ``faction``: the club each member joined after the split (Zachary 1977), the instructor (0) and the
  administrator (33) labelled.

Accuracy on the unlabelled members, mean ± standard deviation over 10 initialisations (quick) or 100 (full); 200
full-batch AdamW steps, lr 0.01, weight decay 5·10⁻⁴ on every layer, hidden width 16, dropout 0.5 (Kipf & Welling's
citation-network settings, where Adam's L2 penalty falls on the first layer only). No paper number exists for this
graph; it is the GCN demo, checked against the MLP.
"""

from __future__ import annotations

import statistics

import torch
from torch import nn
from torch.utils.data import Dataset

from gdl.datasets.graphs import KARATE_LABELS, load_karate_club
from gdl.graphs import ConvolutionalGNN
from gdl.graphs import NodeMLP as GraphNodeMLP
from gdl.train import TrainConfig

from .base import Experiment, Result, Row, Settings, Task, init_model
from .plotting import saved_figure

__all__ = ["KarateClub", "GCN", "NodeMLP", "masked_node_step", "MaskedGraph"]

HIDDEN, DROPOUT, EPOCHS = 16, 0.5, 200


def GCN(in_channels: int, classes: int, hidden: int = HIDDEN, dropout: float = DROPOUT) -> ConvolutionalGNN:
    """ŷ = Â ReLU(Â X W₁ + b₁) W₂ + b₂ with Â = D̂^{-1/2}(A + I)D̂^{-1/2} (dropout before each layer): a
    :class:`gdl.graphs.ConvolutionalGNN` (a registered blueprint); ``model.hidden(x, edge_index)`` is ReLU(Â X W₁ + b₁)."""
    return ConvolutionalGNN(in_channels, hidden, classes, num_layers=2, dropout=dropout)


def NodeMLP(in_channels: int, classes: int, hidden: int = HIDDEN, dropout: float = DROPOUT) -> GraphNodeMLP:
    """The same widths without the graph: ŷ = W₂ ReLU(W₁ x + b₁) + b₂ per node (dropout before each layer), a
    :class:`gdl.graphs.NodeMLP` that takes ``(x, edge_index)`` and ignores the edges."""
    return GraphNodeMLP(in_channels, hidden, classes, num_layers=2, dropout=dropout)


class MaskedGraph(Dataset):
    """A one-item data set: the whole graph, with ``mask`` marking the nodes whose loss/accuracy count."""

    def __init__(self, data, mask: torch.Tensor):
        self.data = data.clone()
        self.data.mask = mask
        self.data.batch_size = int(mask.sum())  # what the trainer weights metrics by

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int):
        return self.data

    @staticmethod
    def collate(items: list):
        return items[0]


def masked_node_step(model: nn.Module, data) -> dict[str, torch.Tensor]:
    """Cross-entropy and accuracy on the masked nodes of a full-graph batch."""
    logits = model(data.x, data.edge_index)[data.mask]
    labels = data.y[data.mask]
    return {"loss": nn.functional.cross_entropy(logits.float(), labels),
            "accuracy": (logits.argmax(-1) == labels).float().mean()}


class KarateClub(Experiment):
    name = "karate"
    title = "Karate club: semi-supervised node classification, GCN vs MLP"
    book_section = "§5.3"
    models = ("gcn", "mlp")

    def seeds(self, settings: Settings) -> int:
        return settings.repeats(10, 100)

    def make_task(self, model: str, settings: Settings, labels: str = "communities") -> Task:
        """One model on one label set; the test members are the validation set, scored after the last epoch."""
        data = load_karate_club(labels)
        classes = int(data.y.max()) + 1
        network = init_model(settings.seed, GCN if model == "gcn" else NodeMLP, data.num_features, classes)
        # a 34-node graph: one thread is fastest on a CPU
        config = TrainConfig(epochs=EPOCHS, batch_size=1, lr=0.01, weight_decay=5e-4, seed=settings.seed,
                             device=settings.device, progress=False, val_every=EPOCHS, threads=1)
        return Task(network, masked_node_step, MaskedGraph(data, data.train_mask), MaskedGraph(data, data.test_mask),
                    config, collate_fn=MaskedGraph.collate)

    def run(self, settings: Settings) -> Result:
        out = self.output_dir(settings)
        accuracies: dict[tuple[str, str], list[float]] = {}
        trained, unlabelled = {}, {}
        for labels in KARATE_LABELS:
            for model in self.models:
                for offset in range(self.seeds(settings)):
                    trainer = self.train_model(model, settings.seeded(settings.seed + offset), labels=labels)
                    accuracies.setdefault((labels, model), []).append(trainer.history[-1]["val_accuracy"])
                    if offset == 0:
                        trained[(labels, model)] = (trainer.model.eval(), trainer.train_set.data)
                        unlabelled[labels] = int(trainer.val_set.data.mask.sum())
        rows = []
        for (labels, model), values in accuracies.items():
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            rows.append(Row(model, f"test accuracy, {labels}", statistics.mean(values), "{:.1%}",
                            note=f"± {spread:.1%} over {len(values)} seeds, {unlabelled[labels]} unlabelled members"))
        plots = [self._plot_embedding(out, *trained[("communities", "gcn")])]
        setting = (f"{self.seeds(settings)} seeds × 2 label sets; {EPOCHS} full-batch AdamW steps, lr 0.01, weight decay "
                   f"5e-4, hidden {HIDDEN}, dropout {DROPOUT}; features: one-hot identities")
        notes = ("One labelled member per class; the rest are the test set. The MLP sees an unseen one-hot vector for "
                 "every test member, so its accuracy is that of a guess; the GCN's comes from the friendships alone. "
                 "No paper table exists for this demo (Kipf & Welling 2017 show it as a figure).")
        return Result(self.name, self.title, settings.mode, setting, rows, plots, notes)

    @staticmethod
    def _plot_embedding(out, model: GCN, data) -> str:
        """The GCN's hidden features of the 34 members, projected on their first two principal components."""
        device = next(model.parameters()).device
        with torch.no_grad():
            hidden = model.hidden(data.x.to(device), data.edge_index.to(device)).cpu()
        centred = hidden - hidden.mean(0)
        _, _, basis = torch.linalg.svd(centred, full_matrices=False)
        points = centred @ basis[:2].T
        with saved_figure(out / "gcn_embedding.png", figsize=(5.0, 4.0)) as axis:
            for source, target in data.edge_index.T.tolist():
                if source < target:
                    axis.plot(*points[[source, target]].T, color="grey", alpha=0.25, linewidth=0.7)
            axis.scatter(points[:, 0], points[:, 1], c=data.y, cmap="tab10", vmin=0, vmax=9, s=40, zorder=3)
            axis.scatter(*points[data.train_mask].T, facecolors="none", edgecolors="black", s=140, zorder=4,
                         label="labelled")
            axis.set(xlabel="PC 1", ylabel="PC 2", title="GCN hidden features (colour: community)")
        return "gcn_embedding.png"
