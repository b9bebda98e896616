"""Small real graphs that ship with the installed packages (nothing is downloaded).

Zachary's karate club (Zachary 1977): 34 members of a university karate club, 78 friendships, observed before the
club split in two. The classic semi-supervised demo of graph convolutions (Kipf & Welling 2017): with one
labelled member per class and no features beyond identity, the friendships alone recover the groups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # torch-geometric loads when the loader runs, not when the module is imported
    from torch_geometric.data import Data

__all__ = ["load_karate_club", "KARATE_LABELS"]

#: the label sets :func:`load_karate_club` offers
KARATE_LABELS = ("communities", "faction")


def load_karate_club(labels: str = "communities") -> Data:
    """Zachary's karate club as an undirected ``Data`` (156 directed edges) with one-hot identity features.

    Args:
        labels: ``"communities"``: torch-geometric's built-in ``KarateClub`` (4 classes from a modularity-based
            clustering, one training node per class, as in the GCN demo); ``"faction"``: the club each member joined
            after the split (networkx's ``club`` attribute: 0 = Mr. Hi, 1 = Officer), training nodes 0 (the
            instructor) and 33 (the administrator).

    Returns:
        ``Data(x [34, 34], edge_index [2, 156], y [34], train_mask [34], test_mask [34])``; the test mask is every
        unlabelled node.
    """
    from torch_geometric.data import Data

    if labels == "communities":
        from torch_geometric.datasets import KarateClub

        data = KarateClub()[0]
        data = Data(x=data.x, edge_index=data.edge_index, y=data.y, train_mask=data.train_mask)
    elif labels == "faction":
        import networkx

        graph = networkx.karate_club_graph()
        edges = torch.tensor(list(graph.edges), dtype=torch.long).T
        edge_index = torch.cat([edges, edges.flip(0)], dim=1)
        y = torch.tensor([0 if graph.nodes[v]["club"] == "Mr. Hi" else 1 for v in range(graph.number_of_nodes())])
        train_mask = torch.zeros(graph.number_of_nodes(), dtype=torch.bool)
        train_mask[[0, 33]] = True
        data = Data(x=torch.eye(graph.number_of_nodes()), edge_index=edge_index, y=y, train_mask=train_mask)
    else:
        raise ValueError(f"labels must be one of {KARATE_LABELS}, got {labels!r}")
    data.test_mask = ~data.train_mask
    return data
