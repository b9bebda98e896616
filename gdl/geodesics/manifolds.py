"""Riemannian manifolds through geoopt: curvature conventions, model changes and point checks (book §4.4).

gdl does not re-implement manifolds: :mod:`geoopt` provides the Poincaré ball, the Lorentz model (hyperboloid),
the sphere, the Stiefel manifold and the SPD cone with their exponential and logarithmic maps, distances, parallel
transport and Riemannian gradients. This module fixes gdl's conventions on top of it.

Curvature. gdl names hyperbolic space by its sectional curvature K < 0 (default −1) and writes c = −K > 0:

* Poincaré ball  Dⁿ_K = {x ∈ Rⁿ : c‖x‖² < 1} with metric g_x = λ_x² g_E, λ_x = 2 / (1 − c‖x‖²) (conformal);
  geoopt's ``PoincareBall(c)``. Distance d(x, y) = (2/√c) artanh(√c ‖(−x) ⊕_c y‖).
* Lorentz model  Hⁿ_K = {x ∈ R^{n+1} : ⟨x, x⟩_L = −1/c, x₀ > 0}, ⟨x, y⟩_L = −x₀y₀ + Σᵢ xᵢyᵢ;
  geoopt's ``Lorentz(k)`` with k = 1/c. Distance d(x, y) = (1/√c) arcosh(−c ⟨x, y⟩_L).

Distance on the ball. geoopt computes d through artanh, which it clamps at 1 − 1e-7: every distance above
2 artanh(1 − 1e-7)/√c ≈ 16.8/√c comes out as that value (measured in ``tests/test_geodesics.py``; float64 points
may be 24/√c apart). gdl's layers use the equivalent closed form

    d(x, y) = (2/√c) arsinh( √c ‖x − y‖ / √((1 − c‖x‖²)(1 − c‖y‖²)) )                    (:func:`poincare_distance`)

(arcosh(1 + δ) = 2 arsinh(√(δ/2)) applied to Nickel & Kiela's arcosh form), which has no clamp, is accurate to
round-off up to the boundary (float64, checked against 50-digit arithmetic) and has a finite gradient at x = y.

The two models are isometric (:func:`poincare_to_lorentz`, :func:`lorentz_to_poincare`):

    x ↦ ( (1 + c‖x‖²) / (√c (1 − c‖x‖²)),  2x / (1 − c‖x‖²) ),        (x₀, x̄) ↦ x̄ / (1 + √c x₀).

A positive curvature is a sphere, not a hyperbolic space; asking for one raises ``ValueError``.

Points are checked with :func:`check_points`, which names the manifold and the violation (``ValueError``) or the
wrong type (``TypeError``). Value checks need the tensor's values on the host, so they are skipped while
``torch.compile`` traces (shapes are still checked).
"""

from __future__ import annotations

import math
from typing import Any

import geoopt
import torch

from gdl.core.checks import checking

__all__ = ["hyperbolic_c", "poincare_ball", "lorentz_model", "BoundedLorentz", "BALL_MAX_DISTANCE", "poincare_to_lorentz",
           "lorentz_to_poincare", "poincare_distance", "point_tolerance", "check_points", "checking", "MANIFOLD_KINDS"]

#: the manifolds :func:`check_points` knows, with the shape of one point
MANIFOLD_KINDS = {"poincare": "[..., n]", "lorentz": "[..., n + 1]", "sphere": "[..., n]",
                  "stiefel": "[..., n, p]", "spd": "[..., n, n]", "symmetric": "[..., n, n]"}

#: relative slack of the manifold equations: round-off of a lower precision (float32 data cast to float64 stays
#: valid), far below any real violation
_TOLERANCE = {torch.float64: 1e-6, torch.float32: 1e-4, torch.bfloat16: 3e-2, torch.float16: 3e-3}


def point_tolerance(dtype: torch.dtype) -> float:
    """How far from a manifold's defining equation a point of this dtype may be (relative; round-off, not violations)."""
    return _TOLERANCE.get(dtype, 1e-5)


def hyperbolic_c(curvature: Any) -> float:
    """c = −K for a hyperbolic sectional curvature K < 0; ``ValueError`` for K ≥ 0 or a non-finite K."""
    try:
        value = float(curvature)
    except (TypeError, ValueError):
        raise TypeError(f"the curvature must be a real number K < 0, got {curvature!r}") from None
    if not math.isfinite(value) or value >= 0:
        hint = " (a positive curvature is a sphere: use SphereField)" if value > 0 else ""
        raise ValueError(f"hyperbolic space needs a negative sectional curvature K < 0, got K = {value}{hint}")
    return -value


def poincare_ball(curvature: float = -1.0) -> geoopt.PoincareBall:
    """geoopt's Poincaré ball of curvature K (c = −K stored in float64, so float64 code is exact to round-off)."""
    return geoopt.PoincareBall(c=torch.tensor(hyperbolic_c(curvature), dtype=torch.float64))


def lorentz_model(curvature: float = -1.0, max_distance: float | None = None) -> geoopt.Lorentz:
    """geoopt's Lorentz model (hyperboloid) of curvature K, ``Lorentz(k = 1/c)``; with ``max_distance``, a
    :class:`BoundedLorentz` (``max_distance="ball"``: the bound of geoopt's float64 ball)."""
    k = torch.tensor(1.0 / hyperbolic_c(curvature), dtype=torch.float64)
    if max_distance is None:
        return geoopt.Lorentz(k=k)
    return BoundedLorentz(k=k, max_distance=None if max_distance == "ball" else max_distance)


#: the largest distance from the origin of a float64 point of geoopt's ball (its projection keeps √c‖x‖ ≤ 1 − 1e-5),
#: times √c: 2 artanh(1 − 1e-5) ≈ 12.2
BALL_MAX_DISTANCE = 2 * math.atanh(1 - 1e-5)


class BoundedLorentz(geoopt.Lorentz):
    """geoopt's hyperboloid with every point kept within distance R of the base point o = (1/√c, 0, …, 0).

    On the ball, geoopt's projection keeps points at most 2 artanh(1 − 1e-5)/√c ≈ 12.2/√c from the origin; the
    hyperboloid has no such bound, and under Adam's normalised steps a loss that rewards spreading points apart
    (the embedding loss does) pushes them out until x₀ ~ e^{√c d} overflows the round-off of the defining equation
    and the optimiser state becomes NaN. This subclass applies the ball's bound in the hyperboloid: after every
    exponential map (the optimiser's retraction) and projection, the spatial part is rescaled to
    ‖x̄‖ ≤ sinh(√c R)/√c and x₀ = √(1/c + ‖x̄‖²) recomputed, so the two models are trained under the same constraint.

    Args:
        k: geoopt's k = 1/c.
        max_distance: R (default :data:`BALL_MAX_DISTANCE`/√c).
    """

    def __init__(self, k: float | torch.Tensor = 1.0, max_distance: float | None = None):
        super().__init__(k=k)
        c = 1.0 / float(self.k)
        self.max_distance = BALL_MAX_DISTANCE / math.sqrt(c) if max_distance is None else float(max_distance)
        self.max_spatial_norm = math.sinh(math.sqrt(c) * self.max_distance) / math.sqrt(c)

    def _bound(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x[..., 1:]
        norm = spatial.norm(dim=-1, keepdim=True)
        spatial = spatial * (self.max_spatial_norm / norm.clamp_min(self.max_spatial_norm))
        return torch.cat([(self.k + (spatial * spatial).sum(-1, keepdim=True)).sqrt(), spatial], dim=-1)

    def projx(self, x: torch.Tensor, *, dim: int = -1) -> torch.Tensor:
        return self._bound(super().projx(x, dim=dim))

    def expmap(self, x: torch.Tensor, u: torch.Tensor, *, norm_tan: bool = True, project: bool = True,
               dim: int = -1) -> torch.Tensor:
        y = super().expmap(x, u, norm_tan=norm_tan, project=project, dim=dim)
        return self._bound(y) if project else y

    retr = expmap

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_distance={self.max_distance:.4g}"


def poincare_to_lorentz(x: torch.Tensor, curvature: float = -1.0) -> torch.Tensor:
    """The isometry Dⁿ_K → Hⁿ_K: ``[..., n]`` → ``[..., n + 1]`` (formula in the module docstring)."""
    c = hyperbolic_c(curvature)
    square = c * (x * x).sum(-1, keepdim=True)
    return torch.cat([(1 + square) / ((1 - square) * math.sqrt(c)), 2 * x / (1 - square)], dim=-1)


def lorentz_to_poincare(y: torch.Tensor, curvature: float = -1.0) -> torch.Tensor:
    """The isometry Hⁿ_K → Dⁿ_K: ``[..., n + 1]`` → ``[..., n]``, x̄ / (1 + √c x₀)."""
    c = hyperbolic_c(curvature)
    return y[..., 1:] / (1 + math.sqrt(c) * y[..., :1])


def poincare_distance(x: torch.Tensor, y: torch.Tensor, curvature: float = -1.0) -> torch.Tensor:
    """Geodesic distance on the Poincaré ball Dⁿ_K, broadcasting ``[..., n]`` with ``[..., n]`` to ``[...]``.

    d(x, y) = (2/√c) arsinh(√c ‖x − y‖ / √((1 − c‖x‖²)(1 − c‖y‖²))) (module docstring).
    """
    c = hyperbolic_c(curvature)
    gap = (1 - c * (x * x).sum(-1)) * (1 - c * (y * y).sum(-1))
    tiny = torch.finfo(gap.dtype).tiny if gap.is_floating_point() else 1e-300
    return (2 / math.sqrt(c)) * torch.asinh(math.sqrt(c) * (x - y).norm(dim=-1) / gap.clamp_min(tiny).sqrt())


def _describe_count(bad: torch.Tensor, total: int, what: str) -> str:
    return f"{int(bad.sum())} of {total} {what}"


def check_points(value: Any, kind: str, *, dim: int | None = None, columns: int | None = None,
                 curvature: float = -1.0, name: str = "points") -> None:
    """Raise unless ``value`` holds points of the named manifold.

    Args:
        value: the tensor to check.
        kind: one of :data:`MANIFOLD_KINDS`: ``"poincare"`` (c‖x‖² < 1), ``"lorentz"`` (⟨x, x⟩_L = −1/c, x₀ > 0),
            ``"sphere"`` (‖x‖ = 1), ``"stiefel"`` (XᵀX = I), ``"spd"`` (Σ = Σᵀ, eigenvalues > 0) or
            ``"symmetric"`` (S = Sᵀ).
        dim: n (the ambient size of the ball/sphere, the intrinsic n of the hyperboloid, the rows of a Stiefel or
            the size of a square matrix); ``None`` accepts any.
        columns: p of a Stiefel point ``[..., n, p]``.
        curvature: K < 0 of the ball or hyperboloid.
        name: how the message refers to ``value``.

    Raises:
        TypeError: not a floating-point tensor.
        ValueError: wrong shape, non-finite entries, or off the manifold (the message gives the worst violation).
    """
    if kind not in MANIFOLD_KINDS:
        raise ValueError(f"unknown manifold {kind!r}; expected one of {sorted(MANIFOLD_KINDS)}")
    shape = MANIFOLD_KINDS[kind]
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        given = f"a {value.dtype} tensor" if isinstance(value, torch.Tensor) else type(value).__name__
        raise TypeError(f"{name} must be a floating-point tensor {shape} of {kind} points, got {given}")
    matrix = kind in ("stiefel", "spd", "symmetric")
    if value.dim() < (2 if matrix else 1):
        raise ValueError(f"{name} must have shape {shape}, got {list(value.shape)}")
    size = value.shape[-1] - 1 if kind == "lorentz" else value.shape[-2 if matrix else -1]
    if dim is not None and size != dim:
        expected = shape.replace("n + 1", str(dim + 1)).replace("n", str(dim))
        raise ValueError(f"{name} must have shape {expected} for the {kind} manifold of dimension n = {dim}, "
                         f"got {list(value.shape)}")
    if kind in ("spd", "symmetric") and value.shape[-1] != value.shape[-2]:
        raise ValueError(f"{name} must be square matrices {shape}, got {list(value.shape)}")
    if kind == "stiefel":
        p = value.shape[-1]
        if (columns is not None and p != columns) or p > value.shape[-2]:
            expected = f"[..., {value.shape[-2]}, {columns}]" if columns is not None else "[..., n, p] with p ≤ n"
            raise ValueError(f"{name} must be Stiefel points {expected}, got {list(value.shape)}")
    if not checking() or value.numel() == 0:
        return
    with torch.no_grad():
        _check_values(value.detach(), kind, hyperbolic_c(curvature) if kind in ("poincare", "lorentz") else 1.0, name)


def _check_values(value: torch.Tensor, kind: str, c: float, name: str) -> None:
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite, got {int((~torch.isfinite(value)).sum())} non-finite entries "
                         "(NaN or ±inf)")
    tolerance = point_tolerance(value.dtype)
    x = value.to(torch.float64)
    if kind == "poincare":
        square = c * (x * x).sum(-1)
        bad = square >= 1
        if bool(bad.any()):
            raise ValueError(f"{name} must lie inside the Poincaré ball c‖x‖² < 1 (c = {c:g}, radius 1/√c = "
                             f"{1 / math.sqrt(c):.6g}), got {_describe_count(bad, square.numel(), 'points')} on or "
                             f"outside it (largest √c‖x‖ = {float(square.max().sqrt()):.6g})")
    elif kind == "lorentz":
        form = -x[..., 0] ** 2 + (x[..., 1:] ** 2).sum(-1)
        deviation = (c * form + 1).abs() / (1 + c * x[..., 0] ** 2)
        if bool((x[..., 0] <= 0).any()):
            raise ValueError(f"{name} must lie on the upper sheet x₀ > 0 of the hyperboloid, got "
                             f"{_describe_count(x[..., 0] <= 0, deviation.numel(), 'points')} with x₀ ≤ 0")
        if float(deviation.max()) > tolerance:
            raise ValueError(f"{name} must lie on the hyperboloid ⟨x, x⟩_L = −1/c = {-1 / c:.6g}, got a largest relative "
                             f"violation |c⟨x, x⟩_L + 1| / (1 + c x₀²) of {float(deviation.max()):.3e} "
                             f"> {tolerance:.0e} ({_describe_count(deviation > tolerance, deviation.numel(), 'points')})")
    elif kind == "sphere":
        deviation = (x.norm(dim=-1) - 1).abs()
        if float(deviation.max()) > tolerance:
            raise ValueError(f"{name} must lie on the unit sphere ‖x‖ = 1, got a largest |‖x‖ − 1| of "
                             f"{float(deviation.max()):.3e} > {tolerance:.0e}")
    elif kind == "stiefel":
        gram = x.transpose(-1, -2) @ x
        deviation = float((gram - torch.eye(x.shape[-1], dtype=x.dtype)).abs().max())
        if deviation > tolerance:
            raise ValueError(f"{name} must lie on the Stiefel manifold XᵀX = I, got max |XᵀX − I| = {deviation:.3e} "
                             f"> {tolerance:.0e}")
    else:  # spd, symmetric
        scale = float(x.abs().max()) or 1.0
        asymmetry = float((x - x.transpose(-1, -2)).abs().max()) / scale
        if asymmetry > tolerance:
            raise ValueError(f"{name} must be symmetric matrices, got max |S − Sᵀ| / max |S| = {asymmetry:.3e} "
                             f"> {tolerance:.0e}")
        if kind == "spd":
            smallest = torch.linalg.eigvalsh(x).min(-1).values
            if bool((smallest <= 0).any()):
                raise ValueError(f"{name} must be symmetric positive definite, got "
                                 f"{_describe_count(smallest <= 0, smallest.numel(), 'matrices')} with an eigenvalue "
                                 f"≤ 0 (smallest {float(smallest.min()):.3e})")
