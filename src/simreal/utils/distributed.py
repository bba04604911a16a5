"""Process groups under ``torchrun``: join one, share the run directory, leave one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist


def rank_world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_rank0() -> bool:
    return rank_world()[0] == 0


def init_distributed() -> bool:
    """Join the process group that ``torchrun`` describes in the environment (gloo on CPU, NCCL on GPUs);
    False when not launched by torchrun with more than one process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True


def leave_process_group() -> bool:
    """Barrier, then destroy the process group; False when there was none. With torch 2.13 + gloo, ~1 in 4
    processes abort at interpreter exit ("terminate called without an active exception", exit −6) after all
    work is done, so the command line leaves with ``os._exit(0)`` after this returns True."""
    if not (dist.is_available() and dist.is_initialized()):
        return False
    dist.barrier()
    dist.destroy_process_group()
    return True


def shared_run_dir(make: Callable[[], Path]) -> Path:
    """The run directory made by rank 0 (``make()``) and broadcast to the other processes."""
    rank, world = rank_world()
    if world == 1:
        return make()
    box = [str(make()) if rank == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return Path(box[0])
