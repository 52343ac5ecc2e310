"""Data-parallel helpers: one code path for a single process and for ``torchrun`` (DDP).

Under ``torchrun`` the environment carries RANK / WORLD_SIZE / LOCAL_RANK; the backend is NCCL on
CUDA and gloo on CPU. Logging and checkpoints happen on rank 0 only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from avvp.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return (
            torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
        )
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name}: CUDA is not available on this machine")
    return device


def init_distributed(device_name: str = "auto") -> DistEnv:
    """Join the process group when launched by torchrun, else a single-process environment."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistEnv(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def group_initialized() -> bool:
    """Whether this process is already in a ``torch.distributed`` process group."""
    return dist.is_available() and dist.is_initialized()


@contextmanager
def process_group(device_name: str = "auto") -> Iterator[DistEnv]:
    """:func:`init_distributed` for the duration of a ``with`` block.

    A group this block creates is destroyed when the block ends (also on an exception), so a
    library call leaves no process group behind; a group the caller already had is used as is
    and left alone, because its lifetime is the caller's business.
    """
    owned = not group_initialized()
    env = init_distributed(device_name)
    try:
        yield env
    finally:
        if owned:
            shutdown_distributed()


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s own randomness (dropout and other in-model draws).

    ``seed + rank``: every rank draws different dropout masks, while rank 0 (and so a single
    process) keeps ``seed``. The batch order does not use it: it depends on ``seed`` alone so that
    the ranks agree on the epoch's permutation.
    """
    if rank < 0:
        raise ValueError(f"rank {rank}: must not be negative")
    return seed + rank


def all_gather_object(obj: T) -> list[T]:
    """Every rank's ``obj``, in rank order (``[obj]`` in a single process)."""
    if dist.is_available() and dist.is_initialized():
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, obj)
        return gathered
    return [obj]


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum across ranks (no-op in a single process). Returns the reduced tensor."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
