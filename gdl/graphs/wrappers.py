"""Any torch-geometric model on the one contract: :class:`PyGModel` states its S_N field types, so the harness can
check the permutation symmetry of a model that gdl did not build (a ``GCNConv`` stack, a PyG ``GIN``).

A model that reads a ``Data``/``Batch`` (``x``, ``pos``, ``edge_index``, ``batch``) and returns one row per node is
S_N-*equivariant* when relabelling the nodes permutes its output rows; one that returns one row per graph is
S_N-*invariant*. Wrapping a model claims that symmetry; :func:`gdl.testing.assert_equivariant` then measures it
(relabelling every node-level attribute, ``batch`` included, and the edges).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gdl.core import EquivariantModule, FieldType, TrivialField, seeded
from gdl.core.checks import check_choice, check_edge_index
from gdl.symmetries.permutations import GraphField, Permutations, SetField
from gdl.testing.fixtures import random_graph

__all__ = ["PyGModel"]

LEVELS = ("node", "graph")


class PyGModel(EquivariantModule):
    r"""A torch-geometric model ``f(data)`` with the S_N symmetry it claims: node-level outputs ``[N, C]`` with
    :math:`f(\sigma \cdot G) = \sigma \cdot f(G)`, or graph-level outputs ``[B, C]`` with
    :math:`f(\sigma \cdot G) = f(G)`.

    Args:
        model: an ``nn.Module`` taking one ``Data``/``Batch``.
        level: ``"node"`` (one output row per node) or ``"graph"`` (one per graph).

    Shapes:
        input: a ``Data`` with N nodes; output: ``[N, C]`` (node) or ``[B, C]`` (graph).

    Example:
        >>> from torch_geometric.data import Data
        >>> from torch_geometric.nn import GCNConv
        >>> class Net(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.conv = GCNConv(3, 4)
        ...     def forward(self, data):
        ...         return self.conv(data.x, data.edge_index)
        >>> layer = PyGModel(Net(), level="node")
        >>> data = Data(x=torch.randn(5, 3), edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> layer(data).shape
        torch.Size([5, 4])
    """

    #: the example's torch-geometric GCNConv and pooling break the compiled graph (PyG's own code, not gdl's)
    expected_graph_breaks = 7

    def __init__(self, model: nn.Module, level: str = "node"):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"PyGModel wraps an nn.Module, got {type(model).__name__}")
        self.model = model
        self.level = check_choice(level, LEVELS, "level")

    def field_types(self, data: Any) -> tuple[FieldType, FieldType]:
        group = Permutations(self._nodes(data))
        out = SetField(group) if self.level == "node" else TrivialField(group)
        return GraphField(group), out

    @staticmethod
    def _nodes(data: Any) -> int:
        if not (hasattr(data, "edge_index") and hasattr(data, "is_node_attr")):
            raise TypeError(f"PyGModel expects a torch_geometric Data or Batch, got {type(data).__name__}")
        return int(data.num_nodes)

    def forward(self, data: Any) -> torch.Tensor:
        nodes = self._nodes(data)
        if data.edge_index is not None:
            check_edge_index(data.edge_index, nodes, name="data.edge_index")
        return self.model(data)

    def bad_inputs(self, data: Any) -> dict[str, tuple]:
        out_of_range = data.clone()
        out_of_range.edge_index = data.edge_index.clone()
        out_of_range.edge_index[0, 0] = data.num_nodes
        floating = data.clone()
        floating.edge_index = data.edge_index.double()
        return {"a tensor instead of a Data": (data.x,), "an edge to a node that does not exist": (out_of_range,),
                "floating-point edge ids": (floating,)}

    def export(self) -> nn.Module:
        """The wrapped model itself (it is plain torch-geometric)."""
        return self.model

    def extra_repr(self) -> str:
        return f"level={self.level!r}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["PyGModel", tuple]:
        """A two-layer ``GCNConv`` network with sum pooling, graph level, on a batch of two random graphs."""
        from torch_geometric.data import Batch, Data
        from torch_geometric.nn import GCNConv, global_add_pool

        class _TwoGCN(nn.Module):
            def __init__(self):
                super().__init__()
                self.first, self.second = GCNConv(3, 8), GCNConv(8, 2)

            def forward(self, data):
                h = self.second(self.first(data.x, data.edge_index).relu(), data.edge_index)
                return global_add_pool(h, data.batch, data.num_graphs)

        with seeded(generator):
            layer = cls(_TwoGCN(), level="graph")
        graphs = [Data(x=torch.randn(n, 3, generator=generator), edge_index=random_graph(n, 2 * n, generator))
                  for n in (5, 7)]
        return layer, (Batch.from_data_list(graphs),)
