"""What every gdl graph layer shares: S_N field types for a layer that runs on graphs of any size.

A graph layer is one function for every number of nodes N, but its symmetry group S_N depends on N. A layer built
with ``num_nodes=N`` states ``in_type``/``out_type`` over ``Permutations(N)`` (what the registry sweep and
:func:`gdl.testing.assert_equivariant` use) and checks that its inputs have N nodes; built with ``num_nodes=None``
(the default) it runs on any graph and :meth:`GraphLayer.field_types` gives the types for a particular N.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from gdl.core import EquivariantModule, SizeDependentTypes
from gdl.core.checks import check_node_features

__all__ = ["GraphLayer", "ACTIVATIONS", "mlp"]

#: entrywise nonlinearities the graph layers accept by name
ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def mlp(sizes: Sequence[int], activation: str = "relu", final_activation: bool = False) -> nn.Sequential:
    """Linear → σ → … → Linear with the given widths (``sizes[0]`` in, ``sizes[-1]`` out); σ also at the end if asked.

    Args:
        sizes: at least two widths.
        activation: a name in :data:`ACTIVATIONS`.
        final_activation: apply σ after the last linear map too.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"an MLP needs at least two positive integer widths, got {list(sizes)}")
    layers: list[nn.Module] = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if k < len(sizes) - 2 or final_activation:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class GraphLayer(SizeDependentTypes, EquivariantModule, register=False):
    """Base of gdl's graph layers: ``num_nodes``, the field types it implies, and a plain module ``repr``."""

    num_nodes: int | None = None

    @staticmethod
    def _check_num_nodes(num_nodes: int | None) -> int | None:
        if num_nodes is not None and (isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 1):
            raise ValueError(f"num_nodes must be a positive integer or None (any graph), got {num_nodes!r}")
        return num_nodes

    def _count_nodes(self, x, channels: int | None, name: str = "x") -> int:
        """Check node features ``[N, C]`` (N = ``num_nodes`` when fixed) and return N."""
        return check_node_features(x, self.num_nodes, channels, name)

    def extra_repr(self) -> str:
        return "" if self.num_nodes is None else f"num_nodes={self.num_nodes}"

    __repr__ = nn.Module.__repr__  # the nested module listing (MessagePassing's own repr hides submodules)
