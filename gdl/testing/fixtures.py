"""Small inputs for examples and tests: what every layer's ``example()`` builds on.

Not part of any domain's API: fixtures live here so that tests, examples and users share one copy.
"""

from __future__ import annotations

__all__: list[str] = []


# -- grids and groups: smooth images, point clouds ---------------------------------------------------------------
__all__ += ["smooth_disc_images", "random_point_cloud", "random_molecules"]


def smooth_disc_images(batch: int, channels: int, size: int, generator=None, blobs: int = 6, width: float = 2.5):
    """Smooth test signals for interpolated rotations: sums of Gaussian blobs inside the inscribed disc.

    Interpolated rotations are accurate for signals that vary slowly on the pixel scale and vanish near the border,
    so these are the inputs on which the C_n / D_n layers of :mod:`gdl.groups` are measured.

    Shapes:
        → ``[batch, channels, size, size]`` float32, values of order 1.
    """
    import math

    import torch

    centre = (size - 1) / 2
    radius = torch.rand(batch, channels, blobs, generator=generator) * max(centre - 3.5 * width, 0.0)
    angle = torch.rand(batch, channels, blobs, generator=generator) * 2 * math.pi
    amplitude = torch.randn(batch, channels, blobs, generator=generator)
    rows = centre + radius * torch.sin(angle)
    cols = centre + radius * torch.cos(angle)
    grid = torch.arange(size, dtype=torch.float32)
    bump_rows = torch.exp(-((grid - rows[..., None]) ** 2) / (2 * width**2))  # [B, C, blobs, size]
    bump_cols = torch.exp(-((grid - cols[..., None]) ** 2) / (2 * width**2))
    return torch.einsum("bcki,bckj,bck->bcij", bump_rows, bump_cols, amplitude)


def random_point_cloud(generator, num_nodes: int, feature_dim: int, radius: float = 2.0, scale: float = 1.2):
    """Features ``[N, feature_dim]``, positions ``[N, 3]`` (Gaussian, std ``scale``) and their radius graph ``[2, E]``."""
    import torch

    from gdl.symmetries.geometric import radius_graph

    x = torch.randn(num_nodes, feature_dim, generator=generator)
    pos = scale * torch.randn(num_nodes, 3, generator=generator)
    return x, pos, radius_graph(pos, radius)


def random_molecules(generator, sizes=(5, 4), atom_types=(1, 6, 8), radius: float = 2.0, scale: float = 1.2):
    """A batch of small random molecules as tensors: ``(z [N], pos [N, 3], edge_index [2, E], batch [N])``.

    Atomic numbers are drawn from ``atom_types``; edges join atoms of the same molecule closer than ``radius``.
    """
    import torch

    from gdl.symmetries.geometric import radius_graph

    z, pos, batch = [], [], []
    for graph, size in enumerate(sizes):
        z.append(torch.tensor(atom_types)[torch.randint(0, len(atom_types), (size,), generator=generator)])
        pos.append(scale * torch.randn(size, 3, generator=generator))
        batch.append(torch.full((size,), graph, dtype=torch.long))
    z, pos, batch = torch.cat(z), torch.cat(pos), torch.cat(batch)
    return z, pos, radius_graph(pos, radius, batch), batch


# -- meshes and gauges: a small asymmetric mesh, de Haan et al.'s kernel table -------------------------------------
__all__ += ["example_mesh_data", "table_kernel_basis"]


def example_mesh_data(subdivisions: int = 1):
    """A small asymmetric mesh (the :func:`~gdl.meshes.creature`, 42 vertices at ``subdivisions=1``) as float64 ``Data``.

    The ``example()`` of every mesh layer uses it, with the module and inputs in float64: the geometry stored in the
    ``Data`` must be that of its own vertex positions to the last digit, or the float64 E(3) check, which recomputes
    it from moved positions, would measure float32 round-off.
    """
    import torch

    from gdl.meshes import creature

    return creature(subdivisions).to_data(dtype=torch.float64)


def table_kernel_basis(angle, in_order: int, out_order: int):
    """de Haan et al.'s Table 1 basis of gauge-equivariant kernels, written out: ``[N, B, 2L_out+1, 2L_in+1]`` for
    angles ``[N]`` (ρ_0 ⊕ … ⊕ ρ_L_in → ρ_0 ⊕ … ⊕ ρ_L_out, features laid out as :class:`gdl.gauges.SO2Field`).

    The independent reference that :func:`gdl.gauges.gem.neighbour_kernel` is checked against (it must span exactly
    this space); written from the paper's table, not from gdl's solution.
    """
    import torch

    blocks = []
    D_in, D_out = 2 * in_order + 1, 2 * out_order + 1
    for n in range(in_order + 1):
        for m in range(out_order + 1):
            cols = [0] if n == 0 else [2 * n - 1, 2 * n]
            rows = [0] if m == 0 else [2 * m - 1, 2 * m]
            cm, sm = torch.cos((m - n) * angle), torch.sin((m - n) * angle)
            cp, sp = torch.cos((m + n) * angle), torch.sin((m + n) * angle)
            if n == 0 and m == 0:
                kernels = [torch.ones_like(angle)[:, None, None]]
            elif m == 0:
                kernels = [torch.stack([torch.cos(n * angle), torch.sin(n * angle)], -1)[:, None, :],
                           torch.stack([torch.sin(n * angle), -torch.cos(n * angle)], -1)[:, None, :]]
            elif n == 0:
                kernels = [torch.stack([torch.cos(m * angle), torch.sin(m * angle)], -1)[:, :, None],
                           torch.stack([torch.sin(m * angle), -torch.cos(m * angle)], -1)[:, :, None]]
            else:
                kernels = [torch.stack([torch.stack([cm, -sm], -1), torch.stack([sm, cm], -1)], -2),
                           torch.stack([torch.stack([sm, cm], -1), torch.stack([-cm, sm], -1)], -2),
                           torch.stack([torch.stack([cp, sp], -1), torch.stack([sp, -cp], -1)], -2),
                           torch.stack([torch.stack([-sp, cp], -1), torch.stack([cp, sp], -1)], -2)]
            for kernel in kernels:
                full = angle.new_zeros(angle.shape[0], D_out, D_in)
                full[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = kernel
                blocks.append(full)
    return torch.stack(blocks, dim=1)


# -- graphs: a messy multigraph ------------------------------------------------------------------------------------
__all__ += ["random_graph"]


def random_graph(num_nodes: int, num_edges: int, generator=None):
    """A random directed multigraph ``[2, num_edges + 5]`` with a self-loop, a repeated edge and a node that only sends.

    Node ``num_nodes − 1`` has no incoming edge, so layers are also checked on an empty neighbourhood; the graph is
    directed, so a layer that confuses senders and receivers is caught (``num_nodes`` ≥ 3).
    """
    import torch

    edges = torch.randint(0, num_nodes - 1, (2, num_edges), generator=generator)
    special = torch.tensor([[num_nodes - 1, num_nodes - 1, 0, 2, 2], [0, 1, 0, 1, 1]])  # sender-only, loop, duplicate
    return torch.cat([edges, special], dim=1)
