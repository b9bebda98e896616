r"""Layers solved from representations: the most general equivariant linear map, gates, and the EMLP.

:class:`EquivariantLinear` is :math:`y = W x + b` with W ranging over Hom_G(ρ_in, ρ_out) and b over the invariant
vectors of ρ_out, both expanded from the solver's bases (:func:`gdl.representations.equivariant_blocks`): the weights
are the coefficients. :class:`GatedNonlinearity` (Weiler et al. 2018, Finzi et al. 2021) multiplies each non-trivial
summand by the sigmoid of its own invariant gate scalar and applies SiLU to scalars; :class:`EMLP` composes the two
(Finzi, Welling, Wilson 2021) for any group gdl has a representation of.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gdl.core import Blueprint, EquivariantModule

from .base import DirectSum, Representation, Trivial
from .field import RepresentationField
from .solver import equivariant_blocks

__all__ = ["ExactBasis", "ExactLinear", "EquivariantLinear", "EquivariantBilinear", "GatedNonlinearity", "gated", "EMLPBlock", "EMLP"]


class ExactBasis(nn.Module):
    """An ``nn.Module`` whose buffers derived from solved bases are re-derived from float64 masters on every cast.

    ``module.float()`` followed by ``module.double()`` would otherwise leave float32 round-off (≈ 1e-8) in a basis
    that the float64 equivariance check holds to 1e-9. Register such buffers with :meth:`register_exact`.
    """

    def register_exact(self, name: str, master: torch.Tensor) -> None:
        """A non-persistent buffer ``name`` holding ``master`` (float64, kept on the CPU) in the module's dtype."""
        masters = self.__dict__.setdefault("_exact_masters", {})
        masters[name] = master.detach().to(device="cpu", dtype=torch.float64, copy=True)
        self.register_buffer(name, master.to(torch.get_default_dtype(), copy=True), persistent=False)  # never aliased

    def keep_exact(self, name: str, master: torch.Tensor) -> None:
        """Re-derive the existing parameter or buffer ``name`` from the float64 ``master`` on every cast."""
        self.__dict__.setdefault("_exact_masters", {})[name] = master.detach().to(device="cpu", dtype=torch.float64,
                                                                                  copy=True)

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        for name, master in self.__dict__.get("_exact_masters", {}).items():
            current = getattr(self, name)
            if isinstance(current, nn.Parameter):
                current.data = master.to(device=current.device, dtype=current.dtype, copy=True)
            else:
                setattr(self, name, master.to(device=current.device, dtype=current.dtype, copy=True))
        return result


class ExactLinear(ExactBasis, nn.Linear):
    """An ``nn.Linear`` whose weight and bias were expanded in float64: casts re-derive them from those masters, so
    an exported layer cast to float64 computes exactly what the gdl layer computes in float64."""

    @classmethod
    def from_float64(cls, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype,
                     device: torch.device | str = "cpu") -> "ExactLinear":
        linear = cls(weight.shape[1], weight.shape[0], bias=bias is not None, device=device, dtype=dtype)
        linear.keep_exact("weight", weight)
        if bias is not None:
            linear.keep_exact("bias", bias)
        return linear.to(dtype)


def _as_rep(value: Any, what: str) -> Representation:
    if isinstance(value, RepresentationField):
        return value.rep
    if isinstance(value, Representation):
        return value
    raise TypeError(f"{what} must be a Representation or a RepresentationField, got {type(value).__name__}")


class _BlockExpansion(ExactBasis):
    r"""W = Σ_blocks Σ_occurrences Σ_r c[p, r] B_r placed at the occurrence's offsets (a ``[d_out, d_in]`` matrix)."""

    def __init__(self, rep_in: Representation, rep_out: Representation):
        super().__init__()
        self.shape = (rep_out.dim, rep_in.dim)
        blocks = equivariant_blocks(rep_in, rep_out)
        self.coefficients = nn.ParameterList()
        self.sizes = []
        for u, block in enumerate(blocks):
            r, d_out, d_in = block.basis.shape
            rows = block.out_offsets[:, None, None] + torch.arange(d_out)[None, :, None]
            cols = block.in_offsets[:, None, None] + torch.arange(d_in)[None, None, :]
            self.register_buffer(f"index_{u}", (rows * rep_in.dim + cols).reshape(-1), persistent=False)
            self.register_exact(f"basis_{u}", block.basis)
            self.coefficients.append(nn.Parameter(torch.zeros(block.out_offsets.numel(), r)))
            self.sizes.append((r, d_out, d_in))
        self.dimension = sum(p.numel() for p in self.coefficients)

    def reset_parameters(self, fan_in: int) -> None:
        for coefficients, (r, d_out, d_in) in zip(self.coefficients, self.sizes):
            nn.init.normal_(coefficients, std=(d_out * d_in / (r * max(1, fan_in))) ** 0.5)

    def forward(self) -> torch.Tensor:
        device = self.coefficients[0].device.type if len(self.coefficients) else "cpu"
        with torch.autocast(device, enabled=False):  # W in the weights' dtype; the layer's matmul autocasts
            return self._expand()

    def _expand(self) -> torch.Tensor:
        flat = None
        for u, coefficients in enumerate(self.coefficients):
            basis = getattr(self, f"basis_{u}")
            values = torch.einsum("pr,rab->pab", coefficients.to(basis.dtype), basis).reshape(-1)
            if flat is None:
                flat = torch.zeros(self.shape[0] * self.shape[1], dtype=basis.dtype, device=basis.device)
            flat = flat.index_put((getattr(self, f"index_{u}"),), values)
        if flat is None:
            return torch.zeros(self.shape, dtype=torch.get_default_dtype())
        return flat.reshape(self.shape)


class EquivariantLinear(EquivariantModule):
    r"""The most general G-equivariant affine map :math:`y = W x + b` between two representations.

    .. math::

        W = \sum_a c_a B_a, \quad \{B_a\} \text{ a basis of } \mathrm{Hom}_G(\rho_\text{in}, \rho_\text{out}),
        \qquad b = \sum_a c'_a v_a, \quad \rho_\text{out}(g) v_a = v_a,

    so :math:`W \rho_\text{in}(g) x + b = \rho_\text{out}(g)(W x + b)` for every g. The bases come from
    :func:`gdl.representations.equivariant_blocks` (one coefficient vector per occurrence of a summand pair), so a
    layer between direct sums stores no dense basis. For S_n on sets this is Deep Sets' layer
    (:math:`W = \lambda I + \gamma \mathbf{1}\mathbf{1}^\top`), for S_n on 2-tensors the 15-parameter IGN layer.

    Args:
        rep_in: ρ_in (or a :class:`RepresentationField`).
        rep_out: ρ_out, of the same group.
        bias: learn b (only where ρ_out has invariant vectors).

    Shapes:
        ``[..., d_in]`` → ``[..., d_out]``.

    Raises:
        TypeError: the representations belong to different groups.
        ValueError: Hom_G(ρ_in, ρ_out) = {0} (no equivariant map but zero).
    """

    def __init__(self, rep_in: Representation | RepresentationField, rep_out: Representation | RepresentationField,
                 bias: bool = True):
        super().__init__()
        rep_in, rep_out = _as_rep(rep_in, "rep_in"), _as_rep(rep_out, "rep_out")
        if rep_in.group != rep_out.group:
            raise TypeError(f"EquivariantLinear needs representations of one group, got {rep_in!r} of "
                            f"{rep_in.group!r} and {rep_out!r} of {rep_out.group!r}")
        self.in_type, self.out_type = RepresentationField(rep_in), RepresentationField(rep_out)
        self.weight_expansion = _BlockExpansion(rep_in, rep_out)
        if self.weight_expansion.dimension == 0:
            raise ValueError(f"there is no nonzero G-equivariant linear map from {rep_in!r} to {rep_out!r} for "
                             f"G = {rep_in.group!r}: Hom_G is {{0}}")
        self.bias_expansion = _BlockExpansion(Trivial(rep_in.group), rep_out) if bias else None
        if self.bias_expansion is not None and self.bias_expansion.dimension == 0:
            self.bias_expansion = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.weight_expansion.reset_parameters(self.in_type.dim)
        if self.bias_expansion is not None:
            for coefficients in self.bias_expansion.coefficients:
                nn.init.zeros_(coefficients)

    @property
    def weight(self) -> torch.Tensor:
        """W ``[d_out, d_in]``, expanded from the coefficients."""
        return self.weight_expansion()

    @property
    def bias(self) -> torch.Tensor | None:
        """b ``[d_out]`` (invariant under ρ_out), or ``None``."""
        return None if self.bias_expansion is None else self.bias_expansion()[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        weight = self.weight.to(x.dtype)
        bias = self.bias
        return nn.functional.linear(x, weight, None if bias is None else bias.to(x.dtype))

    def export(self) -> ExactLinear:
        """An ``nn.Linear`` (:class:`ExactLinear`) holding W and b, expanded in float64 from the coefficients."""
        dtype, device = self.weight_expansion.coefficients[0].dtype, self.weight_expansion.coefficients[0].device
        with torch.no_grad():
            master = self.double()  # re-derives the bases from their float64 masters
            weight, bias = master.weight.detach().clone(), None if master.bias is None else master.bias.detach().clone()
            self.to(dtype)
        return ExactLinear.from_float64(weight, bias, dtype, device)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        (x,) = inputs
        return {f"last axis {x.shape[-1] + 1} instead of {x.shape[-1]}": (torch.cat([x, x[..., :1]], -1),),
                "an integer tensor": (x.round().long(),), "a list instead of a tensor": (x.tolist(),)}

    def extra_repr(self) -> str:
        return (f"{self.in_type.rep!r} → {self.out_type.rep!r} of {self.group!r}, "
                f"{self.weight_expansion.dimension} weights, bias={self.bias_expansion is not None}")

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        from gdl.symmetries import Orthogonal

        from .standard import StandardRepresentation

        vector = StandardRepresentation(Orthogonal(3))
        layer = cls(2 * vector + Trivial(vector.group), vector * vector + vector + Trivial(vector.group))
        return layer, (torch.randn(5, 7, generator=generator),)


def gated(rep: Representation) -> Representation:
    r"""ρ ⊕ k·trivial: ρ with one gate scalar per non-trivial summand (the input of :class:`GatedNonlinearity`)."""
    count = sum(1 for part in rep.summands() if not part.is_trivial)
    return rep if count == 0 else rep + Trivial(rep.group, count)


class _Gate(nn.Module):
    """The gate in plain torch: ``x [..., d + k]`` → ``[..., d]``."""

    def __init__(self, scalar: torch.Tensor, gate_index: torch.Tensor, dim: int):
        super().__init__()
        self.dim = dim
        self.register_buffer("scalar", scalar, persistent=False)
        self.register_buffer("gate_index", gate_index, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, gates = x[..., :self.dim], x[..., self.dim:]
        if gates.shape[-1] == 0:
            return nn.functional.silu(values)
        gate = torch.sigmoid(gates.index_select(-1, self.gate_index))
        return torch.where(self.scalar, nn.functional.silu(values), values * gate)


class GatedNonlinearity(EquivariantModule):
    r"""σ on ``gated(ρ)`` → ρ: scalars through SiLU, each non-trivial summand v_j scaled by its gate.

    .. math::

        y_j = v_j\, \mathrm{sigmoid}(s_j) \ (\rho_j \text{ non-trivial}), \qquad y_j = \mathrm{SiLU}(v_j)
        \ (\rho_j \text{ trivial}),

    equivariant for any representation because the gate scalars s_j are invariant and each summand is acted on
    linearly by its own block.

    Args:
        rep: ρ, the output representation; the input is :func:`gated` (ρ).

    Shapes:
        ``[..., d + k]`` → ``[..., d]`` (k the number of non-trivial summands).
    """

    def __init__(self, rep: Representation | RepresentationField):
        super().__init__()
        rep = _as_rep(rep, "rep")
        self.in_type, self.out_type = RepresentationField(gated(rep)), RepresentationField(rep)
        scalar, gate_index, gate = [], [], 0
        for part in rep.summands():
            scalar += [part.is_trivial] * part.dim
            gate_index += [0 if part.is_trivial else gate] * part.dim
            gate += 0 if part.is_trivial else 1
        self.gate = _Gate(torch.tensor(scalar, dtype=torch.bool), torch.tensor(gate_index, dtype=torch.long), rep.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        return self.gate(x)

    def export(self) -> nn.Module:
        return _Gate(self.gate.scalar.clone(), self.gate.gate_index.clone(), self.gate.dim)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        (x,) = inputs
        return {f"last axis {x.shape[-1] - 1} instead of {x.shape[-1]} (gates missing)": (x[..., :-1],),
                "an integer tensor": (x.round().long(),)}

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        from gdl.symmetries import Orthogonal

        from .standard import StandardRepresentation

        vector = StandardRepresentation(Orthogonal(3))
        layer = cls(Trivial(vector.group, 2) + vector + vector * vector)
        return layer, (torch.randn(4, layer.in_type.dim, generator=generator),)


class EquivariantBilinear(EquivariantModule):
    r"""An equivariant quadratic map: the products of pairs of input summands, mapped linearly to ρ_out.

    .. math::

        y = W \Big(\bigoplus_{a \le b} x_a \otimes x_b\Big), \qquad
        W \in \mathrm{Hom}_G\Big(\bigoplus_{a \le b} \rho_a \otimes \rho_b,\ \rho_\text{out}\Big),

    equivariant because :math:`(\rho_a(g) x_a) \otimes (\rho_b(g) x_b) = (\rho_a \otimes \rho_b)(g)(x_a \otimes x_b)`.
    This is how an EMLP makes scalars from vectors (x·y) and 2-tensors from vectors (x yᵀ), which no linear map and no
    gate can. Pairs whose product has more than ``max_pair_dim`` dimensions are left out.

    Args:
        rep_in: ρ_in = ⊕ ρ_a.
        rep_out: ρ_out.
        max_pair_dim: the largest d_a·d_b used.

    Shapes:
        ``[..., d_in]`` → ``[..., d_out]``.
    """

    def __init__(self, rep_in: Representation | RepresentationField, rep_out: Representation | RepresentationField,
                 max_pair_dim: int = 81):
        super().__init__()
        rep_in, rep_out = _as_rep(rep_in, "rep_in"), _as_rep(rep_out, "rep_out")
        self.in_type, self.out_type = RepresentationField(rep_in), RepresentationField(rep_out)
        parts = rep_in.summands()
        offsets = [0] + [sum(p.dim for p in parts[:i + 1]) for i in range(len(parts))]
        pairs = [(a, b) for a in range(len(parts)) for b in range(a, len(parts))
                 if parts[a].dim * parts[b].dim <= max_pair_dim]
        if not pairs:
            raise ValueError(f"EquivariantBilinear: no pair of summands of {rep_in!r} has a product of at most "
                             f"{max_pair_dim} dimensions")
        left = torch.cat([offsets[a] + torch.arange(parts[a].dim).repeat_interleave(parts[b].dim) for a, b in pairs])
        right = torch.cat([offsets[b] + torch.arange(parts[b].dim).repeat(parts[a].dim) for a, b in pairs])
        self.register_buffer("left", left, persistent=False)
        self.register_buffer("right", right, persistent=False)
        products = DirectSum(tuple(parts[a] * parts[b] for a, b in pairs))
        self.linear = EquivariantLinear(products, rep_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        return self.linear(x.index_select(-1, self.left) * x.index_select(-1, self.right))

    def export(self) -> nn.Module:
        return _PlainBilinear(self.left.clone(), self.right.clone(), self.linear.export())

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        (x,) = inputs
        return {f"last axis {x.shape[-1] + 1} instead of {x.shape[-1]}": (torch.cat([x, x[..., :1]], -1),),
                "an integer tensor": (x.round().long(),)}

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        from gdl.symmetries import Orthogonal

        from .standard import StandardRepresentation

        vector = StandardRepresentation(Orthogonal(3))
        layer = cls(2 * vector, Trivial(vector.group, 2) + vector * vector)
        return layer, (torch.randn(5, 6, generator=generator),)


class _PlainBilinear(nn.Module):
    def __init__(self, left: torch.Tensor, right: torch.Tensor, linear: nn.Linear):
        super().__init__()
        self.register_buffer("left", left, persistent=False)
        self.register_buffer("right", right, persistent=False)
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.index_select(-1, self.left) * x.index_select(-1, self.right))


class _PlainEMLPBlock(nn.Module):
    def __init__(self, linear: nn.Module, bilinear: nn.Module, gate: nn.Module):
        super().__init__()
        self.linear, self.bilinear, self.gate = linear, bilinear, gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.linear(x) + self.bilinear(x))


class EMLPBlock(EquivariantModule):
    r"""One EMLP layer: :math:`x \mapsto \sigma\big(L x + Q(x)\big)` with L :class:`EquivariantLinear`, Q
    :class:`EquivariantBilinear` into gated(ρ_h) and σ the :class:`GatedNonlinearity`.

    Shapes:
        ``[..., d_in]`` → ``[..., d_h]``.
    """

    def __init__(self, rep_in: Representation | RepresentationField, hidden: Representation | RepresentationField):
        super().__init__()
        rep_in, hidden = _as_rep(rep_in, "rep_in"), _as_rep(hidden, "hidden")
        self.in_type, self.out_type = RepresentationField(rep_in), RepresentationField(hidden)
        self.linear = EquivariantLinear(rep_in, gated(hidden))
        self.bilinear = EquivariantBilinear(rep_in, gated(hidden))
        self.gate = GatedNonlinearity(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        return self.gate(self.linear(x) + self.bilinear(x))

    def export(self) -> nn.Module:
        return _PlainEMLPBlock(self.linear.export(), self.bilinear.export(), self.gate.export())

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        return self.linear.bad_inputs(*inputs)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        from gdl.symmetries import Orthogonal

        from .standard import StandardRepresentation

        vector = StandardRepresentation(Orthogonal(3))
        layer = cls(2 * vector, Trivial(vector.group, 3) + vector + vector * vector)
        return layer, (torch.randn(5, 6, generator=generator),)


class EMLP(Blueprint):
    r"""The equivariant MLP of Finzi, Welling & Wilson (2021) for any group and representations.

    .. math::

        f = L_{J+1} \circ B_J \circ \dots \circ B_1, \qquad
        B_j(x) = \sigma\big(L_j x + Q_j(x)\big),

    with :class:`EMLPBlock` s B_j (equivariant linear L_j and bilinear Q_j maps into gated(ρ_h), then the gated
    nonlinearity σ) and a final :class:`EquivariantLinear` L_{J+1}: ρ_h → ρ_out. The hidden representation ρ_h is the
    caller's choice: a direct sum of scalars, vectors and tensors (e.g. ``8 * Trivial(G) + 4 * V + 2 * (V * V)``;
    mind the parentheses: ``2 * V * V`` is (2·V) ⊗ V, one summand).

    Args:
        rep_in, rep_out: the input and output representations.
        hidden: ρ_h.
        num_layers: J, the number of hidden layers (≥ 1).

    Shapes:
        ``[..., d_in]`` → ``[..., d_out]``.
    """

    def __init__(self, rep_in: Representation, rep_out: Representation, hidden: Representation, num_layers: int = 2):
        from gdl.core.checks import check_int

        check_int(num_layers, "num_layers")
        for rep, name in ((rep_in, "rep_in"), (rep_out, "rep_out"), (hidden, "hidden")):
            _as_rep(rep, name)
        layers: list[EquivariantModule] = []
        previous = rep_in
        for _ in range(num_layers):
            layers.append(EMLPBlock(previous, hidden))
            previous = hidden
        layers.append(EquivariantLinear(previous, rep_out))
        super().__init__(*layers)

    def bad_inputs(self, *inputs: Any) -> dict[str, tuple]:
        return self.layers[0].bad_inputs(*inputs)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        from gdl.symmetries import Orthogonal

        from .standard import StandardRepresentation

        vector = StandardRepresentation(Orthogonal(3))
        scalars = Trivial(vector.group)
        model = cls(2 * vector, vector * vector + scalars, hidden=4 * scalars + 2 * vector + vector * vector)
        return model, (torch.randn(6, 6, generator=generator),)

