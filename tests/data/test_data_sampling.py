"""The one batching/sharding rule (avvp.data.sampling), against a direct re-statement."""

from __future__ import annotations

import numpy as np
import pytest

from avvp.data.sampling import eval_batches, train_batches
from avvp.errors import ConfigError


@pytest.mark.parametrize("world", [1, 2, 4])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("n", [1, 7, 16, 23])
def test_train_batches_partition_the_global_batches(world: int, drop_last: bool, n: int) -> None:
    global_batch = 4
    ranks = [
        train_batches(
            n,
            global_batch=global_batch,
            seed=3,
            epoch=2,
            rank=r,
            world_size=world,
            drop_last=drop_last,
        )
        for r in range(world)
    ]
    single = train_batches(n, global_batch=global_batch, seed=3, epoch=2, drop_last=drop_last)
    assert len({len(b) for b in ranks}) == 1  # every rank runs the same number of steps
    order = np.random.default_rng([3, 2]).permutation(n)
    if world == 1:
        expected = [order[i : i + global_batch] for i in range(0, n, global_batch)]
        if drop_last:
            expected = [b for b in expected if len(b) == global_batch]
        assert [b.tolist() for b in single] == [b.tolist() for b in expected]
    for k, batch in enumerate(single):
        together = np.concatenate([rank[k] for rank in ranks])
        if world == 1 or len(batch) == global_batch:
            assert sorted(together.tolist()) == sorted(batch.tolist())
        else:  # the last, short global batch: padded by wrapping around the epoch's order
            assert set(batch.tolist()) <= set(together.tolist())
            assert len(together) == global_batch


def test_train_batches_unshuffled_and_errors() -> None:
    batches = train_batches(5, global_batch=2, seed=0, epoch=0, shuffle=False)
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ConfigError, match="divisible by the number of processes"):
        train_batches(8, global_batch=3, seed=0, epoch=0, rank=0, world_size=2)
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        train_batches(8, global_batch=0, seed=0, epoch=0)


def test_eval_batches_cover_every_video_once() -> None:
    ranks = [eval_batches(10, batch_size=3, rank=r, world_size=3) for r in range(3)]
    flat = sorted(int(i) for rank in ranks for b in rank for i in b)
    assert flat == list(range(10))
    assert [b.tolist() for b in ranks[1]] == [[1, 4, 7]]
    with pytest.raises(ConfigError, match="invalid rank 3 for world_size 3"):
        eval_batches(5, batch_size=2, rank=3, world_size=3)
