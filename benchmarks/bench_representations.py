"""The equivariant-basis solver against emlp's, and steerable convolutions against ``nn.Conv2d``.

Solver rows: the first (uncached) solve of Hom_G(ρ_in, ρ_out) for growing tensor representations — S_5 on
T^k → T^k (gdl: orbit method), O(3) on T^k → scalars (dense SVD), the Lorentz group O(1,3) on T(p, p) → scalars
(dense SVD, LOBPCG beyond 2,500 unknowns) — against emlp 1.0.3 (JAX, float32 dense SVD) on the same pair, after
one warm-up solve of that pair (emlp's caches cleared between repeats; its first call also compiles). Peak memory
is the growth of the process's maximum resident set during the solve, measured in a fresh subprocess per case
(``ru_maxrss``), for both libraries.

emlp is not a dependency of gdl: it runs in the peer environment (benchmarks/peers/README.md). Run this file with
that environment's python (``/work/peers-venv/bin/python benchmarks/bench_representations.py``; gdl is imported
from the source tree) to fill the emlp column; with gdl's own environment the peer column says emlp is missing.

Steerable rows: ``SteerableConv`` forward + backward against ``nn.Conv2d`` with the same input and output widths,
and its ``export()`` (a plain ``nn.Conv2d``), one thread.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from timing import forward_backward, main, measure  # noqa: E402

#: (label, group, k or (p, q)) of the solver rows
SOLVER_CASES = [("S5 T1→T1", "S5", 1), ("S5 T2→T2", "S5", 2), ("S5 T3→T3", "S5", 3),
                ("O(3) T2→T0", "O3", 2), ("O(3) T4→T0", "O3", 4), ("O(3) T6→T0", "O3", 6),
                ("O(1,3) T(1,1)→T0", "Lorentz", 1), ("O(1,3) T(2,2)→T0", "Lorentz", 2)]

_GDL_CHILD = r"""
import resource, sys, time
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads(1)
from gdl.representations import StandardRepresentation, Trivial, permutation_representation, tensor_power
from gdl.representations import solver
from gdl.symmetries import Orthogonal, Permutations
group_name, k = {group!r}, {k!r}
if group_name == "S5":
    V = permutation_representation(Permutations(5)); rep_in, rep_out = V ** k, V ** k
elif group_name == "O3":
    V = StandardRepresentation(Orthogonal(3)); rep_in, rep_out = V ** k, Trivial(V.group)
else:
    from gdl.symmetries.lorentz import Lorentz
    V = StandardRepresentation(Lorentz()); rep_in, rep_out = tensor_power(V, k, k), Trivial(V.group)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
basis = solver.equivariant_basis(rep_in, rep_out)
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(seconds, grown * 1024, basis.shape[0])
"""

_EMLP_CHILD = r"""
import resource, time
import numpy as np
from emlp.groups import S, O, Lorentz
from emlp.reps import V, T, Scalar
from emlp.reps.representation import Rep
group_name, k = {group!r}, {k!r}
G = {{"S5": S(5), "O3": O(3), "Lorentz": Lorentz()}}[group_name]
if group_name == "S5":
    rep = (V ** k >> V ** k)(G)
elif group_name == "O3":
    rep = (V ** k >> Scalar)(G)
else:
    rep = (V ** k * V.T ** k >> Scalar)(G)


def solve():
    basis = rep.equivariant_basis()
    if not hasattr(basis, "__array__") and hasattr(basis, "to_dense"):
        basis = basis.to_dense()  # sums and products return a lazy operator
    return np.asarray(basis)  # waits for JAX's asynchronous dispatch


Rep.solcache.clear()
solve()  # warm-up: compiles the constraint operators
Rep.solcache.clear()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
basis = solve()
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(seconds, grown * 1024, basis.shape[-1])
"""


#: seconds a peer's solve may take (warm-up included) before its row says "timed out"
PEER_TIMEOUT = 240


def _child(source: str, timeout: float = 600) -> tuple[float, int, int] | None:
    try:
        done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return (float("inf"), 0, -1)
    if done.returncode:
        return None
    seconds, grown, dim = done.stdout.split()[-3:]
    return float(seconds), int(grown), int(dim)


def _emlp_available() -> bool:
    return subprocess.run([sys.executable, "-c", "import emlp"], capture_output=True).returncode == 0


def solver_rows() -> list[dict]:
    rows = []
    emlp = _emlp_available()
    for label, group, k in SOLVER_CASES:
        ours = _child(_GDL_CHILD.format(root=str(ROOT), group=group, k=k))
        theirs = _child(_EMLP_CHILD.format(group=group, k=k), PEER_TIMEOUT) if emlp else None
        if ours is None:
            raise RuntimeError(f"gdl's solve of {label} failed")
        note = f"dim {ours[2]}"
        if theirs is not None and theirs[2] < 0:
            note += f"; emlp did not finish warm-up + solve within {PEER_TIMEOUT} s"
            theirs = (float("nan"), None, -1)
        elif theirs is not None:
            note += f"; emlp dim {theirs[2]}" + ("" if theirs[2] == ours[2] else " (differs)")
        else:
            note += "; emlp not installed in this environment (run with the peer environment's python)"
        rows.append({"operation": f"solve {label} (first call)", "gdl": ours[0], "gdl_peak_bytes": ours[1],
                     "peer_name": "emlp 1.0.3 (JAX, CPU)", "peer": theirs[0] if theirs else float("nan"),
                     "peer_peak_bytes": theirs[1] if theirs else None, "note": note})
    return rows


def steerable_rows(device: torch.device) -> list[dict]:
    try:
        from gdl.groups.steerable import SteerableConv
    except ImportError:
        return []
    from gdl.groups import CyclicGroup
    from gdl.representations import RegularRepresentation

    rows = []
    group = CyclicGroup(8)
    for fields, size, batch in ((4, 64, 16), (8, 32, 32)):
        rep = fields * RegularRepresentation(group)
        conv = SteerableConv(rep, rep, kernel_size=5).to(device)
        plain = torch.nn.Conv2d(rep.dim, rep.dim, 5, padding=2).to(device)
        exported = conv.export().to(device)
        x = torch.randn(batch, rep.dim, size, size, device=device, requires_grad=True)
        peer = measure(forward_backward(plain, x), device=device)
        ours = measure(forward_backward(conv, x), device=device)
        export = measure(forward_backward(exported, x), device=device)
        shape = f"C8 regular ×{fields} → ×{fields} ({rep.dim} channels), 5×5, [{batch}, {rep.dim}, {size}, {size}]"
        rows.append({"operation": f"SteerableConv fwd+bwd {shape}", "gdl": ours["seconds"], "peer_name": "nn.Conv2d",
                     "peer": peer["seconds"], "gdl_peak_bytes": ours["peak_bytes"],
                     "peer_peak_bytes": peer["peak_bytes"], "note": "kernel expanded from the basis every call"})
        rows.append({"operation": f"SteerableConv.export() fwd+bwd {shape}", "gdl": export["seconds"],
                     "peer_name": "nn.Conv2d", "peer": peer["seconds"], "gdl_peak_bytes": export["peak_bytes"],
                     "peer_peak_bytes": peer["peak_bytes"], "note": ""})
    return rows


def run(device: torch.device, threads: int = 1) -> list[dict]:
    torch.set_num_threads(threads)
    started = time.perf_counter()
    rows = steerable_rows(device) + (solver_rows() if device.type == "cpu" else [])
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1)}), file=sys.stderr)
    return rows


if __name__ == "__main__":
    main(run, threads=(1, "torch threads", int))
