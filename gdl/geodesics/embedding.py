"""Embeddings of hierarchies in hyperbolic (or Euclidean) space: Nickel & Kiela (2017, 2018) (book §4.4).

A hierarchy is given by its transitive closure D = {(u, v) : u ≺ v} (:class:`gdl.datasets.wordnet.Hierarchy`).
Every node u gets a point θ_u of a manifold M; training pulls related nodes together and pushes the others apart
with the softmax ranking loss of Nickel & Kiela (2017, eq. 6):

    L = − Σ_{(u, v) ∈ D} log  e^{−d(θ_u, θ_v)} / Σ_{v' ∈ N(u) ∪ {v}} e^{−d(θ_u, θ_{v'})},

where N(u) are sampled negatives: nodes v' ≠ u with (u, v') ∉ D. Geometries (:data:`GEOMETRIES`):

* ``"poincare"``: the Poincaré ball (geoopt ``PoincareBall``), d the hyperbolic distance;
* ``"lorentz"``: the hyperboloid (geoopt ``Lorentz``; Nickel & Kiela 2018), the same space in other coordinates,
  with points kept as far from the origin as the ball's projection allows (:class:`~gdl.geodesics.manifolds.BoundedLorentz`);
* ``"euclidean"``: Rⁿ with the paper's Euclidean baseline d(u, v) = ‖u − v‖² (squared, as in the paper's code).

Points start uniform in [−10⁻³, 10⁻³]ⁿ (the paper's initialisation; lifted to the hyperboloid for Lorentz) and are
``ManifoldParameter``s: a Riemannian optimiser (:func:`gdl.geodesics.riemannian_optimizer`) rescales the gradient
by the inverse metric and retracts onto the manifold.

Evaluation (:func:`reconstruction_metrics`, the paper's "reconstruction" setting: train and test on all of D).
For each node u with ancestors A(u) = {v : (u, v) ∈ D}, rank all other nodes by distance to u:

* rank of (u, v) = 1 + #{w ∉ A(u) ∪ {u} : d(u, w) < d(u, v)} (other true ancestors do not count);
* AP(u) = the average, over v ∈ A(u), of the precision of the ranking at v's position; MAP = mean over u.

This is the evaluation of the paper's code (``ranking`` in ``embed.py``), vectorised: no loop over nodes, one
``[R, N]`` block of distances at a time. (Exact ties are broken by sort order, where scikit-learn's
``average_precision_score`` groups them; distances of trained embeddings have no ties.)
"""

from __future__ import annotations

from collections.abc import Callable

import geoopt
import torch
from torch import nn
from torch.utils.data import Dataset

from gdl.core.checks import checking
from gdl.datasets.wordnet import Hierarchy, sorted_contains

from .manifolds import hyperbolic_c, lorentz_model, lorentz_to_poincare, poincare_ball, poincare_distance
from .optim import ManifoldConstraintError, check_manifold_parameters

__all__ = ["GEOMETRIES", "HierarchyEmbedding", "HierarchyLoss", "EdgeDataset", "reconstruction_metrics",
           "collate_edges"]

GEOMETRIES = ("poincare", "lorentz", "euclidean")


class HierarchyEmbedding(nn.Module):
    """One point per node on the Poincaré ball, the hyperboloid or in Euclidean space.

    Args:
        num_nodes: N.
        dim: n, the dimension of the space (the hyperboloid stores n + 1 coordinates).
        geometry: one of :data:`GEOMETRIES`.
        curvature: K < 0 for the hyperbolic geometries.
        init_scale: points start uniform in [−init_scale, init_scale]ⁿ.

    Attributes:
        weight: ``ManifoldParameter`` ``[N, n]`` (``[N, n + 1]`` for Lorentz).
    """

    def __init__(self, num_nodes: int, dim: int, geometry: str = "poincare", curvature: float = -1.0,
                 init_scale: float = 1e-3):
        super().__init__()
        if geometry not in GEOMETRIES:
            raise ValueError(f"geometry must be one of {GEOMETRIES}, got {geometry!r}")
        if num_nodes < 1 or dim < 1:
            raise ValueError(f"HierarchyEmbedding needs num_nodes ≥ 1 and dim ≥ 1, got {num_nodes} and {dim}")
        self.geometry, self.dim, self.num_nodes = geometry, dim, num_nodes
        self.curvature = -hyperbolic_c(curvature)
        start = torch.empty(num_nodes, dim).uniform_(-init_scale, init_scale)
        if geometry == "poincare":
            self.manifold = poincare_ball(self.curvature)
        elif geometry == "lorentz":
            self.manifold = lorentz_model(self.curvature, max_distance="ball")
            start = self.manifold.expmap0(torch.cat([torch.zeros(num_nodes, 1), start], dim=1)).float()
        else:
            self.manifold = geoopt.Euclidean(ndim=1)
        self.weight = geoopt.ManifoldParameter(start, manifold=self.manifold)

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """d between points ``[..., n]`` (broadcast) → ``[...]`` (squared Euclidean for the Euclidean baseline)."""
        if self.geometry == "poincare":
            return poincare_distance(x, y, self.curvature)
        if self.geometry == "lorentz":
            return self.manifold.dist(x, y)
        return ((x - y) ** 2).sum(-1)

    def _check_ids(self, nodes: torch.Tensor, dims: int, shape: str) -> None:
        if not isinstance(nodes, torch.Tensor) or nodes.dtype != torch.long:
            given = nodes.dtype if isinstance(nodes, torch.Tensor) else type(nodes).__name__
            raise TypeError(f"HierarchyEmbedding expects int64 node ids {shape}, got {given}")
        if nodes.dim() != dims or (dims == 2 and nodes.shape[1] < 2):
            raise ValueError(f"HierarchyEmbedding expects node ids {shape}, got shape {list(nodes.shape)}")
        if checking() and nodes.numel():
            low, high = int(nodes.min()), int(nodes.max())
            if low < 0 or high >= self.num_nodes:
                raise ValueError(f"node ids must lie in 0..{self.num_nodes - 1} (the embedding has {self.num_nodes} "
                                 f"nodes), got ids {low}..{high}")

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:
        """Distances from ``nodes[:, 0]`` to ``nodes[:, 1:]``: ``[B, 1 + K]`` ids → ``[B, K]``."""
        self._check_ids(nodes, 2, "[B, 1 + K] (K ≥ 1)")
        points = self.weight[nodes]
        return self.distance(points[:, :1], points[:, 1:])

    def distances_from(self, rows: torch.Tensor) -> torch.Tensor:
        """``[R]`` node ids → ``[R, N]`` distances to every node."""
        self._check_ids(rows, 1, "[R]")
        return self.distance(self.weight[rows].unsqueeze(1), self.weight.unsqueeze(0))

    def poincare_points(self) -> torch.Tensor:
        """``[N, n]`` the points on the Poincaré ball (Lorentz points mapped there; Euclidean points as they are)."""
        weight = self.weight.detach()
        return lorentz_to_poincare(weight, self.curvature) if self.geometry == "lorentz" else weight


class EdgeDataset(Dataset):
    """The closure pairs ``[P, 2]`` as a map-style data set; ``__getitems__`` hands a whole batch over at once."""

    def __init__(self, hierarchy: Hierarchy):
        self.edges = hierarchy.closure

    def __len__(self) -> int:
        return int(self.edges.shape[0])

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.edges[index]

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        return self.edges[torch.as_tensor(indices, dtype=torch.long)]


def collate_edges(batch: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """The Trainer's ``collate_fn`` for :class:`EdgeDataset`: a ``[B, 2]`` tensor passes through."""
    return batch if isinstance(batch, torch.Tensor) else torch.stack(batch)


class HierarchyLoss:
    """The ranking loss as a :class:`gdl.train.Trainer` step: ``loss_fn(model, edges [B, 2]) -> {"loss", ...}``.

    For each pair (u, v) it draws K negatives v' (uniformly, or from ``weights`` such as degree^0.75 during the
    paper's burn-in) with torch's global RNG (the Trainer seeds it per step); a draw that is u itself or one of u's
    ancestors (a sorted-key binary search) is masked out of the softmax instead of redrawn.

    Args:
        hierarchy: the closure to embed.
        num_negatives: K.
        weights: ``[N]`` non-negative sampling weights (``None``: uniform).
    """

    def __init__(self, hierarchy: Hierarchy, num_negatives: int = 50, weights: torch.Tensor | None = None):
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be ≥ 1, got {num_negatives}")
        if weights is not None and (weights.shape != (hierarchy.num_nodes,) or bool((weights < 0).any())):
            raise ValueError(f"weights must be {hierarchy.num_nodes} non-negative numbers, got shape {list(weights.shape)}")
        self.keys, self.num_nodes = hierarchy.keys, hierarchy.num_nodes
        self.num_negatives, self.weights = num_negatives, weights

    def negatives(self, children: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B]`` ids → negatives ``[B, K]`` and whether each is a valid negative ``[B, K]``."""
        shape = (children.shape[0], self.num_negatives)
        if self.weights is None:
            drawn = torch.randint(0, self.num_nodes, shape, device=children.device)
        else:
            drawn = torch.multinomial(self.weights.to(children.device), shape[0] * shape[1], replacement=True).view(shape)
        keys = children.unsqueeze(1) * self.num_nodes + drawn
        valid = ~sorted_contains(self.keys.to(children.device), keys) & (drawn != children.unsqueeze(1))
        return drawn, valid

    def __call__(self, model: HierarchyEmbedding, edges: torch.Tensor) -> dict[str, torch.Tensor]:
        if checking():  # a Euclidean optimiser (e.g. the Trainer's default AdamW) would carry points off the manifold
            try:
                check_manifold_parameters([("weight", model.weight)])
            except ManifoldConstraintError as error:
                raise ManifoldConstraintError(f"{error}; train a HierarchyEmbedding with a Riemannian optimiser: "
                                              "Trainer(..., optimizer_factory=lambda p: riemannian_optimizer(model))") from None
        negatives, valid = self.negatives(edges[:, 0])
        distances = model(torch.cat([edges, negatives], dim=1))  # [B, 1 + K]: the positive, then the negatives
        logits = (-distances).masked_fill(torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1).logical_not(),
                                          float("-inf"))
        loss = nn.functional.cross_entropy(logits.float(), torch.zeros(len(edges), dtype=torch.long, device=edges.device))
        return {"loss": loss, "positive_distance": distances[:, 0].mean().detach()}


def reconstruction_metrics(distances_from: Callable[[torch.Tensor], torch.Tensor], hierarchy: Hierarchy,
                           chunk_size: int = 512) -> dict[str, float]:
    """Mean rank and MAP of the reconstruction of ``hierarchy`` from distances (module docstring).

    Args:
        distances_from: ``[R]`` node ids → ``[R, N]`` distances (e.g. ``HierarchyEmbedding.distances_from``).
        hierarchy: the closure whose pairs are ranked.
        chunk_size: rows per block (memory R·N).

    Returns:
        ``{"mean_rank": …, "map": …, "pairs": P, "nodes": nodes with ≥ 1 ancestor}``.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer (rows per block), got {chunk_size!r}")
    n = hierarchy.num_nodes
    children = hierarchy.closure[:, 0].contiguous()
    rows_with_ancestors = torch.unique(children)
    rank_sum, pairs, ap_sum = 0.0, 0, 0.0
    with torch.no_grad():
        for start in range(0, rows_with_ancestors.numel(), chunk_size):
            rows = rows_with_ancestors[start:start + chunk_size]
            distances = distances_from(rows).to(torch.float64)
            if distances.shape != (rows.numel(), n):
                raise ValueError(f"distances_from must return [{rows.numel()}, {n}], got {list(distances.shape)}")
            if not bool(torch.isfinite(distances).all()):
                raise FloatingPointError("the embedding's distances contain NaN or inf; evaluation is meaningless")
            device = distances.device
            rows = rows.to(device)
            local = torch.arange(rows.numel(), device=device)
            distances[local, rows] = float("inf")  # a node is not ranked against itself
            labels = torch.zeros(rows.numel(), n, dtype=torch.bool, device=device)
            first, last = int(torch.searchsorted(children, int(rows[0]))), int(torch.searchsorted(children, int(rows[-1]), right=True))
            block = hierarchy.closure[first:last].to(device)
            labels[torch.searchsorted(rows, block[:, 0].contiguous()), block[:, 1]] = True
            # ranks: how many non-ancestors are strictly closer than each ancestor
            negatives = torch.sort(distances.masked_fill(labels, float("inf")), dim=1).values
            closer = torch.searchsorted(negatives, distances.contiguous())
            rank_sum += float((closer + 1)[labels].sum())
            pairs += int(labels.sum())
            # average precision over the ranking of all other nodes
            order = torch.argsort(distances, dim=1, stable=True)
            hits = labels.gather(1, order).to(torch.float64)
            precision = hits.cumsum(1) / torch.arange(1, n + 1, dtype=torch.float64, device=device)
            ap_sum += float(((precision * hits).sum(1) / hits.sum(1)).sum())
    nodes = rows_with_ancestors.numel()
    return {"mean_rank": rank_sum / pairs, "map": ap_sum / nodes, "pairs": pairs, "nodes": nodes}
