"""Embeddings of hierarchies in hyperbolic (or Euclidean) space: Nickel & Kiela (2017, 2018) (book §4.4).

A hierarchy is given by its transitive closure D = {(u, v) : u ≺ v} (:class:`gdl.geodesics.hierarchy.Hierarchy`).
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

Symmetry. The ranks and MAP depend on the embedding only through distances, which every isometry of the space
leaves unchanged: moving all points by g ∈ Isom(M) (Möbius maps and reflections of the ball or hyperboloid, E(n) for
the Euclidean baseline) changes no reported number. :class:`HierarchyEmbedding` states exactly that: given the
points as its second input, ``forward(nodes, points)`` is invariant under the isometry group acting on them (the
registry sweep checks it); with its own points (``forward(nodes)``, training) it is a lookup of fixed parameters.

This is the evaluation of the paper's code (``ranking`` in ``embed.py``), vectorised: no loop over nodes, one
``[R, N]`` block of distances at a time. (Exact ties are broken by sort order, where scikit-learn's
``average_precision_score`` groups them; distances of trained embeddings have no ties.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geoopt
import torch
from torch import nn
from torch.utils.data import Dataset

from gdl.core import EquivariantModule, FieldType, TrivialField, TupleField, seeded
from gdl.core.checks import check_choice, check_int, checking
from gdl.symmetries.euclidean import Euclidean, PointField

from .hierarchy import Hierarchy, sorted_contains
from .isometries import HyperbolicIsometries, LorentzField, PoincareBallField
from .manifolds import hyperbolic_c, lorentz_model, lorentz_to_poincare, poincare_ball, poincare_distance
from .optim import ManifoldConstraintError, check_manifold_parameters

__all__ = ["GEOMETRIES", "HierarchyEmbedding", "HierarchyLoss", "EdgeDataset", "reconstruction_metrics",
           "collate_edges"]

GEOMETRIES = ("poincare", "lorentz", "euclidean")


class HierarchyEmbedding(EquivariantModule):
    """One point per node on the Poincaré ball, the hyperboloid or in Euclidean space; outputs distances.

    ``forward(nodes)`` returns d(θ_u, θ_v) from ``nodes[:, 0]`` to each of ``nodes[:, 1:]`` with the embedding's own
    points θ (what the loss trains). ``forward(nodes, points)`` computes the same distances between given points
    ``[N, *point]``; the layer is then *invariant* under the isometries of the space acting on the points (module
    docstring), which is the declared symmetry: :class:`~gdl.geodesics.HyperbolicIsometries` (Möbius maps with
    reflections) for ``"poincare"``/``"lorentz"``, E(n) for ``"euclidean"`` (d(u, v) = ‖u − v‖²).

    Args:
        num_embeddings: N, the number of nodes (rows of the point table, as ``nn.Embedding``'s ``num_embeddings``).
        dim: n, the dimension of the space (the hyperboloid stores n + 1 coordinates).
        geometry: one of :data:`GEOMETRIES`.
        curvature: K < 0 for the hyperbolic geometries.
        init_scale: points start uniform in [−init_scale, init_scale]ⁿ.

    Attributes:
        weight: ``ManifoldParameter`` ``[N, n]`` (``[N, n + 1]`` for Lorentz).

    Shapes:
        nodes ``[B, 1 + K]`` int64 (and points ``[N, n]`` or ``[N, n + 1]``) → distances ``[B, K]``.
    """

    def __init__(self, num_embeddings: int, dim: int, geometry: str = "poincare", curvature: float = -1.0,
                 init_scale: float = 1e-3):
        super().__init__()
        self.geometry = check_choice(geometry, GEOMETRIES, "geometry")
        self.num_nodes, self.dim = check_int(num_embeddings, "num_embeddings"), check_int(dim, "dim")
        self.curvature = -hyperbolic_c(curvature)
        start = torch.empty(self.num_nodes, dim).uniform_(-init_scale, init_scale)
        if geometry == "poincare":
            self.manifold = poincare_ball(self.curvature)
        elif geometry == "lorentz":
            self.manifold = lorentz_model(self.curvature, max_distance="ball")
            start = self.manifold.expmap0(torch.cat([torch.zeros(self.num_nodes, 1), start], dim=1)).float()
        else:
            self.manifold = geoopt.Euclidean(ndim=1)
        self.weight = geoopt.ManifoldParameter(start, manifold=self.manifold)

    @property
    def point_field(self) -> FieldType:
        """The field type of the points, over the isometry group of the space."""
        if self.geometry == "euclidean":
            return PointField(Euclidean(self.dim))
        group = HyperbolicIsometries(self.dim, self.curvature)
        return PoincareBallField(group) if self.geometry == "poincare" else LorentzField(group)

    def field_types(self, nodes: Any, points: Any = None) -> tuple[FieldType, FieldType]:
        """Node ids (left alone) and the points (moved by an isometry) → invariant distances. Without ``points``
        the input is the ids alone, on which the group acts trivially."""
        field = self.point_field
        ids = TrivialField(field.group)
        return (ids if points is None else TupleField((ids, field))), TrivialField(field.group)

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """d between points ``[..., n]`` (broadcast) → ``[...]`` (squared Euclidean for the Euclidean baseline)."""
        if self.geometry == "poincare":
            return poincare_distance(x, y, self.curvature)
        if self.geometry == "lorentz":
            return self.manifold.dist(x, y)
        return ((x - y) ** 2).sum(-1)

    def _check_ids(self, nodes: torch.Tensor, dims: int, shape: str, count: int | None = None) -> None:
        count = self.num_nodes if count is None else count
        if not isinstance(nodes, torch.Tensor) or nodes.dtype != torch.long:
            given = nodes.dtype if isinstance(nodes, torch.Tensor) else type(nodes).__name__
            raise TypeError(f"HierarchyEmbedding expects int64 node ids {shape}, got {given}")
        if nodes.dim() != dims or (dims == 2 and nodes.shape[1] < 2):
            raise ValueError(f"HierarchyEmbedding expects node ids {shape}, got shape {list(nodes.shape)}")
        if checking() and nodes.numel():
            low, high = int(nodes.min()), int(nodes.max())
            if low < 0 or high >= count:
                raise ValueError(f"node ids must lie in 0..{count - 1} (the embedding has {count} "
                                 f"nodes), got ids {low}..{high}")

    def _check_points(self, points: Any) -> None:
        self.point_field.validate(points)
        width = self.dim + (self.geometry == "lorentz")
        if points.dim() != 2:
            raise ValueError(f"HierarchyEmbedding expects one point per node [N, {width}], got shape {list(points.shape)}")

    def forward(self, nodes: torch.Tensor, points: torch.Tensor | None = None) -> torch.Tensor:
        """Distances from ``nodes[:, 0]`` to ``nodes[:, 1:]``: ``[B, 1 + K]`` ids → ``[B, K]``."""
        if points is None:
            points = self.weight
        else:
            self._check_points(points)
        self._check_ids(nodes, 2, "[B, 1 + K] (K ≥ 1)", points.shape[0])
        chosen = points[nodes]
        return self.distance(chosen[:, :1], chosen[:, 1:])

    def distances_from(self, rows: torch.Tensor) -> torch.Tensor:
        """``[R]`` node ids → ``[R, N]`` distances to every node."""
        self._check_ids(rows, 1, "[R]")
        return self.distance(self.weight[rows].unsqueeze(1), self.weight.unsqueeze(0))

    def poincare_points(self) -> torch.Tensor:
        """``[N, n]`` the points on the Poincaré ball (Lorentz points mapped there; Euclidean points as they are)."""
        weight = self.weight.detach()
        return lorentz_to_poincare(weight, self.curvature) if self.geometry == "lorentz" else weight

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["HierarchyEmbedding", tuple]:
        with seeded(generator):
            layer = cls(7, 3, "poincare", curvature=-0.8).double()
            points = layer.manifold.expmap0(0.8 * torch.randn(7, 3, dtype=torch.float64))
            nodes = torch.randint(0, 7, (5, 4))
        return layer, (nodes, points)

    def bad_inputs(self, nodes: Any, points: Any = None) -> dict[str, tuple]:
        bad = super().bad_inputs(nodes, points)
        high = nodes.clone()
        high[0, 0] = self.num_nodes if points is None else points.shape[0]
        bad["a node id past the last node"] = (high, points)
        bad["node ids [B] instead of [B, 1 + K]"] = (nodes[:, 0], points)
        if points is not None:
            bad["points of the wrong dimension"] = (nodes, points[..., :-1])
            if self.geometry == "poincare":
                bad["a point outside the ball"] = (nodes, torch.cat([points[:-1], points[-1:] * 0 + 2.0]))
            elif self.geometry == "lorentz":
                bad["a point off the hyperboloid"] = (nodes, torch.cat([points[:-1], 2 * points[-1:]]))
        return bad

    def extra_repr(self) -> str:
        return f"{self.num_nodes}, dim={self.dim}, geometry={self.geometry!r}, curvature={self.curvature:g}"


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
        check_int(num_negatives, "num_negatives")
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
    check_int(chunk_size, "chunk_size")
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
