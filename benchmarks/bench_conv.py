"""PeriodicConv against torch's own circular and zero-padded Conv2d (forward + backward).

Run: ``python benchmarks/bench_conv.py [--device cuda]``.
"""

from __future__ import annotations

import torch
from timing import forward_backward, main, measure, row

from gdl.grids import PeriodicConv


def run(device: torch.device) -> list[dict]:
    rows = []
    for batch, channels, size in [(64, 32, 28), (16, 64, 64)]:
        x = torch.randn(batch, channels, size, size, device=device, requires_grad=True)
        ours = PeriodicConv(channels, channels, 3).to(device)
        circular = ours.export()
        zero_padded = torch.nn.Conv2d(channels, channels, 3, padding=1).to(device)
        shape = f"[{batch}, {channels}, {size}, {size}]"
        ours_timing = measure(forward_backward(ours, x), device=device)
        for name, peer in [("nn.Conv2d circular", circular), ("nn.Conv2d zero-padded", zero_padded)]:
            peer_timing = measure(forward_backward(peer, x), device=device)
            rows.append(row(f"PeriodicConv 3×3 fwd+bwd {shape}", ours_timing, name, peer_timing))
    return rows


if __name__ == "__main__":
    main(run)
