"""Scanned (real) meshes: :func:`load_scanned_mesh` reads the sample meshes that PyPI's ``pymeshlab`` ships in its
test folder (the Stanford bunny, a cow, an airplane; OBJ files read here, pymeshlab itself is not imported). Install
with ``pip install 'gdl[meshes]'``; without it the loader raises :class:`~gdl.datasets.mnist.MissingDataError`.

Procedural meshes (spheres, tori, the deformable creature) live in :mod:`gdl.meshes`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from gdl.datasets.mnist import MissingDataError
from gdl.meshes import Mesh

__all__ = ["load_scanned_mesh", "read_obj", "SCANNED_MESHES"]

#: name → file inside pymeshlab's ``tests/sample_meshes`` (vertex counts before clean-up)
SCANNED_MESHES = {"bunny": "bunny.obj", "bunny10k": "bunny10k_textured.obj", "cow": "cow.obj", "airplane": "airplane.obj"}


def read_obj(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Vertices ``[V, 3]`` (float64) and triangles ``[F, 3]`` (0-based) of a Wavefront OBJ file.

    Reads ``v x y z`` and ``f a b c`` lines (``a/t/n`` forms and negative indices included); polygons with more
    than three corners are split into a fan of triangles.
    """
    vertices, faces = [], []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("v "):
                vertices.append([float(value) for value in line.split()[1:4]])
            elif line.startswith("f "):
                corners = [int(token.split("/")[0]) for token in line.split()[1:]]
                corners = [c - 1 if c > 0 else len(vertices) + c for c in corners]
                faces.extend([corners[0], corners[i], corners[i + 1]] for i in range(1, len(corners) - 1))
    if not vertices or not faces:
        raise ValueError(f"{path} holds no vertices or no faces (read {len(vertices)} vertices, {len(faces)} faces)")
    return torch.tensor(vertices, dtype=torch.float64), torch.tensor(faces, dtype=torch.long)


def load_scanned_mesh(name: str = "bunny") -> Mesh:
    """A real scanned mesh from pymeshlab's sample meshes (``pip install 'gdl[meshes]'``).

    Args:
        name: one of :data:`SCANNED_MESHES` (``"bunny"`` 28k vertices, ``"bunny10k"``, ``"cow"``, ``"airplane"``).

    The mesh is centred and scaled to unit RMS radius; vertices in no face are dropped (:meth:`Mesh.compact`).
    """
    if name not in SCANNED_MESHES:
        raise ValueError(f"unknown scanned mesh {name!r}; expected one of {sorted(SCANNED_MESHES)}")
    spec = importlib.util.find_spec("pymeshlab")
    if spec is None or spec.origin is None:
        raise MissingDataError("scanned meshes need the 'meshes' extra: pip install 'gdl[meshes]' (or pip install pymeshlab)")
    path = Path(spec.origin).parent / "tests" / "sample_meshes" / SCANNED_MESHES[name]
    if not path.exists():
        raise MissingDataError(f"the installed pymeshlab has no sample mesh {path.name} (looked in {path.parent})")
    pos, faces = read_obj(path)
    pos, faces, _ = Mesh.compact(pos, faces)
    pos = pos - pos.mean(dim=0)
    return Mesh(pos / pos.square().sum(dim=1).mean().sqrt(), faces)
