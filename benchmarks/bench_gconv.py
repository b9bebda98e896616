"""p4 group convolutions against a plain ``nn.Conv2d`` of the same size (forward + backward), and their export.

A p4 GroupConv C_in → C_out runs one conv2d with C_in·4 input and C_out·4 output channels on a filter bank built from
its C_out·C_in·4 filters; the peer is ``nn.Conv2d(C_in·4, C_out·4)`` (same FLOPs, 4× the parameters) on the same
flattened input. The difference is the cost of building the bank (an index gather) and its backward (a scatter), and
circular padding. The exported model (``layer.export()``, an ``nn.Conv2d`` holding the bank) should cost what the peer
costs.

Run: ``python benchmarks/bench_gconv.py [--device cuda]``.
"""

from __future__ import annotations

import torch
from timing import forward_backward, main, measure

from gdl.groups import GroupConv, LiftingConv, RegularField, p4


def _interleaved(fns: dict, device: torch.device, rounds: int = 5) -> dict:
    """Best (over ``rounds``) median time of each closure, measuring them in turn so that drift on a shared machine hits all."""
    best: dict = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            timing = measure(fn, warmup=2, repeats=10, device=device)
            if name not in best or timing["seconds"] < best[name]["seconds"]:
                best[name] = timing
    return best


def run(device: torch.device) -> list[dict]:
    rows = []
    batch, c_in, c_out, size, k = 32, 16, 16, 28, 3
    order = 4
    for name, layer, x, peer_in in [
        ("GroupConv p4", GroupConv(RegularField(c_in, p4()), c_out, k), torch.randn(batch, c_in, order, size, size), c_in * order),
        ("LiftingConv p4", LiftingConv(c_in, c_out, k, group=p4()), torch.randn(batch, c_in, size, size), c_in),
    ]:
        layer = layer.to(device)
        x = x.to(device).requires_grad_()
        flat = x.detach().flatten(1, 2).requires_grad_() if x.dim() == 5 else x
        peer = torch.nn.Conv2d(peer_in, c_out * order, k, padding=k // 2, padding_mode="circular").to(device)
        exported = layer.export().train()  # train mode for the backward pass (it holds no batch norm)
        for p in exported.parameters():
            p.requires_grad_(True)
        # the export takes the layer's own tensors ([B, C, |H|, H, W] is flattened by a view inside it)
        timings = _interleaved({"peer": forward_backward(peer, flat), "layer": forward_backward(layer, x),
                                "export": forward_backward(exported, x)}, device)
        shape = f"{list(x.shape)} → {c_out}×{order}, {k}×{k}"
        for key, variant, note in [("layer", name, "target ≤ 1.3× (builds the filter bank every call)"),
                                   ("export", f"{name}.export()", "target ≤ 1.05× (a plain nn.Conv2d holding the bank)")]:
            rows.append({"operation": f"{variant} fwd+bwd {shape}", "gdl": timings[key]["seconds"],
                         "peer_name": f"nn.Conv2d({peer_in}, {c_out * order}) circular", "peer": timings["peer"]["seconds"],
                         "gdl_peak_bytes": timings[key]["peak_bytes"], "peer_peak_bytes": timings["peer"]["peak_bytes"],
                         "note": note})
    return rows


if __name__ == "__main__":
    main(run)
