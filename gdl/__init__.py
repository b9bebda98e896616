"""gdl: the geometric deep learning blueprint made executable.

One interface for "a layer and the group it respects" (:mod:`gdl.core`), five domains that implement it, and one
harness that checks every layer's symmetry numerically. The packages sit on floors; a package imports only from
its own floor and the floors below (ARCHITECTURE.md draws them; ``tests/test_layering.py`` enforces them):

Top
    ``gdl.cli`` / ``python -m gdl``: the ``gdl`` command (reproduce, train).
Above the domains
    * :mod:`gdl.experiments`: one module per reproduced paper example, registered by name.
    * :mod:`gdl.datasets`: loaders for data that ships offline, and generators (never imports experiments).
Domains (each imports only the core and the foundation; groups also grids, for p4 = Z² ⋊ C4)
    * :mod:`gdl.grids`: translation-equivariant CNNs on periodic grids (book §4.2, §5.1).
    * :mod:`gdl.groups`: G-CNNs (p4, p4m), steerable and E(3) layers via e3nn (§4.3, §5.2, §5.5).
    * :mod:`gdl.graphs`: GNN flavours, GIN/WL, EGNN, Deep Sets, the transformer as a GNN (§4.1, §5.3–5.5).
    * :mod:`gdl.geodesics`: Riemannian layers and optimisers via geoopt, hierarchy embeddings, intrinsic mesh
      convolutions (§4.4, §4.6, §5.6).
    * :mod:`gdl.gauges`: gauge transformations and gauge-equivariant mesh CNNs (§4.5, §5.6).
Foundation (imports only the core and each other)
    * :mod:`gdl.symmetries`: S_n, O(n) ⊂ E(n) and their field types: sets, graphs, points, vectors.
    * :mod:`gdl.meshes`: the ``Mesh`` (Laplacian, frames, log map, transport) and procedural shapes.
    * :mod:`gdl.testing`: ``assert_equivariant`` and friends, and the fixtures the examples build on.
    * :mod:`gdl.representations`: representations ρ: G → GL(V) as objects, the equivariant-basis solver
      (Hom_G(ρ_in, ρ_out) for any group), ``EquivariantLinear`` and the EMLP.
Core (imports nothing else in gdl)
    * :mod:`gdl.core`: groups, field types, ``EquivariantModule``, the registry, the ``Blueprint``, checks.
Beside them, knowing no domain
    * :mod:`gdl.train`: the one trainer, checkpoints, distributed helpers (imports only the core).

Subpackages are imported on demand, so ``import gdl`` stays light; e3nn loads only with :mod:`gdl.groups`'s
E(3) layers and geoopt only with :mod:`gdl.geodesics`.
"""

__version__ = "0.1.0"


def _lazy_exports(package: str, table: dict[str, tuple[str, ...]]):
    """PEP 562 lazy re-exports for a package ``__init__``: returns its module-level ``(__getattr__, __dir__)``.

    Args:
        package: the package's ``__name__``.
        table: submodule (relative to ``package``) → the public names it provides. Name the table
            ``_LAZY_EXPORTS`` in the package: ``tests/test_layering.py`` reads it as the package's imports.

    A name's submodule is imported on its first use and the value cached in the package namespace;
    ``package.submodule`` resolves too, as it did when the ``__init__`` imported its submodules eagerly.
    """
    import importlib
    import sys

    owner = {name: submodule for submodule, names in table.items() for name in names}

    def __getattr__(name: str):
        namespace = vars(sys.modules[package])
        submodule = owner.get(name)
        if submodule is not None:
            value = getattr(importlib.import_module(f".{submodule}", package), name)
            namespace[name] = value  # later lookups skip __getattr__
            return value
        if not name.startswith("__"):
            try:
                return importlib.import_module(f".{name}", package)
            except ModuleNotFoundError as error:
                if error.name != f"{package}.{name}":
                    raise  # the submodule exists but lacks a dependency: say so, not "no attribute"
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *owner})

    return __getattr__, __dir__
