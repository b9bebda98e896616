"""Riemannian optimisers for models that mix manifold and ordinary parameters, with guards (book §4.4).

A parameter θ on a manifold M cannot take a Euclidean step θ − η ∇f: the step leaves M. A Riemannian optimiser
(geoopt's ``RiemannianSGD``/``RiemannianAdam``) instead

1. converts the Euclidean gradient (a cotangent vector, the differential df) into the Riemannian gradient, the
   tangent vector with g_θ(grad f, v) = df(v) for every tangent v: grad f = G(θ)⁻¹ ∇f projected onto T_θM
   (on the Poincaré ball G = λ_θ² I, so grad f = ((1 − c‖θ‖²)² / 4) ∇f);
2. moves along the manifold with the exponential map or a retraction, θ ← R_θ(−η grad f), and for Adam
   parallel-transports its momentum to the new point.

geoopt treats an ordinary ``nn.Parameter`` as a point of Euclidean space, where all of this is plain SGD/Adam,
so one optimiser serves a whole model. :func:`riemannian_optimizer` builds it and attaches two guards:

* before every step, a non-finite gradient raises ``FloatingPointError`` naming the parameter (instead of
  silently writing NaN into the weights);
* after every ``check_every`` steps, each ``ManifoldParameter`` must still be finite and on its manifold
  (:func:`check_manifold_parameters`), else :class:`ManifoldConstraintError` names it, the manifold and the
  violation. geoopt's retractions re-project most points, so in practice this catches NaN produced inside a step
  (e.g. an overflowing hyperboloid coordinate) and retractions that keep a drifted point where it is (the canonical
  Stiefel retraction).

geoopt's own remedy for round-off drift, ``stabilize=k`` (project every parameter back onto its manifold every k
steps), is passed through.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import geoopt
import torch
from torch import nn

from gdl.core.checks import check_choice

from .manifolds import check_points

__all__ = ["riemannian_optimizer", "manifold_parameters", "check_manifold_parameters", "ManifoldConstraintError",
           "OPTIMIZERS"]

#: optimiser names accepted by :func:`riemannian_optimizer`
OPTIMIZERS = {"adam": geoopt.optim.RiemannianAdam, "sgd": geoopt.optim.RiemannianSGD}


class ManifoldConstraintError(ValueError):
    """A manifold parameter left its manifold (or became non-finite) during training."""


def _named(parameters: nn.Module | Iterable) -> list[tuple[str, torch.Tensor]]:
    if isinstance(parameters, nn.Module):
        return list(parameters.named_parameters())
    named = []
    for i, item in enumerate(parameters):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            named.append(item)
        elif isinstance(item, torch.Tensor):
            named.append((f"parameter {i}", item))
        else:
            raise TypeError(f"expected a module, parameters or (name, parameter) pairs, got {type(item).__name__}")
    return named


def manifold_parameters(model: nn.Module | Iterable) -> list[tuple[str, geoopt.ManifoldParameter]]:
    """The ``(name, parameter)`` pairs of a model whose parameters live on a non-Euclidean manifold."""
    return [(name, p) for name, p in _named(model)
            if isinstance(p, geoopt.ManifoldParameter) and not isinstance(p.manifold, geoopt.Euclidean)]


def _gdl_kind(manifold: geoopt.Manifold) -> tuple[str, dict] | None:
    """The :func:`~gdl.geodesics.manifolds.check_points` kind of a geoopt manifold gdl checks itself, if any."""
    if isinstance(manifold, geoopt.Stereographic) and float(manifold.k) < 0:
        return "poincare", {"curvature": float(manifold.k)}
    if isinstance(manifold, geoopt.Lorentz):
        return "lorentz", {"curvature": -1.0 / float(manifold.k)}
    if isinstance(manifold, geoopt.Stiefel):
        return "stiefel", {}
    if isinstance(manifold, geoopt.SymmetricPositiveDefinite):
        return "spd", {}
    return None


def check_manifold_parameters(model: nn.Module | Iterable, atol: float | None = None, rtol: float | None = None) -> int:
    """Raise :class:`ManifoldConstraintError` unless every manifold parameter is finite and on its manifold.

    The Poincaré ball, hyperboloid, Stiefel and SPD manifolds are checked by
    :func:`~gdl.geodesics.manifolds.check_points` (relative tolerances: on the hyperboloid the defining equation
    −x₀² + ‖x̄‖² = −1/c loses absolute precision as x₀ grows, so a fixed absolute tolerance, geoopt's, would
    reject points that are fine); other manifolds by geoopt's ``check_point_on_manifold``.

    Args:
        model: a module, parameters, or ``(name, parameter)`` pairs.
        atol, rtol: tolerances of geoopt's check (default 1e-5 in float32, 1e-9 in float64).

    Returns:
        The number of manifold parameters checked.
    """
    checked = 0
    for name, p in manifold_parameters(model):
        data = p.detach()
        if not bool(torch.isfinite(data).all()):
            raise ManifoldConstraintError(f"manifold parameter {name!r} ({p.manifold.name}) has "
                                          f"{int((~torch.isfinite(data)).sum())} non-finite entries")
        kind = _gdl_kind(p.manifold)
        if kind is not None:
            try:
                check_points(data, kind[0], name=f"the points of {name!r}", **kind[1])
            except ValueError as error:
                raise ManifoldConstraintError(f"manifold parameter {name!r} left its manifold "
                                              f"{p.manifold.name}: {error}") from None
        else:
            tolerance = 1e-9 if data.dtype == torch.float64 else 1e-5
            ok, reason = p.manifold.check_point_on_manifold(data, explain=True, atol=atol or tolerance,
                                                            rtol=rtol or tolerance)
            if not ok:
                raise ManifoldConstraintError(f"manifold parameter {name!r} left its manifold {p.manifold.name}: {reason}")
        checked += 1
    return checked


def riemannian_optimizer(model: nn.Module | Iterable, method: str = "adam", lr: float = 1e-3, *,
                         manifold_lr: float | None = None, weight_decay: float = 0.0, stabilize: int | None = None,
                         check_every: int | None = 1, **kwargs: Any) -> torch.optim.Optimizer:
    """A geoopt Riemannian optimiser for every trainable parameter of ``model``, with the guards described above.

    Args:
        model: a module (parameter names come from ``named_parameters``), parameters, or ``(name, p)`` pairs.
        method: ``"adam"`` (``RiemannianAdam``) or ``"sgd"`` (``RiemannianSGD``; pass ``momentum`` etc. in kwargs).
        lr: learning rate of the ordinary (Euclidean) parameters.
        manifold_lr: learning rate of the manifold parameters (default ``lr``).
        weight_decay: L2 penalty of the ordinary parameters only: geoopt would add ``weight_decay · θ`` to the
            Euclidean gradient of every parameter in a group, and on a manifold that pulls θ towards the origin of
            its chart (the centre of the ball, a meaningless point of the Stiefel manifold), so the manifold
            parameters get a group of their own with ``weight_decay = 0`` (``tests/test_geodesics.py`` checks the
            update against the Riemannian step computed by hand).
        stabilize: project manifold parameters back onto their manifolds every this many steps (geoopt).
        check_every: check the manifold constraints every this many steps (``None``: never).
        **kwargs: further optimiser arguments (``betas``, ``momentum``, ``nesterov``, ...).

    Returns:
        The optimiser; use it as the ``optimizer_factory`` of :class:`gdl.train.Trainer` with
        ``lambda params: riemannian_optimizer(model, ...)``.

    Raises:
        ValueError: unknown ``method``, no trainable parameters, a non-positive learning rate or a negative
            weight decay.
    """
    check_choice(method, tuple(sorted(OPTIMIZERS)), "method")
    if lr <= 0 or (manifold_lr is not None and manifold_lr <= 0):
        raise ValueError(f"learning rates must be positive, got lr={lr}, manifold_lr={manifold_lr}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be ≥ 0 (an L2 penalty of the ordinary parameters), got {weight_decay}")
    named = [(name, p) for name, p in _named(model) if p.requires_grad]
    if not named:
        raise ValueError("the model has no trainable parameters")
    on_manifold = {id(p) for _, p in manifold_parameters(named)}
    groups = [{"params": [p for _, p in named if id(p) in on_manifold], "lr": manifold_lr or lr, "weight_decay": 0.0},
              {"params": [p for _, p in named if id(p) not in on_manifold], "lr": lr, "weight_decay": weight_decay}]
    optimizer = OPTIMIZERS[method]([g for g in groups if g["params"]], lr=lr, stabilize=stabilize, **kwargs)
    names = {id(p): name for name, p in named}

    def check_gradients(opt: torch.optim.Optimizer, args, kw) -> None:
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                    bad = int((~torch.isfinite(p.grad)).sum())
                    raise FloatingPointError(f"non-finite gradient in parameter {names[id(p)]!r} ({bad} of "
                                             f"{p.grad.numel()} entries); lower the learning rate, clip gradients "
                                             "or keep points away from the boundary of the ball")

    optimizer.register_step_pre_hook(check_gradients)
    if check_every is not None:
        steps = [0]

        def check_constraints(opt: torch.optim.Optimizer, args, kw) -> None:
            steps[0] += 1
            if steps[0] % check_every == 0:
                check_manifold_parameters([(names[id(p)], p) for g in opt.param_groups for p in g["params"]])

        optimizer.register_step_post_hook(check_constraints)
    return optimizer
