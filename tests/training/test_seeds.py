"""Per-rank seeds and the RNG state that --resume restores."""

from __future__ import annotations

import pytest
import torch

from avvp.training.distributed import DistEnv, rank_seed
from avvp.training.trainer import EpochBatches, restore_rng, rng_state


def test_rank_seed_is_base_plus_rank() -> None:
    assert rank_seed(7, 0) == 7  # rank 0 (and a single process) keeps the run's seed
    assert [rank_seed(7, r) for r in range(4)] == [7, 8, 9, 10]
    with pytest.raises(ValueError, match="rank -1"):
        rank_seed(7, -1)


def test_ranks_share_the_batch_order_but_not_the_dropout() -> None:
    # The epoch permutation depends on the run's seed only: ranks take disjoint shares of it.
    envs = [DistEnv(r, 2, r, torch.device("cpu")) for r in range(2)]
    shares = [EpochBatches(20, global_batch=4, seed=3, env=e).epoch(1) for e in envs]
    for a, b in zip(*shares, strict=True):
        assert not set(a) & set(b)
    masks = []
    for rank in range(2):
        torch.manual_seed(rank_seed(3, rank))
        masks.append(torch.nn.functional.dropout(torch.ones(1000), 0.5))
    assert not torch.equal(masks[0], masks[1])


def test_rng_state_roundtrip_cpu() -> None:
    env = DistEnv(1, 2, 1, torch.device("cpu"))
    torch.manual_seed(0)
    saved = [rng_state(env.device), rng_state(env.device)]
    expected = torch.rand(5)
    torch.rand(100)  # move on
    restore_rng(saved, env, seed=0)
    assert torch.equal(torch.rand(5), expected)
    # A state of the older layout (one CPU tensor for every rank) still restores.
    torch.manual_seed(0)
    legacy = torch.get_rng_state()
    expected = torch.rand(5)
    restore_rng(legacy, env, seed=0)
    assert torch.equal(torch.rand(5), expected)
    # More ranks than saved: the new rank starts from its own seed.
    restore_rng(saved[:1], env, seed=5)
    torch.manual_seed(rank_seed(5, 1))
    expected = torch.rand(5)
    restore_rng(saved[:1], env, seed=5)
    assert torch.equal(torch.rand(5), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_rng_state_roundtrip_cuda() -> None:
    device = torch.device("cuda:0")
    env = DistEnv(0, 1, 0, device)
    torch.manual_seed(0)
    saved = [rng_state(device)]
    assert "cuda" in saved[0]
    expected_cpu, expected_cuda = torch.rand(5), torch.rand(5, device=device)
    torch.rand(100), torch.rand(100, device=device)
    restore_rng(saved, env, seed=0)
    assert torch.equal(torch.rand(5), expected_cpu)
    assert torch.equal(torch.rand(5, device=device), expected_cuda)
