"""Multi-process training helpers: the world of a ``torchrun`` launch, its process group, and
the few collectives training needs.

``torchrun --nproc_per_node N script.py`` (``python -m torch.distributed.run``) starts N copies
of a script and sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in each; :func:`world` reads
them. A plain ``python script.py`` is a world of one process, and every helper here is then a
no-op (no process group is created), so single-process code paths stay exactly as they were.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

Tensor = torch.Tensor


@dataclass(frozen=True)
class World:
    """This process's place in the launch: ``rank`` of ``size`` processes, ``local_rank`` on
    its machine (the CUDA device it uses)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world() -> World:
    """The world from the environment ``torchrun`` sets (a world of one without it)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    if size < 1 or not 0 <= rank < size:
        raise RuntimeError(f"inconsistent launch: RANK={rank}, WORLD_SIZE={size}")
    return World(rank, size, local_rank)


def is_main() -> bool:
    return world().is_main


def device_for(device: torch.device, w: World) -> torch.device:
    """The device this rank trains on: ``cuda:LOCAL_RANK`` for CUDA in a multi-process launch
    (the device index of a config is ignored there), ``device`` otherwise."""
    if device.type == "cuda" and w.distributed:
        return torch.device("cuda", w.local_rank)
    return device


def init(device: torch.device, timeout_s: float = 1800.0) -> World:
    """Join the process group of a multi-process launch (NCCL for CUDA, gloo for the CPU) unless
    this is a single process or the group exists already; returns :func:`world`."""
    w = world()
    if w.distributed and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=datetime.timedelta(seconds=timeout_s))
    if w.distributed and dist.get_world_size() != w.size:
        raise RuntimeError(f"process group has {dist.get_world_size()} processes, "
                           f"WORLD_SIZE says {w.size}")
    return w


def shutdown() -> None:
    """Destroy the process group (end of a launched script); a no-op without one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    """Wait for every process (a no-op for a single process)."""
    if _active():
        dist.barrier()


def all_reduce_mean(x: Tensor) -> Tensor:
    """Mean of ``x`` over the processes (a new tensor; ``x`` itself for a single process)."""
    if not _active():
        return x
    out = x.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()


def any_true(flag: bool, device: torch.device) -> bool:
    """True when ``flag`` is true on any process (the flag itself for a single process)."""
    if not _active():
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def broadcast(obj: Any, device: torch.device) -> Any:
    """Rank 0's ``obj`` on every process (picklable objects; ``obj`` for a single process)."""
    if not _active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=device if device.type == "cuda" else None)
    return box[0]


def shard(batch_size: int, w: World) -> slice:
    """The contiguous part of a global batch that rank ``w.rank`` trains on.

    Every rank draws the whole batch and keeps ``batch_size / w.size`` consecutive samples, so
    the ranks together see exactly the single-process batch. Raises ValueError when the batch
    does not split evenly.
    """
    if batch_size % w.size:
        raise ValueError(f"TrainConfig.batch_size must be divisible by the number of processes "
                         f"({w.size}), got {batch_size}")
    part = batch_size // w.size
    return slice(w.rank * part, (w.rank + 1) * part)
