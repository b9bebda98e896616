"""Large synthetic graphs with a planted node-classification signal (stochastic block model).

Node v belongs to class ``y_v = v mod K``. Each node sends ``avg_degree`` edges;
each goes, with probability ``homophily``, to a uniformly random node of the
same class and otherwise to a uniformly random node. Features are a noisy copy
of a class prototype, ``x_v = μ_{y_v} + σ ε``, noisy enough that a node's own
features classify it poorly and its neighbourhood helps. Generated in a few
vectorised torch calls; deterministic from the seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # torch-geometric loads when the generator runs, not when the module is imported
    from torch_geometric.data import Data

__all__ = ["stochastic_block_graph"]


def stochastic_block_graph(num_nodes: int, num_classes: int = 8, avg_degree: int = 10, homophily: float = 0.8,
                           feature_dim: int = 32, noise: float = 3.0, seed: int = 0) -> Data:
    """A directed SBM graph with ``num_nodes · avg_degree`` edges, features ``x [N, F]``, labels ``y [N]``.

    Also sets boolean ``train_mask``/``val_mask``/``test_mask`` (60/20/20 split, random).
    """
    from torch_geometric.data import Data

    if num_nodes < num_classes or num_classes < 2:
        raise ValueError(f"need num_nodes ≥ num_classes ≥ 2, got num_nodes={num_nodes}, num_classes={num_classes}")
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f"homophily must be a probability, got {homophily}")
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_nodes) % num_classes
    source = torch.arange(num_nodes).repeat_interleave(avg_degree)
    same_class = torch.rand(len(source), generator=generator) < homophily
    members = (num_nodes - labels[source] - 1) // num_classes + 1  # size of the source's class
    same = labels[source] + num_classes * (torch.rand(len(source), generator=generator) * members).long()
    anywhere = torch.randint(0, num_nodes, (len(source),), generator=generator)
    target = torch.where(same_class, same, anywhere)
    prototypes = torch.randn(num_classes, feature_dim, generator=generator)
    features = prototypes[labels] + noise * torch.randn(num_nodes, feature_dim, generator=generator)
    split = torch.rand(num_nodes, generator=generator)
    return Data(x=features, y=labels, edge_index=torch.stack([source, target]), num_nodes=num_nodes,
                train_mask=split < 0.6, val_mask=(split >= 0.6) & (split < 0.8), test_mask=split >= 0.8)
