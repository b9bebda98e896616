"""Time per epoch of the Poincaré embedding of the WordNet mammal closure: Riemannian optimisers against Adam.

One epoch = one pass over the 6,448 closure pairs in batches of 512, 50 negatives each, the ranking loss of
:mod:`gdl.geodesics.embedding`, forward + backward + optimiser step, 10-dimensional float64 embeddings of the 1,170
synsets. Side by side, in one process:

* gdl: geoopt's ``RiemannianSGD`` / ``RiemannianAdam`` built by :func:`gdl.geodesics.riemannian_optimizer`
  (Riemannian gradient, retraction, and gdl's per-step guards) on the Poincaré ball;
* peer: ``torch.optim.Adam`` on the Euclidean embedding (squared distance), the paper's baseline;
* the guards' own cost: gdl's optimiser against the bare geoopt ``RiemannianAdam`` on the same ball.

Needs the WordNet files (``apt-get install wordnet-base``); falls back to a balanced tree of similar size.
Run: ``python benchmarks/bench_riemannian.py [--device cuda]``.
"""

from __future__ import annotations

import geoopt
import torch
from timing import main, measure, row

from gdl.datasets.mnist import MissingDataError
from gdl.datasets.wordnet import balanced_tree, wordnet_closure
from gdl.geodesics.embedding import HierarchyEmbedding, HierarchyLoss
from gdl.geodesics.optim import riemannian_optimizer

BATCH, NEGATIVES, DIM = 512, 50, 10


def _hierarchy():
    try:
        return wordnet_closure("mammal.n.01"), "WordNet mammals"
    except MissingDataError:
        return balanced_tree(4, 5), "balanced 4-ary tree (WordNet absent)"


def _epoch(model, optimizer, loss, edges):
    def run():
        order = torch.randperm(edges.shape[0], device=edges.device)
        for start in range(0, edges.shape[0], BATCH):
            batch = edges[order[start:start + BATCH]]
            optimizer.zero_grad(set_to_none=True)
            loss(model, batch)["loss"].backward()
            optimizer.step()
    return run


def run(device: torch.device) -> list[dict]:
    hierarchy, data = _hierarchy()
    edges = hierarchy.closure.to(device)
    loss = HierarchyLoss(hierarchy, NEGATIVES)
    loss.keys = loss.keys.to(device)
    timings = {}

    def model(geometry):
        torch.manual_seed(0)
        return HierarchyEmbedding(hierarchy.num_nodes, DIM, geometry).double().to(device)

    for name, geometry, build in [
        ("RiemannianSGD", "poincare", lambda m: riemannian_optimizer(m, "sgd", lr=0.3)),
        ("RiemannianAdam", "poincare", lambda m: riemannian_optimizer(m, "adam", lr=0.1)),
        ("bare geoopt RiemannianAdam", "poincare", lambda m: geoopt.optim.RiemannianAdam(m.parameters(), lr=0.1)),
        ("Adam", "euclidean", lambda m: torch.optim.Adam(m.parameters(), lr=0.1)),
    ]:
        embedding = model(geometry)
        timings[name] = measure(_epoch(embedding, build(embedding), loss, edges), warmup=1, repeats=5, device=device)
    label = f"epoch, {data} ({hierarchy.num_nodes} nodes, {hierarchy.num_edges} pairs), d={DIM}, float64"
    rows = []
    for ours, peer, peer_name in [("RiemannianSGD", "Adam", "torch Adam, Euclidean embedding"),
                                  ("RiemannianAdam", "Adam", "torch Adam, Euclidean embedding"),
                                  ("RiemannianAdam", "bare geoopt RiemannianAdam", "geoopt RiemannianAdam, no guards")]:
        rows.append(row(f"{ours} (Poincaré ball), {label}", timings[ours], peer_name, timings[peer]))
    return rows


if __name__ == "__main__":
    main(run)
