"""Neighbour-sampled mini-batches for node-level tasks on large graphs (GraphSAGE-style, Hamilton et al. 2017).

For a batch of seed nodes, hop h keeps at most ``num_neighbors[h]`` incoming
edges of every node reached so far (uniformly, without replacement), so a
mini-batch touches O(batch · Π fanouts) nodes however large the graph is.

The loader is torch-geometric's own :class:`~torch_geometric.loader.NodeLoader`
(batching, feature gathering, ``n_id``/``e_id``/``batch_size`` bookkeeping);
gdl supplies the sampler. torch-geometric's ``NeighborLoader`` needs the
compiled ``pyg-lib`` or ``torch-sparse`` packages, which PyPI does not carry;
:class:`UniformNeighborSampler` does the same job in vectorised torch (CSC
pointers, one random key per candidate edge, a sort, and a rank cut per hop,
no Python loop over nodes or edges).
"""

from __future__ import annotations

import torch
from torch_geometric.data import Data
from torch_geometric.loader import NodeLoader
from torch_geometric.sampler import BaseSampler, NodeSamplerInput, SamplerOutput

from gdl.core.checks import check_edge_index, check_int

__all__ = ["UniformNeighborSampler", "neighbor_loader"]


class UniformNeighborSampler(BaseSampler):
    """Uniform sampling of incoming neighbours, hop by hop (message flow ``edge_index[0] → edge_index[1]``).

    Args:
        data: the graph (only ``edge_index`` and ``num_nodes`` are read here).
        num_neighbors: fan-out per hop, e.g. ``[15, 10]``; ``-1`` keeps every neighbour.
        seed: seeds the sampler's own generator (two loaders with the same seed draw the same subgraphs).

    Sampled subgraphs list the seed nodes first (``n_id[:batch_size]``), then each hop's new nodes.
    """

    def __init__(self, data: Data, num_neighbors: list[int], seed: int = 0):
        super().__init__()
        fanouts = list(num_neighbors) if isinstance(num_neighbors, (list, tuple)) else []
        for hop, fanout in enumerate(fanouts):
            check_int(fanout, f"num_neighbors[{hop}]", -1)
        if not fanouts or 0 in fanouts:
            raise ValueError(f"num_neighbors must be a non-empty list of positive fan-outs (or -1), got {num_neighbors}")
        num_nodes = int(data.num_nodes)
        edge_index = check_edge_index(data.edge_index, num_nodes)
        self.num_neighbors = list(num_neighbors)
        self.num_nodes = num_nodes
        order = torch.argsort(edge_index[1], stable=True)  # CSC: incoming edges of each target are contiguous
        self.edge_ids = order
        self.sources = edge_index[0, order]
        self.pointers = torch.zeros(num_nodes + 1, dtype=torch.long)
        self.pointers[1:] = torch.cumsum(torch.bincount(edge_index[1], minlength=num_nodes), 0)
        self.generator = torch.Generator().manual_seed(seed)

    def _sample_hop(self, frontier: torch.Tensor, fanout: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(positions in CSC order, target index into ``frontier``) of the kept incoming edges."""
        start, degree = self.pointers[frontier], self.pointers[frontier + 1] - self.pointers[frontier]
        target = torch.repeat_interleave(torch.arange(len(frontier)), degree)
        offset = torch.arange(len(target)) - torch.repeat_interleave(torch.cumsum(degree, 0) - degree, degree)
        position = start[target] + offset
        if fanout != -1 and len(target):
            key = torch.rand(len(target), generator=self.generator, dtype=torch.float64) + target.double()
            shuffled = torch.argsort(key)  # random order within each target's block, blocks stay in order
            rank = torch.arange(len(target)) - torch.repeat_interleave(torch.cumsum(degree, 0) - degree, degree)
            keep = shuffled[rank < fanout]
            position, target = position[keep], target[keep]
        return position, target

    def sample_from_nodes(self, inputs: NodeSamplerInput) -> SamplerOutput:
        seeds = inputs.node.to(torch.long)
        local = torch.full((self.num_nodes,), -1, dtype=torch.long)
        local[seeds] = torch.arange(len(seeds))
        nodes, rows, cols, edges = [seeds], [], [], []
        num_sampled_nodes, num_sampled_edges = [len(seeds)], []
        frontier, count = seeds, len(seeds)
        for fanout in self.num_neighbors:
            position, target = self._sample_hop(frontier, fanout)
            source = self.sources[position]
            new = torch.unique(source[local[source] < 0])
            local[new] = torch.arange(count, count + len(new))
            count += len(new)
            rows.append(local[source])
            cols.append(local[frontier[target]])
            edges.append(self.edge_ids[position])
            nodes.append(new)
            num_sampled_nodes.append(len(new))
            num_sampled_edges.append(len(position))
            frontier = new
        return SamplerOutput(node=torch.cat(nodes), row=torch.cat(rows), col=torch.cat(cols), edge=torch.cat(edges),
                             num_sampled_nodes=num_sampled_nodes, num_sampled_edges=num_sampled_edges,
                             metadata=(inputs.input_id, inputs.time))


    def sample_from_edges(self, inputs, neg_sampling=None):
        raise NotImplementedError("UniformNeighborSampler samples around seed nodes; link-level sampling is not "
                                  "implemented (use a NodeLoader)")


def neighbor_loader(data: Data, num_neighbors: list[int], batch_size: int, input_nodes: torch.Tensor | None = None,
                    shuffle: bool = False, seed: int = 0, **kwargs) -> NodeLoader:
    """torch-geometric ``NodeLoader`` over seed nodes with :class:`UniformNeighborSampler`.

    Each batch is a ``Data`` whose first ``batch.batch_size`` nodes are the seeds; ``batch.n_id`` maps local to
    global node ids. Extra keyword arguments go to the ``DataLoader`` (e.g. ``num_workers``).
    """
    sampler = UniformNeighborSampler(data, num_neighbors, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    return NodeLoader(data, node_sampler=sampler, input_nodes=input_nodes, batch_size=batch_size, shuffle=shuffle,
                      generator=generator, **kwargs)
