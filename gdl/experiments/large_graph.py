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

import torch
from torch import nn
from torch.utils.data import Dataset, Subset
from torch_geometric.nn import SAGEConv

from gdl.datasets.synthetic_graphs import stochastic_block_graph
from gdl.graphs import ConvolutionalGNN, NodeMLP
from gdl.graphs.neighbor_sampling import neighbor_loader
from gdl.train import TrainConfig, count_parameters

from .base import DRY_RUN_STEPS, Experiment, Result, Row, Settings, Task, init_model

__all__ = ["LargeGraph", "SampledNodes"]

FANOUTS = [10, 5]
BATCH_SIZE = 1024  # seed nodes per training step


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


def SAGE(in_channels: int, hidden: int, classes: int) -> ConvolutionalGNN:
    """h = ReLU(SAGE(x)); logits = SAGE(h) — two hops of mean aggregation: two ``SAGEConv`` (their initialisation)
    as a :class:`gdl.graphs.ConvolutionalGNN` (a registered blueprint; the same function)."""
    return ConvolutionalGNN.from_pyg([SAGEConv(in_channels, hidden), SAGEConv(hidden, classes)])


def MLP(in_channels: int, hidden: int, classes: int) -> NodeMLP:
    """The same widths without the edges (:class:`gdl.graphs.NodeMLP`, which takes and ignores ``edge_index``)."""
    return NodeMLP(in_channels, hidden, classes)


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
        """(nodes, epochs); a dry run's graph has 20 nodes per seed node of its training steps (the data, not the
        configuration, is cut: 2M nodes take GBs of memory to generate and index)."""
        nodes, epochs = (150_000, 2) if settings.quick else (2_000_000, 5)
        if settings.dry_run:
            nodes = min(nodes, 20 * DRY_RUN_STEPS * BATCH_SIZE)
        return nodes, epochs

    def make_task(self, model: str, settings: Settings) -> Task:
        """One model; the validation set is the test seeds (sampled with their own loader), scored after the last epoch."""
        num_nodes, epochs = self.sizes(settings)
        data = stochastic_block_graph(num_nodes, seed=settings.seed)
        train = SampledNodes(data, data.train_mask.nonzero().flatten(), seed=settings.seed)
        test = SampledNodes(data, data.test_mask.nonzero().flatten()[:20_000], seed=settings.seed + 1)
        network = init_model(settings.seed, SAGE if model == "sage" else MLP, data.num_features, 64, int(data.y.max()) + 1)
        config = TrainConfig(epochs=epochs, batch_size=BATCH_SIZE, eval_batch_size=2048, lr=5e-3, seed=settings.seed,
                             device=settings.device, progress=settings.progress, val_every=epochs)
        return Task(network, seed_node_step, train, test, config, collate_fn=train.collate, eval_collate_fn=test.collate)

    def run(self, settings: Settings) -> Result:
        rows, sizes = [], {}
        for model in self.models:
            trainer = self.train_model(model, settings)
            final = trainer.history[-1]
            seeds = len(trainer.train_set) * len(trainer.history)
            rows += [Row(model, "test accuracy (sampled neighbourhoods)", final["val_accuracy"], "{:.1%}"),
                     Row(model, "training seed nodes per second", seeds / trainer.train_seconds, "{:,.0f}")]
            sizes[model] = count_parameters(trainer.model)
        sampled = trainer.train_set.dataset if isinstance(trainer.train_set, Subset) else trainer.train_set
        graph = sampled.loader.data
        batch = sampled.collate(list(range(1024)))
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
