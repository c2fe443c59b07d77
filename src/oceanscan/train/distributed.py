"""Where this worker stands (rank, world size, Ray or not) and the few collectives the loop needs.

Every collective degrades to the identity when no process group is initialised, so the same loop
runs in-process as rank 0 of a world of 1. The backend fills in the context
(:func:`oceanscan.train.ray_backend.worker_context` asks Ray Train).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist

__all__ = [
    "WorkerContext",
    "all_gather_objects",
    "all_reduce_sum",
    "broadcast_flag",
]

A = TypeVar("A", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class WorkerContext:
    """Rank and world of the calling process.

    Attributes:
        rank: global rank, 0 on the process that decides and checkpoints.
        world_size: number of training processes.
        local_rank: rank on this node (selects the GPU).
        under_ray: True inside a Ray Train worker.
    """

    rank: int
    world_size: int
    local_rank: int
    under_ray: bool

    @property
    def is_chief(self) -> bool:
        """True on rank 0."""
        return self.rank == 0


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_sum(value: A, device: torch.device) -> A:
    """Element-wise sum of ``value`` over all ranks, returned in the type it came in.

    Counts are summed in float64 or int64 so that confusion matrices of millions of pixels stay
    exact. ``device`` must be the process group's device (CUDA for NCCL).
    """
    if not _distributed():
        return value
    as_numpy = isinstance(value, np.ndarray)
    tensor = torch.as_tensor(value)
    dtype = torch.float64 if tensor.is_floating_point() else torch.int64
    work = tensor.to(device=device, dtype=dtype).contiguous()
    dist.all_reduce(work, op=dist.ReduceOp.SUM)
    if as_numpy:
        return work.cpu().numpy().astype(value.dtype, copy=False)
    return work.to(device=tensor.device, dtype=tensor.dtype)


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every rank (used for the early-stopping decision)."""
    if not _distributed():
        return flag
    tensor = torch.tensor([int(flag)], dtype=torch.int64, device=device)
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())


def all_gather_objects(obj: Any) -> list[Any]:
    """One picklable object per rank, in rank order (a list of one outside a process group)."""
    if not _distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
