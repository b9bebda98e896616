"""Positional encodings: the order (or the structure) that a permutation-equivariant layer forgets (book §5.4).

Attention treats its input as a set: :class:`~gdl.graphs.TransformerGNNLayer` is S_N-equivariant. A sequence
model adds positional encodings to the token embeddings to break that symmetry; a graph Transformer adds
encodings computed from the graph, which are themselves permutation-equivariant (up to the ambiguities below).

* :func:`sinusoidal_encoding` (Vaswani et al. 2017): ``PE[p, 2i] = sin(ω_i p)``, ``PE[p, 2i+1] = cos(ω_i p)``
  with ``ω_i = base^{−2i/d}``. Sines and cosines are the eigenvectors of the Laplacian of a cycle (and of the
  infinite path): (L v)_p = 2 v_p − v_{p−1} − v_{p+1} = (2 − 2 cos ω) v_p for v_p = sin(ω p + φ). With the
  frequencies ``ω_k = 2πk/N`` (:func:`cycle_frequencies`) the encoding *is* the Laplacian eigenbasis of the
  N-cycle, which is why the book calls sinusoidal encodings the graph Fourier basis of a sequence.
* :func:`laplacian_eigenvectors` (Dwivedi & Bresson 2020, "A Generalization of Transformer Networks to Graphs"):
  the eigenvectors of the k smallest non-trivial eigenvalues of L = I − D^{−1/2} A D^{−1/2}, the same idea on
  any graph. An eigenvector is defined up to sign (and, for a repeated eigenvalue, up to a rotation of its
  eigenspace), so :class:`LaplacianPE` flips signs at random in training to make the model sign-invariant.
* :func:`random_walk_encoding` (Dwivedi et al. 2022, "Graph Neural Networks with Learnable Structural and
  Positional Representations"): the return probabilities ``[P_ii, (P²)_ii, …, (P^k)_ii]`` of a random walk
  P = D^{−1} A, exactly permutation-equivariant (:class:`RandomWalkPE`, which appends them to the node features).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch_geometric.utils import get_laplacian, is_undirected, to_dense_adj

from gdl.core import TupleField, seeded
from gdl.core.checks import check_edge_index, check_int
from gdl.symmetries.permutations import EdgeIndexField, Permutations, SetField

from .base import GraphLayer

__all__ = ["sinusoidal_encoding", "cycle_frequencies", "cycle_laplacian", "laplacian_eigenvectors",
           "random_sign_flip", "LaplacianPE", "random_walk_encoding", "RandomWalkPE"]


def sinusoidal_encoding(num_positions: int, dim: int, base: float = 10000.0, frequencies: torch.Tensor | None = None,
                        dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """The sinusoidal positional encoding ``[N, d]`` of positions 0 … N−1.

    .. math::
        PE_{p, 2i} = \\sin(ω_i p), \\qquad PE_{p, 2i+1} = \\cos(ω_i p), \\qquad ω_i = \\text{base}^{-2i/d}

    Args:
        num_positions: N.
        dim: d, even.
        base: the wavelength scale of Vaswani et al. (10000).
        frequencies: ``[d/2]`` angular frequencies ω_i replacing the geometric ladder (e.g. :func:`cycle_frequencies`).
        dtype, device: of the result (computed in float64 first).

    Example:
        >>> sinusoidal_encoding(3, 2)  # columns sin(p), cos(p)
        tensor([[ 0.0000,  1.0000],
                [ 0.8415,  0.5403],
                [ 0.9093, -0.4161]])
    """
    n, d = check_int(num_positions, "num_positions"), check_int(dim, "dim")
    if d % 2:
        raise ValueError(f"the sinusoidal encoding pairs a sine with a cosine per frequency: dim must be even, got {d}")
    if frequencies is None:
        omega = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    else:
        omega = torch.as_tensor(frequencies, dtype=torch.float64).reshape(-1)
        if omega.numel() != d // 2:
            raise ValueError(f"dim={d} needs {d // 2} frequencies, got {omega.numel()}")
    angles = torch.arange(n, dtype=torch.float64).unsqueeze(1) * omega.unsqueeze(0)
    encoding = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).reshape(n, d)
    return encoding.to(dtype=dtype, device=device)


def cycle_frequencies(num_nodes: int, count: int) -> torch.Tensor:
    """The frequencies ω_k = 2πk/N, k = 1 … count, of the N-cycle's Laplacian eigenvectors (eigenvalue 2 − 2 cos ω_k)."""
    n = check_int(num_nodes, "num_nodes")
    if not 1 <= check_int(count, "count") <= n // 2:
        raise ValueError(f"the {n}-cycle has {n // 2} non-constant frequencies ω_k = 2πk/N (k ≤ N/2), asked for {count}")
    return 2 * math.pi * torch.arange(1, count + 1, dtype=torch.float64) / n


def cycle_laplacian(num_nodes: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The combinatorial Laplacian L = 2I − A ``[N, N]`` of the N-cycle 0 – 1 – … – (N−1) – 0 (N ≥ 3)."""
    n = check_int(num_nodes, "num_nodes")
    if n < 3:
        raise ValueError(f"a cycle needs at least 3 nodes, got {n}")
    eye = torch.eye(n, dtype=dtype)
    return 2 * eye - eye.roll(1, dims=1) - eye.roll(-1, dims=1)


def _laplacian(edge_index: torch.Tensor, num_nodes: int, normalization: str | None) -> torch.Tensor:
    """The dense graph Laplacian ``[N, N]`` in float64 (torch-geometric's ``get_laplacian``)."""
    index, weight = get_laplacian(edge_index, normalization=normalization, num_nodes=num_nodes, dtype=torch.float64)
    return to_dense_adj(index, edge_attr=weight, max_num_nodes=num_nodes)[0]


def laplacian_eigenvectors(edge_index: torch.Tensor, num_nodes: int, k: int, normalization: str | None = "sym",
                           dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The k eigenpairs of the graph Laplacian after the smallest (trivial) one.

    L = I − D^{−1/2} A D^{−1/2} (``"sym"``, default), I − D^{−1} A (``"rw"`` is not symmetric: refused) or
    D − A (``None``). Eigenvectors are computed densely in float64 (``torch.linalg.eigh``, O(N³)) and
    orthonormal; each one's sign is fixed so that its entry of largest magnitude is positive (a convention:
    relabelling the nodes may still flip it, and a repeated eigenvalue's eigenvectors are any orthonormal basis
    of its eigenspace). When k ≥ N the missing columns are zeros (and their eigenvalues NaN).

    Args:
        edge_index: ``[2, E]`` of an undirected graph (both directions of every edge present).
        num_nodes: N.
        k: number of eigenvectors.
        normalization: ``"sym"`` or ``None``.
        dtype: of the results.

    Returns:
        eigenvalues ``[k]`` (ascending) and eigenvectors ``[N, k]``.
    """
    n, k = check_int(num_nodes, "num_nodes"), check_int(k, "k")
    check_edge_index(edge_index, n)
    if normalization not in ("sym", None):
        raise ValueError(f"normalization must be 'sym' or None (a symmetric Laplacian), got {normalization!r}")
    if not is_undirected(edge_index, num_nodes=n):
        raise ValueError("Laplacian eigenvectors need an undirected graph (edge j → i together with i → j); "
                         "symmetrise edge_index first, e.g. with torch_geometric.utils.to_undirected")
    values, vectors = torch.linalg.eigh(_laplacian(edge_index, n, normalization))
    values, vectors = values[1:k + 1], vectors[:, 1:k + 1]
    largest = vectors.abs().argmax(dim=0)
    vectors = vectors * torch.sign(vectors[largest, torch.arange(vectors.shape[1])])
    if vectors.shape[1] < k:  # fewer than k non-trivial eigenvectors: pad
        missing = k - vectors.shape[1]
        vectors = torch.cat([vectors, vectors.new_zeros(n, missing)], dim=1)
        values = torch.cat([values, values.new_full((missing,), float("nan"))])
    return values.to(dtype), vectors.to(dtype)


def random_sign_flip(vectors: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Multiply each column of ``vectors`` ``[..., N, k]`` by an independent random sign ±1."""
    signs = torch.randint(0, 2, (vectors.shape[-1],), generator=generator, device=vectors.device if generator is None else "cpu")
    return vectors * (2 * signs - 1).to(device=vectors.device, dtype=vectors.dtype)


class LaplacianPE(GraphLayer):
    """Laplacian-eigenvector positional encoding, learned projection and random sign flips in training.

    ``forward(eigenvectors)`` = ``W · (s ⊙ eigenvectors) + b``, where s ∈ {±1}^k is drawn afresh at every
    training call (torch's RNG) and s = 1 in eval mode. The network therefore sees both signs of every
    eigenvector and has to learn a function that ignores the arbitrary one (Dwivedi & Bresson 2020). That is
    also its cost: where the information sits in the signs (the Fiedler vector's sign splits a graph in two),
    a small model trained on few labels may not learn to recover it from sign-invariant combinations.

    Given the eigenvectors as node features, the map is applied to every node alone, so it is S_N-equivariant
    (in eval mode); the ambiguity lies in computing them (:func:`laplacian_eigenvectors`), not here.

    Args:
        k: number of eigenvectors.
        out_features: size of the encoding (usually d_model, added to the node embeddings).
        sign_flip: flip signs at random in training (``False``: always use the signs as given, e.g. the
            canonical ones of :func:`laplacian_eigenvectors`).

    Shapes:
        ``[..., N, k]`` (from :func:`laplacian_eigenvectors`) → ``[..., N, out_features]``.
    """

    def __init__(self, k: int, out_features: int, sign_flip: bool = True):
        super().__init__()
        self.k, self.sign_flip = check_int(k, "k"), bool(sign_flip)
        self.projection = nn.Linear(self.k, check_int(out_features, "out_features"))

    def _check(self, eigenvectors) -> int:
        if not isinstance(eigenvectors, torch.Tensor) or not eigenvectors.is_floating_point():
            given = eigenvectors.dtype if isinstance(eigenvectors, torch.Tensor) else type(eigenvectors).__name__
            raise TypeError(f"LaplacianPE expects floating-point eigenvectors [N, {self.k}], got {given}")
        if eigenvectors.dim() < 2 or eigenvectors.shape[-1] != self.k:
            raise ValueError(f"LaplacianPE expects eigenvectors [N, {self.k}], got {list(eigenvectors.shape)}")
        return eigenvectors.shape[-2]

    def field_types(self, eigenvectors: torch.Tensor) -> tuple[SetField, SetField]:
        group = Permutations(self._check(eigenvectors))
        return SetField(group, self.k), SetField(group, self.projection.out_features)

    def forward(self, eigenvectors: torch.Tensor) -> torch.Tensor:
        self._check(eigenvectors)
        if self.training and self.sign_flip:
            eigenvectors = random_sign_flip(eigenvectors)
        return self.projection(eigenvectors)

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        bad = super().bad_inputs(*inputs)
        bad.pop("input 0: one axis too many", None)  # [..., N, k]: batch axes are valid
        bad["input 0: a vector [k] instead of [N, k]"] = (inputs[0][0],)
        return bad

    def export(self) -> nn.Module:
        return _PlainLaplacianPE(copy.deepcopy(self.projection), self.sign_flip).train(self.training)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["LaplacianPE", tuple]:
        """4 eigenvectors of a 6-cycle projected to 5 features."""
        with seeded(generator):
            module = cls(4, 5)
        ring = torch.stack([torch.arange(6), (torch.arange(6) + 1) % 6])
        _, vectors = laplacian_eigenvectors(torch.cat([ring, ring.flip(0)], dim=1), 6, 4)
        return module, (vectors,)

    def extra_repr(self) -> str:
        return f"k={self.k}, out_features={self.projection.out_features}, sign_flip={self.sign_flip}"


class _PlainLaplacianPE(nn.Module):
    """:class:`LaplacianPE` in plain torch (the same random flips in training)."""

    def __init__(self, projection: nn.Linear, sign_flip: bool):
        super().__init__()
        self.projection, self.sign_flip = projection, sign_flip

    def forward(self, eigenvectors: torch.Tensor) -> torch.Tensor:
        if self.training and self.sign_flip:
            signs = torch.randint(0, 2, (eigenvectors.shape[-1],), device=eigenvectors.device)
            eigenvectors = eigenvectors * (2 * signs - 1).to(eigenvectors.dtype)
        return self.projection(eigenvectors)


def random_walk_encoding(edge_index: torch.Tensor, num_nodes: int, walk_length: int,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Random-walk return probabilities ``[N, walk_length]``: column t−1 holds (P^t)_ii, P = D^{−1} A.

    A[i, j] counts the edges i → j (``edge_index[0] = i``) and D is the diagonal of out-degrees, so
    P[i, j] = A[i, j] / outdeg(i): a walker at i takes one of its out-edges uniformly (row-stochastic; a node
    without out-edges stays put with probability 0). Computed densely (O(N³ · walk_length)) in ``dtype``.
    """
    n, steps = check_int(num_nodes, "num_nodes"), check_int(walk_length, "walk_length")
    check_edge_index(edge_index, n)
    return _return_probabilities(edge_index, n, steps, dtype)


def _return_probabilities(edge_index: torch.Tensor, num_nodes: int, steps: int, dtype: torch.dtype) -> torch.Tensor:
    adjacency = torch.zeros(num_nodes, num_nodes, dtype=dtype, device=edge_index.device)
    adjacency.index_put_((edge_index[0], edge_index[1]), torch.ones(edge_index.shape[1], dtype=dtype,
                                                                    device=edge_index.device), accumulate=True)
    transition = adjacency / adjacency.sum(dim=1, keepdim=True).clamp(min=1)
    power, diagonals = transition, [transition.diagonal()]
    for _ in range(steps - 1):  # walk_length matrix products (not a loop over nodes or edges)
        power = power @ transition
        diagonals.append(power.diagonal())
    return torch.stack(diagonals, dim=-1)


class RandomWalkPE(GraphLayer):
    """The random-walk encoding of a graph as a layer: node features ``x`` → ``[x ‖ RW(G)]``.

    .. math::
        \\mathrm{RW}(G)_i = \\big[P_{ii}, (P^2)_{ii}, …, (P^k)_{ii}\\big],\\qquad P = D^{-1} A,\\qquad
        \\mathrm{RW}(σ·G) = σ·\\mathrm{RW}(G)

    Exactly permutation-equivariant: relabelling the graph permutes the return probabilities. The number of nodes
    N is that of ``x`` (an ``edge_index`` alone does not say it: a node without edges appears in none), and the
    encoding is appended to it, as torch-geometric's ``AddRandomWalkPE`` does; pass ``x = torch.empty(N, 0)`` for
    the encoding alone. It has ``x``'s dtype and device.

    Args:
        walk_length: number of steps k.

    Shapes:
        x ``[N, C]``, edge_index ``[2, E]`` → ``[N, C + walk_length]``.
    """

    context_keys = ("edge_index",)

    def __init__(self, walk_length: int):
        super().__init__()
        self.walk_length = check_int(walk_length, "walk_length")

    def field_types(self, x: torch.Tensor, edge_index: torch.Tensor) -> tuple[TupleField, SetField]:
        group = Permutations(self._count_nodes(x, None))
        return TupleField((SetField(group, x.shape[1]), EdgeIndexField(group))), SetField(group, x.shape[1] + self.walk_length)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        num_nodes = self._count_nodes(x, None)
        if num_nodes == 0:
            raise ValueError("a random walk needs a graph with at least one node, got x of shape "
                             f"{list(x.shape)} (an empty graph)")
        check_edge_index(edge_index, num_nodes)
        return torch.cat([x, _return_probabilities(edge_index, num_nodes, self.walk_length, x.dtype)], dim=-1)

    def bad_inputs(self, *inputs) -> dict[str, tuple]:
        x, edge_index = inputs
        bad = super().bad_inputs(*inputs)
        bad.pop("input 0: one channel too many", None)  # any width is carried along
        bad["an empty graph"] = (x[:0], edge_index[:, :0])
        return bad

    def export(self) -> nn.Module:
        return _PlainRandomWalkPE(self.walk_length)

    @classmethod
    def example(cls, generator: torch.Generator | None = None) -> tuple["RandomWalkPE", tuple]:
        """Return probabilities of 5-step walks on a random directed 9-node graph, appended to 2 features."""
        return cls(5), (torch.randn(9, 2, generator=generator), torch.randint(0, 9, (2, 24), generator=generator))

    def extra_repr(self) -> str:
        return f"walk_length={self.walk_length}"


class _PlainRandomWalkPE(nn.Module):
    """:class:`RandomWalkPE` in plain torch (no checks)."""

    def __init__(self, walk_length: int):
        super().__init__()
        self.walk_length = walk_length

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, _return_probabilities(edge_index, x.shape[0], self.walk_length, x.dtype)], dim=-1)
