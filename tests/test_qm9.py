"""QM9 from qm9pack: conversion against the CSV, radius graphs against a dense reference, the on-disk cache, errors."""

import csv
import importlib.util
import json
import re
import sys
import time

import pytest
import torch
from torch_geometric.data import Batch

from gdl.datasets import mnist, qm9
from gdl.datasets.qm9 import HARTREE_TO_EV, QM9, QM9_TARGETS, random_split_indices

# qm9pack comes with the 'data' extra that `make test` installs: without it these tests fail, they are not skipped

LIMIT = 300


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("qm9_cache")


@pytest.fixture(scope="module")
def dataset(cache):
    return QM9(radius=2.5, cache_dir=cache, limit=LIMIT, dtype=torch.float64)


def _csv_rows(count):
    csv.field_size_limit(sys.maxsize)
    with open(qm9._source_dir() / "qm9_part1.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        return [next(reader) for _ in range(count)]


def test_molecules_equal_the_csv_rows(dataset):
    """Atoms, coordinates (float64, digit for digit) and targets (hartree → eV) as written in qm9pack's CSV."""
    assert len(dataset) == LIMIT and dataset.built_molecules
    symbols = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
    for k, row in enumerate(_csv_rows(LIMIT)):
        molecule = dataset[k]
        assert molecule.z.tolist() == [symbols[s] for s in json.loads(row["Elements"].replace("'", '"'))]
        numbers = [float(token) for token in re.findall(r"[-+0-9.eE]+", row["XYZ_Ang"])]  # "0." is not JSON: parse by hand
        assert torch.equal(molecule.pos, torch.tensor(numbers, dtype=torch.float64).reshape(-1, 3))
        assert int(molecule.idx) == int(row["Index"])
        for name, (column, factor, _) in QM9_TARGETS.items():
            assert float(molecule.y[0, QM9.target_index(name)]) == float(row[column]) * factor
    methane = dataset[0]
    assert methane.z.tolist() == [6, 1, 1, 1, 1]
    assert float(methane.y[0, QM9.target_index("homo")]) == pytest.approx(-0.3877 * HARTREE_TO_EV, abs=1e-12)
    assert HARTREE_TO_EV * 1000 == pytest.approx(27211.386, abs=1e-3)


def test_radius_graphs_equal_a_dense_reference(dataset):
    for k in range(0, LIMIT, 7):
        molecule = dataset[k]
        distance = torch.cdist(molecule.pos, molecule.pos)
        expected = ((distance < 2.5) & ~torch.eye(molecule.num_nodes, dtype=torch.bool)).nonzero()
        edges = {(int(j), int(i)) for j, i in molecule.edge_index.T}
        assert edges == {(int(j), int(i)) for i, j in expected} and molecule.edge_index.dtype == torch.long


def test_second_load_reads_the_cache_without_the_csvs(dataset, cache, monkeypatch):
    def no_csv():
        raise AssertionError("the CSVs were read again")

    monkeypatch.setattr(qm9, "_source_dir", no_csv)
    start = time.perf_counter()
    again = QM9(radius=2.5, cache_dir=cache, limit=LIMIT, dtype=torch.float64)
    assert time.perf_counter() - start < 5.0 and not again.built_molecules and not again.built_graph
    assert torch.equal(again.pos, dataset.pos) and torch.equal(again.edges, dataset.edges)
    other_radius = QM9(radius=2.0, cache_dir=cache, limit=LIMIT)  # a new radius builds only its graph
    assert not other_radius.built_molecules and other_radius.built_graph
    assert other_radius.num_edges.sum() < dataset.num_edges.sum()


def test_a_damaged_cache_is_rebuilt(tmp_path):
    QM9(radius=3.0, cache_dir=tmp_path, limit=20)
    (tmp_path / "molecules_first20.pt").write_bytes(b"not a torch file")
    rebuilt = QM9(radius=3.0, cache_dir=tmp_path, limit=20)
    assert rebuilt.built_molecules and len(rebuilt) == 20


def test_cache_location_follows_gdl_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_CACHE", str(tmp_path))
    QM9(radius=3.0, limit=10)
    assert (tmp_path / "qm9" / "molecules_first10.pt").exists() and (tmp_path / "qm9" / "radius_graph_3A_first10.pt").exists()


def test_batches_and_splits(dataset):
    batch = Batch.from_data_list([dataset[i] for i in range(5)])
    assert batch.num_graphs == 5 and batch.y.shape == (5, 12) and batch.edge_index.max() < batch.num_nodes
    train, val, rest = random_split_indices(100, (60, 30, -1), seed=3)
    assert (len(train), len(val), len(rest)) == (60, 30, 10)
    assert len(set(torch.cat([train, val, rest]).tolist())) == 100
    assert torch.equal(train, random_split_indices(100, (60, 30, -1), seed=3)[0])
    with pytest.raises(ValueError, match="do not fit 10 items"):
        random_split_indices(10, (8, 5), seed=0)


def test_missing_package_names_the_extra(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "qm9pack" else real_find_spec(name, *a))
    with pytest.raises(mnist.MissingDataError, match=r"the 'qm9' extra: pip install 'gdl\[qm9\]' \(or pip install qm9pack\)"):
        QM9(cache_dir=tmp_path, limit=5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="radius must be a positive number of ångström, got 0"):
        QM9(radius=0)
    with pytest.raises(ValueError, match="limit must be a positive integer or None, got 0"):
        QM9(limit=0)
    with pytest.raises(KeyError, match="unknown QM9 target 'energy'"):
        QM9.target_index("energy")


def test_a_tensor_field_network_learns_homo_on_a_small_slice(dataset):
    """Twelve epochs on 240 molecules already beat the mean predictor on 60 held-out ones (a trained metric)."""
    from gdl.experiments.qm9 import StandardisedTarget, qm9_step
    from gdl.groups import TensorFieldNetwork
    from gdl.train import TrainConfig, Trainer

    data = QM9(radius=2.5, cache_dir=dataset.cache_dir, limit=LIMIT)
    train, test = random_split_indices(len(data), (240, 60), seed=0)
    train_set, test_set = [data[i] for i in train], [data[i] for i in test]
    targets = torch.stack([m.y[0, QM9.target_index("homo")] for m in train_set])
    with torch.random.fork_rng():
        torch.manual_seed(0)
        network = TensorFieldNetwork("1x0e", irreps_hidden="16x0e + 4x1o", num_layers=2, lmax=1, radius=2.5,
                                     avg_num_neighbors=6.0, atom_types=(1, 6, 7, 8, 9), reduce="mean")
    model = StandardisedTarget(network, targets.mean(), targets.std())
    trainer = Trainer(model, qm9_step, train_set, config=TrainConfig(epochs=12, batch_size=16, lr=5e-3, progress=False),
                      collate_fn=Batch.from_data_list)
    trainer.fit(resume=False)
    test_targets = torch.stack([m.y[0, QM9.target_index("homo")] for m in test_set])
    mean_predictor = 1000 * float((test_targets - targets.mean()).abs().mean())
    assert trainer.evaluate(test_set)["mae_meV"] < 0.8 * mean_predictor  # measured: 360 vs 582 meV
