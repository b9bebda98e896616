"""Data that loads without internet, and generators.

Every loader for real data names the package or extra to install when it is
missing; nothing here downloads at run time.
"""

from .graphs import load_karate_club
from .meshes import load_scanned_mesh
from .mnist import load_mnist
from .nbody import NBody, simulate_charged_particles
from .qm9 import QM9, QM9_TARGETS, load_qm9
from .tetris import TETRIS_NAMES, moved_pieces, tetris_pieces
from .text import CharVocabulary, char_chunks, load_shakespeare
from .wordnet import Hierarchy, balanced_tree, load_wordnet_nouns, random_tree, wordnet_closure

__all__ = [
    "load_mnist", "load_shakespeare", "CharVocabulary", "char_chunks", "QM9", "QM9_TARGETS", "load_qm9",
    "TETRIS_NAMES", "tetris_pieces", "moved_pieces", "load_karate_club", "NBody", "simulate_charged_particles",
    "load_scanned_mesh", "Hierarchy",
    "wordnet_closure", "load_wordnet_nouns", "balanced_tree", "random_tree",
]
