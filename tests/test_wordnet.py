"""WordNet noun hierarchy and synthetic trees: closures against naive references, the documented sizes, bad input.

The WordNet tests run when Debian's ``wordnet-base`` files are installed (``make install`` installs them) and are
reported as skipped otherwise; the closure algorithm itself is tested on generated trees and DAGs either way.
"""

import itertools

import pytest
import torch

from gdl.datasets.mnist import MissingDataError
from gdl.datasets.wordnet import (
    WORDNET_DIR,
    Hierarchy,
    balanced_tree,
    load_wordnet_nouns,
    random_tree,
    sorted_contains,
    transitive_closure,
    wordnet_closure,
)

HAVE_WORDNET = (WORDNET_DIR / "data.noun").is_file() and (WORDNET_DIR / "index.noun").is_file()
needs_wordnet = pytest.mark.skipif(not HAVE_WORDNET, reason="WordNet 3.0 files absent: apt-get install wordnet-base")


def _naive_closure(edges, n):
    reach = torch.zeros(n, n, dtype=torch.bool)
    reach[edges[:, 0], edges[:, 1]] = True
    for k, i in itertools.product(range(n), range(n)):  # Floyd–Warshall on booleans
        if reach[i, k]:
            reach[i] |= reach[k]
    return {tuple(p) for p in torch.nonzero(reach).tolist()}


def test_transitive_closure_matches_floyd_warshall_on_a_random_dag(generator):
    n = 25
    pairs = torch.randint(0, n, (60, 2), generator=generator)
    edges = torch.stack([pairs.max(1).values, pairs.min(1).values], 1)  # child > parent: acyclic
    edges = edges[edges[:, 0] != edges[:, 1]]
    closure = transitive_closure(edges, n)
    assert {tuple(p) for p in closure.tolist()} == _naive_closure(edges, n)
    assert torch.equal(closure, torch.unique(closure, dim=0))  # sorted, no duplicates


def test_transitive_closure_rejects_cycles_and_bad_ids():
    with pytest.raises(ValueError, match="cycle"):
        transitive_closure(torch.tensor([[0, 1], [1, 2], [2, 0]]), 3)
    with pytest.raises(ValueError, match="self-loop"):
        transitive_closure(torch.tensor([[0, 1], [1, 1]]), 3)
    with pytest.raises(ValueError, match="0..2"):
        transitive_closure(torch.tensor([[0, 5]]), 3)


def test_balanced_tree_sizes():
    tree = balanced_tree(3, 4)
    assert tree.num_nodes == (3 ** 5 - 1) // 2 and tree.root == 0
    assert tree.num_edges == sum(k * 3 ** k for k in range(5))  # a node at depth k has k ancestors
    assert torch.equal(torch.bincount(tree.depth()), torch.tensor([3 ** k for k in range(5)]))
    with pytest.raises(ValueError, match="branching"):
        balanced_tree(0, 2)


def test_random_tree_is_a_tree_rooted_at_zero(generator):
    tree = random_tree(60, generator)
    depth = tree.depth()
    assert tree.root == 0 and depth[0] == 0 and bool((depth[1:] >= 1).all())
    assert tree.num_edges == int(depth.sum())
    # every node's ancestors form a chain (a tree has one path to the root): depths 0..d−1, each once
    for node in range(1, 60):
        ancestors = tree.closure[tree.closure[:, 0] == node, 1]
        assert sorted(depth[ancestors].tolist()) == list(range(int(depth[node])))


def test_hierarchy_index_and_keys():
    tree = balanced_tree(2, 2)
    assert tree.index("n3") == 3
    with pytest.raises(KeyError, match="not a node of this hierarchy"):
        tree.index("n99")
    assert sorted_contains(tree.keys, torch.tensor([3 * 7 + 1, 3 * 7 + 2])).tolist() == [True, False]
    with pytest.raises(ValueError, match=r"\[P, 2\]"):
        Hierarchy(("a", "b"), torch.tensor([0, 1]))


def test_missing_wordnet_files_say_how_to_install_them(tmp_path):
    with pytest.raises(MissingDataError, match="apt-get install -y wordnet-base"):
        wordnet_closure("mammal.n.01", directory=tmp_path)
    with pytest.raises(MissingDataError, match="GDL_WORDNET_DIR"):
        load_wordnet_nouns(tmp_path)


@needs_wordnet
def test_mammal_closure_has_the_documented_size():
    mammals = wordnet_closure("mammal.n.01")
    assert mammals.num_nodes == 1170 and mammals.num_edges == 6448  # 1,169 hyponyms + the root
    assert mammals.names[mammals.root] == "mammal.n.01"
    dog, carnivore, mammal = (mammals.index(n) for n in ("dog.n.01", "carnivore.n.01", "mammal.n.01"))
    keys = set(mammals.keys.tolist())
    assert dog * 1170 + carnivore in keys and dog * 1170 + mammal in keys and carnivore * 1170 + dog not in keys
    assert int((mammals.closure[:, 1] == mammal).sum()) == 1169  # every hyponym is a mammal


@needs_wordnet
def test_whole_noun_hierarchy_matches_the_paper():
    nouns = load_wordnet_nouns()
    assert len(nouns.names) == 82115 and nouns.names[nouns.offsets.index(1861778)] == "mammal.n.01"
    everything = wordnet_closure(None, instance_hypernyms=True)
    assert everything.num_nodes == 82115 and everything.num_edges == 743241  # Nickel & Kiela 2017, §4
    assert everything.names[everything.root] == "entity.n.01"
    assert wordnet_closure(None).num_edges == 663508 and wordnet_closure(None).root is None  # instances are maximal


@needs_wordnet
def test_unknown_synset_names_similar_ones():
    with pytest.raises(KeyError, match=r"synsets of the lemma 'bank'.*bank\.n\.01"):
        wordnet_closure("bank.n.99")
    with pytest.raises(KeyError, match="not a WordNet noun synset"):
        wordnet_closure("mamal.n.01")
