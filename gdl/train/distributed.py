"""Data-parallel training with PyTorch's own stack: ``torchrun`` + ``torch.distributed`` + DDP.

``torchrun --nproc_per_node=K -m gdl train NAME`` starts K processes with the
environment variables ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``
and ``MASTER_PORT``; :func:`init_distributed` reads them, joins the process
group (NCCL on CUDA, gloo on CPU) and picks the device. Without those
variables everything runs in one process and nothing here does anything.

Multi-node: run the same command on every node with a shared rendezvous, e.g.
``torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 --rdzv_id=JOB -m gdl train NAME``.
"""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist

__all__ = ["DeviceUnavailableError", "DistributedContext", "init_distributed", "world_size_from_environment",
           "all_reduce_sums", "all_reduce_min", "barrier", "shutdown"]


class DeviceUnavailableError(RuntimeError):
    """The requested device does not exist on this machine."""


@dataclasses.dataclass(frozen=True)
class DistributedContext:
    """Where this process sits: its rank among ``world_size`` processes, and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, metrics and reports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str | torch.device = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"`` → ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``; explicit names are checked."""
    if str(name) == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"device {str(name)!r} requested but CUDA is not available on this machine; "
                                     "use --device cpu or auto")
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{local_rank}")
    return device


def world_size_from_environment() -> int:
    """The number of processes ``torchrun`` started (1 when not launched by it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: str | torch.device = "auto") -> DistributedContext:
    """Join the ``torchrun`` process group when launched by it; otherwise a single-process context."""
    world_size = world_size_from_environment()
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if resolved.type == "cuda":
            torch.cuda.set_device(resolved)
        dist.init_process_group(backend="nccl" if resolved.type == "cuda" else "gloo")
    return DistributedContext(rank, world_size, local_rank, resolved)


def all_reduce_sums(values: dict[str, float], context: DistributedContext) -> dict[str, float]:
    """Sum a dict of floats over all ranks (identity in one process). Keys must agree across ranks."""
    if not context.distributed:
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=_collective_device(context))
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return dict(zip(keys, tensor.tolist()))


def all_reduce_min(flag: float, context: DistributedContext) -> float:
    """Minimum of a number over all ranks (e.g. 1.0 = "my loss is finite")."""
    if not context.distributed:
        return flag
    tensor = torch.tensor([flag], dtype=torch.float64, device=_collective_device(context))
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return float(tensor)


def barrier(context: DistributedContext) -> None:
    if context.distributed:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group (call once at the end of a ``torchrun`` job)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def _collective_device(context: DistributedContext) -> torch.device:
    return context.device if context.device.type == "cuda" else torch.device("cpu")
