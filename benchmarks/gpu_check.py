"""The GPU check: equivariance sweep on the device, a dry run of every experiment's full setting, the benchmarks.

The dry run (``gdl reproduce NAME --dry-run``, :meth:`gdl.experiments.Experiment.dry_run`) builds every model of
every experiment in its full configuration (data cut to a few hundred items), takes a few optimisation steps and
evaluates once, on the device. Run on a CUDA machine with ``bash benchmarks/gpu_check.sh`` (≈ 8 minutes);
``--device cpu`` runs the same checks on the CPU (slow, for trying the script). Prints one summary table; exits
non-zero if any check failed.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

import torch

import gdl
from gdl.core import registry
from gdl.experiments import Settings, experiments
from gdl.testing import assert_equivariant
from gdl.train.trainer import move_to


def sweep(device: torch.device) -> list[tuple[str, str, str]]:
    """Every registered layer, float32 on ``device``: (check, status, detail)."""
    for module in pkgutil.walk_packages(gdl.__path__, prefix="gdl."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    results = []
    for name, cls in registry().items():
        try:
            layer, inputs = cls.example(torch.Generator().manual_seed(0))
            error = assert_equivariant(layer.to(device), move_to(inputs, device), dtype=torch.float32,
                                       generator=torch.Generator().manual_seed(1))
            results.append((f"equivariance {name.split('.')[-1]}", "ok", f"max error {error:.1e}"))
        except Exception as error:  # report and go on
            results.append((f"equivariance {name.split('.')[-1]}", "FAIL", str(error).splitlines()[0][:100]))
    return results


def dry_runs(device: torch.device, only: set[str]) -> list[tuple[str, str, str]]:
    """Every experiment's dry run of the full setting on ``device``: one row per experiment."""
    results = []
    for name, cls in experiments().items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        try:
            records = cls().dry_run(Settings(quick=False, device=str(device), progress=False))
            losses = ", ".join(f"{model} {record['train_loss']:.3g}" for model, record in records.items())
            bad = [model for model, record in records.items() if not all(map(_finite, record.values()))]
            status = "FAIL" if bad else "ok"
            detail = (f"non-finite metrics: {', '.join(bad)}; " if bad else "") + f"loss {losses}"
            results.append((f"dry run {name}", status, f"{detail[:80]}, {time.perf_counter() - start:.0f} s"))
        except Exception as error:
            results.append((f"dry run {name}", "FAIL", f"{type(error).__name__}: {str(error).splitlines()[0][:90]}"))
    return results


def _finite(value) -> bool:
    return not isinstance(value, float) or value == value and abs(value) != float("inf")


def benchmarks(device: torch.device) -> list[tuple[str, str, str]]:
    sys.path.insert(0, str(Path(__file__).parent))
    import run_all

    status = run_all.main(["--device", device.type, "--no-readme", "--out",
                           str(Path(__file__).parent / f"RESULTS_{device.type}.md")])
    return [("benchmarks", "ok" if status == 0 else "FAIL", f"benchmarks/RESULTS_{device.type}.md")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--skip", default="", help="comma-separated: sweep,dry,bench")
    parser.add_argument("--experiments", default="", help="comma-separated: dry-run only these experiments")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available on this machine", file=sys.stderr)
        return 2
    skip = set(filter(None, args.skip.split(",")))
    rows: list[tuple[str, str, str]] = []
    start = time.perf_counter()
    only = set(filter(None, args.experiments.split(",")))
    for name, check in (("sweep", sweep), ("dry", lambda d: dry_runs(d, only)), ("bench", benchmarks)):
        if name not in skip:
            try:
                rows += check(device)
            except Exception:
                rows.append((name, "FAIL", traceback.format_exc(limit=2).splitlines()[-1][:100]))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'check':<{width}}  status  detail")
    for check, status, detail in rows:
        print(f"{check:<{width}}  {status:<6}  {detail}")
    failed = sum(status != "ok" for _, status, _ in rows)
    print(f"\n{len(rows) - failed}/{len(rows)} checks passed on {device} in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
