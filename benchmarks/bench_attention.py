"""Attention three ways: nn.TransformerEncoderLayer, TransformerGNNLayer's dense fast path, and message passing.

One encoder layer (d_model 64, 4 heads, feed-forward 256, float32, one sequence), forward + backward, on three
graphs: complete (bidirectional attention), causal, and a sliding window |i − j| ≤ 32 (w = 64 neighbours plus the
token itself), for N ∈ {256, 1024, 4096}, and the window graph also at N = 16384. The torch layer runs the
complete graph unmasked, the causal one with its causal mask, the window with a dense boolean mask (dense
attention, O(N²); at N = 16384, where the mask and scores would take gigabytes, the unmasked layer); gdl's
dense path (``layer(x)``, ``layer(x, causal=True)``) calls ``scaled_dot_product_attention``; message passing
(``path="message_passing"``) costs O(E · d). Rows whose message passing would need more than ``MEMORY_BUDGET``
(complete/causal graphs at N ≥ 4096: E = N² or N(N+1)/2 edges) are skipped and say so.

Peak memory. On CUDA: ``torch.cuda.max_memory_allocated``. On the CPU torch has no allocator statistics, so the
script measures the operating system's view, in a separate call after the timed ones: ``malloc_trim(0)`` hands
glibc's free pages back to the OS, ``/proc/self/clear_refs`` resets the peak resident set size (``VmHWM``), and
the peak during one forward + backward minus the resident size before it is reported. It counts the pages the
call touched at its peak (activations, gradients, workspace, allocator slack) and nothing that existed before
(weights, inputs). Linux only (elsewhere "—").

Run: ``python benchmarks/bench_attention.py [--device cuda] [--sizes 256,1024,4096]``.
"""

from __future__ import annotations

import argparse
import ctypes
import re
from pathlib import Path

import torch
from timing import measure
from torch import nn

from gdl.graphs import TransformerGNNLayer, causal_graph, complete_graph, to_attention_mask, window_graph

D_MODEL, NHEAD, FEEDFORWARD, RADIUS = 64, 4, 256, 32
SIZES = (256, 1024, 4096)
LINEAR_ONLY_SIZE = 16384
#: skip message passing when its estimated working set exceeds this (bytes): ~8 tensors of E · d_model floats
MEMORY_BUDGET = 6 * 2**30


class PeakMemory:
    """Peak bytes allocated during a call: CUDA allocator statistics, or the process's peak RSS on the CPU."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cpu = device.type == "cpu" and Path("/proc/self/clear_refs").exists()
        if self.cpu:
            self.trim = ctypes.CDLL("libc.so.6").malloc_trim

    @staticmethod
    def _status(key: str) -> int:
        return int(re.search(rf"{key}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024

    def __call__(self, fn) -> int | None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            before = torch.cuda.memory_allocated(self.device)
            fn()
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) - before
        if not self.cpu:
            return None
        self.trim(0)
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = self._status("VmRSS")
        fn()
        return self._status("VmHWM") - before


def _step(module: nn.Module, x: torch.Tensor, call) -> callable:
    def step():
        module.zero_grad(set_to_none=True)
        call(x).sum().backward()
    return step


def _graph(name: str, n: int, device) -> torch.Tensor:
    if name == "complete":
        return complete_graph(n, device=device)
    if name == "causal":
        return causal_graph(n, device=device)
    return window_graph(n, RADIUS, device=device)


def run(device: torch.device, sizes=SIZES) -> list[dict]:
    torch.manual_seed(0)
    reference = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FEEDFORWARD, dropout=0.0, batch_first=True).to(device)
    gnn = TransformerGNNLayer.from_torch(reference)
    peak = PeakMemory(device)
    rows = []
    for n in (*sizes, LINEAR_ONLY_SIZE):
        linear_only = n == LINEAR_ONLY_SIZE
        repeats, warmup = (20, 3) if n <= 1024 else (5, 1) if n <= 4096 else (2, 1)
        x = torch.randn(1, n, D_MODEL, device=device, requires_grad=True)
        for graph in ("complete", "causal", "window"):
            if linear_only and graph != "window":
                continue
            edge_index = _graph(graph, n, device)
            edges = edge_index.shape[1]
            if graph == "complete":
                torch_call, dense_call = reference, gnn
            elif graph == "causal":
                mask = nn.Transformer.generate_square_subsequent_mask(n, device=device)
                torch_call = lambda h, mask=mask: reference(h, src_mask=mask, is_causal=True)
                dense_call = lambda h: gnn(h, causal=True)
            elif linear_only:  # a dense N × N mask would not fit: compare with torch's unmasked (flash) attention
                torch_call, dense_call = reference, None
            else:
                mask = ~to_attention_mask(edge_index, n)  # torch masks out True
                torch_call, dense_call = (lambda h, mask=mask: reference(h, src_mask=mask)), None
            label = f"{graph} graph, N={n}, E={edges:,}"
            torch_step = _step(reference, x, torch_call)
            peer = measure(torch_step, warmup=warmup, repeats=repeats, device=device)["seconds"]
            peer_peak = peak(torch_step)
            peer_name = "nn.TransformerEncoderLayer" + (" (no mask)" if torch_call is reference else " + mask")
            if dense_call is not None:
                dense_step = _step(gnn, x, dense_call)
                rows.append({"operation": f"dense fast path fwd+bwd, {label}", "peer_name": peer_name, "peer": peer,
                             "gdl": measure(dense_step, warmup=warmup, repeats=repeats, device=device)["seconds"],
                             "gdl_peak_bytes": peak(dense_step), "peer_peak_bytes": peer_peak})
            if edges * D_MODEL * 4 * 8 > MEMORY_BUDGET:
                rows.append({"operation": f"message passing fwd+bwd, {label}", "peer_name": peer_name, "peer": peer,
                             "gdl": float("nan"), "peer_peak_bytes": peer_peak,
                             "note": f"skipped: ≈{edges * D_MODEL * 4 * 8 / 2**30:.0f} GiB of per-edge tensors"})
                continue
            mp_step = _step(gnn, x, lambda h, edge_index=edge_index: gnn(h, edge_index, path="message_passing"))
            rows.append({"operation": f"message passing fwd+bwd, {label}", "peer_name": peer_name, "peer": peer,
                         "gdl": measure(mp_step, warmup=warmup, repeats=repeats, device=device)["seconds"],
                         "gdl_peak_bytes": peak(mp_step), "peer_peak_bytes": peer_peak})
    return rows


def report(rows: list[dict]) -> str:
    """Markdown: time and peak memory of both sides and their ratio."""
    def mib(value):
        return "—" if value is None else f"{value / 2**20:.1f}"

    lines = ["| operation | gdl (ms) | peer | peer (ms) | ratio gdl/peer | peak MiB gdl / peer |", "|---|---|---|---|---|---|"]
    for row in rows:
        gdl = "skipped" if row["gdl"] != row["gdl"] else f"{1e3 * row['gdl']:.2f}"
        ratio = "—" if row["gdl"] != row["gdl"] else f"{row['gdl'] / row['peer']:.2f}"
        lines.append(f"| {row['operation']} | {gdl} | {row['peer_name']} | {1e3 * row['peer']:.2f} | {ratio} | "
                     f"{mib(row.get('gdl_peak_bytes'))} / {mib(row.get('peer_peak_bytes'))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated sequence lengths")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's); 1 gives steadier numbers on a busy machine")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(report(run(torch.device(args.device), tuple(int(s) for s in args.sizes.split(",")))))
