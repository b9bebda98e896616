"""What input checks cost in training, and what contract v2 changed: steps per second, checks on/off, before/after.

Two training workloads (forward, backward, Adam step), each timed three ways in one run:

* ``gcn``: a 4-layer GCN (4 ``ConvolutionalLayer``, ReLU between; since contract v2 one ``ConvolutionalGNN``
  blueprint) on a random graph, N = 2,000 nodes, E = 20,000 edges, 64 channels, 16 classes;
* ``egnn``: the N-body EGNN (4 velocity layers × 64 channels, two edge features) on a batch of 100 systems of 5
  particles (N = 500, E = 2,000 complete-graph edges), MSE on the predicted positions.

For each: value-reading checks on (the default) against off (``gdl.core.checks.value_checks(False)``), and the
same workload against the code before the redesign (git commit c690716, where every layer checked its edge ids and
no switch existed). The "before" numbers come from this same file run as a separate process with
``PYTHONPATH`` pointing at a checkout of c690716 (``--mode before``; default ``/tmp/gdl_before``, or ``$GDL_BEFORE``):

    git worktree add /tmp/gdl_before c690716       # or: mkdir /tmp/gdl_before && git archive c690716 gdl | tar -x -C /tmp/gdl_before
    python benchmarks/bench_checks.py                # after (this tree), and before via that checkout

Without that checkout the before rows are listed untimed. Threads are set explicitly (``--threads``, default 1:
these are small graphs, and a shared CPU makes more threads noisier, not faster). On a CPU a step's time is the
process's CPU time (robust to other processes on a shared machine), on a GPU the synchronised wall time; rounds
alternate the settings and the fastest round's median is reported. A script, not a timed test.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
BEFORE_COMMIT = "c690716"
NODES, EDGES, CHANNELS, CLASSES = 2_000, 20_000, 64, 16
SYSTEMS, PARTICLES = 100, 5
WORKLOADS = ("gcn", "egnn")
DESCRIPTIONS = {"gcn": f"4-layer GCN training step, N={NODES:,}, E={EDGES:,}, C={CHANNELS}",
                "egnn": f"EGNN training step (4 layers × 64, velocities), {SYSTEMS} systems × {PARTICLES} particles"}


# -- the workloads (written for both APIs: this file also runs against the pre-redesign checkout) ----------------
def _gcn_step(device: torch.device):
    import torch.nn.functional as F

    import gdl.graphs as graphs

    generator = torch.Generator().manual_seed(0)
    source = torch.randint(0, NODES, (EDGES,), generator=generator)
    target = (source + torch.randint(1, NODES, (EDGES,), generator=generator)) % NODES  # no self-loops
    edge_index = torch.stack([source, target]).to(device)
    x = torch.randn(NODES, CHANNELS, generator=generator).to(device)
    labels = torch.randint(0, CLASSES, (NODES,), generator=generator).to(device)
    torch.manual_seed(0)
    if hasattr(graphs, "ConvolutionalGNN"):  # contract v2: the network is a blueprint
        model = graphs.ConvolutionalGNN(CHANNELS, CHANNELS, CLASSES, num_layers=4)
        forward = model
    else:  # c690716: a stack of the same layers
        layers = torch.nn.ModuleList([graphs.ConvolutionalLayer(CHANNELS, CHANNELS) for _ in range(3)]
                                     + [graphs.ConvolutionalLayer(CHANNELS, CLASSES)])
        model = layers

        def forward(h, edges):
            for k, layer in enumerate(layers):
                h = layer(h, edges)
                h = torch.relu(h) if k < len(layers) - 1 else h
            return h
    model = model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        optimiser.zero_grad(set_to_none=True)
        F.cross_entropy(forward(x, edge_index), labels).backward()
        optimiser.step()
    return step


def _egnn_step(device: torch.device):
    import torch.nn.functional as F

    import gdl.graphs as graphs

    generator = torch.Generator().manual_seed(1)
    x = torch.randn(SYSTEMS * PARTICLES, 3, generator=generator).to(device)
    v = torch.randn(SYSTEMS * PARTICLES, 3, generator=generator).to(device)
    q = torch.randn(SYSTEMS * PARTICLES, generator=generator).sign().to(device)
    target = (x + v + 0.1 * torch.randn(x.shape, generator=generator).to(device))
    edge_index = graphs.complete_graph(PARTICLES, self_loops=False, num_graphs=SYSTEMS).to(device)
    source, receiver = edge_index
    edge_attr = torch.stack([q[source] * q[receiver], (x[receiver] - x[source]).pow(2).sum(-1)], dim=-1)
    h = v.norm(dim=-1, keepdim=True)
    torch.manual_seed(0)
    model = graphs.EGNN(1, 64, None, 4, edge_channels=2, velocity=True, coords_aggr="mean").to(device)
    v2 = hasattr(graphs, "ConvolutionalGNN")  # contract v2: the signal (h, x, v) first, then the graph
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        optimiser.zero_grad(set_to_none=True)
        out = model(h, x, v, edge_index, edge_attr) if v2 else model(h, x, edge_index, v, edge_attr)
        F.mse_loss(out[1], target).backward()
        optimiser.step()
    return step


BUILDERS = {"gcn": _gcn_step, "egnn": _egnn_step}


def _measure(step, device: torch.device, repeats: int) -> float:
    """Median seconds per step after a warm-up: on a CPU the process's CPU time (``time.process_time``; with one
    thread it is the step's compute, and it excludes the time other processes on a shared machine take), on a GPU
    the wall time of :func:`timing.measure` (synchronised)."""
    if device.type != "cpu":
        sys.path.insert(0, str(HERE))
        from timing import measure

        return measure(step, warmup=3, repeats=repeats, device=device)["seconds"]
    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return statistics.median(times)


def time_workloads(device: torch.device, repeats: int, rounds: int, switch: bool) -> dict[str, dict[str, list[float]]]:
    """Median seconds per step of every workload, one per round; with ``switch``, checks on and off alternately."""
    results: dict[str, dict[str, list[float]]] = {}
    for name in WORKLOADS:
        step = BUILDERS[name](device)
        samples: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(rounds):  # alternate, so that a noisy moment on a shared machine hits both
            samples["on"].append(_measure(step, device, repeats))
            if switch:
                from gdl.core.checks import value_checks

                with value_checks(False):
                    samples["off"].append(_measure(step, device, repeats))
        results[name] = {key: values for key, values in samples.items() if values}
    return results


def _before_checkout() -> Path:
    return Path(os.environ.get("GDL_BEFORE", "/tmp/gdl_before"))


def time_before(device: torch.device, repeats: int, rounds: int, threads: int) -> dict[str, dict[str, list[float]]] | None:
    """The workloads against the pre-redesign checkout, in a separate process (``None`` without the checkout)."""
    checkout = _before_checkout()
    if not (checkout / "gdl" / "graphs").is_dir():
        return None
    env = {**os.environ, "PYTHONPATH": str(checkout), "GDL_VALUE_CHECKS": "1"}
    command = [sys.executable, str(Path(__file__).resolve()), "--mode", "before", "--device", str(device),
               "--repeats", str(repeats), "--rounds", str(rounds), "--threads", str(threads)]
    done = subprocess.run(command, env=env, cwd=str(checkout), capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(operation: str, ours: float, peer_name: str, peer: float, note: str) -> dict:
    return {"operation": operation, "gdl": ours, "peer_name": peer_name, "peer": peer, "gdl_peak_bytes": None,
            "peer_peak_bytes": None, "note": note}


def _rate(seconds: float) -> str:
    return "—" if seconds != seconds else f"{1 / seconds:.1f} steps/s"


def run(device: torch.device, threads: int = 1, repeats: int = 10, rounds: int = 4) -> list[dict]:
    """Rows in the format of ``benchmarks/timing.py``: (after, checks on) against checks off and against c690716.

    Each round measures after (on, off) in this process and then before in a fresh process, so that the load of a
    shared machine falls on all three alike; a setting's time is the fastest of its rounds' medians (load only
    ever adds time).
    """
    torch.set_num_threads(threads)
    after: dict[str, dict[str, list[float]]] = {name: {"on": [], "off": []} for name in WORKLOADS}
    before: dict[str, list[float]] = {name: [] for name in WORKLOADS}
    missing = None
    for _ in range(rounds):
        for name, samples in time_workloads(device, repeats, 1, switch=True).items():
            for key, values in samples.items():
                after[name][key] += values
        if missing:
            continue
        try:
            old = time_before(device, repeats, 1, threads)
        except subprocess.CalledProcessError as error:  # the before run failed: say why, keep the other rows
            old, missing = None, f"the run against {BEFORE_COMMIT} failed: {error.stderr.strip().splitlines()[-1:]}"
        if old is None:
            missing = missing or f"no checkout of {BEFORE_COMMIT} at {_before_checkout()} (see the module docstring)"
            continue
        for name in WORKLOADS:
            before[name] += old[name]["on"]
    rows = []
    for name in WORKLOADS:
        on, off = min(after[name]["on"]), min(after[name]["off"])
        rows.append(_row(f"{DESCRIPTIONS[name]}: value checks on", on, "value checks off", off,
                         f"{threads} thread(s), {rounds} rounds; on {_rate(on)}, off {_rate(off)}"))
        old = min(before[name]) if before[name] else float("nan")
        rows.append(_row(f"{DESCRIPTIONS[name]}: after the redesign (checks on)", on,
                         f"before ({BEFORE_COMMIT}, every layer checks)", old,
                         missing or f"{threads} thread(s), {rounds} rounds; after {_rate(on)}, before {_rate(old)}"))
    return rows


def _main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("compare", "before"), default="compare",
                        help="compare (default): time this tree and the checkout of c690716; before: time the gdl "
                             "on PYTHONPATH only and print JSON (what compare runs in a subprocess)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (set explicitly; default 1)")
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=4, help="alternating measurements per setting (the fastest "
                        "round's median is reported)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    if args.mode == "before":
        import gdl

        checkout = _before_checkout().resolve()
        if not Path(gdl.__file__).resolve().is_relative_to(checkout):
            raise SystemExit(f"--mode before must import gdl from {checkout}, got {gdl.__file__} (set PYTHONPATH)")
        print(json.dumps(time_workloads(device, args.repeats, args.rounds, switch=False)))
        return
    sys.path.insert(0, str(HERE))
    from timing import table

    rows = run(device, threads=args.threads, repeats=args.repeats, rounds=args.rounds)
    print(table(rows))
    print()
    for row in rows:
        ratio = row["gdl"] / row["peer"]
        print(f"{row['operation']}: {1 / row['gdl']:.1f} vs {row['peer_name']} {1 / row['peer']:.1f} steps/s "
              f"(time ratio {ratio:.2f})" if ratio == ratio else f"{row['operation']}: {row['note']}")


if __name__ == "__main__":
    _main()
