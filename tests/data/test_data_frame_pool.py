"""Packed ResNet frames pre-averaged per segment: same numbers as averaging after loading."""

from __future__ import annotations

from pathlib import Path

import avvp_tests_data_toy as toy  # registered by tests/data/conftest.py
import numpy as np
import pytest
import torch

from avvp.data.check import check_dataset
from avvp.data.dataset import LLPDataset
from avvp.data.features import (
    FEATURE_SPECS,
    OfficialFeatureStore,
    PackedFeatureStore,
    packed_row_shape,
)
from avvp.data.llp import load_split
from avvp.data.pack import pack_dataset
from avvp.errors import ConfigError
from avvp.models.factory import build_model

pytestmark = pytest.mark.filterwarnings("ignore::avvp.data.llp.DataDefectWarning")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ds = toy.write_toy_dataset(
        tmp_path, keys=["audio", "frames", "clips"], sizes={"train": 4, "val": 2, "test": 3}
    )
    return Path(ds.root)


def test_row_shape() -> None:
    assert packed_row_shape(FEATURE_SPECS["frames"], 8) == (10, 2048)
    assert packed_row_shape(FEATURE_SPECS["frames"], 1) == (80, 2048)
    with pytest.raises(ConfigError, match="cannot pool"):
        packed_row_shape(FEATURE_SPECS["audio"], 8)
    with pytest.raises(ConfigError, match="cannot pool"):
        packed_row_shape(FEATURE_SPECS["frames"], 3)


def test_pooled_pack_matches_official_average(root: Path) -> None:
    pack_dataset(root)  # default: frames averaged over each segment's 8 frames
    split = load_split(root, "test")
    ids = split.video_ids
    official = OfficialFeatureStore(root, ids, ["frames"]).read("frames", np.arange(len(ids)))
    packed = PackedFeatureStore(root, "test", ids, ["frames"]).read("frames", np.arange(len(ids)))
    assert packed.shape == (len(ids), 10, 2048)
    expected = official.reshape(len(ids), 10, 8, 2048).mean(axis=2, dtype=np.float64)
    np.testing.assert_allclose(packed, expected, rtol=0, atol=1e-6)
    assert check_dataset(root) == []


def test_full_frames_pack_is_exact_and_repacks_on_change(root: Path) -> None:
    pack_dataset(root, frame_pool=1)
    split = load_split(root, "val")
    ids = split.video_ids
    official = OfficialFeatureStore(root, ids, ["frames"]).read("frames", np.arange(len(ids)))
    packed = PackedFeatureStore(root, "val", ids, ["frames"]).read("frames", np.arange(len(ids)))
    np.testing.assert_array_equal(packed, official)
    pack_dataset(root, frame_pool=8)  # a different pooling is not "current": repacked
    packed = PackedFeatureStore(root, "val", ids, ["frames"]).read("frames", np.arange(len(ids)))
    assert packed.shape == (len(ids), 10, 2048)
    assert check_dataset(root) == []


def test_model_gives_the_same_output_on_pooled_and_full_frames(root: Path) -> None:
    pack_dataset(root)
    keys = ["audio", "frames", "clips"]
    pooled = LLPDataset(root=root, split="test", feature_keys=keys, packed=True)
    full = LLPDataset(root=root, split="test", feature_keys=keys, packed=False)
    index = np.arange(len(full))
    torch.manual_seed(0)
    model = build_model(
        {
            "inputs": {"name": "llp", "d_model": 32},
            "encoder": {"name": "han", "d_model": 32, "ff_dim": 32},
            "decoder": {"name": "mmil", "d_model": 32},
        }
    ).eval()
    with torch.no_grad():
        a = model(pooled.get_batch(index))
        b = model(full.get_batch(index))
    torch.testing.assert_close(a.segment_audio, b.segment_audio, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.segment_visual, b.segment_visual, rtol=1e-5, atol=1e-6)
