r"""The Lorentz group: linear maps of Minkowski space R^{1,3} that preserve the metric (book §3.1; EMLP's O(1,3)).

Coordinate 0 is time, 1–3 are space, and the metric is :math:`\eta = \operatorname{diag}(1, -1, -1, -1)`.

.. math::

    O(1,3) = \{\Lambda \in \mathbb R^{4\times 4} : \Lambda^\top \eta \Lambda = \eta\}, \qquad
    \Lambda^{-1} = \eta \Lambda^\top \eta .

O(1,3) has four connected components, told apart by :math:`\det\Lambda = \pm 1` and the sign of :math:`\Lambda_{00}`
(:math:`|\Lambda_{00}| \ge 1`; "orthochronous" when :math:`\Lambda_{00} \ge 1`, time keeps its direction). Parity
:math:`P = \operatorname{diag}(1,-1,-1,-1)`, time reversal :math:`T = \operatorname{diag}(-1,1,1,1)` and :math:`PT = -I`
represent the three components other than the identity's, SO⁺(1,3) (proper and orthochronous). The four groups
``Lorentz(proper, orthochronous)`` are

* ``Lorentz()``: O(1,3), components 1, P, T, PT;
* ``Lorentz(proper=True)``: SO(1,3), components 1, PT;
* ``Lorentz(orthochronous=True)``: O⁺(1,3), components 1, P;
* ``Lorentz(proper=True, orthochronous=True)``: SO⁺(1,3), connected.

Its Lie algebra 𝔰𝔬(1,3) (:math:`X^\top\eta + \eta X = 0`) has the basis gdl's solver uses (:meth:`Lorentz.lie_algebra`):
the three rotations of space, embedded from ``Orthogonal(3).lie_algebra()`` in its order and sign convention, then the
three boosts :math:`K_i = E_{0i} + E_{i0}`, with :math:`\exp(\varphi K_1)` the boost of rapidity φ along x.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from gdl.core import Group, GroupElement

from .euclidean import EQUALITY_TOLERANCE, random_rotation_matrices

__all__ = ["Lorentz", "minkowski_metric", "boost_matrices"]

#: ΛᵀηΛ must equal η to this, relative to max(1, |Λ|²) (boosts have large entries)
METRIC_TOLERANCE = 1e-8


def minkowski_metric() -> torch.Tensor:
    r"""η = diag(1, −1, −1, −1), float64 ``[4, 4]`` (coordinate 0 is time)."""
    return torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))


def boost_matrices(rapidity: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    r"""Pure boosts B(φ, n̂) = exp(φ Σ_i n_i K_i), float64 ``[N, 4, 4]``.

    .. math::

        B_{00} = \cosh\varphi, \quad B_{0i} = B_{i0} = n_i \sinh\varphi, \quad
        B_{ij} = \delta_{ij} + (\cosh\varphi - 1)\, n_i n_j .

    Shapes:
        rapidity: ``[N]``; direction: ``[N, 3]`` (normalised here, must be nonzero).
    """
    rapidity = torch.as_tensor(rapidity, dtype=torch.float64).reshape(-1)
    direction = torch.as_tensor(direction, dtype=torch.float64).reshape(-1, 3)
    if direction.shape[0] != rapidity.shape[0]:
        raise ValueError(f"boost_matrices needs one direction per rapidity, got {rapidity.shape[0]} rapidities and "
                         f"{direction.shape[0]} directions")
    unit = direction / direction.norm(dim=-1, keepdim=True)
    cosh, sinh = torch.cosh(rapidity), torch.sinh(rapidity)
    boosts = torch.zeros(rapidity.shape[0], 4, 4, dtype=torch.float64)
    boosts[:, 0, 0] = cosh
    boosts[:, 0, 1:] = sinh[:, None] * unit
    boosts[:, 1:, 0] = sinh[:, None] * unit
    boosts[:, 1:, 1:] = torch.eye(3, dtype=torch.float64) + (cosh - 1)[:, None, None] * unit[:, :, None] * unit[:, None, :]
    return boosts


_PARITY = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))
_TIME_REVERSAL = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=torch.float64))


@dataclasses.dataclass(frozen=True)
class Lorentz(Group):
    r"""The Lorentz group O(1,3) and its subgroups SO(1,3), O⁺(1,3), SO⁺(1,3); elements are float64 ``[4, 4]`` Λ.

    Args:
        proper: keep only det Λ = +1.
        orthochronous: keep only Λ₀₀ ≥ 1 (no time reversal).
        max_rapidity: :meth:`sample` draws boosts with rapidity uniform on [0, max_rapidity] (not part of the
            group's identity; the group is not compact, so there is no Haar probability to draw from).

    Example:
        >>> G = Lorentz()
        >>> G, Lorentz(proper=True, orthochronous=True), G.lie_algebra().shape
        (O(1,3), SO⁺(1,3), torch.Size([6, 4, 4]))
        >>> G.element(torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0]))) in G.component_representatives()
        True
    """

    proper: bool = False
    orthochronous: bool = False
    max_rapidity: float = dataclasses.field(default=1.0, compare=False, repr=False)

    def __post_init__(self):
        for name in ("proper", "orthochronous"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"Lorentz({name}=...) must be a bool, got {getattr(self, name)!r}")
        if not (isinstance(self.max_rapidity, (int, float)) and self.max_rapidity >= 0):
            raise ValueError(f"max_rapidity must be a non-negative number, got {self.max_rapidity!r}")

    # -- elements ---------------------------------------------------------------------------------------------
    def element(self, matrix: Any) -> GroupElement:
        """Λ as an element, after checking ΛᵀηΛ = η and the component (``ValueError`` naming the violation)."""
        return self._element(self._check_matrix(matrix))

    def _check_matrix(self, matrix: Any) -> torch.Tensor:
        matrix = torch.as_tensor(matrix, dtype=torch.float64)
        if matrix.shape != (4, 4):
            raise ValueError(f"{self!r} acts on R^(1,3): expected a 4×4 matrix, got shape {list(matrix.shape)}")
        if not bool(torch.isfinite(matrix).all()):
            raise ValueError(f"{self!r}: the matrix has non-finite entries: {matrix.tolist()}")
        eta = minkowski_metric()
        deviation = float((matrix.T @ eta @ matrix - eta).abs().max())
        scale = max(1.0, float(matrix.abs().max()) ** 2)
        if deviation > METRIC_TOLERANCE * scale:
            raise ValueError(f"matrix is not a Lorentz transformation: it does not preserve the Minkowski metric "
                             f"η = diag(1, −1, −1, −1), max |ΛᵀηΛ − η| = {deviation:.3g} "
                             f"(> {METRIC_TOLERANCE:g}·max(1, |Λ|²))")
        if self.proper and float(torch.linalg.det(matrix)) < 0:
            raise ValueError(f"matrix has det Λ = −1 (improper: parity or time reversal); {self!r} contains only "
                             "det +1")
        if self.orthochronous and float(matrix[0, 0]) < 0:
            raise ValueError(f"matrix has Λ₀₀ = {float(matrix[0, 0]):.4g} < 0 (it reverses time); {self!r} contains "
                             "only Λ₀₀ ≥ 1")
        return matrix

    def identity(self) -> GroupElement:
        return self._element(torch.eye(4, dtype=torch.float64))

    def compose(self, a: GroupElement, b: GroupElement) -> GroupElement:
        return self._element(self.check(a).data @ self.check(b).data)

    def inverse(self, a: GroupElement) -> GroupElement:
        r"""Λ⁻¹ = η Λᵀ η (exact: no linear solve)."""
        eta = minkowski_metric()
        return self._element(eta @ self.check(a).data.T @ eta)

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> list[GroupElement]:
        r"""Λ = C · B(φ, n̂) · R: a Haar rotation R of space, a boost of rapidity φ ~ U[0, max_rapidity] along a
        direction n̂ uniform on S², and C uniform over the components' representatives (1, P, T, PT ∩ the group)."""
        rotations = torch.zeros(n, 4, 4, dtype=torch.float64)
        rotations[:, 0, 0] = 1.0
        rotations[:, 1:, 1:] = random_rotation_matrices(n, 3, generator)
        rapidity = torch.rand(n, generator=generator, dtype=torch.float64) * self.max_rapidity
        direction = torch.randn(n, 3, generator=generator, dtype=torch.float64)
        matrices = boost_matrices(rapidity, direction) @ rotations
        components = torch.stack([torch.eye(4, dtype=torch.float64)] + self._component_matrices())
        choice = torch.randint(0, components.shape[0], (n,), generator=generator)
        matrices = components[choice] @ matrices
        return [self._element(m) for m in matrices]

    def _component_matrices(self) -> list[torch.Tensor]:
        candidates = [_PARITY, _TIME_REVERSAL, _PARITY @ _TIME_REVERSAL]
        return [m for m in candidates
                if (not self.proper or float(torch.linalg.det(m)) > 0) and (not self.orthochronous or m[0, 0] > 0)]

    def component_representatives(self) -> list[GroupElement]:
        """Parity P, time reversal T and PT = −I, those that lie in this group."""
        return [self._element(m.clone()) for m in self._component_matrices()]

    # -- what the equivariant-basis solver needs --------------------------------------------------------------
    @property
    def lie_algebra_dimension(self) -> int:  # type: ignore[override]
        return 6

    def lie_algebra(self) -> torch.Tensor:
        r"""A basis of 𝔰𝔬(1,3), float64 ``[6, 4, 4]``: rotations, then boosts.

        .. math::

            L_{ij} = E_{ji} - E_{ij} \ (1 \le i < j \le 3,\ \text{lexicographic}), \qquad K_i = E_{0i} + E_{i0}\ (i = 1, 2, 3),

        i.e. ``Orthogonal(3).lie_algebra()`` on the spatial block (same order and signs), then the boosts along x, y, z.
        Every X satisfies :math:`X^\top\eta + \eta X = 0`.
        """
        basis = torch.zeros(6, 4, 4, dtype=torch.float64)
        pairs = [(1, 2), (1, 3), (2, 3)]
        for a, (i, j) in enumerate(pairs):
            basis[a, j, i], basis[a, i, j] = 1.0, -1.0
        for i in range(1, 4):
            basis[2 + i, 0, i] = basis[2 + i, i, 0] = 1.0
        return basis

    # -- comparison, membership -------------------------------------------------------------------------------
    def equal(self, a: GroupElement, b: GroupElement) -> bool:
        """Entrywise equal to :data:`~gdl.symmetries.EQUALITY_TOLERANCE` · max(1, |Λ|) (boosts have large entries)."""
        scale = max(1.0, float(a.data.abs().max()), float(b.data.abs().max()))
        return bool(torch.allclose(a.data, b.data, rtol=0, atol=EQUALITY_TOLERANCE * scale))

    def describe(self, g: GroupElement) -> str:
        det = float(torch.linalg.det(g.data))
        return (f"det={det:+.0f}, Λ00={float(g.data[0, 0]):+.4g}, "
                f"Λ={[[round(v, 4) for v in row] for row in g.data.tolist()]}")

    def contains(self, g: object) -> bool:
        """Λ from any Lorentz group whose component (det Λ, sign Λ₀₀) lies in this one."""
        if not (isinstance(g, GroupElement) and isinstance(g.group, Lorentz)):
            return False
        if self.proper and float(torch.linalg.det(g.data)) < 0:
            return False
        return not (self.orthochronous and float(g.data[0, 0]) < 0)

    def is_subgroup_of(self, other: Group) -> bool:
        """SO⁺(1,3) ⊂ SO(1,3), O⁺(1,3) ⊂ O(1,3): fewer components ⊂ more."""
        return (isinstance(other, Lorentz) and (self.proper or not other.proper)
                and (self.orthochronous or not other.orthochronous))

    def intersection(self, other: Group) -> Group:
        """SO(1,3) ∩ O⁺(1,3) = SO⁺(1,3): the components both keep."""
        if isinstance(other, Lorentz):
            return Lorentz(proper=self.proper or other.proper, orthochronous=self.orthochronous or other.orthochronous,
                           max_rapidity=min(self.max_rapidity, other.max_rapidity))
        return super().intersection(other)

    def __repr__(self) -> str:
        return f"{'SO' if self.proper else 'O'}{'⁺' if self.orthochronous else ''}(1,3)"
