"""Feature stores: official per-video files and packed memory maps give the same batches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import avvp_tests_data_toy as toy  # registered by tests/data/conftest.py
import numpy as np
import pytest

from avvp.data.features import (
    FEATURE_SPECS,
    FeatureStore,
    OfficialFeatureStore,
    PackedFeatureStore,
    UnverifiedPackWarning,
    open_feature_store,
)
from avvp.data.llp import load_split
from avvp.data.pack import pack_dataset
from avvp.errors import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings("ignore::avvp.data.llp.DataDefectWarning")

KEYS = ["audio", "clips", "pseudo_audio"]


def _drop_fingerprints(root: Path) -> None:
    """Rewrite the manifest as an avvp without fingerprints wrote it."""
    path = root / "packed" / "manifest.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["splits"].values():
        for info in entry["keys"].values():
            for name in ("packed_size", "packed_mtime_ns", "source_size", "source_mtime_ns"):
                del info[name]
    path.write_text(json.dumps(manifest, indent=1))


@pytest.fixture
def toy_root(tmp_path: Path):
    return toy.write_toy_dataset(tmp_path, keys=KEYS, sizes={"train": 7, "val": 3, "test": 3})


def test_specs_cover_architecture_keys() -> None:
    assert set(FEATURE_SPECS) == {
        "audio",
        "frames",
        "clips",
        "clap",
        "clip",
        "pseudo_audio",
        "pseudo_visual",
    }
    assert FEATURE_SPECS["frames"].folder == "feats/res152"
    assert FEATURE_SPECS["frames"].shape == (80, 2048)
    assert FEATURE_SPECS["clap"].folder == "CLAP/features"
    assert FEATURE_SPECS["clap"].shape == (64, 768)
    assert FEATURE_SPECS["clip"].folder == "CLIP/features"
    assert FEATURE_SPECS["pseudo_visual"].folder == "CLIP/segment_pseudo_labels"


def test_official_store_reads_files(toy_root) -> None:
    split = load_split(toy_root.root, "train")
    store = open_feature_store(toy_root.root, split, KEYS)
    assert isinstance(store, OfficialFeatureStore) and isinstance(store, FeatureStore)
    indices = np.array([4, 0, 4, 2])
    batch = store.read("audio", indices)
    assert batch.shape == (4, 10, 128) and batch.dtype == np.float32
    for slot, i in enumerate(indices):
        expected = np.load(toy_root.feature_path("audio", split.video_ids[i]))
        np.testing.assert_array_equal(batch[slot], expected)
    pseudo = store.read("pseudo_audio", indices)
    assert pseudo.dtype == np.float32 and set(np.unique(pseudo)) <= {0.0, 1.0}


def test_official_store_errors_name_the_file(toy_root) -> None:
    split = load_split(toy_root.root, "train")
    store = OfficialFeatureStore(toy_root.root, split.video_ids, ["audio"])
    victim = toy_root.feature_path("audio", split.video_ids[1])
    np.save(victim, np.zeros((9, 128), dtype=np.float32))
    with pytest.raises(DataError, match=rf"{split.video_ids[1]}\.npy: audio has shape \(9, 128\)"):
        store.read("audio", np.array([1]))
    np.save(victim, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=rf"{split.video_ids[1]}\.npy: cannot read"):
        store.read("audio", np.array([1]))
    victim.unlink()
    with pytest.raises(DataError, match=rf"{split.video_ids[1]}\.npy: missing audio"):
        store.read("audio", np.array([0, 1]))
    with pytest.raises(DataError, match="frames feature folder not found"):
        OfficialFeatureStore(toy_root.root, split.video_ids, ["frames"])
    with pytest.raises(ConfigError, match="unknown feature key"):
        OfficialFeatureStore(toy_root.root, split.video_ids, ["vggish"])


def test_packed_store_matches_official(toy_root) -> None:
    pack_dataset(toy_root.root, keys=KEYS)
    rng = np.random.default_rng(3)
    for name in ("train", "val"):
        split = load_split(toy_root.root, name)
        packed = open_feature_store(toy_root.root, split, KEYS)
        official = open_feature_store(toy_root.root, split, KEYS, packed=False)
        assert isinstance(packed, PackedFeatureStore)
        for indices in (rng.integers(0, len(split), 5), np.arange(1, 3), np.array([], int)):
            for key in KEYS:
                a, b = packed.read(key, indices), official.read(key, indices)
                assert a.dtype == np.float32 and a.shape == b.shape
                np.testing.assert_array_equal(a, b)


def test_open_feature_store_choice(toy_root) -> None:
    split = load_split(toy_root.root, "val")
    with pytest.raises(DataError, match="no packed manifest"):
        open_feature_store(toy_root.root, split, ["audio"], packed=True)
    pack_dataset(toy_root.root, keys=["audio"], splits=["val"])
    assert isinstance(open_feature_store(toy_root.root, split, ["audio"]), PackedFeatureStore)
    # Not every key packed -> official layout when auto, error when forced.
    store = open_feature_store(toy_root.root, split, ["audio", "clips"])
    assert isinstance(store, OfficialFeatureStore)
    with pytest.raises(DataError, match="'clips' of split 'val' is not packed"):
        open_feature_store(toy_root.root, split, ["audio", "clips"], packed=True)
    train = load_split(toy_root.root, "train")
    assert isinstance(open_feature_store(toy_root.root, train, ["audio"]), OfficialFeatureStore)


def test_packed_store_pickles_without_maps(toy_root) -> None:
    import pickle

    pack_dataset(toy_root.root, keys=["audio"], splits=["train"])
    split = load_split(toy_root.root, "train")
    store = PackedFeatureStore(toy_root.root, "train", split.video_ids, ["audio"])
    first = store.read("audio", np.array([0, 1]))
    clone = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(clone.read("audio", np.array([0, 1])), first)


def test_truncated_packed_file_is_a_data_error(toy_root) -> None:
    pack_dataset(toy_root.root, keys=["clips"], splits=["train"])
    split = load_split(toy_root.root, "train")
    file = toy_root.root / "packed" / "train" / "clips.npy"
    data = file.read_bytes()
    file.write_bytes(data[: len(data) - 10 * 512 * 4 - 7])
    # The size fingerprint catches it when the store is opened ...
    with pytest.raises(DataError, match=r"clips\.npy: packed file changed after packing \(size"):
        PackedFeatureStore(toy_root.root, "train", split.video_ids, ["clips"])
    # ... and without fingerprints (an older manifest) the read still fails cleanly.
    _drop_fingerprints(toy_root.root)
    with pytest.warns(UnverifiedPackWarning, match="without fingerprints"):
        store = PackedFeatureStore(toy_root.root, "train", split.video_ids, ["clips"])
    with pytest.raises(DataError, match=r"clips\.npy: cannot open packed file"):
        store.read("clips", np.array([0]))


@pytest.mark.parametrize("threshold", [0, 1 << 40])
def test_row_copy_and_gather_paths_agree(
    toy_root, monkeypatch: pytest.MonkeyPatch, threshold
) -> None:
    from avvp.data import features

    monkeypatch.setattr(features, "_ROW_COPY_MIN_BYTES", threshold)
    pack_dataset(toy_root.root, keys=KEYS, splits=["train"])
    split = load_split(toy_root.root, "train")
    packed = PackedFeatureStore(toy_root.root, "train", split.video_ids, KEYS)
    official = OfficialFeatureStore(toy_root.root, split.video_ids, KEYS)
    for indices in (np.array([2, 3, 4, 0, 6, 6, 1]), np.arange(7), np.array([5])):
        for key in KEYS:
            np.testing.assert_array_equal(packed.read(key, indices), official.read(key, indices))


def test_official_store_refuses_non_finite_features(toy_root) -> None:
    split = load_split(toy_root.root, "train")
    store = OfficialFeatureStore(toy_root.root, split.video_ids, ["audio"])
    victim_id = split.video_ids[2]
    victim = toy_root.feature_path("audio", victim_id)
    array = np.load(victim)
    array[4, 7] = np.inf
    np.save(victim, array)
    store.read("audio", np.array([0, 1]))  # other videos still load
    with pytest.raises(DataError, match=rf"{victim_id}\.npy: audio features of video {victim_id}"):
        store.read("audio", np.array([0, 2]))
    array[4, 7] = np.nan
    np.save(victim, array)
    with pytest.raises(DataError, match=r"non-finite values \(nan/inf\)"):
        store.read("audio", np.array([2]))


@pytest.mark.parametrize("key", ["audio", "clips"])  # gather path and, for clips, row copies
def test_packed_store_refuses_non_finite_rows(toy_root, monkeypatch, key: str) -> None:
    from avvp.data import features

    monkeypatch.setattr(features, "_ROW_COPY_MIN_BYTES", 0 if key == "clips" else 1 << 40)
    pack_dataset(toy_root.root, keys=[key], splits=["train"])
    split = load_split(toy_root.root, "train")
    file = toy_root.root / "packed" / "train" / f"{key}.npy"
    stat = file.stat()
    packed = np.load(file, mmap_mode="r+")
    packed[3, 1, 2] = np.nan
    packed.flush()
    del packed
    # Damage that keeps size and mtime (bit rot) passes the cheap staleness check.
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    store = PackedFeatureStore(toy_root.root, "train", split.video_ids, [key])
    assert store.read(key, np.array([0, 1, 2])).shape[0] == 3
    message = rf"{key}\.npy: row 3 \(video {split.video_ids[3]}\) of packed {key} holds non-finite"
    with pytest.raises(DataError, match=message):
        store.read(key, np.array([1, 3, 0]))
