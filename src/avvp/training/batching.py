"""Task-independent batching helpers shared by every task's training and evaluation loops.

A task (LLP parsing, AVE localization) reads its data as a :class:`BatchDataset`, moves batches
with :func:`to_device`, splits an evaluation across ranks with :func:`eval_batches` and runs its
forward pass under :func:`autocast`. Nothing here knows about a task's labels or metrics.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from avvp.data import sampling
from avvp.training.distributed import DistEnv

__all__ = ["BatchDataset", "autocast", "eval_batches", "to_device"]


class BatchDataset(Protocol):
    """What the trainer needs from a dataset: a length and whole-batch reads."""

    def __len__(self) -> int: ...

    def get_batch(self, indices: np.ndarray) -> dict[str, Tensor]: ...


def to_device(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    non_blocking = device.type == "cuda"
    return {k: v.to(device, non_blocking=non_blocking) for k, v in batch.items()}


def eval_batches(n: int, batch_size: int, env: DistEnv | None) -> list[np.ndarray]:
    """This rank's share of 0..n-1 in order, without padding, so reduced statistics are exact
    (:func:`avvp.data.sampling.eval_batches`)."""
    if env is None:
        return sampling.eval_batches(n, batch_size=batch_size)
    return sampling.eval_batches(n, batch_size=batch_size, rank=env.rank, world_size=env.world_size)


def autocast(device: torch.device, enabled: bool, *, cpu: bool = False) -> torch.autocast:
    """bf16 mixed precision: on CUDA when ``enabled`` (``train.amp``), on the CPU only when
    ``cpu`` (``train.cpu_amp``: fast on CPUs with native bf16 matrix units, off by default so
    CPU runs stay in float32)."""
    on = (enabled and device.type == "cuda") or (cpu and device.type == "cpu")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=on)
