"""The eight three-dimensional Tetris pieces of Thomas et al. 2018 (Tensor Field Networks, §4.1), as point clouds.

Each piece is four unit cubes, represented by the cubes' centres (``pos [4, 3]``). Two of the eight pieces are
mirror images of each other (``chiral_1`` and ``chiral_2``); the other six are achiral: each equals its own mirror
image up to a rotation. So a rotation never changes a piece's class, while a reflection swaps the chiral pair
(:data:`MIRROR_CLASS`) and keeps the others. A rotation-invariant classifier can tell all eight apart; a
classifier invariant under reflections as well cannot separate the chiral pair.
"""

from __future__ import annotations

import torch

__all__ = ["TETRIS_NAMES", "TETRIS_POSITIONS", "MIRROR_CLASS", "tetris_pieces", "moved_pieces"]

#: class names, in label order
TETRIS_NAMES = ("chiral_1", "chiral_2", "square", "line", "corner", "L", "T", "zigzag")
#: cube centres ``[8, 4, 3]`` in the canonical (training) orientation
TETRIS_POSITIONS = torch.tensor([
    [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 1, 0]],   # chiral_1
    [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, -1, 0]],  # chiral_2: chiral_1 reflected through y = 0
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]],   # square
    [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3]],   # line
    [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]],   # corner
    [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0]],   # L
    [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 1]],   # T
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [2, 1, 0]],   # zigzag
], dtype=torch.float64)
#: the class of a piece's mirror image
MIRROR_CLASS = torch.tensor([1, 0, 2, 3, 4, 5, 6, 7])


def tetris_pieces(dtype: torch.dtype = torch.float32) -> list:
    """The eight pieces in their canonical orientation: ``Data(pos [4, 3], x [4, 1] (ones), y [1])``."""
    return moved_pieces(torch.eye(3, dtype=torch.float64).expand(1, 3, 3), dtype=dtype)


def moved_pieces(matrices: torch.Tensor, translations: torch.Tensor | None = None, dtype: torch.dtype = torch.float32,
                 permute: torch.Generator | None = None) -> list:
    """Every piece moved by every orthogonal matrix: ``len(matrices) × 8`` graphs, labels following reflections.

    Args:
        matrices: ``[K, 3, 3]`` orthogonal matrices Q (rotations, or reflections with det Q = −1); piece p becomes
            ``pos Qᵀ + t`` with class ``MIRROR_CLASS[p]`` when det Q < 0, else p.
        translations: ``[K, 3]`` shifts t (default 0).
        dtype: floating dtype of ``pos`` and ``x``.
        permute: when given, the four cubes of every copy are also listed in a random order drawn from it.

    Returns:
        ``Data(pos [4, 3], x [4, 1], y [1])`` objects, copy k of piece p at index 8k + p.
    """
    from torch_geometric.data import Data

    matrices = torch.as_tensor(matrices, dtype=torch.float64)
    if matrices.dim() != 3 or matrices.shape[1:] != (3, 3):
        raise ValueError(f"matrices must have shape [K, 3, 3], got {list(matrices.shape)}")
    eye = torch.eye(3, dtype=torch.float64)
    deviation = float((matrices.transpose(1, 2) @ matrices - eye).abs().max()) if matrices.numel() else 0.0
    if deviation > 1e-8:
        raise ValueError(f"matrices must be orthogonal: max |QᵀQ − I| = {deviation:.2e}")
    if translations is None:
        translations = torch.zeros(matrices.shape[0], 3, dtype=torch.float64)
    translations = torch.as_tensor(translations, dtype=torch.float64)
    if translations.shape != (matrices.shape[0], 3):
        raise ValueError(f"translations must have shape [{matrices.shape[0]}, 3], got {list(translations.shape)}")
    moved = torch.einsum("pni,kji->kpnj", TETRIS_POSITIONS, matrices) + translations[:, None, None, :]
    reflected = torch.linalg.det(matrices) < 0
    labels = torch.where(reflected[:, None], MIRROR_CLASS[None, :], torch.arange(8)[None, :])
    pieces = []
    for k in range(matrices.shape[0]):
        for p in range(8):
            order = torch.randperm(4, generator=permute) if permute is not None else torch.arange(4)
            pieces.append(Data(pos=moved[k, p][order].to(dtype), x=torch.ones(4, 1, dtype=dtype), y=labels[k, p:p + 1]))
    return pieces
