r"""Invariant and equivariant graph networks (IGN; Maron, Ben-Hamu, Shamir & Lipman, ICLR 2019; book §5.4).

A graph on n nodes with features on nodes and on pairs of nodes is a k-tensor ``X [B, n, …(k times), C]`` (k = 1:
node features, k = 2: an adjacency-like tensor). A permutation σ ∈ S_n acts on all k node axes at once:

.. math::

    (\sigma \cdot X)_{i_1 \dots i_k} = X_{\pi(i_1) \dots \pi(i_k)}, \qquad \pi = \texttt{perm}
    \ (\text{gdl's convention } x' = x[\texttt{perm}]).

The most general linear S_n-equivariant map from k_in-tensors to k_out-tensors, :math:`L: \mathbb{R}^{n^{k_\text{in}}}
\to \mathbb{R}^{n^{k_\text{out}}}`, is constant on the orbits of S_n on index tuples
:math:`(i_1 \dots i_{k_\text{out}}, j_1 \dots j_{k_\text{in}})`, and an orbit is an *equality pattern*: which of the
m = k_out + k_in indices are equal (a set partition of the m positions). Hence (Maron et al. 2019, Theorem 1)

.. math::

    Y_{I, o} = \sum_{P} \sum_{c} \frac{1}{n^{f(P)}} \sum_{J :\, (I, J) \in P} X_{J, c}\, W_{P, c, o}
    + \sum_{Q} [I \in Q]\, b_{Q, o},

with one weight matrix :math:`W_P \in \mathbb{R}^{C_\text{in} \times C_\text{out}}` per pattern P, of which there are
Bell(m) (1, 2, 5, 15 for m = 1, 2, 3, 4) as soon as n ≥ m, and a bias on the invariant part of the output (Hom_{S_n}
(trivial, T^{k_out}): 1 pattern for k_out ≤ 1, 2 for k_out = 2: diagonal and off-diagonal).

**The solver's basis, in a canonical order.** :class:`IGNLayer` does not hand-derive these maps: for every n it
meets, it solves :func:`gdl.representations.equivariant_basis` (T^{k_in} → T^{k_out} of S_n, orbit method) and
reads each orbit's equality pattern from its smallest member, whose restricted-growth string (first occurrence
order of the equal values) *is* the pattern and does not depend on n. The layer orders the orbits by that string
and uses **unnormalised** 0/1 orbit indicators (the solver's are normalised to unit Frobenius norm, which depends
on n), so weight W_P means the same operator family for every n. With ``pooling="mean"`` (the default) the
operator of P is divided by n^{f(P)}, f(P) = the number of blocks of P made of input positions only (the indices
that are summed over), so a pooled term is an average (up to O(1/n)) and the output scale does not grow with n; with
``pooling="sum"`` it is the plain sum (Deep Sets' sum form for k_in = k_out = 1). Patterns with more blocks than n
(n < m) have no orbit; their weights are unused on such small graphs.

**Cost.** The forward pass contracts dense indicator tensors ``[Bell(m), n^{k_out}, n^{k_in}]`` (cached per n,
dtype and device): O(Bell(m) · n^{k_in + k_out}) memory and O(B · C_in · Bell(m) · n^{k_in + k_out}) time, e.g.
15 · n⁴ entries for 2 → 2 (126 MB in float64 at n = 32). :meth:`IGNLayer.export` gives the same function in plain
torch written with sums and diagonal extractions only (each coarse pattern "at least these equalities" is one
``einsum``; the exact patterns follow by Möbius inversion on the partition lattice), at
O(B · C · n^{max(k_in, k_out) + 1}) cost and without a per-n basis: use it for large graphs.

k_in ∈ {1, 2} and k_out ∈ {0, 1, 2}: an invariant input (k_in = 0) does not say n, so the size of the output could
not be read from the input (contract v2 reads every size from the inputs).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from gdl.core import Blueprint, FieldType, Pointwise, TrivialField, check_int, seeded
from gdl.core.checks import check_choice
from gdl.representations import equivariant_basis, permutation_representation, tensor_power
from gdl.symmetries.permutations import Permutations

from .base import GraphLayer
from .readout import InvariantMLP

__all__ = ["TensorField", "IGNLayer", "IGN", "equality_patterns", "orbit_patterns", "ign_basis", "mobius_matrix",
           "restricted_growth_string", "POOLINGS"]

#: how the pooled (summed-over) indices of an operator are normalised
POOLINGS = ("mean", "sum")
#: the tensor orders a layer takes (input) and gives (output)
INPUT_ORDERS, OUTPUT_ORDERS = (1, 2), (0, 1, 2)


# -- equality patterns ------------------------------------------------------------------------------------------
def restricted_growth_string(indices: tuple[int, ...]) -> tuple[int, ...]:
    """The equality pattern of an index tuple: each value replaced by the rank of its first occurrence.

    ``(4, 2, 4, 7)`` → ``(0, 1, 0, 2)``: positions 0 and 2 are equal, 1 and 3 differ from them and from each other.
    """
    first: dict[int, int] = {}
    return tuple(first.setdefault(value, len(first)) for value in indices)


@functools.cache
def equality_patterns(length: int) -> tuple[tuple[int, ...], ...]:
    """All set partitions of ``length`` positions as restricted-growth strings, in lexicographic order (Bell(length)
    of them): the canonical order of the IGN bases. ``equality_patterns(2) == ((0, 0), (0, 1))``."""
    patterns: list[tuple[int, ...]] = [()]
    for _ in range(length):
        patterns = [p + (value,) for p in patterns for value in range((max(p) + 2) if p else 1)]
    return tuple(sorted(patterns))


def _pooled_blocks(pattern: tuple[int, ...], k_out: int) -> int:
    """f(P): the number of blocks of P that contain input positions only (the indices an operator sums over)."""
    return len(set(pattern[k_out:]) - set(pattern[:k_out]))


def orbit_patterns(k_in: int, k_out: int, n: int) -> tuple[tuple[tuple[int, ...], ...], Tensor]:
    """The solver's orbit basis of Hom_{S_n}(T^{k_in}, T^{k_out}) as (patterns, 0/1 indicators ``[r, n^k_out, n^k_in]``),
    sorted by pattern: the equality pattern (restricted-growth string) of each orbit's smallest member of
    (i_1 … i_{k_out}, j_1 … j_{k_in}) (k_in = 0: the invariant vectors of T^{k_out}). Returns fresh tensors."""
    patterns, support = _orbit_patterns(k_in, k_out, n)
    return patterns, support.to(torch.float64)


@functools.lru_cache(maxsize=16)
def _orbit_patterns(k_in: int, k_out: int, n: int) -> tuple[tuple[tuple[int, ...], ...], Tensor]:
    V = permutation_representation(Permutations(n))
    rep_in, rep_out = tensor_power(V, k_in), tensor_power(V, k_out)
    basis = equivariant_basis(rep_in, rep_out, method="orbits")
    support = basis.reshape(basis.shape[0], -1) != 0
    first = support.to(torch.int8).argmax(1).tolist()  # the smallest member of every orbit (row-major flat index)
    m = k_in + k_out
    patterns = [restricted_growth_string(tuple((f // n ** (m - 1 - t)) % n for t in range(m))) for f in first]
    order = sorted(range(len(patterns)), key=patterns.__getitem__)
    return tuple(patterns[a] for a in order), support[order].reshape(basis.shape)  # bool: 1 byte an entry


def ign_basis(k_in: int, k_out: int, n: int, pooling: str = "mean") -> tuple[tuple[tuple[int, ...], ...], Tensor]:
    r"""The IGN operators on n nodes in canonical order: ``(equality_patterns(m), operators [Bell(m), n^k_out, n^k_in])``.

    Operator P is the solver's orbit indicator of pattern P (0/1), divided by n^{f(P)} for ``pooling="mean"``; a
    pattern with more blocks than n has no orbit and a zero operator. ``k_in = 0`` gives the invariant vectors of
    T^{k_out} (``[Bell(k_out), n^k_out, 1]``), the layer's bias basis. Returns a fresh float64 tensor.
    """
    check_choice(pooling, POOLINGS, "pooling")
    patterns, indicators = orbit_patterns(k_in, k_out, n)
    canonical = equality_patterns(k_in + k_out)
    operators = torch.zeros(len(canonical), *indicators.shape[1:], dtype=torch.float64)
    rows = [canonical.index(p) for p in patterns]
    operators[rows] = indicators
    if pooling == "mean":
        scale = torch.tensor([float(n) ** -_pooled_blocks(p, k_out) for p in canonical], dtype=torch.float64)
        operators *= scale[:, None, None]
    return canonical, operators


@functools.lru_cache(maxsize=16)  # 16 sizes × dtypes × devices: each 2 → 2 entry holds 15 n⁴ numbers
def _cached_operators(k_in: int, k_out: int, n: int, pooling: str, dtype: torch.dtype,
                      device: torch.device) -> Tensor:
    return ign_basis(k_in, k_out, n, pooling)[1].to(device=device, dtype=dtype)


def _operator_op():
    """``gdl::ign_operators(k_in, k_out, n, pooling, dtype, device)``: the cached operators as a torch custom op, so
    that ``torch.compile`` records the per-n lookup as one node of the graph instead of breaking it (a fake kernel
    gives the shape ``[Bell(m), n^k_out, n^k_in]``)."""
    if hasattr(torch.ops.gdl, "ign_operators"):  # the module was imported again (importlib.reload)
        return torch.ops.gdl.ign_operators

    @torch.library.custom_op("gdl::ign_operators", mutates_args=())
    def ign_operators(k_in: int, k_out: int, n: int, pooling: str, dtype: torch.dtype, device: torch.device) -> Tensor:
        return _cached_operators(k_in, k_out, n, pooling, dtype, device).clone()

    @ign_operators.register_fake
    def _(k_in, k_out, n, pooling, dtype, device):
        return torch.empty(len(equality_patterns(k_in + k_out)), n ** k_out, n ** k_in, dtype=dtype, device=device)

    return ign_operators


_ign_operators = _operator_op()


# -- the field type ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TensorField(FieldType):
    r"""k-tensors on n nodes with C channels, ``[B, n, …(k times), C]``, permuted on all node axes by one σ.

    :math:`(\sigma \cdot X)_{b, i_1 \dots i_k, c} = X_{b, \pi(i_1) \dots \pi(i_k), c}` (``x' = x[perm]`` on each node
    axis). Order 1 is a batch of sets (:class:`~gdl.graphs.SetField` with a batch axis); order 0 tensors are invariant:
    use :class:`~gdl.core.TrivialField`.

    Args:
        group: ``Permutations(n)``.
        order: k ≥ 1, the number of node axes.
        channels: C (``None``: any).
    """

    group: Permutations
    order: int
    channels: int | None = None
    supports_pointwise = True

    def __post_init__(self):
        if not isinstance(self.group, Permutations):
            raise TypeError(f"TensorField is acted on by Permutations(n), got {self.group!r}")
        check_int(self.order, "the order of a TensorField (the number of node axes)")
        check_int(self.channels, "channels", allow_none=True)

    def validate(self, value: Any) -> None:
        _check_tensor(value, self.order, self.channels, repr(self), self.group.n)

    def transform(self, value: Tensor, g) -> Tensor:
        self.group.check(g)
        self.validate(value)
        perm = g.data.to(value.device)
        for axis in range(1, self.order + 1):
            value = value.index_select(axis, perm)
        return value

    def __repr__(self) -> str:
        return f"TensorField(order {self.order}, {self.channels} channels, {self.group!r})"


def _layout(order: int, channels: int | str | None) -> str:
    return "[B, " + ", ".join(["n"] * order) + (", " if order else "") + f"{'C' if channels is None else channels}]"


def _check_tensor(x: Any, order: int, channels: int | None, what: str, n: int | None = None) -> int:
    """Raise unless ``x`` is a floating ``[B, n, …(order), channels]`` tensor with equal node axes; return n."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        given = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{what} expects a floating-point tensor {_layout(order, channels)}, got {given}")
    if x.dim() != order + 2:
        raise ValueError(f"{what} expects a tensor {_layout(order, channels)} ({order} node axes after the batch axis), "
                         f"got shape {list(x.shape)}")
    nodes = set(x.shape[1:order + 1])
    if len(nodes) > 1:
        raise ValueError(f"{what} expects {order} node axes of one size n, {_layout(order, channels)}, got shape "
                         f"{list(x.shape)}")
    if n is not None and nodes != {n}:
        raise ValueError(f"{what} expects {n} nodes, {_layout(order, channels)}, got shape {list(x.shape)}")
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(f"{what} expects {channels} channels, {_layout(order, channels)}, got shape {list(x.shape)}")
    return x.shape[1]


def _types(n: int, k_in: int, k_out: int, in_channels: int, out_channels: int) -> tuple[FieldType, FieldType]:
    group = Permutations(n)
    out_type = TrivialField(group, out_channels) if k_out == 0 else TensorField(group, k_out, out_channels)
    return TensorField(group, k_in, in_channels), out_type


# -- the layer ----------------------------------------------------------------------------------------------------
class IGNLayer(GraphLayer):
    r"""The most general linear S_n-equivariant map from k_in-tensors to k_out-tensors (Maron et al. 2019).

    .. math::

        Y_{I} = \sum_{P \in \Pi(k_\text{out} + k_\text{in})} \frac{1}{n^{f(P)}}
        \Big(\sum_{J :\, (I, J) \in P} X_{J}\Big) W_P + \sum_{Q \in \Pi(k_\text{out})} [I \in Q]\, b_Q,

    P running over the equality patterns of (i_1 … i_{k_out}, j_1 … j_{k_in}) in canonical order
    (:func:`equality_patterns`; 15 for 2 → 2, 5 for 2 → 1 and 1 → 2, 2 for 1 → 1 and 2 → 0), the operators the
    solver's orbit basis (:func:`ign_basis`; see the module docstring for the order, the scaling and the cost).
    n is read from the input: one layer runs on graphs of every size.

    Args:
        k_in: the order of the input tensor (1: nodes, 2: pairs of nodes).
        k_out: the order of the output tensor (0: invariant, 1, 2).
        in_channels: C_in.
        out_channels: C_out.
        bias: learn b on the invariant part of T^{k_out}.
        pooling: ``"mean"`` (a summed index is averaged: divide by n^{f(P)}) or ``"sum"``.

    Shapes:
        x ``[B, n, …(k_in), C_in]`` → ``[B, n, …(k_out), C_out]`` (``[B, C_out]`` for k_out = 0).

    Attributes:
        weight: ``[Bell(k_in + k_out), C_in, C_out]``, W_P in the order of :attr:`patterns`.
        bias: ``[Bell(k_out), C_out]`` or ``None``.

    The per-n basis is a custom op (``gdl::ign_operators``), so ``torch.compile`` traces the layer as one graph.

    Example:
        >>> layer = IGNLayer(2, 2, 3, 4)
        >>> layer.weight.shape, layer(torch.randn(2, 5, 5, 3)).shape
        (torch.Size([15, 3, 4]), torch.Size([2, 5, 5, 4]))
        >>> layer(torch.randn(1, 9, 9, 3)).shape  # any n
        torch.Size([1, 9, 9, 4])
    """

    equivariance_tolerance: ClassVar[float | dict | None] = None

    def __init__(self, k_in: int, k_out: int, in_channels: int, out_channels: int, bias: bool = True,
                 pooling: str = "mean"):
        super().__init__()
        for value, name, allowed in ((k_in, "k_in", INPUT_ORDERS), (k_out, "k_out", OUTPUT_ORDERS)):
            if isinstance(value, bool) or value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}"
                                 + (" (an invariant input does not say n)" if name == "k_in" and value == 0 else ""))
        self.k_in, self.k_out = k_in, k_out
        self.in_channels, self.out_channels = check_int(in_channels, "in_channels"), check_int(out_channels, "out_channels")
        self.pooling = check_choice(pooling, POOLINGS, "pooling")
        self.patterns = equality_patterns(k_in + k_out)
        self.bias_patterns = equality_patterns(k_out)
        self.weight = nn.Parameter(torch.empty(len(self.patterns), in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(len(self.bias_patterns), out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=(1.0 / (len(self.patterns) * self.in_channels)) ** 0.5)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def field_types(self, x: Tensor) -> tuple[FieldType, FieldType]:
        n = _check_tensor(x, self.k_in, self.in_channels, type(self).__name__)
        return _types(n, self.k_in, self.k_out, self.in_channels, self.out_channels)

    def operators(self, n: int, dtype: torch.dtype = torch.float64,
                  device: torch.device | str = "cpu") -> tuple[Tensor, Tensor | None]:
        """The operators on n nodes (solved once per n, dtype and device, then cached): ``([Bell(m), n^k_out,
        n^k_in], bias basis [Bell(k_out), n^k_out] or None)``."""
        device = torch.device(device)
        weights = _ign_operators(self.k_in, self.k_out, n, self.pooling, dtype, device)
        biases = None if self.bias is None else _ign_operators(0, self.k_out, n, "sum", dtype, device)[..., 0]
        return weights, biases

    def forward(self, x: Tensor) -> Tensor:
        n = _check_tensor(x, self.k_in, self.in_channels, type(self).__name__)
        batch = x.shape[0]
        operators, biases = self.operators(n, x.dtype, x.device)
        flat = x.reshape(batch, n ** self.k_in, self.in_channels)
        pooled = torch.einsum("pij,bjc->bipc", operators, flat)  # [B, n^k_out, Bell(m), C_in]
        y = pooled.reshape(batch, n ** self.k_out, -1) @ self.weight.reshape(-1, self.out_channels)
        if biases is not None:
            y = y + biases.T @ self.bias
        return y.reshape(batch, *(n,) * self.k_out, self.out_channels)

    def export(self) -> nn.Module:
        """The same function in plain torch, from sums and diagonal extractions (any n, no per-n basis)."""
        return _PatternIGN(self.k_in, self.k_out, self.pooling, self.weight.detach().clone(),
                           None if self.bias is None else self.bias.detach().clone())

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        (x,) = inputs
        bad = super().bad_inputs(*inputs)
        bad["input 0: one axis too few"] = (x[..., 0],)
        bad["input 0: one channel too many"] = (torch.cat([x, x[..., :1]], dim=-1),)
        if self.k_in == 2:
            bad["input 0: node axes of sizes n and n − 1"] = (x[:, :, :-1],)
        bad["input 0: a list instead of a tensor"] = (x.tolist(),)
        return bad

    def extra_repr(self) -> str:
        return (f"k {self.k_in} → {self.k_out}, {self.in_channels} → {self.out_channels}, "
                f"{len(self.patterns)} patterns, pooling={self.pooling!r}, bias={self.bias is not None}")

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["IGNLayer", tuple]:
        """2 → 2 on a batch of 2 graphs of 5 nodes with 3 channels on every pair (random bias)."""
        with seeded(generator):
            layer = cls(2, 2, 3, 4)
            nn.init.normal_(layer.bias)
        return layer, (torch.randn(2, 5, 5, 3, generator=generator),)


# -- plain torch: sums and diagonal extractions -----------------------------------------------------------------
def _letters(count: int, start: str = "A") -> list[str]:
    return [chr(ord(start) + i) for i in range(count)]


def _coarse_einsum(pattern: tuple[int, ...], k_out: int) -> str:
    r"""The ``einsum`` of C_Q, "indices equal at least where Q says": y_I = Σ_{J : J ⪰ Q with I} x_J.

    Block letters ``A…`` index the blocks of Q; an input position reads its block's letter (a repeated letter is a
    diagonal extraction, a letter absent from the output is a sum), and output position t takes its block's value
    through δ(p_t, block) (one identity matrix each: a repeated block becomes a diagonal, a block with output
    positions only a broadcast).
    """
    blocks = _letters(max(pattern) + 1)
    outputs = _letters(k_out, "p")
    operands = ["b" + "".join(blocks[q] for q in pattern[k_out:]) + "c"]
    operands += [outputs[t] + blocks[pattern[t]] for t in range(k_out)]
    return ",".join(operands) + "->b" + "".join(outputs) + "c"


def _coarse_indicator(pattern: tuple[int, ...], n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """C_Q for output positions only (``[n, …(len(Q))]``): 1 where positions in one block of Q are equal."""
    if not pattern:
        return torch.ones((), dtype=dtype, device=device)
    blocks, outputs = _letters(max(pattern) + 1), _letters(len(pattern), "p")
    eye = torch.eye(n, dtype=dtype, device=device)
    equation = ",".join(outputs[t] + blocks[q] for t, q in enumerate(pattern)) + "->" + "".join(outputs)
    return torch.einsum(equation, *[eye] * len(pattern))


def _coarser(fine: tuple[int, ...], coarse: tuple[int, ...]) -> bool:
    """Whether every block of ``fine`` lies inside a block of ``coarse`` (positions equal in fine are equal in coarse)."""
    return all(coarse[a] == coarse[b] for a in range(len(fine)) for b in range(len(fine)) if fine[a] == fine[b])


def mobius_matrix(length: int) -> Tensor:
    r"""μ ``[Bell, Bell]`` (float64, integers) with E_P = Σ_Q μ[P, Q] C_Q on the patterns of ``length`` positions.

    E_P is the indicator of "exactly the equalities of P", C_Q of "at least those of Q"; C_Q = Σ_{P ⪰ Q} E_P, and
    Möbius inversion on the partition lattice gives, for Q coarser than P,
    :math:`\mu(P, Q) = \prod_{B \in Q} (-1)^{k_B - 1} (k_B - 1)!`, k_B the number of blocks of P inside B.
    """
    patterns = equality_patterns(length)
    mu = torch.zeros(len(patterns), len(patterns), dtype=torch.float64)
    for i, fine in enumerate(patterns):
        for j, coarse in enumerate(patterns):
            if _coarser(fine, coarse):
                merged = [len({fine[t] for t in range(length) if coarse[t] == block}) for block in set(coarse)]
                mu[i, j] = math.prod((-1) ** (k - 1) * math.factorial(k - 1) for k in merged)
    return mu


class _PatternIGN(nn.Module):
    r""":class:`IGNLayer` in plain torch: Σ_Q C_Q(x) V_Q with V = μᵀ (s ⊙ W), each C_Q one ``einsum``."""

    def __init__(self, k_in: int, k_out: int, pooling: str, weight: Tensor, bias: Tensor | None):
        super().__init__()
        self.k_in, self.k_out, self.pooling = k_in, k_out, pooling
        self.patterns = equality_patterns(k_in + k_out)
        self.bias_patterns = equality_patterns(k_out)
        self.equations = [_coarse_einsum(p, k_out) for p in self.patterns]
        self.pooled_blocks = [_pooled_blocks(p, k_out) for p in self.patterns]
        self.weight = nn.Parameter(weight)
        self.bias = None if bias is None else nn.Parameter(bias)
        self.register_buffer("mobius", mobius_matrix(k_in + k_out).to(weight.dtype), persistent=False)
        self.register_buffer("bias_mobius", mobius_matrix(k_out).to(weight.dtype), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[1]
        eye = torch.eye(n, dtype=x.dtype, device=x.device)
        scale = torch.tensor([1.0 if self.pooling == "sum" else float(n) ** -f for f in self.pooled_blocks],
                             dtype=x.dtype, device=x.device)
        coarse = torch.einsum("pq,pco->qco", self.mobius, self.weight * scale[:, None, None])
        y = 0
        for equation, weight in zip(self.equations, coarse):
            y = y + torch.einsum(equation, x, *[eye] * self.k_out) @ weight
        if self.bias is not None:
            coarse_bias = self.bias_mobius.T @ self.bias
            for pattern, b in zip(self.bias_patterns, coarse_bias):
                y = y + _coarse_indicator(pattern, n, x.dtype, x.device)[..., None] * b
        return y


# -- the network --------------------------------------------------------------------------------------------------
class IGN(Blueprint):
    r"""An invariant graph network: :math:`f = h \circ \sigma \circ L_{2 \to 0} \circ \sigma \circ L^{(J)}_{2 \to 2}
    \circ \dots \circ \sigma \circ L^{(1)}_{2 \to 2}` (Maron et al. 2019, the book's blueprint on 2-tensors).

    J :class:`IGNLayer` s 2 → 2 with a pointwise σ after each (equivariant: σ commutes with relabelling entries),
    an IGNLayer 2 → 0 (the invariant pooling A, 2 patterns: diagonal and off-diagonal), σ, and a linear head on the
    invariants (:class:`~gdl.graphs.InvariantMLP` with one linear map: it takes its group S_n from the pooling).

    Args:
        in_channels: C, channels of the input 2-tensor (e.g. adjacency and node features on the diagonal).
        hidden_channels: width of the equivariant layers.
        out_channels: size of f(X).
        num_layers: J ≥ 1.
        activation: σ, a name in :data:`gdl.core.ACTIVATIONS` or an entrywise callable.
        pooling: passed to every :class:`IGNLayer`.

    Shapes:
        ``[B, n, n, C]`` → ``[B, out_channels]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2,
                 activation: str = "relu", pooling: str = "mean"):
        check_int(num_layers, "num_layers")
        layers: list = []
        width = in_channels
        for _ in range(num_layers):
            layers += [IGNLayer(2, 2, width, hidden_channels, pooling=pooling), Pointwise(activation=activation)]
            width = hidden_channels
        layers += [IGNLayer(2, 0, hidden_channels, hidden_channels, pooling=pooling), Pointwise(activation=activation),
                   InvariantMLP([hidden_channels, out_channels])]
        super().__init__(*layers)
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        return self.layers[0].bad_inputs(*inputs)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["IGN", tuple]:
        """Two 2 → 2 layers of width 6 on a batch of 2 graphs of 5 nodes with 2 channels (random biases)."""
        with seeded(generator):
            model = cls(2, 6, 3, num_layers=2)
            for layer in model.layers:
                if isinstance(layer, IGNLayer):
                    nn.init.normal_(layer.bias, std=0.5)
        return model, (torch.randn(2, 5, 5, 2, generator=generator),)
