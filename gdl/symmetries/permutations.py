"""The symmetric group S_n and how it acts on sets and graphs (book §3.1, §4.1).

A permutation σ ∈ S_n relabels the n nodes of a set or graph. gdl stores σ as
an index tensor ``perm`` with the convention that the new node i is the old
node ``perm[i]``:

    x'      = x[perm]                       node features, positions, node labels
    A'      = P A Pᵀ,  i.e. edge (u, v) ↦ (σ⁻¹(u), σ⁻¹(v))  with σ⁻¹ = argsort(perm)
    e'_uv   = e_uv                          an edge keeps its features (edge order unchanged)

A function f on sets/graphs is permutation-invariant if f(σ·G) = f(G) and
permutation-equivariant if f(σ·G) = σ·f(G) (book eqs. 6–8).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from gdl.core import FieldType, Group, GroupElement
from gdl.core.checks import check_edge_index

__all__ = ["Permutations", "SetField", "EdgeIndexField", "GraphField"]


@dataclasses.dataclass(frozen=True)
class Permutations(Group):
    """The symmetric group S_n of all permutations of ``n`` labels.

    Elements are int64 tensors ``perm`` of shape ``[n]`` (new label i ← old label ``perm[i]``).
    ``compose(a, b)`` applies b first: ``x[b][a] = x[b[a]]``.

    Example:
        >>> S4 = Permutations(4)
        >>> g = S4.element([2, 0, 3, 1])
        >>> (g * g.inverse()) == S4.identity(), S4.order
        (True, 24)
    """

    n: int

    def __post_init__(self):
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"Permutations needs a positive number of labels, got {self.n!r}")

    @property
    def order(self) -> int:  # type: ignore[override]
        return math.factorial(self.n)

    def element(self, perm: Any) -> GroupElement:
        """The permutation given by ``perm`` (a rearrangement of 0 … n−1)."""
        perm = torch.as_tensor(perm, dtype=torch.long).reshape(-1)
        if perm.numel() != self.n or not torch.equal(torch.sort(perm).values, torch.arange(self.n)):
            raise ValueError(f"{self!r} needs a rearrangement of 0..{self.n - 1}, got {perm.tolist()}")
        return self._element(perm)

    def identity(self) -> GroupElement:
        return self._element(torch.arange(self.n))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        return self._element(self.check(b).data[self.check(a).data])

    def inverse(self, a: GroupElement) -> GroupElement:
        return self._element(torch.argsort(self.check(a).data))

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        return [self._element(torch.randperm(self.n, generator=generator)) for _ in range(n)]

    def discrete_generators(self) -> list[GroupElement]:
        """The transposition (0 1) and the cycle (0 1 … n−1), which generate S_n (none for n = 1)."""
        if self.n == 1:
            return []
        swap = torch.arange(self.n)
        swap[[0, 1]] = swap[[1, 0]]
        return [self._element(swap), self._element(torch.roll(torch.arange(self.n), -1))]

    def elements(self) -> list[GroupElement]:
        if self.n > 8:
            raise TypeError(f"{self!r} has {self.order} elements; enumerate only n ≤ 8, sample() otherwise")
        import itertools

        return [self._element(torch.tensor(p)) for p in itertools.permutations(range(self.n))]

    def describe(self, g: GroupElement) -> str:
        return f"perm={g.data.tolist()}"

    def contains(self, g: object) -> bool:
        return (isinstance(g, GroupElement) and isinstance(g.group, Permutations) and g.group.n == self.n)

    def __repr__(self) -> str:
        return f"Permutations(n={self.n})"


def _check_n(group: Group, size: int, what: str) -> None:
    if size != group.n:  # type: ignore[attr-defined]
        raise ValueError(f"{what} has {size} elements but the group is {group!r}; expected {group.n}")  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True)
class SetField(FieldType):
    """Features of the n elements of a set: tensors ``[..., n, C]``, permuted along the set axis.

    Args:
        group: ``Permutations(n)``.
        channels: feature size C (``None``: any).
        set_axis: the axis holding the elements (default −2: ``[B, n, C]`` or ``[n, C]``).
    """

    group: Permutations
    channels: int | None = None
    set_axis: int = -2
    supports_pointwise = True

    def __post_init__(self):
        if not isinstance(self.group, Permutations):
            raise TypeError(f"SetField is acted on by Permutations(n), got {self.group!r}")

    def validate(self, value: Any) -> None:
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"SetField expects a tensor [..., {self.group.n}, C], got {type(value).__name__}")
        if value.dim() < 2 or not -value.dim() <= self.set_axis < value.dim():
            raise ValueError(f"SetField expects a tensor with a set axis {self.set_axis} and a channel axis, "
                             f"got shape {list(value.shape)}")
        _check_n(self.group, value.shape[self.set_axis], f"the set axis of shape {list(value.shape)}")
        if self.channels is not None and value.shape[-1] != self.channels:
            raise ValueError(f"SetField expects {self.channels} channels, got shape {list(value.shape)}")

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        self.group.check(g)
        self.validate(value)
        return value.index_select(self.set_axis % value.dim(), g.data.to(value.device))


@dataclasses.dataclass(frozen=True)
class EdgeIndexField(FieldType):
    """An ``edge_index`` ``[2, E]`` (int64 node ids), relabelled by σ⁻¹; edge order is kept."""

    group: Permutations

    def validate(self, value: Any) -> None:
        check_edge_index(value, self.group.n)  # ids in range are checked except while torch.compile traces

    def transform(self, value: torch.Tensor, g: GroupElement) -> torch.Tensor:
        self.group.check(g)
        self.validate(value)
        return torch.argsort(g.data).to(value.device)[value]


@dataclasses.dataclass(frozen=True)
class GraphField(FieldType):
    """A torch-geometric ``Data`` with n nodes; σ permutes every node-level attribute and relabels ``edge_index``.

    Node-level attributes are those torch-geometric itself classifies as such
    (``data.is_node_attr``: ``x``, ``pos``, node labels…); edge-level ones keep
    their order, graph-level ones are invariant. Optional checks:

    Args:
        group: ``Permutations(n)``.
        node_channels: expected ``x.shape[-1]`` (``None``: not checked).
        edge_channels: expected ``edge_attr.shape[-1]`` (``None``: not checked).
    """

    group: Permutations
    node_channels: int | None = None
    edge_channels: int | None = None

    def validate(self, value: Any) -> None:
        if not (hasattr(value, "edge_index") and hasattr(value, "is_node_attr")):
            raise TypeError(f"GraphField expects a torch_geometric Data object, got {type(value).__name__}")
        _check_n(self.group, int(value.num_nodes), "the graph")
        if value.edge_index is not None:
            EdgeIndexField(self.group).validate(value.edge_index)
        for key, channels in (("x", self.node_channels), ("edge_attr", self.edge_channels)):
            tensor = getattr(value, key, None)
            if channels is not None and (tensor is None or tensor.shape[-1] != channels):
                given = "none" if tensor is None else f"shape {list(tensor.shape)}"
                raise ValueError(f"GraphField expects {key} with {channels} channels, got {given}")

    def transform(self, value: Any, g: GroupElement) -> Any:
        self.group.check(g)
        self.validate(value)
        moved = value.clone()
        perm = g.data.to(value.edge_index.device if value.edge_index is not None else "cpu")
        for key in value.keys():
            if key != "edge_index" and value.is_node_attr(key) and isinstance(value[key], torch.Tensor):
                moved[key] = value[key].index_select(value.__cat_dim__(key, value[key]), perm)
        if value.edge_index is not None:
            moved.edge_index = EdgeIndexField(self.group).transform(value.edge_index, g)
        return moved
