"""What every gdl graph layer shares: field types read from the inputs, input checks, per-node building blocks.

A graph layer is one function for every number of nodes N, but its symmetry group S_N depends on N: layers read N
from their inputs (``layer.field_types(x, edge_index, ...)``, contract v2) and take no size argument. This module
holds what they share:

* :class:`GraphLayer`: the base (checks of node features, a plain module ``repr``);
* :func:`mlp`: the Linear → σ → … stacks inside the layers (σ from the one table :data:`gdl.core.ACTIVATIONS`);
* :class:`Nodewise`: any plain module applied to every node alone (the degenerate GNN without edges), and
  :class:`NodeDropout`: dropout on node features; both are S_N-equivariant building blocks of the networks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from gdl.core import EquivariantModule, FieldType, TupleField, activation_module, check_int, seeded
from gdl.core.checks import check_node_features
from gdl.symmetries.permutations import EdgeIndexField, Permutations, SetField

__all__ = ["GraphLayer", "mlp", "node_field_types", "graph_bad_inputs", "Nodewise", "NodeDropout"]


def mlp(sizes: Sequence[int], activation: str | Callable = "relu", final_activation: bool = False) -> nn.Sequential:
    """Linear → σ → … → Linear with the given widths (``sizes[0]`` in, ``sizes[-1]`` out); σ also at the end if asked.

    Args:
        sizes: at least two positive widths.
        activation: a name in :data:`gdl.core.ACTIVATIONS`, an ``nn.Module`` or an entrywise callable.
        final_activation: apply σ after the last linear map too.
    """
    activation_module(activation)  # an unknown name fails here, before any layer is built
    if isinstance(sizes, (str, bytes)) or len(sizes) < 2:
        raise ValueError(f"an MLP needs at least two widths, got {sizes!r}")
    sizes = [check_int(size, f"MLP width {k}") for k, size in enumerate(sizes)]
    layers: list[nn.Module] = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if k < len(sizes) - 2 or final_activation:
            layers.append(activation_module(activation))
    return nn.Sequential(*layers)


def node_field_types(num_nodes: int, in_channels: int | None, out_channels: int | None,
                     extra: tuple[FieldType, ...] = ()) -> tuple[TupleField, SetField]:
    """``(x [N, C_in], edge_index [2, E], *extra) → [N, C_out]`` under S_N: the types of a node-level graph layer."""
    group = Permutations(num_nodes)
    return TupleField((SetField(group, in_channels), EdgeIndexField(group)) + extra), SetField(group, out_channels)


def _replace(inputs: tuple, position: int, value: Any) -> tuple:
    return inputs[:position] + (value,) + inputs[position + 1:]


def graph_bad_inputs(bad: dict[str, tuple], inputs: tuple) -> dict[str, tuple]:
    """Add the invalid variants every graph layer (and network) must refuse to ``bad``: node features ``inputs[0]``
    with one channel too many, and an ``edge_index`` (the first later int64 ``[2, E]`` input) with an out-of-range
    node id or a floating dtype."""
    x = inputs[0] if inputs else None
    if not (isinstance(x, Tensor) and x.is_floating_point() and x.dim() >= 2):
        return bad
    bad["input 0: one channel too many"] = _replace(inputs, 0, torch.cat([x, x[..., :1]], dim=-1))
    num_nodes = x.shape[-2]
    for position, value in enumerate(inputs):
        if (position and isinstance(value, Tensor) and value.dtype == torch.long and value.dim() == 2
                and value.shape[0] == 2 and value.numel()):
            outside = value.clone()
            outside[0, -1] = num_nodes
            bad[f"input {position}: node id {num_nodes} on a graph of {num_nodes} nodes"] = \
                _replace(inputs, position, outside)
            bad[f"input {position}: float edge_index"] = _replace(inputs, position, value.double())
            break
    return bad


class GraphLayer(EquivariantModule, register=False):
    """Base of gdl's graph layers: checks of the node features and edges, bad inputs, a plain module ``repr``.

    Subclasses override :meth:`field_types` to read N from their inputs (``x.shape[0]``) and take no size argument.
    """

    def _count_nodes(self, x: Any, channels: int | None, name: str = "x") -> int:
        """Check node features ``[N, C]`` (C = ``channels`` when given) and return N."""
        return check_node_features(x, None, channels, name)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        """The base's (one axis too many, wrong dtype of the first tensor) and :func:`graph_bad_inputs`."""
        return graph_bad_inputs(super().bad_inputs(*inputs), inputs)

    __repr__ = nn.Module.__repr__  # the nested module listing (MessagePassing's own repr hides submodules)


def _check_rows(x: Any, channels: int, layer: str) -> int:
    """Raise unless ``x`` is a floating ``[..., N, channels]`` tensor; return N."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        given = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{layer} expects a floating-point tensor [..., N, {channels}] (one row per node), got {given}")
    if x.dim() < 2 or x.shape[-1] != channels:
        raise ValueError(f"{layer} expects a tensor [..., N, {channels}] (one row of {channels} features per node), "
                         f"got shape {list(x.shape)}")
    return x.shape[-2]


class Nodewise(GraphLayer):
    r"""A map applied to every node alone, with the same weights everywhere: :math:`h_u = f(x_u)`.

    Relabelling the nodes permutes the rows, so any ``f`` gives an S_N-equivariant layer: the degenerate GNN that
    ignores the edges (an embedding, a decoder, a graph-blind baseline).

    Args:
        module: ``f``, a plain module acting on the last axis (``nn.Linear``, an MLP, LayerNorm → Linear).
        in_channels: C_in, the input width ``f`` expects.
        out_channels: C_out, the width it returns.

    Shapes:
        x ``[..., N, C_in]`` → ``[..., N, C_out]``.

    Example:
        >>> layer = Nodewise(nn.Linear(3, 5), 3, 5)
        >>> layer(torch.randn(7, 3)).shape
        torch.Size([7, 5])
    """

    def __init__(self, module: nn.Module, in_channels: int, out_channels: int):
        super().__init__()
        if not isinstance(module, nn.Module) or isinstance(module, EquivariantModule):
            raise TypeError(f"Nodewise applies a plain torch module to every node, got {type(module).__name__}")
        self.module = module
        self.in_channels, self.out_channels = check_int(in_channels, "in_channels"), check_int(out_channels, "out_channels")

    def field_types(self, x: Tensor) -> tuple[FieldType, FieldType]:
        group = Permutations(_check_rows(x, self.in_channels, type(self).__name__))
        return SetField(group, self.in_channels), SetField(group, self.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        _check_rows(x, self.in_channels, type(self).__name__)
        return self.module(x)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        bad = super().bad_inputs(*inputs)
        bad.pop("input 0: one axis too many", None)  # [..., N, C]: any number of batch axes is valid
        bad["input 0: one axis too few"] = _replace(inputs, 0, inputs[0].reshape(-1))
        return bad

    def export(self) -> nn.Module:
        return copy.deepcopy(self.module)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["Nodewise", tuple]:
        """A LayerNorm → Linear → SiLU → Linear head on a batch of 2 sets of 6 nodes."""
        with seeded(generator):
            layer = cls(nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 8), nn.SiLU(), nn.Linear(8, 3)), 4, 3)
        return layer, (torch.randn(2, 6, 4, generator=generator),)

    def extra_repr(self) -> str:
        return f"{self.in_channels} → {self.out_channels}"


class NodeDropout(GraphLayer, register=False):
    """Dropout on node features (training mode only; the identity in eval mode, where it is S_N-equivariant).

    Inside a :class:`~gdl.core.Blueprint` it takes the type of the layer before it (like a pointwise σ); alone it
    reads N from ``x [..., N, C]``.

    Args:
        p: the probability of zeroing an entry, 0 ≤ p < 1.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {p!r}")
        self.p = float(p)

    def field_types(self, x: Tensor) -> tuple[FieldType, FieldType]:
        field = SetField(Permutations(_check_rows(x, x.shape[-1], type(self).__name__)), x.shape[-1])
        return field, field

    def output_type_for(self, in_type: FieldType) -> FieldType | None:
        if not in_type.supports_pointwise:
            raise TypeError(f"dropout zeroes entries independently: it is not equivariant on {in_type!r}")
        return in_type

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"NodeDropout expects a floating-point tensor, got "
                            f"{x.dtype if isinstance(x, Tensor) else type(x).__name__}")
        return nn.functional.dropout(x, self.p, self.training)

    def export(self) -> nn.Module:
        return nn.Dropout(self.p).train(self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
