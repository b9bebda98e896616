r"""Deep Sets: functions of sets, invariant and equivariant under S_n (book §4.1, §5.4; Zaheer et al. 2017).

A set of n elements with features x_u ∈ R^C is a tensor ``[..., n, C]`` whose row order carries no meaning; a
permutation σ ∈ S_n reorders the rows (:class:`~gdl.graphs.SetField`, new row i = old row ``perm[i]``). The book's
two shapes of set function, built from one shared map per element and a permutation-invariant aggregation ⊕
(sum, mean or max):

.. math::
    f(X) = \phi\Big(\bigoplus_{u} \psi(x_u)\Big)                   \quad\text{(invariant: } f(PX) = f(X)\text{)}

    F(X)_u = x_u \Lambda + \Big(\bigoplus_{v} x_v\Big) \Gamma + \beta   \quad\text{(equivariant: } F(PX) = P F(X)\text{)}

The equivariant layer is the most general linear permutation-equivariant map of this form (Zaheer et al. 2017,
Lemma 3, with ⊕ = sum); stacking it with pointwise σ and ending with an invariant pooling is the blueprint on a
set, i.e. on a graph without edges.

Sets of different sizes are batched by padding to a common n with a boolean ``mask [..., n]`` (True = element
present); ``torch_geometric.utils.to_dense_batch(x, batch)`` turns torch-geometric's concatenated layout into that.
Padded rows never reach a real one: they are left out of every aggregation, and the equivariant layer writes
zeros there.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import ClassVar

import torch
from torch import Tensor, nn

from gdl.core import FieldType, TrivialField, TupleField, check_int, seeded
from gdl.core.checks import AGGREGATIONS, check_choice
from gdl.symmetries.permutations import Permutations, SetField

from .base import GraphLayer, mlp

__all__ = ["DeepSets", "EquivariantSetLayer", "aggregate_set"]


@dataclasses.dataclass(frozen=True)
class MaskField(FieldType):
    """The padding mask ``[..., n]`` (bool) of a batch of padded sets: permuted with the elements."""

    group: Permutations

    def validate(self, value) -> None:
        if not isinstance(value, Tensor) or value.dtype != torch.bool or value.dim() < 1 or value.shape[-1] != self.group.n:
            given = f"{value.dtype} {list(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"a set mask must be a bool tensor [..., {self.group.n}], got {given}")

    def transform(self, value: Tensor, g) -> Tensor:
        self.group.check(g)
        self.validate(value)
        return value.index_select(-1, g.data.to(value.device))


def _set_types(x: Tensor, mask: Tensor | None, in_channels: int, out_type) -> tuple[FieldType, FieldType]:
    group = Permutations(x.shape[-2])
    features = SetField(group, in_channels)
    return (features if mask is None else TupleField((features, MaskField(group)))), out_type(group)


def _check_set(x, mask, channels: int, layer: str) -> None:
    """Raise unless ``x`` is a floating ``[..., n, C]`` tensor and ``mask`` (if given) a bool ``[..., n]`` tensor."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        given = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{layer} expects a floating-point tensor [..., n, {channels}] (a set of n elements), got {given}")
    if x.dim() < 2 or x.shape[-1] != channels:
        raise ValueError(f"{layer} expects a tensor [..., n, {channels}] (a set of n elements with {channels} features), "
                         f"got shape {list(x.shape)}")
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            given = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
            raise TypeError(f"mask must be a bool tensor [..., n] (True = element present), got {given}")
        if mask.shape != x.shape[:-1]:
            raise ValueError(f"mask must have shape {list(x.shape[:-1])} (x without its feature axis), got {list(mask.shape)}")


def aggregate_set(x: Tensor, aggr: str, mask: Tensor | None = None) -> Tensor:
    """⊕ over the set axis −2: ``[..., n, C]`` → ``[..., C]``, over the present elements only.

    An empty set (no element present) aggregates to zeros for every ⊕.
    """
    check_choice(aggr, AGGREGATIONS, "aggr")
    if mask is None:
        return x.sum(dim=-2) if aggr == "sum" else x.mean(dim=-2) if aggr == "mean" else x.amax(dim=-2)
    present = mask.unsqueeze(-1)
    if aggr == "max":
        pooled = x.masked_fill(~present, float("-inf")).amax(dim=-2)
        return torch.where(present.any(dim=-2), pooled, torch.zeros_like(pooled))
    total = (x * present).sum(dim=-2)
    if aggr == "sum":
        return total
    return total / present.sum(dim=-2).clamp(min=1).to(x.dtype)


class DeepSets(GraphLayer):
    r"""The invariant set function f(X) = φ(⊕_u ψ(x_u)) with MLPs ψ and φ (book §4.1, §5.4; Zaheer et al. 2017).

    .. math::
        f(PX) = \phi\Big(\bigoplus_u \psi(x_{\sigma(u)})\Big) = f(X) \quad \text{for every permutation } P

    The set size n is read from the input (``layer.field_types(x[, mask])``).

    Args:
        in_channels: C, features per element.
        hidden_channels: width of ψ's layers, of the aggregated code and of φ's hidden layers.
        out_channels: size of f(X).
        psi_layers, phi_layers: number of linear maps in ψ and in φ (≥ 1 each).
        aggr: ⊕, ``"sum"`` (universal for sets of bounded size, Zaheer et al. Theorem 2), ``"mean"`` or ``"max"``.
        activation: σ inside the MLPs, a name in :data:`gdl.core.ACTIVATIONS` or a callable.

    Shapes:
        x ``[..., n, C]``, optional mask ``[..., n]`` → ``[..., out_channels]``.
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, *, psi_layers: int = 2,
                 phi_layers: int = 2, aggr: str = "sum", activation: str = "relu"):
        super().__init__()
        check_int(psi_layers, "psi_layers"), check_int(phi_layers, "phi_layers")
        self.aggr = check_choice(aggr, AGGREGATIONS, "aggr")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        # ψ ends with σ so that the aggregated code is a sum of nonlinear features, as in Zaheer et al.
        self.psi = mlp([in_channels] + [hidden_channels] * psi_layers, activation, final_activation=True)
        self.phi = mlp([hidden_channels] * phi_layers + [out_channels], activation)

    def field_types(self, x: Tensor, mask: Tensor | None = None) -> tuple[FieldType, FieldType]:
        _check_set(x, mask, self.in_channels, type(self).__name__)
        return _set_types(x, mask, self.in_channels, lambda group: TrivialField(group, self.out_channels))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        _check_set(x, mask, self.in_channels, type(self).__name__)
        return self.phi(aggregate_set(self.psi(x), self.aggr, mask))

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        return _set_bad_inputs(super().bad_inputs(*inputs), inputs)

    def export(self) -> nn.Module:
        return _PlainDeepSets(copy.deepcopy(self.psi), copy.deepcopy(self.phi), self.aggr)

    def extra_repr(self) -> str:
        return f"aggr={self.aggr!r}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["DeepSets", tuple]:
        """Sum pooling on a batch of 2 padded sets of 7 elements with 3 features (the mask moves with σ)."""
        with seeded(generator):
            model = cls(3, 16, 4, aggr="sum")
        mask = torch.tensor([[True] * 7, [True, False, True, True, False, True, False]])
        return model, (torch.randn(2, 7, 3, generator=generator), mask)


class EquivariantSetLayer(GraphLayer):
    r"""The permutation-equivariant linear set layer F(X)_u = x_u Λ + (⊕_v x_v) Γ + β (Zaheer et al. 2017).

    .. math::
        F(PX) = P\,F(X): \text{ each element keeps its own term and all share the pooled term}

    Args:
        in_channels: C_in.
        out_channels: C_out.
        aggr: ⊕, ``"sum"``, ``"mean"`` or ``"max"``.

    Shapes:
        x ``[..., n, C_in]``, optional mask ``[..., n]`` → ``[..., n, C_out]`` (zeros where the mask is False).
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, in_channels: int, out_channels: int, *, aggr: str = "sum"):
        super().__init__()
        self.aggr = check_choice(aggr, AGGREGATIONS, "aggr")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.own = nn.Linear(in_channels, out_channels)  # Λ, β
        self.pooled = nn.Linear(in_channels, out_channels, bias=False)  # Γ

    def field_types(self, x: Tensor, mask: Tensor | None = None) -> tuple[FieldType, FieldType]:
        _check_set(x, mask, self.in_channels, type(self).__name__)
        return _set_types(x, mask, self.in_channels, lambda group: SetField(group, self.out_channels))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        _check_set(x, mask, self.in_channels, type(self).__name__)
        return _set_layer(x, mask, self.own, self.pooled, self.aggr)

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        return _set_bad_inputs(super().bad_inputs(*inputs), inputs)

    def export(self) -> nn.Module:
        return _PlainSetLayer(copy.deepcopy(self.own), copy.deepcopy(self.pooled), self.aggr)

    def extra_repr(self) -> str:
        return f"{self.in_channels} → {self.out_channels}, aggr={self.aggr!r}"

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["EquivariantSetLayer", tuple]:
        """Max pooling on a batch of 2 sets of 6 elements with 3 features."""
        with seeded(generator):
            layer = cls(3, 5, aggr="max")
        return layer, (torch.randn(2, 6, 3, generator=generator),)


def _set_bad_inputs(bad: dict[str, tuple], inputs: tuple) -> dict[str, tuple]:
    """Bad inputs of the set layers: x with one axis too few or a wrong channel count, a mask of the wrong dtype or
    shape (one axis too many is a valid batch of batches)."""
    x, mask = inputs[0], (inputs[1] if len(inputs) > 1 else None)
    rest = inputs[1:]
    bad.pop("input 0: one axis too many", None)
    bad.pop("input 0: one channel too many", None)
    bad["input 0: one axis too few"] = (x.reshape(-1),) + ((mask.reshape(-1),) if mask is not None else ())
    bad["input 0: one channel too many"] = (torch.cat([x, x[..., :1]], dim=-1),) + rest
    if mask is not None:
        bad["input 1: a float mask"] = (x, mask.double())
        bad["input 1: one element too few"] = (x, mask[..., 1:])
    return bad


def _set_layer(x: Tensor, mask: Tensor | None, own: nn.Linear, pooled: nn.Linear, aggr: str) -> Tensor:
    y = own(x) + pooled(aggregate_set(x, aggr, mask)).unsqueeze(-2)
    return y if mask is None else y * mask.unsqueeze(-1)


class _PlainDeepSets(nn.Module):
    """:class:`DeepSets` in plain torch (no checks)."""

    def __init__(self, psi: nn.Module, phi: nn.Module, aggr: str):
        super().__init__()
        self.psi, self.phi, self.aggr = psi, phi, aggr

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.phi(aggregate_set(self.psi(x), self.aggr, mask))


class _PlainSetLayer(nn.Module):
    """:class:`EquivariantSetLayer` in plain torch (no checks)."""

    def __init__(self, own: nn.Linear, pooled: nn.Linear, aggr: str):
        super().__init__()
        self.own, self.pooled, self.aggr = own, pooled, aggr

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return _set_layer(x, mask, self.own, self.pooled, self.aggr)
