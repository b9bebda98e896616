"""Node classification on a graph too large for one batch: neighbour-sampled mini-batches (GraphSAGE).

A stochastic block graph (:func:`gdl.datasets.synthetic_graphs.stochastic_block_graph`) with a planted class
signal: node features alone are noisy, the neighbourhood is informative (80% of edges stay inside a class). Each
training step samples 10 then 5 incoming neighbours around 1,024 seed nodes with
:class:`gdl.graphs.neighbor_sampling.UniformNeighborSampler` inside torch-geometric's ``NodeLoader``, so a step
touches tens of thousands of nodes instead of the whole graph, and the same :class:`gdl.train.Trainer` runs it on
one process or under ``torchrun`` (the seed nodes are sharded like any data set).

* quick: 150,000 nodes, 1.5M edges, 2 epochs over the training nodes.
* full: 2,000,000 nodes, 20M edges, 5 epochs (a GPU, or patience).

Models: ``sage`` (two ``SAGEConv`` layers, mean aggregation) and ``mlp`` (the same widths, no edges). Not a book
figure: it shows that gdl's trainer scales to graphs beyond one batch.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.data import Dataset
from torch_geometric.nn import SAGEConv

from gdl.core import seeded
from gdl.datasets.synthetic_graphs import stochastic_block_graph
from gdl.graphs.neighbor_sampling import neighbor_loader
from gdl.train import TrainConfig, Trainer, count_parameters

from .base import Experiment, Result, Row, Settings, Task

__all__ = ["LargeGraph", "SampledNodes"]

FANOUTS = [10, 5]


class SampledNodes(Dataset):
    """Seed nodes as a data set whose batches are neighbour-sampled subgraphs (``collate`` samples around them)."""

    def __init__(self, data, nodes: torch.Tensor, seed: int):
        self.nodes = nodes
        # filter_per_worker: the loader's collate_fn returns the finished Data (features gathered)
        self.loader = neighbor_loader(data, FANOUTS, batch_size=1, input_nodes=nodes, seed=seed, filter_per_worker=True)

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, index: int) -> int:
        return index

    def collate(self, indices: list[int]):
        return self.loader.collate_fn(torch.tensor(indices))


class SAGE(nn.Module):
    """h = ReLU(SAGE(x)); logits = SAGE(h) — two hops of mean aggregation."""

    def __init__(self, in_channels: int, hidden: int, classes: int):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv(in_channels, hidden), SAGEConv(hidden, classes)

    def forward(self, x, edge_index):
        return self.conv2(torch.relu(self.conv1(x, edge_index)), edge_index)


class MLP(nn.Module):
    def __init__(self, in_channels: int, hidden: int, classes: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_channels, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, x, edge_index):
        return self.net(x)


def seed_node_step(model: nn.Module, batch) -> dict[str, torch.Tensor]:
    """Cross-entropy on the seed nodes (the first ``batch.batch_size`` nodes) of a sampled subgraph."""
    logits = model(batch.x, batch.edge_index)[: batch.batch_size]
    labels = batch.y[: batch.batch_size]
    return {"loss": nn.functional.cross_entropy(logits.float(), labels),
            "accuracy": (logits.argmax(-1) == labels).float().mean()}


class LargeGraph(Experiment):
    name = "large_graph"
    title = "Neighbour-sampled mini-batches on a graph with over a million edges"
    book_section = "§5.3 (scale)"
    models = ("sage", "mlp")

    def sizes(self, settings: Settings) -> tuple[int, int]:
        return (150_000, 2) if settings.quick else (2_000_000, 5)

    def task(self, model: str, settings: Settings) -> Task:
        if model not in self.models:
            raise ValueError(f"{self.name} has models {self.models}, got {model!r}")
        num_nodes, epochs = self.sizes(settings)
        data = stochastic_block_graph(num_nodes, seed=settings.seed)
        train = SampledNodes(data, data.train_mask.nonzero().flatten(), seed=settings.seed)
        test = SampledNodes(data, data.test_mask.nonzero().flatten()[:20_000], seed=settings.seed + 1)
        with seeded(torch.Generator().manual_seed(settings.seed)):
            network = (SAGE if model == "sage" else MLP)(data.num_features, 64, int(data.y.max()) + 1)
        config = TrainConfig(epochs=epochs, batch_size=1024, eval_batch_size=2048, lr=5e-3, seed=settings.seed,
                             device=settings.device, progress=settings.progress)
        return Task(network, seed_node_step, train, test, config, collate_fn=train.collate)

    def run(self, settings: Settings) -> Result:
        rows, sizes = [], {}
        for model in self.models:
            task = self.task(model, settings)
            start = time.perf_counter()
            trainer = Trainer(task.model, task.loss_fn, task.train_set, config=task.config, collate_fn=task.collate_fn)
            trainer.fit(resume=False)
            seconds = time.perf_counter() - start
            trainer.collate_fn = task.val_set.collate  # evaluation samples around the test seeds
            test = trainer.evaluate(task.val_set, "test")
            rows += [Row(model, "test accuracy (sampled neighbourhoods)", test["accuracy"], "{:.1%}"),
                     Row(model, "training seed nodes per second", len(task.train_set) * task.config.epochs / seconds,
                         "{:,.0f}")]
            sizes[model] = count_parameters(task.model)
        graph = task.train_set.loader.data
        batch = task.train_set.collate(list(range(1024)))
        rows.append(Row("sage", "nodes touched per batch of 1,024 seeds", batch.num_nodes, "{:,.0f}",
                        note=f"of {graph.num_nodes:,} nodes and {graph.num_edges:,} edges in the graph"))
        num_nodes, epochs = self.sizes(settings)
        setting = (f"stochastic block graph, {num_nodes:,} nodes, {graph.num_edges:,} directed edges, 8 classes, "
                   f"homophily 0.8; fan-outs {FANOUTS}, batches of 1,024 seeds, {epochs} epochs, AdamW lr 5e-3; "
                   f"parameters: sage {sizes['sage']:,}, mlp {sizes['mlp']:,}")
        notes = ("No paper figure: this example shows neighbour sampling at scale. Node features alone are noisy "
                 "(the MLP's accuracy); aggregating sampled neighbours recovers the class (GraphSAGE's accuracy). "
                 "Test accuracy is measured on sampled neighbourhoods of 20,000 test nodes.")
        return Result(self.name, self.title, settings.mode, setting, rows, [], notes)
