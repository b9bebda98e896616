"""Layers on Riemannian manifolds, built on geoopt, each stating exactly which isometries it respects (book §4.4).

=================================  ========================================  ==========================================
layer                              map                                       symmetry it has (declared and tested)
=================================  ========================================  ==========================================
:class:`MobiusLinear`              x ↦ exp₀(W log₀ x) ⊕ b on Dⁿ_K            S_N on a set of N points only (see below)
:class:`HyperbolicDistanceLogits`  (x, P) ↦ −β d(x, p_k)²                    invariant under Isom(Hⁿ) moving x and P
:class:`GeodesicDistances`         (x, y) ↦ d(x_i, y_j) on a manifold field  invariant under the field's isometries
:class:`OrthogonalLinear`          V ↦ W V, W on the Stiefel manifold        O(n) on n-vector channels, norm-preserving
:class:`SPDBiMap`                  Σ ↦ Wᵀ Σ W, W on the Stiefel manifold     scalings Σ ↦ sΣ
:class:`SPDLogMap`                 Σ ↦ log Σ (log-Euclidean chart)           O(n) congruence × scalings (s ↦ +log s·I)
:class:`SPDLayer`                  Σ ↦ log(Wᵀ Σ W)                           scalings (s ↦ +log s·I)
=================================  ========================================  ==========================================

Weights that live on a manifold are ``geoopt.ManifoldParameter``s; train them with
:func:`gdl.geodesics.riemannian_optimizer` (a Riemannian Adam/SGD that also treats ordinary parameters correctly).

Why :class:`MobiusLinear` declares so little. log₀ and exp₀ commute with rotations about the origin
(log₀(R x) = R log₀ x), so f(R x) = exp₀(W R log₀ x) ⊕ b equals R f(x) only when W R = R W and R b = b: a
generic weight breaks every rotation, and a bias breaks every rotation that moves it. The layer acts on each point
alone, so what it always respects is a relabelling of the points of a set. Its tests measure both: exact
S_N-equivariance, and an O(n) error of order one for a generic W that vanishes for W = α I without bias.

Graph breaks under ``torch.compile``: geoopt's κ-stereographic maps (tan_κ, artan_κ behind ``mobius_matvec``)
branch on the sign of the curvature tensor, which dynamo cannot trace; :class:`MobiusLinear` declares the breaks
in ``expected_graph_breaks``. Distances use gdl's closed form and compile to one graph. Point checks are skipped
while compiling.
"""

from __future__ import annotations

import math

import geoopt
import torch
from torch import nn

from gdl.core import EquivariantModule, FieldType, ProductField, ProductGroup, TrivialField, TupleField, seeded
from gdl.core.checks import check_int
from gdl.symmetries.euclidean import Orthogonal, VectorField
from gdl.symmetries.permutations import Permutations

from .isometries import (
    HyperbolicIsometries,
    LogSPDField,
    LorentzField,
    ManifoldField,
    PoincareBallField,
    PositiveScalings,
    SPDField,
    SphereField,
)
from .manifolds import check_points, hyperbolic_c, poincare_ball, poincare_distance

__all__ = ["MobiusLinear", "HyperbolicDistanceLogits", "GeodesicDistances", "OrthogonalLinear", "SPDBiMap",
           "SPDLogMap", "SPDLayer", "random_stiefel"]


def random_stiefel(n: int, p: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A Haar-random point of St(n, p) ``[n, p]`` (QR of a Gaussian with the sign fix; uses torch's global RNG)."""
    q, r = torch.linalg.qr(torch.randn(n, p, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r)).unsqueeze(0)).to(dtype)


def _without_extra_axis(bad: dict[str, tuple]) -> dict[str, tuple]:
    """The base's bad inputs minus "one axis too many", for layers that take any number of leading axes."""
    return {what: inputs for what, inputs in bad.items() if "one axis too many" not in what}


class MobiusLinear(EquivariantModule):
    """Hyperbolic linear layer (Ganea, Bécigneul & Hofmann 2018): y = (W ⊗_c x) ⊕_c b.

    .. math::
        W ⊗_c x = \\exp_0(W \\log_0 x) = \\tanh\\!\\Big(\\frac{‖Wx‖}{‖x‖}\\operatorname{artanh}(\\sqrt c‖x‖)\\Big)
        \\frac{Wx}{\\sqrt c ‖Wx‖}

    the linear map W read in the tangent space at the origin, then the Möbius translation by the bias point b
    (a ``ManifoldParameter`` on the ball, trained by a Riemannian optimiser). Both come from geoopt
    (``mobius_matvec``, ``mobius_add``); the output is projected into the ball as geoopt recommends.

    Symmetry: S_N on a set of N points (see the module docstring for why rotations are not declared); N is read
    from the input (:meth:`field_types`), so one layer runs on sets of any size.

    Args:
        in_features, out_features: n_in and n_out (points of D^{n_in} → D^{n_out}).
        curvature: K < 0 of both balls.
        bias: learn the bias point b (initialised at the origin).

    Shapes:
        ``[..., N, n_in]`` → ``[..., N, n_out]`` (any leading axes; every point mapped alone).
    """

    expected_graph_breaks = 2  # geoopt's tan_κ / artan_κ branch on the sign of κ (module docstring)

    def __init__(self, in_features: int, out_features: int, curvature: float = -1.0, bias: bool = True):
        super().__init__()
        self.in_features = check_int(in_features, "in_features")
        self.out_features = check_int(out_features, "out_features")
        self.curvature = -hyperbolic_c(curvature)
        self.ball = poincare_ball(self.curvature)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn.Linear's initialisation
        self.bias = geoopt.ManifoldParameter(torch.zeros(out_features), manifold=self.ball) if bias else None

    def _check(self, x: torch.Tensor) -> None:
        check_points(x, "poincare", dim=self.in_features, curvature=self.curvature, name="MobiusLinear input")
        if x.dim() < 2:
            raise ValueError(f"MobiusLinear expects a set of points [..., N, {self.in_features}], got shape "
                             f"{list(x.shape)}")

    def field_types(self, x: torch.Tensor) -> tuple[FieldType, FieldType]:
        """``(in_type, out_type)`` on the set of N = ``x.shape[-2]`` points of ``x``: S_N relabels them."""
        self._check(x)
        group = Permutations(x.shape[-2])
        return (PoincareBallField(group, self.in_features, self.curvature),
                PoincareBallField(group, self.out_features, self.curvature))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        y = self.ball.mobius_matvec(self.weight, x)
        if self.bias is not None:
            y = self.ball.mobius_add(y, self.bias)
        return self.ball.projx(y)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            layer = cls(3, 4, curvature=-1.0)
            with torch.no_grad():
                layer.bias.copy_(layer.ball.expmap0(0.3 * torch.randn(4)))
            x = layer.ball.expmap0(0.5 * torch.randn(2, 5, 3))
        return layer, (x,)

    def bad_inputs(self, x: torch.Tensor) -> dict[str, tuple]:
        outside = x.clone()
        outside[..., 0, :] = 2.0
        return {**_without_extra_axis(super().bad_inputs(x)),
                "a single point [n], not a set [..., N, n]": (x[(0,) * (x.dim() - 1)],),
                f"points of dimension {self.in_features - 1}": (x[..., :-1],),
                "points outside the ball": (outside,)}

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, curvature={self.curvature:g}, bias={self.bias is not None}"


class HyperbolicDistanceLogits(EquivariantModule):
    """Distance-to-prototype logits on the Poincaré ball: logit_k(x) = −β d_K(x, p_k)² (or −β d_K(x, p_k)).

    The prototypes p_k are a ``ManifoldParameter`` on the ball (Riemannian-optimised), β = exp(log β) > 0 a learned
    temperature, d the clamp-free :func:`~gdl.geodesics.manifolds.poincare_distance`. Because d is an isometry
    invariant, moving the inputs *and* the prototypes by any g ∈ Isom(Hⁿ) leaves the logits unchanged; that is the
    declared symmetry, with the prototypes as the second argument (``forward(x, prototypes)``; omitted, the layer's
    own prototypes are used). A fixed set of prototypes is, by itself, respected only by the isometries that fix
    all of them.

    Args:
        dim: n, the ball's dimension.
        num_classes: number of prototypes K.
        curvature: K < 0.
        squared: use d² (a softmax over −d² is the hyperbolic analogue of a Gaussian classifier) or d.

    Shapes:
        x ``[..., n]``, prototypes ``[K, n]`` → logits ``[..., K]``.
    """

    def __init__(self, dim: int, num_classes: int, curvature: float = -1.0, squared: bool = True):
        super().__init__()
        self.dim = check_int(dim, "dim")
        self.num_classes = check_int(num_classes, "num_classes")
        self.curvature = -hyperbolic_c(curvature)
        self.squared = bool(squared)
        self.ball = poincare_ball(self.curvature)
        self.prototypes = geoopt.ManifoldParameter(self.ball.expmap0(0.1 * torch.randn(num_classes, dim)).float(),
                                                   manifold=self.ball)
        self.log_scale = nn.Parameter(torch.zeros(()))
        group = HyperbolicIsometries(self.dim, self.curvature)
        point = PoincareBallField(group, self.dim, self.curvature)
        self.in_type = TupleField((point, point))
        self.out_type = TrivialField(group, self.num_classes)

    def forward(self, x: torch.Tensor, prototypes: torch.Tensor | None = None) -> torch.Tensor:
        self.in_type.fields[0].validate(x)
        if prototypes is None:
            prototypes = self.prototypes
        else:
            self.in_type.fields[1].validate(prototypes)
            if prototypes.shape != (self.num_classes, self.dim):
                raise ValueError(f"prototypes must have shape [{self.num_classes}, {self.dim}], got {list(prototypes.shape)}")
        distance = poincare_distance(x.unsqueeze(-2), prototypes, self.curvature)
        return -self.log_scale.exp() * (distance ** 2 if self.squared else distance)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            layer = cls(3, 4)
            x = layer.ball.expmap0(0.3 * torch.randn(6, 3))
            prototypes = layer.ball.expmap0(0.3 * torch.randn(4, 3))
        return layer, (x, prototypes)

    def bad_inputs(self, x: torch.Tensor, prototypes: torch.Tensor | None = None) -> dict[str, tuple]:
        bad = {**_without_extra_axis(super().bad_inputs(x, prototypes)),
               f"points of dimension {self.dim - 1}": (x[..., :-1], prototypes),
               "points outside the ball": (torch.full_like(x, 1.0), prototypes)}
        if prototypes is not None:
            bad["two prototypes instead of all"] = (x, prototypes[:2])
            bad["prototypes outside the ball"] = (x, torch.full_like(prototypes, 1.0))
        return bad

    def export(self) -> nn.Module:
        return _PlainDistanceLogits(self.prototypes.detach(), self.log_scale.detach(), self.curvature, self.squared)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_classes={self.num_classes}, curvature={self.curvature:g}, squared={self.squared}"


class _PlainDistanceLogits(nn.Module):
    """:class:`HyperbolicDistanceLogits` in plain torch: −β d(x, p_k)² (or −β d) with the closed-form distance."""

    def __init__(self, prototypes: torch.Tensor, log_scale: torch.Tensor, curvature: float, squared: bool):
        super().__init__()
        self.prototypes = nn.Parameter(prototypes.clone())
        self.log_scale = nn.Parameter(log_scale.clone())
        self.c, self.squared = -curvature, squared

    def forward(self, x: torch.Tensor, prototypes: torch.Tensor | None = None) -> torch.Tensor:
        p = self.prototypes if prototypes is None else prototypes
        x = x.unsqueeze(-2)
        gap = (1 - self.c * (x * x).sum(-1)) * (1 - self.c * (p * p).sum(-1))
        distance = (2 / math.sqrt(self.c)) * torch.asinh(math.sqrt(self.c) * (x - p).norm(dim=-1)
                                                         / gap.clamp_min(torch.finfo(gap.dtype).tiny).sqrt())
        return -self.log_scale.exp() * (distance ** 2 if self.squared else distance)


class GeodesicDistances(EquivariantModule):
    """All geodesic distances between two sets of points of one manifold: D_ij = d(x_i, y_j).

    geoopt's ``dist`` of the field's manifold, except on the Poincaré ball, where gdl's clamp-free
    :func:`~gdl.geodesics.manifolds.poincare_distance` is used (geoopt's saturates at ≈ 16.8/√c).

    Invariant under the field's isometry group acting on both sets: d(g·x, g·y) = d(x, y). Works for
    :class:`PoincareBallField`, :class:`LorentzField`, :class:`SphereField` and :class:`SPDField` (affine-invariant
    distance); the Stiefel manifold has no closed-form geodesic distance in geoopt and is refused, and so are
    point-set permutations (they would permute D, not leave it unchanged).

    Args:
        field: the field type of both inputs.

    Shapes:
        x ``[..., N, *point]``, y ``[..., M, *point]`` → ``[..., N, M]``.
    """

    def __init__(self, field: ManifoldField):
        super().__init__()
        if not isinstance(field, (PoincareBallField, LorentzField, SphereField, SPDField)):
            raise TypeError(f"GeodesicDistances needs a PoincareBallField, LorentzField, SphereField or SPDField, got "
                            f"{field!r}")
        if isinstance(field.group, Permutations):
            raise TypeError(f"GeodesicDistances is invariant under isometries; {field!r} is acted on by permutations, "
                            "which permute the distance matrix instead")
        self.manifold = field.manifold()
        self.field = field
        self.in_type = TupleField((field, field))
        self.out_type = TrivialField(field.group)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.in_type.validate((x, y))
        dims = self.field.point_dims
        if x.dim() <= dims or y.dim() <= dims:
            raise ValueError(f"GeodesicDistances expects sets of points [..., N, *point] and [..., M, *point], got "
                             f"{list(x.shape)} and {list(y.shape)}")
        x, y = x.unsqueeze(-1 - dims), y.unsqueeze(-2 - dims)
        if isinstance(self.field, PoincareBallField):
            return poincare_distance(x, y, self.field.curvature)
        return self.manifold.dist(x, y)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        field = LorentzField(HyperbolicIsometries(3))
        with seeded(generator):
            layer = cls(field)
            tangent = lambda n: torch.cat([torch.zeros(n, 1), 0.7 * torch.randn(n, 3)], dim=1).double()  # noqa: E731
            x, y = layer.manifold.expmap0(tangent(5)), layer.manifold.expmap0(tangent(4))
        return layer, (x, y)

    def bad_inputs(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, tuple]:
        bad = {**_without_extra_axis(super().bad_inputs(x, y)),
               "one point instead of a set": (x[(0,) * (x.dim() - self.field.point_dims)], y),
               "points of another dimension": (x, y[..., :-1])}
        if isinstance(self.field, (PoincareBallField, LorentzField, SphereField)):
            bad["points off the manifold"] = (x, 2 * y + 1)
        return bad

    def extra_repr(self) -> str:
        return f"field={self.field!r}"


class OrthogonalLinear(EquivariantModule):
    """Channel mixing with an orthonormal weight: V ↦ W V, W ∈ R^{C_out × C_in} on the Stiefel manifold.

    The weight is stored as a ``ManifoldParameter`` on ``geoopt.EuclideanStiefel`` in its tall orientation: for
    C_out ≥ C_in, WᵀW = I (an isometric embedding, ‖W V‖_F = ‖V‖_F); for C_out < C_in, W Wᵀ = I (an orthogonal
    projection onto C_out channels). A Riemannian optimiser keeps it exactly there; an ordinary one would not.

    Each of the C channels is a vector in Rⁿ (``[..., C, n]``, e.g. n = 3 for velocities) and W mixes channels, not
    coordinates, so the layer commutes with every R ∈ O(n) acting on the vectors: W (V Rᵀ) = (W V) Rᵀ. With
    n = 1 (scalar channels ``[..., C, 1]``) the group is O(1) = {±1}. There is no bias (it would break O(n)).

    Args:
        in_channels, out_channels: C_in and C_out.
        vector_dim: n.

    Shapes:
        ``[..., C_in, n]`` → ``[..., C_out, n]``.
    """

    def __init__(self, in_channels: int, out_channels: int, vector_dim: int = 3):
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels")
        self.out_channels = check_int(out_channels, "out_channels")
        self.vector_dim = check_int(vector_dim, "vector_dim")
        tall = (max(in_channels, out_channels), min(in_channels, out_channels))
        self.weight = geoopt.ManifoldParameter(random_stiefel(*tall), manifold=geoopt.EuclideanStiefel())
        self.in_type = self.out_type = VectorField(Orthogonal(self.vector_dim))

    @property
    def matrix(self) -> torch.Tensor:
        """W ``[C_out, C_in]``."""
        return self.weight if self.out_channels >= self.in_channels else self.weight.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        if x.dim() < 2 or x.shape[-2] != self.in_channels:
            raise ValueError(f"OrthogonalLinear expects {self.in_channels} vector channels [..., {self.in_channels}, "
                             f"{self.vector_dim}], got shape {list(x.shape)}")
        return self.matrix @ x

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            return cls(4, 6, vector_dim=3), (torch.randn(2, 4, 3),)

    def bad_inputs(self, x: torch.Tensor) -> dict[str, tuple]:
        return {**_without_extra_axis(super().bad_inputs(x)),
                f"{self.in_channels - 1} channels instead of {self.in_channels}": (x[..., :-1, :],),
                f"vectors in R^{self.vector_dim + 1}": (torch.cat([x, x[..., :1]], dim=-1),),
                "no channel axis": (x[(0,) * (x.dim() - 1)],)}

    def export(self) -> nn.Module:
        """A bias-free ``nn.Linear`` holding the current W, applied to the channel axis."""
        linear = nn.Linear(self.in_channels, self.out_channels, bias=False).to(self.weight)
        with torch.no_grad():
            linear.weight.copy_(self.matrix)
        return _ChannelLinear(linear)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, vector_dim={self.vector_dim}"


class _ChannelLinear(nn.Module):
    """Plain form of :class:`OrthogonalLinear`: an ``nn.Linear`` on axis −2 of ``[..., C, n]``."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.transpose(-1, -2)).transpose(-1, -2)


class SPDBiMap(EquivariantModule):
    """The bilinear SPD map Σ ↦ Wᵀ Σ W with W ∈ St(n_in, n_out) (Huang & Van Gool 2017, SPDNet's BiMap).

    WᵀW = I keeps the output positive definite (full column rank) and the weight on geoopt's Stiefel manifold.
    The map commutes with scalings, Wᵀ(sΣ)W = s WᵀΣW, which is the declared symmetry. (Congruence by R ∈ O(n_in)
    is respected only when R preserves span(W) and acts on it as the identity.)

    Args:
        in_dim, out_dim: n_in ≥ n_out.

    Shapes:
        ``[..., n_in, n_in]`` → ``[..., n_out, n_out]``.
    """

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.in_dim, self.out_dim = check_int(in_dim, "in_dim"), check_int(out_dim, "out_dim")
        if out_dim > in_dim:
            raise ValueError(f"SPDBiMap needs out_dim ≤ in_dim (W ∈ St(in_dim, out_dim)), got {in_dim} → {out_dim}")
        self.weight = geoopt.ManifoldParameter(random_stiefel(in_dim, out_dim), manifold=geoopt.EuclideanStiefel())
        group = PositiveScalings()
        self.in_type, self.out_type = SPDField(group, in_dim), SPDField(group, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        y = self.weight.transpose(-1, -2) @ x @ self.weight
        return 0.5 * (y + y.transpose(-1, -2))

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            return cls(5, 3), (_random_spd(2, 5),)

    def bad_inputs(self, x: torch.Tensor) -> dict[str, tuple]:
        return _spd_bad_inputs(super().bad_inputs(x), x)

    def export(self) -> nn.Module:
        return _PlainBiMap(self.weight.detach())

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}"


class _PlainBiMap(nn.Module):
    """Plain form of :class:`SPDBiMap`: Σ ↦ sym(Wᵀ Σ W) with a fixed W."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.weight.transpose(-1, -2) @ x @ self.weight
        return 0.5 * (y + y.transpose(-1, -2))


class _PlainLogMap(nn.Module):
    """Plain form of :class:`SPDLogMap`: U diag(log λ) Uᵀ by ``torch.linalg.eigh``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eigenvalues, eigenvectors = torch.linalg.eigh(x)
        return (eigenvectors * eigenvalues.log().unsqueeze(-2)) @ eigenvectors.transpose(-1, -2)


def _spd_bad_inputs(bad: dict[str, tuple], x: torch.Tensor) -> dict[str, tuple]:
    """Bad inputs of the SPD layers (any leading axes): smaller matrices, not positive definite, not symmetric."""
    asymmetric = x.clone()
    asymmetric[..., 0, -1] += 1.0
    return {**_without_extra_axis(bad), "matrices one size smaller": (x[..., :-1, :-1],),
            "negative definite matrices": (-x,), "asymmetric matrices": (asymmetric,),
            "non-square matrices": (x[..., :-1],)}


def _random_spd(count: int, dim: int) -> torch.Tensor:
    a = torch.randn(count, dim, dim)
    return a @ a.transpose(-1, -2) / dim + 0.5 * torch.eye(dim)


class SPDLogMap(EquivariantModule):
    """The log-Euclidean chart Σ ↦ log Σ = U diag(log λ) Uᵀ, Σ = U diag(λ) Uᵀ (``torch.linalg.eigh``).

    (The same as geoopt's ``sym_logm``, which builds a TorchScript function at call time that ``torch.compile``
    cannot trace; written out, the layer compiles to one graph. The eigendecomposition runs in float32/float64, also
    under bf16 autocast.)

    It carries the SPD cone to the vector space Sym(n), where ordinary layers apply, and is exactly equivariant:
    log(R Σ Rᵀ) = R (log Σ) Rᵀ for R ∈ O(n) and log(s Σ) = log Σ + log(s) I.

    Args:
        dim: n.
        group: ``None`` for O(n) × R_{>0} (both actions), or one of ``Orthogonal(n)``, ``PositiveScalings()``.

    Shapes:
        ``[..., n, n]`` → ``[..., n, n]``.
    """

    def __init__(self, dim: int, group=None):
        super().__init__()
        self.dim = check_int(dim, "dim")
        group = ProductGroup((Orthogonal(dim), PositiveScalings())) if group is None else group
        if isinstance(group, ProductGroup):
            self.in_type = ProductField(tuple(SPDField(g, dim) for g in group.factors))
            self.out_type = ProductField(tuple(LogSPDField(g, dim) for g in group.factors))
        else:
            self.in_type, self.out_type = SPDField(group, dim), LogSPDField(group, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.in_type.validate(x)
        with torch.autocast(x.device.type, enabled=False):  # eigh needs float32/64, never bf16
            eigenvalues, eigenvectors = torch.linalg.eigh(x.float() if x.dtype in (torch.bfloat16, torch.float16) else x)
            return (eigenvectors * eigenvalues.log().unsqueeze(-2)) @ eigenvectors.transpose(-1, -2)

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            return cls(4), (_random_spd(3, 4),)

    def bad_inputs(self, x: torch.Tensor) -> dict[str, tuple]:
        return _spd_bad_inputs(super().bad_inputs(x), x)

    def export(self) -> nn.Module:
        return _PlainLogMap()

    def extra_repr(self) -> str:
        return f"dim={self.dim}, group={self.group!r}"


class SPDLayer(EquivariantModule):
    """An SPD layer: Σ ↦ log(Wᵀ Σ W), W ∈ St(n_in, n_out) (BiMap, then the log-Euclidean map).

    The output lives in the vector space Sym(n_out), ready for ordinary layers (e.g. its upper triangle into a
    linear classifier). Declared symmetry: scalings, f(sΣ) = f(Σ) + log(s) I. Arguments and shapes are those of
    :class:`SPDBiMap` (``in_dim ≥ out_dim``; ``[..., n_in, n_in]`` → ``[..., n_out, n_out]``).
    """

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.bimap = SPDBiMap(in_dim, out_dim)
        self.log = SPDLogMap(out_dim, group=PositiveScalings())
        self.in_type, self.out_type = self.bimap.in_type, self.log.out_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log(self.bimap(x))

    @classmethod
    def example(cls, generator: torch.Generator | None = None):
        with seeded(generator):
            return cls(6, 3), (_random_spd(2, 6),)

    def bad_inputs(self, x: torch.Tensor) -> dict[str, tuple]:
        return _spd_bad_inputs(super().bad_inputs(x), x)

    def export(self) -> nn.Module:
        return nn.Sequential(self.bimap.export(), self.log.export())

    def extra_repr(self) -> str:
        return f"{self.bimap.in_dim}, {self.bimap.out_dim}"
