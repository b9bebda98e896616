"""PeriodicConv against torch's own circular and zero-padded Conv2d (forward + backward).

Run: ``python benchmarks/bench_conv.py [--device cuda]``.
"""

from __future__ import annotations

import argparse

import torch
from timing import forward_backward, measure, table

from gdl.grids import PeriodicConv


def run(device: torch.device) -> list[dict]:
    rows = []
    for batch, channels, size in [(64, 32, 28), (16, 64, 64)]:
        x = torch.randn(batch, channels, size, size, device=device, requires_grad=True)
        ours = PeriodicConv(channels, channels, 3).to(device)
        circular = ours.to_torch()
        zero_padded = torch.nn.Conv2d(channels, channels, 3, padding=1).to(device)
        shape = f"[{batch}, {channels}, {size}, {size}]"
        ours_timing = measure(forward_backward(ours, x), device=device)
        for name, peer in [("nn.Conv2d circular", circular), ("nn.Conv2d zero-padded", zero_padded)]:
            peer_timing = measure(forward_backward(peer, x), device=device)
            rows.append({"operation": f"PeriodicConv 3×3 fwd+bwd {shape}", "gdl": ours_timing["seconds"],
                         "peer_name": name, "peer": peer_timing["seconds"], "gdl_peak_bytes": ours_timing["peak_bytes"],
                         "peer_peak_bytes": peer_timing["peak_bytes"]})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(parser.parse_args().device)
    print(table(run(device)))
