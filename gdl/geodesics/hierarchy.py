"""Hierarchies as transitive closures: the data structure that hyperbolic embeddings are trained on (book §4.4).

A hierarchy is a partial order on N named nodes, "u ≺ v" (u is a kind of v), stored as its transitive closure
D = {(u, v) : u ≺ v}: every pair joined by a chain of direct relations. :class:`Hierarchy` keeps D sorted, with
integer keys u · N + v for vectorised membership tests (:func:`sorted_contains`), which the ranking loss and the
reconstruction metrics of :mod:`gdl.geodesics.embedding` use.

Loaders and generators (WordNet's nouns, balanced and random trees) live above the domains, in
:mod:`gdl.datasets.wordnet`; they build :class:`Hierarchy` objects from this module.
"""

from __future__ import annotations

import dataclasses
import functools

import torch

__all__ = ["Hierarchy", "sorted_contains"]


def sorted_contains(sorted_keys: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Whether each query occurs in the sorted 1-D tensor ``sorted_keys`` (binary search, no Python loop)."""
    if sorted_keys.numel() == 0:
        return torch.zeros(queries.shape, dtype=torch.bool, device=queries.device)
    position = torch.searchsorted(sorted_keys, queries).clamp(max=sorted_keys.numel() - 1)
    return sorted_keys[position] == queries


@dataclasses.dataclass(frozen=True, eq=False)
class Hierarchy:
    """A partial order on N named nodes, stored as its transitive closure.

    Attributes:
        names: node names, index = node id.
        closure: ``[P, 2]`` int64 pairs (u, v) meaning u ≺ v ("u is a v"), sorted by u then v.
        root: id of the unique maximal node when there is one, else ``None``.
    """

    names: tuple[str, ...]
    closure: torch.Tensor
    root: int | None = None

    def __post_init__(self):
        closure = torch.as_tensor(self.closure, dtype=torch.long)
        if closure.dim() != 2 or closure.shape[1] != 2:
            raise ValueError(f"closure must have shape [P, 2], got {list(closure.shape)}")
        if closure.numel() and (int(closure.min()) < 0 or int(closure.max()) >= len(self.names)):
            raise ValueError(f"closure ids must lie in 0..{len(self.names) - 1}, got ids "
                             f"{int(closure.min())}..{int(closure.max())}")
        keys = torch.unique(closure[:, 0] * len(self.names) + closure[:, 1])
        object.__setattr__(self, "closure", torch.stack([keys // len(self.names), keys % len(self.names)], dim=1))

    @property
    def num_nodes(self) -> int:
        return len(self.names)

    @property
    def num_edges(self) -> int:
        return int(self.closure.shape[0])

    @functools.cached_property
    def _ids(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def index(self, name: str) -> int:
        """The id of a node; ``KeyError`` naming similar names when it is absent."""
        if name not in self._ids:
            stem = name.split(".")[0]
            similar = sorted(n for n in self.names if n.split(".")[0] == stem)[:5]
            hint = f"; nodes with the same lemma: {similar}" if similar else ""
            raise KeyError(f"{name!r} is not a node of this hierarchy ({self.num_nodes} nodes){hint}")
        return self._ids[name]

    @functools.cached_property
    def keys(self) -> torch.Tensor:
        """Sorted int64 keys ``u · N + v`` of the closure pairs (for vectorised membership tests)."""
        return self.closure[:, 0] * self.num_nodes + self.closure[:, 1]

    def depth(self) -> torch.Tensor:
        """``[N]`` number of ancestors of every node (0 for the root)."""
        return torch.bincount(self.closure[:, 0], minlength=self.num_nodes)
