"""The WordNet 3.0 noun hierarchy and synthetic trees, as transitive closures (Nickel & Kiela 2017).

WordNet's nouns form a partial order "u is a kind of v" given by hypernym pointers. Poincaré embeddings are trained
on its *transitive closure*: every pair (u, v) with u ≺ v, direct or not. This module reads the pointers from the
WordNet database files themselves (``data.noun`` and ``index.noun``, about 50 lines of parsing below); nothing is
downloaded. On Debian/Ubuntu the files come with the package ``wordnet-base``::

    sudo apt-get install wordnet-base      # installs /usr/share/wordnet/{data,index}.noun

(``make install`` does this for you when the files are missing). Another location can be given with the
``GDL_WORDNET_DIR`` environment variable or the ``directory`` argument.

Synset names follow nltk's convention ``lemma.n.NN``: the synset's first lemma, lower-cased, and its sense number
in ``index.noun``, e.g. ``mammal.n.01`` (offset 01861778).

Sizes (WordNet 3.0, checked by ``tests/test_wordnet.py`` when the files are present):

* all 82,115 noun synsets; the closure of the ``@`` (hypernym) and ``@i`` (instance hypernym) pointers has
  743,241 pairs (the hierarchy of Nickel & Kiela 2017, Table 1); without instances 663,508;
* ``mammal.n.01`` and its 1,169 hyponyms (hypernym pointers only): 1,170 nodes, 6,448 closure pairs.

Synthetic hierarchies for tests: :func:`balanced_tree` and :func:`random_tree`.

Every loader returns a :class:`~gdl.geodesics.hierarchy.Hierarchy`: the data structure belongs to the geodesics
domain that embeds it (data sets sit above the domains), and is re-exported here and from :mod:`gdl.datasets`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import torch

from gdl.geodesics.hierarchy import Hierarchy, sorted_contains

from .mnist import MissingDataError

__all__ = ["Hierarchy", "WordNetNouns", "load_wordnet_nouns", "wordnet_closure", "transitive_closure",
           "balanced_tree", "random_tree", "sorted_contains", "WORDNET_DIR"]

#: where Debian's ``wordnet-base`` installs the database
WORDNET_DIR = Path("/usr/share/wordnet")
_INSTALL_HINT = ("install Debian's 'wordnet-base' package (sudo apt-get update && sudo apt-get install -y wordnet-base; "
                 "`make install` does it when the files are missing), or point GDL_WORDNET_DIR at a folder holding "
                 "the WordNet 3.0 files data.noun and index.noun")


def transitive_closure(edges: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """All pairs (u, w) joined by a path u → … → w of the directed acyclic graph ``edges``.

    Vectorised over pairs: each round extends the pairs found in the previous round, (u, v), by every direct edge
    (v, w), so round k finds the pairs joined by a path of k + 1 edges and no shorter one; it stops when a round
    finds nothing new (after as many rounds as the longest path, 19 for WordNet's nouns).

    Args:
        edges: ``[E, 2]`` int64 direct edges (child, parent).
        num_nodes: N; node ids lie in 0 … N−1.

    Returns:
        ``[P, 2]`` int64 pairs (u, w), sorted by u then w, without duplicates.

    Raises:
        ValueError: out-of-range ids, or a cycle (which has no finite closure).
    """
    edges = torch.as_tensor(edges, dtype=torch.long).reshape(-1, 2)
    if edges.numel() and (int(edges.min()) < 0 or int(edges.max()) >= num_nodes):
        raise ValueError(f"edge ids must lie in 0..{num_nodes - 1}, got the range "
                         f"{int(edges.min())}..{int(edges.max())}")
    if bool((edges[:, 0] == edges[:, 1]).any()):
        raise ValueError("the edges contain a cycle (a self-loop); a hierarchy must be acyclic")
    # direct edges as CSR, sorted by child
    direct = torch.unique(edges[:, 0] * num_nodes + edges[:, 1])
    child, parent = direct // num_nodes, direct % num_nodes
    pointer = torch.zeros(num_nodes + 1, dtype=torch.long)
    pointer[1:] = torch.cumsum(torch.bincount(child, minlength=num_nodes), 0)
    known, frontier = direct, direct
    for _ in range(num_nodes):
        if frontier.numel() == 0:
            return torch.stack([known // num_nodes, known % num_nodes], dim=1)
        start, middle = frontier // num_nodes, frontier % num_nodes
        counts = pointer[middle + 1] - pointer[middle]
        repeated_start = torch.repeat_interleave(start, counts)
        offsets = torch.arange(int(counts.sum())) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        ends = parent[torch.repeat_interleave(pointer[middle], counts) + offsets]
        candidates = torch.unique(repeated_start * num_nodes + ends)
        frontier = candidates[~sorted_contains(known, candidates)]
        if bool((frontier // num_nodes == frontier % num_nodes).any()):
            raise ValueError("the edges contain a cycle; a hierarchy must be acyclic")
        known = torch.sort(torch.cat([known, frontier])).values
    raise ValueError("the edges contain a cycle; a hierarchy must be acyclic")


def _from_parents(names: list[str], parents: torch.Tensor) -> Hierarchy:
    """A tree from ``parents[i]`` (−1 for the root)."""
    children = torch.nonzero(parents >= 0).flatten()
    closure = transitive_closure(torch.stack([children, parents[children]], dim=1), len(names))
    roots = torch.nonzero(parents < 0).flatten()
    return Hierarchy(tuple(names), closure, int(roots[0]) if roots.numel() == 1 else None)


def balanced_tree(branching: int, depth: int) -> Hierarchy:
    """The complete ``branching``-ary tree of the given depth: (b^{depth+1} − 1)/(b − 1) nodes, root 0.

    Node i > 0 has parent (i − 1) // b (breadth-first numbering); names are ``"n0"``, ``"n1"``, …
    """
    if branching < 1 or depth < 0:
        raise ValueError(f"balanced_tree needs branching ≥ 1 and depth ≥ 0, got {branching} and {depth}")
    count = sum(branching ** k for k in range(depth + 1))
    parents = torch.cat([torch.tensor([-1]), torch.div(torch.arange(1, count) - 1, branching, rounding_mode="floor")])
    return _from_parents([f"n{i}" for i in range(count)], parents)


def random_tree(num_nodes: int, generator: torch.Generator | None = None) -> Hierarchy:
    """A random recursive tree: node i > 0 picks its parent uniformly among 0 … i−1 (root 0)."""
    if num_nodes < 1:
        raise ValueError(f"random_tree needs at least one node, got {num_nodes}")
    uniform = torch.rand(num_nodes, generator=generator, dtype=torch.float64)
    parents = (uniform * torch.arange(num_nodes)).floor().long()
    parents[0] = -1
    return _from_parents([f"n{i}" for i in range(num_nodes)], parents)


@dataclasses.dataclass(frozen=True, eq=False)
class WordNetNouns:
    """Every noun synset of WordNet 3.0 with its direct hypernym pointers.

    Attributes:
        names: synset names ``lemma.n.NN``, index = node id (file order).
        offsets: the synsets' byte offsets in ``data.noun`` (WordNet's own ids).
        hypernyms: ``[H, 2]`` (synset, hypernym) pairs from ``@`` pointers.
        instance_hypernyms: ``[I, 2]`` (instance, class) pairs from ``@i`` pointers.
    """

    names: tuple[str, ...]
    offsets: tuple[int, ...]
    hypernyms: torch.Tensor
    instance_hypernyms: torch.Tensor


def _wordnet_dir(directory: str | Path | None) -> Path:
    path = Path(directory or os.environ.get("GDL_WORDNET_DIR") or WORDNET_DIR)
    missing = [name for name in ("data.noun", "index.noun") if not (path / name).is_file()]
    if missing:
        raise MissingDataError(f"the WordNet 3.0 noun files {missing} are not in {path}: {_INSTALL_HINT}")
    return path


@functools.lru_cache(maxsize=4)
def _read_nouns(path: Path) -> WordNetNouns:
    records = []  # (offset, lemmas, [(pointer symbol, target offset)])
    with open(path / "data.noun", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" | ", 1)[0].split()
            word_count = int(fields[3], 16)  # w_cnt is hexadecimal, p_cnt decimal
            lemmas = fields[4:4 + 2 * word_count:2]
            pointer_count = int(fields[4 + 2 * word_count])
            pointers = fields[5 + 2 * word_count:5 + 2 * word_count + 4 * pointer_count]
            records.append((int(fields[0]), lemmas, list(zip(pointers[0::4], (int(o) for o in pointers[1::4])))))
    senses: dict[str, list[int]] = {}
    with open(path / "index.noun", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("  "):
                continue
            fields = line.split()
            synset_count = int(fields[2])
            senses[fields[0]] = [int(o) for o in fields[len(fields) - synset_count:]]
    ids = {offset: i for i, (offset, _, _) in enumerate(records)}
    names, hypernyms, instances = [], [], []
    for i, (offset, lemmas, pointers) in enumerate(records):
        lemma = lemmas[0].lower()
        names.append(f"{lemma}.n.{senses[lemma].index(offset) + 1:02d}")
        hypernyms += [(i, ids[target]) for symbol, target in pointers if symbol == "@"]
        instances += [(i, ids[target]) for symbol, target in pointers if symbol == "@i"]
    as_pairs = lambda pairs: torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)  # noqa: E731
    return WordNetNouns(tuple(names), tuple(r[0] for r in records), as_pairs(hypernyms), as_pairs(instances))


def load_wordnet_nouns(directory: str | Path | None = None) -> WordNetNouns:
    """Parse ``data.noun`` and ``index.noun`` (cached per folder).

    Raises:
        gdl.datasets.mnist.MissingDataError: the files are absent; the message says how to install them.
    """
    return _read_nouns(_wordnet_dir(directory).resolve())


@functools.lru_cache(maxsize=8)
def _closure(path: Path, root: str | None, instances: bool) -> Hierarchy:
    nouns = _read_nouns(path)
    if root is not None and root not in nouns.names:
        lemma = root.split(".")[0]
        similar = sorted(n for n in nouns.names if n.split(".")[0] == lemma)
        raise KeyError(f"{root!r} is not a WordNet noun synset; synsets of the lemma {lemma!r}: "
                       f"{similar or 'none'} (names look like 'mammal.n.01')")
    edges = torch.cat([nouns.hypernyms, nouns.instance_hypernyms]) if instances else nouns.hypernyms
    closure = transitive_closure(edges, len(nouns.names))
    if root is None:
        has_parent = torch.zeros(len(nouns.names), dtype=torch.bool)
        has_parent[edges[:, 0]] = True
        maximal = torch.nonzero(~has_parent).flatten()
        return Hierarchy(nouns.names, closure, int(maximal[0]) if maximal.numel() == 1 else None)
    root_id = nouns.names.index(root)
    members = torch.cat([closure[closure[:, 1] == root_id, 0], torch.tensor([root_id])]).unique()
    relabel = torch.full((len(nouns.names),), -1, dtype=torch.long)
    relabel[members] = torch.arange(members.numel())
    inside = (relabel[closure[:, 0]] >= 0) & (relabel[closure[:, 1]] >= 0)
    return Hierarchy(tuple(nouns.names[i] for i in members.tolist()), relabel[closure[inside]], int(relabel[root_id]))


def wordnet_closure(root: str | None = "mammal.n.01", *, instance_hypernyms: bool = False,
                    directory: str | Path | None = None) -> Hierarchy:
    """The transitive closure of WordNet's noun hierarchy below ``root``.

    The nodes are ``root`` and every synset with ``root`` among its (transitive) hypernyms; the pairs are all
    closure pairs (u, v) with both ends among them, so a hyponym of ``root`` keeps its other ancestors inside the
    subtree (e.g. ``dog.n.01 ≺ carnivore.n.01``) but loses those outside it.

    Args:
        root: a synset name such as ``"mammal.n.01"``; ``None`` for the whole noun hierarchy (whose root is
            ``entity.n.01`` when instances are included; without them the instances are maximal nodes too).
        instance_hypernyms: also follow ``@i`` pointers (named individuals such as ``einstein.n.01``). The whole
            hierarchy of Nickel & Kiela (2017) includes them (82,115 nouns, 743,241 pairs); the mammal subtree here
            uses hypernyms only (1,170 nodes, 6,448 pairs).
        directory: folder holding ``data.noun`` and ``index.noun`` (default ``$GDL_WORDNET_DIR`` or
            ``/usr/share/wordnet``).

    Raises:
        KeyError: ``root`` is not a noun synset (the message lists synsets of the same lemma).
        gdl.datasets.mnist.MissingDataError: the WordNet files are absent (the message says how to get them).
    """
    return _closure(_wordnet_dir(directory).resolve(), root, bool(instance_hypernyms))
