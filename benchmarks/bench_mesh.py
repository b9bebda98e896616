"""Mesh preprocessing and mesh convolutions against torch-geometric, on tori of 10k, 50k and 200k vertices.

* Preprocessing: ``gdl.geodesics.Mesh(pos, faces)`` (validation, cotangent weights, mass, normals, tangent frames,
  log-map angles, transport angles, components, Laplacian bound) against torch-geometric's ``get_mesh_laplacian``
  (the cotangent Laplacian only, no validation): the ratio is the price of everything else. The per-face time is
  printed at each size; it must stay flat (linear scaling; the fan angles use pointer jumping, O(F log deg)).
* Layers, forward + backward: :class:`gdl.gauges.GEMConv` (16 channels of ρ_0 ⊕ ρ_1, i.e. 48 numbers per vertex)
  and :class:`gdl.geodesics.MoNetConv` (48 channels, 8 Gaussians) against ``GCNConv`` with 48 channels.

Run: ``python benchmarks/bench_mesh.py [--device cuda] [--sizes 10000,50000,200000]``.
"""

from __future__ import annotations

import math

import torch
from timing import forward_backward, main, measure
from torch_geometric.nn import GCNConv
from torch_geometric.utils import get_mesh_laplacian

from gdl.gauges import GEMConv
from gdl.geodesics import Mesh, MoNetConv
from gdl.meshes import torus

SIZES = (10_000, 50_000, 200_000)
GRIDS = {10_000: (100, 100), 50_000: (250, 200), 200_000: (500, 400)}
CHANNELS, ORDER = 16, 1  # GEM: 16 × (2·1 + 1) = 48 numbers per vertex
WIDTH = CHANNELS * (2 * ORDER + 1)


def grid(vertices: int) -> tuple[int, int]:
    if vertices in GRIDS:
        return GRIDS[vertices]
    side = int(math.sqrt(vertices))
    return side, vertices // side


def run(device: torch.device, sizes=SIZES) -> list[dict]:
    rows, per_face = [], []
    for vertices in sizes:
        major, minor = grid(vertices)
        mesh = torus(major, minor)
        pos, faces = mesh.pos.to(device), mesh.faces.to(device)
        repeats = 3 if vertices > 20_000 else 5
        ours = measure(lambda pos=pos, faces=faces: Mesh(pos, faces), warmup=1, repeats=repeats, device=device)
        peer = measure(lambda pos=pos, faces=faces: get_mesh_laplacian(pos, faces.T), warmup=1, repeats=repeats,
                       device=device)
        per_face.append((mesh.num_vertices, mesh.num_faces, ours["seconds"] / mesh.num_faces))
        shape = f"V={mesh.num_vertices:,}, F={mesh.num_faces:,}"
        rows.append({"operation": f"Mesh preprocessing (all geometry), {shape}", "gdl": ours["seconds"],
                     "peer_name": "get_mesh_laplacian (Laplacian only)", "peer": peer["seconds"],
                     "gdl_peak_bytes": ours["peak_bytes"], "peer_peak_bytes": peer["peak_bytes"],
                     "note": f"{1e6 * ours['seconds'] / mesh.num_faces:.2f} µs per face"})

        data = Mesh(pos, faces).to_data().to(device)
        torch.manual_seed(0)
        x_scalar = torch.randn(mesh.num_vertices, WIDTH, device=device, requires_grad=True)
        x_irreps = torch.randn(mesh.num_vertices, CHANNELS, 2 * ORDER + 1, device=device, requires_grad=True)
        gcn = GCNConv(WIDTH, WIDTH).to(device)
        gcn_time = measure(forward_backward(gcn, x_scalar, data.edge_index), warmup=1, repeats=repeats, device=device)
        layers = [("GEMConv 16×(ρ0⊕ρ1) → 16×(ρ0⊕ρ1)", GEMConv(CHANNELS, CHANNELS, ORDER, ORDER).to(device), x_irreps),
                  (f"MoNetConv {WIDTH} → {WIDTH}, 8 Gaussians", MoNetConv(WIDTH, WIDTH, 8).to(device), x_scalar)]
        for name, layer, x in layers:
            timing = measure(forward_backward(layer, x, data), warmup=1, repeats=repeats, device=device)
            rows.append({"operation": f"{name} fwd+bwd, V={mesh.num_vertices:,}, E={data.edge_index.shape[1]:,}",
                         "gdl": timing["seconds"], "peer_name": f"GCNConv {WIDTH} → {WIDTH}", "peer": gcn_time["seconds"],
                         "gdl_peak_bytes": timing["peak_bytes"], "peer_peak_bytes": gcn_time["peak_bytes"]})
    print("preprocessing time per face (flat = linear in the number of faces):")
    for vertices, faces, seconds in per_face:
        print(f"  V = {vertices:>8,}  F = {faces:>8,}  {1e6 * seconds:.2f} µs per face")
    return rows


if __name__ == "__main__":
    main(run, sizes=(",".join(map(str, SIZES)), "comma-separated vertex counts", lambda text: [int(n) for n in text.split(",")]))
