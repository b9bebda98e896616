"""The GNN flavours against their torch-geometric built-ins (forward + backward), eager and under torch.compile.

A random graph with 10,000 nodes, 200,000 directed edges (no self-loops) and 64 channels:

* ``ConvolutionalLayer`` (GCN normalisation, self-loops added) vs ``GCNConv``;
* ``AttentionalLayer`` GAT / GATv2 scores, 4 heads × 16 channels, vs ``GATConv`` / ``GATv2Conv``;
* ``GINLayer`` vs ``GINConv`` (the same MLP);
* ``MessagePassingLayer`` vs ``EdgeConv`` with the same message MLP (128 → 64 → 64). Not the same function:
  EdgeConv has no node update φ, so the ratio includes our φ (one MLP per node, 20× fewer rows than the edges).

Layers built from ``from_pyg`` share their peer's weights. The compiled rows use ``self_loops="append"`` (the same
result on this loop-free graph, no data-dependent shapes) and compare with the compiled built-in; each row's note
gives both graph-break counts from ``torch._dynamo.explain``. Run: ``python benchmarks/bench_graphs.py [--device cuda]
[--no-compile]``.
"""

from __future__ import annotations

import copy

import torch
from timing import forward_backward, main, measure
from torch import nn
from torch_geometric.nn import EdgeConv, GATConv, GATv2Conv, GCNConv, GINConv

from gdl.graphs import AttentionalLayer, ConvolutionalLayer, GINLayer, MessagePassingLayer
from gdl.testing import graph_break_count

NODES, EDGES, CHANNELS = 10_000, 200_000, 64


def synthetic_graph(device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    source = torch.randint(0, NODES, (EDGES,), generator=generator)
    target = (source + torch.randint(1, NODES, (EDGES,), generator=generator)) % NODES  # never a self-loop
    x = torch.randn(NODES, CHANNELS, generator=generator)
    return x.to(device).requires_grad_(), torch.stack([source, target]).to(device)


def pairs(device: torch.device) -> list[tuple[str, nn.Module, str, nn.Module, str]]:
    torch.manual_seed(0)
    gcn = GCNConv(CHANNELS, CHANNELS)
    gat = GATConv(CHANNELS, CHANNELS // 4, heads=4)
    gatv2 = GATv2Conv(CHANNELS, CHANNELS // 4, heads=4)
    gin = GINConv(nn.Sequential(nn.Linear(CHANNELS, CHANNELS), nn.ReLU(), nn.Linear(CHANNELS, CHANNELS)))
    ours_mp = MessagePassingLayer(CHANNELS, CHANNELS, CHANNELS)
    edge_conv = EdgeConv(copy.deepcopy(ours_mp.message_mlp), aggr="add")
    rows = [("ConvolutionalLayer (GCN)", ConvolutionalLayer.from_pyg(gcn), "GCNConv", gcn, ""),
            ("AttentionalLayer (GAT, 4 heads)", AttentionalLayer.from_pyg(gat), "GATConv", gat, ""),
            ("AttentionalLayer (GATv2, 4 heads)", AttentionalLayer.from_pyg(gatv2), "GATv2Conv", gatv2, ""),
            ("GINLayer", GINLayer.from_pyg(gin), "GINConv", gin, ""),
            ("MessagePassingLayer (ψ, φ MLPs)", ours_mp, "EdgeConv (ψ only)", edge_conv,
             "different functions: ours also runs the node update φ")]
    return [(a, m.to(device), b, p.to(device), note) for a, m, b, p, note in rows]


def run(device: torch.device, compile: bool = True) -> list[dict]:
    x, edge_index = synthetic_graph(device)
    shape = f"N={NODES:,}, E={EDGES:,}, C={CHANNELS}"
    rows = []
    for ours_name, ours, peer_name, peer, note in pairs(device):
        ours_timing = measure(forward_backward(ours, x, edge_index), device=device, repeats=10)
        peer_timing = measure(forward_backward(peer, x, edge_index), device=device, repeats=10)
        rows.append({"operation": f"{ours_name} fwd+bwd, {shape}", "gdl": ours_timing["seconds"], "peer_name": peer_name,
                     "peer": peer_timing["seconds"], "gdl_peak_bytes": ours_timing["peak_bytes"],
                     "peer_peak_bytes": peer_timing["peak_bytes"], "note": note})
        if not compile:
            continue
        if getattr(ours, "self_loops", "keep") == "add":
            ours.self_loops = "append"  # no self-loops in this graph: the same function, static shapes
        small = (x[:200].detach(), edge_index[:, :1000] % 200)
        breaks = graph_break_count(ours, small), graph_break_count(peer, small)
        if breaks[0]:
            rows[-1]["note"] = (note + "; " if note else "") + f"torch.compile: {breaks[0]} graph breaks, not timed"
            continue
        compiled_ours, compiled_peer = torch.compile(ours), torch.compile(peer)
        ours_timing = measure(forward_backward(compiled_ours, x, edge_index), device=device, repeats=10)
        peer_timing = measure(forward_backward(compiled_peer, x, edge_index), device=device, repeats=10)
        rows.append({"operation": f"{ours_name} fwd+bwd, torch.compile, {shape}", "gdl": ours_timing["seconds"],
                     "peer_name": f"{peer_name}, torch.compile", "peer": peer_timing["seconds"],
                     "gdl_peak_bytes": ours_timing["peak_bytes"], "peer_peak_bytes": peer_timing["peak_bytes"],
                     "note": f"graph breaks: gdl {breaks[0]}, peer {breaks[1]}"})
    return rows


if __name__ == "__main__":
    main(run, compile=("yes", "also time torch.compile (yes/no)", lambda text: text != "no"))
