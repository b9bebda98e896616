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
        t_ours = measure(forward_backward(ours, x), device=device)["seconds"]
        for name, peer in [("nn.Conv2d circular", circular), ("nn.Conv2d zero-padded", zero_padded)]:
            rows.append({"operation": f"PeriodicConv 3×3 fwd+bwd {shape}", "gdl": t_ours, "peer_name": name,
                         "peer": measure(forward_backward(peer, x), device=device)["seconds"]})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(parser.parse_args().device)
    print(table(run(device)))
