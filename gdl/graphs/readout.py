r"""Graph-level readouts: the blueprint's invariant pooling A over the nodes of each graph (book §3.5, eq. 6).

A batch of graphs is the disjoint union of their nodes, with ``batch [N]`` naming the graph of every node
(torch-geometric's convention). The readout

.. math::
    y_b = \bigoplus_{i : \text{batch}_i = b} h_i, \qquad ⊕ ∈ \{\text{sum}, \text{mean}, \text{max}\}

is invariant under any relabelling of the nodes that moves ``batch`` with them: :class:`GraphReadout` reads
``batch`` from a :class:`~gdl.core.Blueprint`'s context. :class:`InvariantMLP` then acts on the pooled invariants
(the classifier or regression head); its group is whatever the pooling before it leaves.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from gdl.core import FieldType, GroupElement, TrivialField, TupleField, check_choice
from gdl.core.checks import AGGREGATIONS, check_batch, check_node_features
from gdl.symmetries.geometric import AbsentField
from gdl.symmetries.permutations import Permutations, SetField

from .base import GraphLayer, mlp

__all__ = ["BatchField", "GraphReadout", "InvariantMLP", "READOUTS"]

#: the graph-level poolings A
READOUTS = AGGREGATIONS


@dataclasses.dataclass(frozen=True)
class BatchField(FieldType):
    """The graph id of every node, ``batch [N]`` (int64): permuted with the nodes, its values unchanged."""

    group: Permutations

    def validate(self, value: Any) -> None:
        check_batch(value, self.group.n)

    def transform(self, value: Tensor, g: GroupElement) -> Tensor:
        self.group.check(g)
        self.validate(value)
        return value.index_select(0, g.data.to(value.device))


def _pool(x: Tensor, batch: Tensor | None, aggr: str) -> Tensor:
    """⊕ of the rows of each graph: ``[N, C]`` → ``[B, C]`` (B = 1 without ``batch``, else max id + 1)."""
    if batch is None:
        if not x.shape[0]:
            return x.new_zeros(1, x.shape[1])  # an empty graph pools to zeros, as an empty id does below
        return x.sum(0, keepdim=True) if aggr == "sum" else x.mean(0, keepdim=True) if aggr == "mean" \
            else x.amax(0, keepdim=True)
    num_graphs = int(batch.max()) + 1 if batch.numel() else 0  # a value read: the output's size depends on it
    return scatter(x, batch, dim=0, dim_size=num_graphs, reduce=aggr)


class GraphReadout(GraphLayer):
    r"""The invariant pooling A of every graph in a batch: :math:`y_b = ⊕_{i ∈ b} h_i` (sum, mean or max).

    Args:
        aggr: ⊕, ``"sum"`` (injective on multisets, GIN's), ``"mean"`` or ``"max"``.

    A graph id without nodes pools to zeros. The number of graphs B is ``batch.max() + 1``, a value read (one
    device sync, one ``torch.compile`` graph break); without ``batch`` the input is one graph.

    Shapes:
        x ``[N, C]``, batch ``[N]`` (optional) → ``[B, C]``.

    Example:
        >>> readout = GraphReadout("sum")
        >>> readout(torch.ones(5, 2), torch.tensor([0, 0, 1, 1, 1]))
        tensor([[2., 2.],
                [3., 3.]])
    """

    context_keys = ("batch",)
    expected_graph_breaks = 1

    def __init__(self, aggr: str = "sum"):
        super().__init__()
        self.aggr = check_choice(aggr, READOUTS, "aggr")

    def field_types(self, x: Tensor, batch: Tensor | None = None) -> tuple[FieldType, FieldType]:
        num_nodes = self._count_nodes(x, None)
        group = Permutations(num_nodes)
        ids = BatchField(group) if batch is not None else AbsentField(group, "batch")
        return TupleField((SetField(group, x.shape[1]), ids)), TrivialField(group, x.shape[1])

    def forward(self, x: Tensor, batch: Tensor | None = None) -> Tensor:
        num_nodes = self._count_nodes(x, None)
        if batch is not None:
            check_batch(batch, num_nodes)
        return _pool(x, batch, self.aggr)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        x, batch = inputs
        bad = super().bad_inputs(*inputs)
        bad.pop("input 0: one channel too many", None)  # any width is pooled
        negative = batch.clone()
        negative[0] = -1
        bad["input 1: graph id -1"] = (x, negative)
        bad["input 1: one id too few"] = (x, batch[1:])
        bad["input 1: float graph ids"] = (x, batch.double())
        return bad

    def export(self) -> nn.Module:
        return _PlainReadout(self.aggr)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["GraphReadout", tuple]:
        """Max pooling of 3 graphs of 4, 2 and 3 nodes, listed in mixed order."""
        batch = torch.tensor([0, 1, 0, 2, 0, 2, 1, 0, 2])
        return cls("max"), (torch.randn(9, 3, generator=generator), batch)

    def extra_repr(self) -> str:
        return f"aggr={self.aggr!r}"


class _PlainReadout(nn.Module):
    """:class:`GraphReadout` in plain torch (no checks)."""

    def __init__(self, aggr: str):
        super().__init__()
        self.aggr = aggr

    def forward(self, x: Tensor, batch: Tensor | None = None) -> Tensor:
        return _pool(x, batch, self.aggr)


class InvariantMLP(GraphLayer, register=False):
    """An MLP on invariant (graph-level) features: the head after a :class:`GraphReadout`.

    Any map of invariants is invariant, so its group is whatever the layer before it acts by: inside a
    :class:`~gdl.core.Blueprint` it adopts the pooled type (a :class:`~gdl.core.TrivialField` over S_N); the pooled
    features no longer say N, so it has no types of its own.

    Args:
        sizes: the widths, input first (``[C, C_out]``: one linear map).
        activation: σ between the linear maps.

    Shapes:
        ``[..., C]`` → ``[..., C_out]``.
    """

    def __init__(self, sizes: Sequence[int], activation: str | Callable = "relu"):
        super().__init__()
        self.net = mlp(sizes, activation)
        self.in_channels, self.out_channels = int(sizes[0]), int(sizes[-1])

    def output_type_for(self, in_type: FieldType) -> FieldType | None:
        if not isinstance(in_type, TrivialField) or in_type.channels not in (None, self.in_channels):
            raise TypeError(f"InvariantMLP acts on invariant features [..., {self.in_channels}], got {in_type!r}")
        return TrivialField(in_type.group, self.out_channels)

    def field_types(self, *inputs: Any) -> tuple[FieldType, FieldType]:
        raise TypeError("InvariantMLP acts on pooled invariants, which do not say the number of nodes: it takes its "
                        "type from the readout before it in a Blueprint")

    def forward(self, y: Tensor) -> Tensor:
        if not isinstance(y, Tensor) or not y.is_floating_point():
            raise TypeError(f"InvariantMLP expects a floating-point tensor [..., {self.in_channels}], got "
                            f"{y.dtype if isinstance(y, Tensor) else type(y).__name__}")
        check_node_features(y.reshape(-1, y.shape[-1]) if y.dim() else y, None, self.in_channels, "invariant features")
        return self.net(y)

    def export(self) -> nn.Module:
        return copy.deepcopy(self.net)

    def extra_repr(self) -> str:
        return f"{self.in_channels} → {self.out_channels}"
