"""Data that loads without internet, and generators (above the domains: see ARCHITECTURE.md).

Every loader for real data names the package or extra to install when it is
missing; nothing here downloads at run time.

Names resolve lazily (PEP 562): ``import gdl.datasets`` imports none of the loader modules, so it costs neither
torch-geometric, geoopt, e3nn nor scipy; ``gdl.datasets.load_qm9`` imports :mod:`gdl.datasets.qm9` on first use,
and a loader imports its heavy packages only when it is called.
"""

from gdl import _lazy_exports

# submodule → the public names it provides (tests/test_layering.py reads this table as the package's imports)
_LAZY_EXPORTS = {
    "emlp_synthetic": ("SyntheticRegression", "o5_invariant_regression", "o3_inertia", "lorentz_particle_scattering"),
    "cycles": ("cycle_union_graphs", "CYCLE_LENGTHS", "cycle_partition"),
    "graphs": ("load_karate_club",),
    "meshes": ("load_scanned_mesh",),
    "mnist": ("load_mnist",),
    "nbody": ("NBody", "simulate_charged_particles"),
    "qm9": ("QM9", "QM9_TARGETS", "load_qm9"),
    "synthetic_graphs": ("stochastic_block_graph",),
    "tetris": ("TETRIS_NAMES", "tetris_pieces", "moved_pieces"),
    "text": ("CharVocabulary", "char_chunks", "load_shakespeare"),
    "wordnet": ("Hierarchy", "wordnet_closure", "load_wordnet_nouns", "balanced_tree", "random_tree"),
}
__getattr__, __dir__ = _lazy_exports(__name__, _LAZY_EXPORTS)
__all__ = [name for names in _LAZY_EXPORTS.values() for name in names]
