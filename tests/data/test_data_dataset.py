"""LLPDataset batches and make_loader: contents, determinism, sharding, packed == official."""

from __future__ import annotations

import os
from pathlib import Path

import avvp_tests_data_toy as toy  # registered by tests/data/conftest.py
import numpy as np
import pytest
import torch

from avvp.data.dataset import BatchIndexSampler, LLPDataset, eval_order, make_loader
from avvp.data.pack import pack_dataset
from avvp.errors import ConfigError, DataError
from avvp.training.distributed import DistEnv
from avvp.training.trainer import EpochBatches

pytestmark = pytest.mark.filterwarnings("ignore::avvp.data.llp.DataDefectWarning")

KEYS = ["audio", "frames", "clips", "pseudo_audio", "pseudo_visual"]


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("toy")
    return toy.write_toy_dataset(root, keys=KEYS, sizes={"train": 11, "val": 4, "test": 5})


def test_batch_dict_contract(ds) -> None:
    data = LLPDataset(
        root=ds.root, split="val", feature_keys=["audio", "frames", "clips"], pseudo_labels=True
    )
    assert len(data) == 4
    batch = data.get_batch(np.array([3, 1]))
    shapes = {k: (tuple(v.shape), v.dtype) for k, v in batch.items()}
    assert shapes == {
        "index": ((2,), torch.int64),
        "audio": ((2, 10, 128), torch.float32),
        "frames": ((2, 80, 2048), torch.float32),
        "clips": ((2, 10, 512), torch.float32),
        "pseudo_audio": ((2, 10, 25), torch.float32),
        "pseudo_visual": ((2, 10, 25), torch.float32),
        "label": ((2, 25), torch.float32),
        "gt_audio": ((2, 25, 10), torch.float32),
        "gt_visual": ((2, 25, 10), torch.float32),
    }
    assert batch["index"].tolist() == [3, 1]
    expected = np.load(ds.feature_path("audio", ds.ids("val")[3]))
    np.testing.assert_array_equal(batch["audio"][0].numpy(), expected)
    np.testing.assert_array_equal(batch["label"][1].numpy(), data.split.labels[1])
    item = data[1]
    for key, value in item.items():
        torch.testing.assert_close(value, batch[key][1], rtol=0, atol=0)


def test_train_has_no_ground_truth_and_pseudo_needs_folders(ds, tmp_path: Path) -> None:
    data = LLPDataset(root=ds.root, split="train", feature_keys=["audio"])
    assert set(data.get_batch([0]).keys()) == {"index", "audio", "label"}
    bare = toy.write_toy_dataset(tmp_path, keys=["audio"])
    with pytest.raises(DataError, match="pseudo_audio feature folder not found"):
        LLPDataset(root=bare.root, split="train", feature_keys=["audio"], pseudo_labels=True)
    with pytest.raises(ConfigError, match="pseudo_labels=True"):
        LLPDataset(root=ds.root, split="train", feature_keys=["pseudo_audio"])


def test_packed_equals_official(ds, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    copy = toy.write_toy_dataset(root, keys=["audio", "pseudo_audio", "pseudo_visual"], seed=4)
    pack_dataset(copy.root)
    official = LLPDataset(
        root=root, split="test", feature_keys=["audio"], pseudo_labels=True, packed=False
    )
    packed = LLPDataset(root=root, split="test", feature_keys=["audio"], pseudo_labels=True)
    assert type(packed.store).__name__ == "PackedFeatureStore"
    indices = np.array([3, 0, 2, 2])
    a, b = official.get_batch(indices), packed.get_batch(indices)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def _epoch(loader, epoch: int) -> list[list[int]]:
    loader.batch_sampler.set_epoch(epoch)
    return [batch["index"].tolist() for batch in loader]


def test_loader_deterministic_shuffle(ds) -> None:
    data = LLPDataset(root=ds.root, split="train", feature_keys=["audio"])
    loader = make_loader(data, batch_size=4, shuffle=True, seed=7)
    first, again = _epoch(loader, 0), _epoch(loader, 0)
    other_epoch = _epoch(loader, 1)
    assert first == again and first != other_epoch
    assert [len(b) for b in first] == [4, 4, 3]
    assert sorted(i for b in first for i in b) == list(range(11))
    other_seed = _epoch(make_loader(data, batch_size=4, shuffle=True, seed=8), 0)
    assert other_seed != first
    batch = next(iter(loader))
    np.testing.assert_array_equal(
        batch["audio"].numpy(), data.get_batch(batch["index"].numpy())["audio"].numpy()
    )
    ordered = _epoch(make_loader(data, batch_size=4, shuffle=False, seed=0, drop_last=True), 0)
    assert ordered == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize("drop_last", [False, True])
def test_sharding_is_the_trainers(drop_last: bool) -> None:
    size, world, batch = 11, 3, 2
    samplers = [
        BatchIndexSampler(
            size,
            batch_size=batch,
            shuffle=True,
            seed=1,
            drop_last=drop_last,
            rank=r,
            world_size=world,
        )
        for r in range(world)
    ]
    for s in samplers:
        s.set_epoch(5)
    per_rank = [list(s) for s in samplers]
    assert len({len(b) for b in per_rank}) == 1
    assert all(len(b) == len(s) for b, s in zip(per_rank, samplers, strict=True))
    assert all(len(b) == batch for rank in per_rank for b in rank)
    flat = [i for rank in per_rank for b in rank for i in b]
    if not drop_last:
        assert set(flat) == set(range(size)) and len(flat) == 12  # the last global batch wraps
    # The ranks' k-th batches together are the k-th batch of one process with the global batch
    # size, in the trainer's order.
    full = np.random.default_rng([1, 5]).permutation(size)
    steps = size // (batch * world) if drop_last else -(-size // (batch * world))
    padded = np.resize(full, steps * batch * world)
    for k in range(steps):
        together = sorted(i for rank in per_rank for i in rank[k])
        assert together == sorted(padded[k * batch * world : (k + 1) * batch * world].tolist())
    trainer = EpochBatches(
        size, global_batch=batch * world, seed=1, env=_env(1, world), drop_last=drop_last
    )
    assert [b.tolist() for b in trainer.epoch(5)] == per_rank[1]


def test_eval_order_no_padding() -> None:
    batches = [eval_order(10, batch_size=3, rank=r, world_size=3) for r in range(3)]
    flat = sorted(int(i) for rank in batches for b in rank for i in b)
    assert flat == list(range(10))
    assert [b.tolist() for b in eval_order(5, batch_size=2)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ConfigError):
        eval_order(5, batch_size=2, rank=3, world_size=3)


def test_loader_with_worker(ds) -> None:
    data = LLPDataset(root=ds.root, split="test", feature_keys=["clips"])
    loader = make_loader(data, batch_size=2, shuffle=True, seed=3, num_workers=1)
    in_process = make_loader(data, batch_size=2, shuffle=True, seed=3)
    for a, b in zip(loader, in_process, strict=True):
        torch.testing.assert_close(a["clips"], b["clips"], rtol=0, atol=0)


@pytest.mark.parametrize("packed", [False, True])
def test_cli_train_on_non_finite_features_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], packed: bool
) -> None:
    from avvp.cli import main

    root = tmp_path / "toy"
    toy_ds = toy.write_toy_dataset(root, sizes={"train": 6, "val": 3, "test": 3})
    victim_id = toy_ds.ids("train")[2]
    if packed:
        pack_dataset(root)
        file = root / "packed" / "train" / "clips.npy"
        stat = file.stat()
        array = np.load(file, mmap_mode="r+")
        array[2, 0, 0] = np.nan
        array.flush()
        del array
        # Keep size and mtime (as bit rot would), so only the value check can notice.
        os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    else:
        file = toy_ds.feature_path("clips", victim_id)
        array = np.load(file)
        array[0, 0] = np.nan
        np.save(file, array)
    argv = ["train", "demo/llp_mmil", "train.epochs=1", "train.amp=false"]
    status = main([*argv, "--data", str(root), "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err[-1].startswith(f"avvp: error: {file}: ")
    assert victim_id in err[-1] and "non-finite" in err[-1]


def _env(rank: int, world: int) -> DistEnv:
    return DistEnv(rank, world, rank, torch.device("cpu"))
