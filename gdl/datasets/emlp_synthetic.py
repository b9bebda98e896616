r"""The three synthetic regression tasks of Finzi, Welling & Wilson 2021 (EMLP), as seeded generators.

"A Practical Method for Constructing Equivariant Multilayer Perceptrons for Arbitrary Matrix Groups", ICML 2021
(https://arxiv.org/abs/2104.09459). The definitions follow the authors' data sets ``O5Synthetic``, ``Inertia`` and
``ParticleInteraction`` in ``emlp/datasets.py`` of https://github.com/mfinzi/equivariant-MLP (commit b80815b): the
same input layouts, distributions and targets, written here in torch. The values differ from theirs (another random
generator), not in distribution.

* :func:`o5_invariant_regression`: an O(5)-invariant scalar of two vectors of R^5.
* :func:`o3_inertia`: the inertia tensor of 5 point masses, O(3)-equivariant (I ↦ R I Rᵀ).
* :func:`lorentz_particle_scattering`: a Lorentz-invariant (O(1,3)) "electron–muon scattering" scalar of four
  four-momenta.

Every generator draws from its own ``torch.Generator`` seeded with ``seed``, always in float64; ``dtype`` only casts
the result, so float32 data are the float64 data rounded. The targets are exact functions of the inputs (no noise),
available separately (:func:`o5_target`, :func:`inertia_tensor`, :func:`scattering_matrix_element`) so that a test
or a model can evaluate them on transformed inputs. The authors' standardisation of inputs and targets (their
``stats``) is left to the user.

:data:`PAPER_FIGURES` holds the test MSEs the authors released for these tasks.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from gdl.core import check_int

__all__ = ["SyntheticRegression", "o5_invariant_regression", "o3_inertia", "lorentz_particle_scattering",
           "o5_target", "inertia_tensor", "minkowski_dot", "scattering_matrix_element", "PAPER_FIGURES"]

_TRAIN_SIZES = (30, 100, 300, 1000, 3000, 10000, 30000)


def _by_size(*values: float) -> dict[int, float]:
    return dict(zip(_TRAIN_SIZES, values, strict=True))


#: Test MSE against training-set size, mean of the authors' 3 runs per point (3 significant digits). The paper shows
#: these results only as log-log plots of test MSE against training-set size (no table of numbers), so nothing here
#: is read off the paper's text: ``"printed_in_paper"`` is ``None`` for that reason. The numbers are the
#: ``test_MSE`` column of ``experiments/notebooks/synthetic_results_all.csv`` in the authors' repository, the file
#: that ``experiments/notebooks/paper_figures.ipynb`` plots (``sns.lineplot(x="train", y="test_MSE",
#: hue="method")``, one panel per data set). Test sets have 5,000 samples (``experiments/data_efficiency.py``).
#: "EMLP" is EMLP with the task's full group (O(5), O(3), O(1,3)); "MLP+Aug" the MLP trained with random group
#: elements applied to each batch.
PAPER_FIGURES: dict = {
    "source": ("Finzi, Welling & Wilson 2021 (ICML), data-efficiency plots of the synthetic experiments; numbers "
               "from github.com/mfinzi/equivariant-MLP experiments/notebooks/synthetic_results_all.csv "
               "(commit b80815b), mean test_MSE of 3 runs per training-set size, plotted by "
               "experiments/notebooks/paper_figures.ipynb; not printed as numbers in the paper"),
    "printed_in_paper": None,
    "o5_invariant_regression": {
        "EMLP": _by_size(0.152, 0.0408, 0.0344, 0.0170, 0.0310, 0.0130, 0.0273),
        "MLP": _by_size(28.1, 2.83, 0.248, 0.0892, 0.0623, 0.0616, 0.0622),
        "MLP+Aug": _by_size(0.476, 0.397, 0.0936, 0.0633, 0.0889, 0.0702, 0.0672),
    },
    "o3_inertia": {
        "EMLP": _by_size(4.11, 1.44, 0.303, 0.136, 0.0281, 0.0180, 0.0141),
        "MLP": _by_size(13.4, 7.91, 4.94, 3.24, 0.840, 0.154, 0.112),
        "MLP+Aug": _by_size(4.64, 1.78, 0.464, 0.130, 0.112, 0.112, 0.106),
    },
    "lorentz_particle_scattering": {
        "EMLP": _by_size(0.540, 0.00888, 0.00195, 0.000330, 0.000266, 0.000264, 0.000158),
        "MLP": _by_size(0.733, 0.733, 0.697, 0.364, 0.0504, 0.0166, 0.0120),
        "MLP+Aug": _by_size(0.627, 0.190, 0.0397, 0.0125, 0.0108, 0.0134, 0.0118),
    },
}


class SyntheticRegression(NamedTuple):
    """Inputs and targets of a synthetic regression task (a tuple: ``x, y = o3_inertia(100)``).

    Attributes:
        inputs: ``[n, D_in]``, one sample per row (layout in each generator's docstring).
        targets: ``[n, D_out]``.
    """

    inputs: torch.Tensor
    targets: torch.Tensor


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))


def _cast(data: SyntheticRegression, dtype: torch.dtype) -> SyntheticRegression:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point or dtype.is_complex:
        raise TypeError(f"dtype must be a real floating-point torch.dtype, got {dtype!r}")
    return SyntheticRegression(data.inputs.to(dtype), data.targets.to(dtype))


def _check_tensor(value: object, shape: tuple[int | str, ...], name: str) -> torch.Tensor:
    """Raise unless ``value`` is a real floating-point tensor of ``shape`` (a string entry: any size, so named)."""
    layout = "[" + ", ".join(str(size) for size in shape) + "]"
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        given = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
        raise TypeError(f"{name} must be a floating-point tensor {layout}, got {given}")
    if value.dim() != len(shape) or any(isinstance(size, int) and size != got for size, got in zip(shape, value.shape)):
        raise ValueError(f"{name} must have shape {layout}, got {list(value.shape)}")
    return value


def o5_target(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    r"""The O(5)-invariant target of :func:`o5_invariant_regression`.

    .. math::
        f(x_1, x_2) = \sin\lVert x_1\rVert - \tfrac{1}{2}\lVert x_2\rVert^3
        + \frac{x_1^\top x_2}{\lVert x_1\rVert\,\lVert x_2\rVert}

    Shapes:
        x1 ``[n, 5]``, x2 ``[n, 5]`` → ``[n, 1]``.
    """
    _check_tensor(x1, ("n", 5), "x1")
    _check_tensor(x2, (x1.shape[0], 5), "x2")
    r1, r2 = x1.norm(dim=1), x2.norm(dim=1)
    return (torch.sin(r1) - 0.5 * r2 ** 3 + (x1 * x2).sum(1) / (r1 * r2)).unsqueeze(1)


def o5_invariant_regression(n: int, seed: int = 0, *, dtype: torch.dtype = torch.float64) -> SyntheticRegression:
    r"""The O(5)-invariant regression task (EMLP's ``O5Synthetic``).

    Two vectors x_1, x_2 ~ N(0, I_5) per sample and the scalar

    .. math::
        y = \sin\lVert x_1\rVert - \tfrac{1}{2}\lVert x_2\rVert^3
        + \frac{x_1^\top x_2}{\lVert x_1\rVert\,\lVert x_2\rVert}

    O(5) acts on both vectors by the same orthogonal matrix Q (x_i ↦ Q x_i, reflections included); y is invariant.

    Args:
        n: number of samples.
        seed: seed of the generator (≥ 0).
        dtype: floating dtype of the result (the data are drawn in float64, then cast).

    Returns:
        :class:`SyntheticRegression` with inputs ``[x_1, x_2]`` (columns 0–4 are x_1, 5–9 are x_2) and targets y.

    Shapes:
        inputs ``[n, 10]``, targets ``[n, 1]``.

    Example:
        >>> x, y = o5_invariant_regression(4, seed=0)
        >>> x.shape, y.shape, x.dtype
        (torch.Size([4, 10]), torch.Size([4, 1]), torch.float64)
    """
    check_int(n, "n")
    inputs = torch.randn(n, 10, generator=_generator(seed), dtype=torch.float64)
    return _cast(SyntheticRegression(inputs, o5_target(inputs[:, :5], inputs[:, 5:])), dtype)


def inertia_tensor(masses: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    r"""The inertia tensor of k point masses about the origin.

    .. math::
        I = \sum_{i=1}^{k} m_i \left(\lVert x_i\rVert^2 I_3 - x_i x_i^\top\right)

    Under x_i ↦ R x_i with R ∈ O(3) it transforms as I ↦ R I Rᵀ (masses are invariant).

    Shapes:
        masses ``[n, k]``, positions ``[n, k, 3]`` → ``[n, 3, 3]``.
    """
    _check_tensor(masses, ("n", "k"), "masses")
    _check_tensor(positions, (*masses.shape, 3), "positions")
    squared = (positions * positions).sum(-1)  # |x_i|²  [n, k]
    eye = torch.eye(3, dtype=positions.dtype, device=positions.device)
    isotropic = (masses * squared).sum(1)[:, None, None] * eye
    return isotropic - torch.einsum("nk,nki,nkj->nij", masses, positions, positions)


def o3_inertia(n: int, seed: int = 0, *, num_points: int = 5, dtype: torch.dtype = torch.float64) -> SyntheticRegression:
    r"""The O(3)-equivariant inertia task (EMLP's ``Inertia``): k = ``num_points`` masses → their inertia tensor.

    One ``[n, 4k]`` standard normal draw z; the first k columns become masses through a softplus, the rest are the
    positions:

    .. math::
        m_i = \log\left(1 + e^{z_i}\right),\qquad x_i \sim \mathcal{N}(0, I_3),\qquad
        I = \sum_{i=1}^{k} m_i \left(\lVert x_i\rVert^2 I_3 - x_i x_i^\top\right)

    O(3) acts on the positions (x_i ↦ R x_i, det R = ±1) and on the target by I ↦ R I Rᵀ; masses are invariant.

    Args:
        n: number of samples.
        seed: seed of the generator (≥ 0).
        num_points: k, point masses per sample (5 in the paper).
        dtype: floating dtype of the result (the data are drawn in float64, then cast).

    Returns:
        :class:`SyntheticRegression`. Inputs (EMLP's layout, rep k·Scalar + k·Vector): columns 0 … k−1 are the
        masses m_1 … m_k, then the positions point by point, x_i in columns k + 3(i−1) … k + 3i − 1
        (``inputs[:, k:].reshape(n, k, 3)``). Targets: I flattened row-major, ``targets.reshape(n, 3, 3)`` = I.

    Shapes:
        inputs ``[n, 4k]`` (``[n, 20]`` for k = 5), targets ``[n, 9]``.

    Example:
        >>> x, y = o3_inertia(3, seed=1)
        >>> x.shape, y.shape, bool((x[:, :5] > 0).all())
        (torch.Size([3, 20]), torch.Size([3, 9]), True)
    """
    check_int(n, "n")
    check_int(num_points, "num_points")
    inputs = torch.randn(n, 4 * num_points, generator=_generator(seed), dtype=torch.float64)
    inputs[:, :num_points] = torch.nn.functional.softplus(inputs[:, :num_points])
    masses, positions = inputs[:, :num_points], inputs[:, num_points:].reshape(n, num_points, 3)
    return _cast(SyntheticRegression(inputs, inertia_tensor(masses, positions).reshape(n, 9)), dtype)


def minkowski_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""The Minkowski product with metric η = diag(1, −1, −1, −1) (component 0 is time) over the last axis.

    .. math::
        \langle a, b\rangle = a^\top \eta\, b = a^0 b^0 - a^1 b^1 - a^2 b^2 - a^3 b^3

    Shapes:
        a ``[..., 4]``, b ``[..., 4]`` → ``[...]``.
    """
    return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)


def scattering_matrix_element(momenta: torch.Tensor) -> torch.Tensor:
    r"""EMLP's simplified electron–muon scattering target of four four-momenta (``ParticleInteraction``).

    With ⟨·,·⟩ the Minkowski product of :func:`minkowski_dot`, indices raised and lowered by η, and the
    particles' own squares ⟨p_1, p_1⟩, ⟨p_2, p_2⟩ in the role of the squared masses:

    .. math::
        L_e^{\alpha\beta} = p_1^{\alpha} p_3^{\beta} - \left(\langle p_1, p_3\rangle - \langle p_1, p_1\rangle\right)
        \eta^{\alpha\beta},\qquad
        L^{(\mu)}_{\alpha\beta} = p_{2,\alpha}\, p_{4,\beta}
        - \left(\langle p_2, p_4\rangle - \langle p_2, p_2\rangle\right) \eta_{\alpha\beta},\qquad
        \mathcal{M} = 4 \sum_{\alpha,\beta} L_e^{\alpha\beta} L^{(\mu)}_{\alpha\beta}

    Contracting the indices (η^{αβ}η_{αβ} = 4) gives the form computed here, with
    a = ⟨p_1, p_3⟩ − ⟨p_1, p_1⟩ and b = ⟨p_2, p_4⟩ − ⟨p_2, p_2⟩:

    .. math::
        \mathcal{M} = 4\left(\langle p_1, p_2\rangle\langle p_3, p_4\rangle - b\,\langle p_1, p_3\rangle
        - a\,\langle p_2, p_4\rangle + 4ab\right)

    A function of Minkowski products only, so invariant under all of O(1,3): boosts, rotations, parity and time
    reversal. Unlike the textbook spin-averaged amplitude, the lepton tensors are not symmetrised in αβ (EMLP's
    simplification), so there is no ⟨p_1, p_4⟩⟨p_2, p_3⟩ term.

    Shapes:
        momenta ``[n, 4, 4]`` (particle p_1 … p_4, component p^0 … p^3) → ``[n, 1]``.
    """
    _check_tensor(momenta, ("n", 4, 4), "momenta")
    p1, p2, p3, p4 = momenta.unbind(1)
    a = minkowski_dot(p1, p3) - minkowski_dot(p1, p1)
    b = minkowski_dot(p2, p4) - minkowski_dot(p2, p2)
    element = (minkowski_dot(p1, p2) * minkowski_dot(p3, p4) - b * minkowski_dot(p1, p3)
               - a * minkowski_dot(p2, p4) + 4 * a * b)
    return (4 * element).unsqueeze(1)


def lorentz_particle_scattering(n: int, seed: int = 0, *, dtype: torch.dtype = torch.float64) -> SyntheticRegression:
    r"""The Lorentz-invariant particle-interaction task (EMLP's ``ParticleInteraction``).

    Four four-momenta per sample, every component drawn independently (not on a mass shell, as in EMLP):

    .. math::
        p_j^{\mu} \sim \mathcal{N}\left(0, \tfrac{1}{16}\right),\qquad j = 1, \dots, 4,\quad \mu = 0, \dots, 3

    and the target :math:`\mathcal{M}(p_1, p_2, p_3, p_4)` of :func:`scattering_matrix_element`, metric
    η = diag(1, −1, −1, −1). O(1,3) acts on every momentum by the same Λ (p_j ↦ Λ p_j, Λᵀ η Λ = η); the target is
    invariant.

    Args:
        n: number of samples.
        seed: seed of the generator (≥ 0).
        dtype: floating dtype of the result (the data are drawn in float64, then cast).

    Returns:
        :class:`SyntheticRegression`. Inputs: p_1, p_2, p_3, p_4 one after the other, each (p^0, p^1, p^2, p^3)
        (``inputs.reshape(n, 4, 4)[:, j - 1]`` is p_j). Targets: 𝓜.

    Shapes:
        inputs ``[n, 16]``, targets ``[n, 1]``.

    Example:
        >>> x, y = lorentz_particle_scattering(2, seed=0)
        >>> x.shape, y.shape
        (torch.Size([2, 16]), torch.Size([2, 1]))
    """
    check_int(n, "n")
    inputs = torch.randn(n, 16, generator=_generator(seed), dtype=torch.float64) / 4
    return _cast(SyntheticRegression(inputs, scattering_matrix_element(inputs.reshape(n, 4, 4))), dtype)
