"""The one batching and sharding rule: which videos each rank reads, batch by batch.

Training (:func:`train_batches`): the epoch's order is a permutation seeded with
``(seed, epoch)`` (or ``0..n-1`` without shuffling), cut into *global* batches; rank ``r`` of
``world_size`` takes positions ``r, r + world_size, ...`` of each global batch. So the union of
the ranks' k-th batches is exactly the k-th batch of one process running the global batch size,
and a resumed run sees the batches it would have seen. Without ``drop_last`` the last global batch
is padded by wrapping around the epoch's order when there are several ranks, so every rank runs
the same number of steps (a few videos are then seen twice in that epoch).

Evaluation (:func:`eval_batches`): ``0..n-1`` in order, rank ``r`` takes ``r, r + world_size,
...``, never padded (each video is scored exactly once over all ranks, so reduced statistics are
exact).

The trainer (:class:`avvp.training.trainer.EpochBatches`), :func:`avvp.data.dataset.make_loader`
and every task's evaluation use these two functions.
"""

from __future__ import annotations

import math

import numpy as np

from avvp.errors import ConfigError

__all__ = ["check_global_batch", "check_shard", "eval_batches", "train_batches"]


def check_shard(*, batch_size: int, rank: int, world_size: int) -> None:
    """A one-line ``ConfigError`` for a batch size below 1 or a rank outside the world."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"invalid rank {rank} for world_size {world_size}")


def check_global_batch(global_batch: int, *, rank: int, world_size: int) -> None:
    """:func:`check_shard`, and a one-line ``ConfigError`` unless ``global_batch`` divides over
    the ``world_size`` ranks."""
    check_shard(batch_size=global_batch, rank=rank, world_size=world_size)
    if global_batch % world_size:
        raise ConfigError(
            f"train.batch_size={global_batch} must be divisible by "
            f"the number of processes ({world_size})"
        )


def train_batches(
    n: int,
    *,
    global_batch: int,
    seed: int,
    epoch: int,
    rank: int = 0,
    world_size: int = 1,
    shuffle: bool = True,
    drop_last: bool = False,
) -> list[np.ndarray]:
    """This rank's batches of one training epoch over ``n`` videos (see the module docstring).

    ``global_batch`` is the batch of all ranks together and must be divisible by ``world_size``.
    """
    check_global_batch(global_batch, rank=rank, world_size=world_size)
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    steps = n // global_batch if drop_last else math.ceil(n / global_batch)
    batches = []
    for step in range(steps):
        chunk = order[step * global_batch : (step + 1) * global_batch]
        if world_size > 1:
            if len(chunk) < global_batch:
                chunk = np.concatenate([chunk, np.resize(order, global_batch - len(chunk))])
            chunk = chunk[rank::world_size]
        batches.append(chunk)
    return batches


def eval_batches(
    n: int, *, batch_size: int, rank: int = 0, world_size: int = 1
) -> list[np.ndarray]:
    """This rank's evaluation batches over ``n`` videos: in order, sharded, never padded."""
    check_shard(batch_size=batch_size, rank=rank, world_size=world_size)
    order = np.arange(n)[rank::world_size]
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
