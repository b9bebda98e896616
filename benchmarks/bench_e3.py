"""TensorFieldNetwork on QM9-sized batches: e3nn's default (eager) code path against the same model under torch.compile.

Forward + backward of the point-convolution model of the ``qm9`` experiment (quick-mode size on CPU, full-mode size
on a GPU) on a fixed batch of real QM9 molecules with their cached radius graph, reported as molecules per second.
"gdl" is the eager model (e3nn's fx-generated kernels, ``jit_mode="eager"``, the default under torch ≥ 2.10), the
"peer" is ``torch.compile`` of the same model (inductor, ``dynamic=True`` so that batches of other sizes reuse the
graph); compile time is reported in the note. Peak memory is the CUDA allocator's peak (CPU: not measured; the
caching allocator is CUDA-only and ``tracemalloc`` does not see torch's C++ allocations).

Run: ``python benchmarks/bench_e3.py [--device cuda]`` (needs qm9pack or an existing QM9 cache).
"""

from __future__ import annotations

import time

import torch
from timing import forward_backward, main, measure
from torch_geometric.data import Batch

from gdl.datasets.qm9 import QM9_ATOM_TYPES, load_qm9
from gdl.experiments.qm9 import qm9_setting
from gdl.groups import TensorFieldNetwork


def _model(quick: bool, device: torch.device) -> torch.nn.Module:
    setting = qm9_setting(quick)
    torch.manual_seed(0)
    return TensorFieldNetwork("1x0e", irreps_hidden=setting.irreps_hidden, num_layers=setting.num_layers, lmax=setting.lmax,
                              radius=setting.radius, avg_num_neighbors=setting.avg_num_neighbors,
                              atom_types=QM9_ATOM_TYPES, reduce="mean").to(device)


def run(device: torch.device) -> list[dict]:
    quick = device.type != "cuda"
    setting = qm9_setting(quick)
    dataset = load_qm9(radius=setting.radius)
    rows = []
    for batch_size in ((32, 128) if quick else (96, 512)):
        generator = torch.Generator().manual_seed(batch_size)
        indices = torch.randperm(len(dataset), generator=generator)[:batch_size].tolist()
        batch = Batch.from_data_list([dataset[i] for i in indices]).to(device)
        eager = _model(quick, device)
        repeats = 5 if quick else 20
        eager_timing = measure(forward_backward(eager, batch), warmup=2, repeats=repeats, device=device)
        torch._dynamo.reset()
        compiled = torch.compile(_model(quick, device), dynamic=True)
        start = time.perf_counter()
        try:
            forward_backward(compiled, batch)()
        except Exception as error:  # report, do not hide: the eager row still stands
            print(f"torch.compile failed for batch {batch_size}: {type(error).__name__}: {error}")
            continue
        compile_seconds = time.perf_counter() - start
        compiled_timing = measure(forward_backward(compiled, batch), warmup=2, repeats=repeats, device=device)
        shape = f"{batch_size} molecules, {batch.num_nodes} atoms, {batch.edge_index.shape[1]} edges (r = {setting.radius:g} Å)"
        rows.append({"operation": f"TFN fwd+bwd, {shape}", "gdl": eager_timing["seconds"],
                     "peer_name": "torch.compile (inductor)", "peer": compiled_timing["seconds"],
                     "gdl_peak_bytes": eager_timing["peak_bytes"], "peer_peak_bytes": compiled_timing["peak_bytes"],
                     "note": (f"eager {batch_size / eager_timing['seconds']:.0f} molecules/s, compiled "
                              f"{batch_size / compiled_timing['seconds']:.0f} molecules/s; first compiled call "
                              f"{compile_seconds:.0f} s; hidden {setting.irreps_hidden}, {setting.num_layers} layers, "
                              f"ℓ ≤ {setting.lmax}")})
    return rows


if __name__ == "__main__":
    main(run)
