"""AVE annotations, splits, labels and feature layouts."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from avvp.ave.data import (
    AVE_CLASSES,
    BACKGROUND,
    AVEDataset,
    open_features,
    read_annotations,
    read_split_order,
    segment_labels,
)
from avvp.ave.synth import SynthAVEConfig, generate_synthetic_ave
from avvp.errors import DataError


@pytest.fixture(scope="module")
def ave_dir(shared_data: Path) -> Path:
    path = shared_data / "ave"
    if not (path / "Annotations.txt").is_file():
        pytest.skip(f"AVE annotations not found in {path}")
    return path


def test_segment_labels_half_open_interval() -> None:
    assert segment_labels(6, 8, 3).tolist() == [28] * 6 + [3, 3] + [28] * 2
    assert segment_labels(0, 10, 0).tolist() == [0] * 10
    assert segment_labels(0, 0, 5).tolist() == [BACKGROUND] * 10  # empty event


def test_real_annotations_reproduce_reference_labels(ave_dir: Path) -> None:
    ann = read_annotations(ave_dir / "Annotations.txt")
    assert len(ann) == 4143
    assert ann.classes == AVE_CLASSES
    with h5py.File(ave_dir / "labels_closs.h5", "r") as f:
        closs = f["avadataset"][()]
    with h5py.File(ave_dir / "mil_labels.h5", "r") as f:
        mil = f["avadataset"][()]
    assert closs.shape == (4143, 10) and mil.shape == (4143, 29)
    np.testing.assert_array_equal(ann.event_mask(), closs)
    np.testing.assert_array_equal(ann.video_onehot(), mil)
    onehot = ann.segment_onehot()
    assert onehot.shape == (4143, 10, 29)
    has_event = closs.max(axis=1)[:, None]
    np.testing.assert_array_equal(onehot[..., :28].max(axis=1), mil[:, :28] * has_event)


def test_real_splits(ave_dir: Path) -> None:
    orders = [
        read_split_order(ave_dir / f"{s}_order.h5", num_videos=4143)
        for s in ("train", "val", "test")
    ]
    assert [len(o) for o in orders] == [3339, 402, 402]
    assert len(np.unique(np.concatenate(orders))) == 4143


def test_header_optional_and_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "Annotations.txt"
    path.write_text(
        "Category&VideoID&Quality&StartTime&EndTime\nBark&abc&good&2&5\nGoat&xyz&good&0&10\n"
    )
    ann = read_annotations(path)
    assert ann.classes == ("Bark", "Goat")
    assert ann.labels().tolist() == [[2, 2, 0, 0, 0, 2, 2, 2, 2, 2], [1] * 10]
    path.write_text("Bark&abc&good&2&5\nGoat&xyz&good&zero&10\n")
    with pytest.raises(DataError, match=r"Annotations.txt:2: StartTime"):
        read_annotations(path)
    path.write_text("Bark&abc&good&2\n")
    with pytest.raises(DataError, match=r"Annotations.txt:1: expected 5"):
        read_annotations(path)
    path.write_text("Bark&abc&good&7&5\n")
    with pytest.raises(DataError, match=r":1: event"):
        read_annotations(path)


def test_split_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "train_order.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("idx", data=np.arange(3))
    with pytest.raises(DataError, match="no dataset 'order'"):
        read_split_order(path)
    with h5py.File(path, "w") as f:
        f.create_dataset("order", data=np.array([0, 5]))
    with pytest.raises(DataError, match="outside"):
        read_split_order(path, num_videos=3)


@pytest.mark.parametrize("layout", ["npy", "hdf5"])
def test_synthetic_roundtrip(tmp_path: Path, layout: str) -> None:
    cfg = SynthAVEConfig(videos=40, seed=3, visual_dim=16, layout=layout)
    root = generate_synthetic_ave(tmp_path / "a", cfg, progress=False)
    again = generate_synthetic_ave(tmp_path / "b", cfg, progress=False)
    assert (root / "Annotations.txt").read_text() == (again / "Annotations.txt").read_text()
    ann = read_annotations(root / "Annotations.txt")
    assert ann.classes == AVE_CLASSES  # every class present, in canonical order
    sizes = [len(AVEDataset(root, s)) for s in ("train", "val", "test")]
    assert sum(sizes) == 40
    ds = AVEDataset(root, "train")
    batch = ds.get_batch(np.array([3, 0, 3]))
    assert batch["audio"].shape == (3, 10, 128)
    assert batch["visual"].shape == (3, 10, 7, 7, 16)
    assert batch["label"].dtype == torch.int64 and batch["category"].dtype == torch.int64
    np.testing.assert_array_equal(batch["audio"][0].numpy(), batch["audio"][2].numpy())
    other = AVEDataset(again, "train").get_batch(np.array([3]))
    np.testing.assert_array_equal(batch["visual"][:1].numpy(), other["visual"].numpy())
    labels = batch["label"].numpy()
    cats = batch["category"].numpy()
    for row, cat in zip(labels, cats, strict=True):
        event = row != BACKGROUND
        assert set(row[event].tolist()) <= {int(cat)}
        if event.any():  # one contiguous event
            idx = np.flatnonzero(event)
            assert idx[-1] - idx[0] + 1 == len(idx)


def test_synthetic_default_shapes_are_real() -> None:
    cfg = SynthAVEConfig()
    assert (cfg.audio_dim, cfg.spatial, cfg.visual_dim) == (128, 7, 512)


def test_feature_errors(tmp_path: Path) -> None:
    root = generate_synthetic_ave(
        tmp_path / "d", SynthAVEConfig(videos=30, visual_dim=8), progress=False
    )
    ann = read_annotations(root / "Annotations.txt")
    bad = root / "visual" / f"{ann.video_ids[0]}.npy"
    np.save(bad, np.zeros((10, 5), dtype=np.float32))
    with pytest.raises(DataError, match=ann.video_ids[0]):
        open_features(root, ann)
    with pytest.raises(DataError, match="no AVE features"):
        open_features(tmp_path, ann)
    with h5py.File(tmp_path / "audio_feature.h5", "w") as f:
        f.create_dataset("feat", data=np.zeros((30, 10, 128), dtype=np.float32))
    with h5py.File(tmp_path / "visual_feature.h5", "w") as f:
        f.create_dataset("avadataset", data=np.zeros((30, 10, 2, 2, 4), dtype=np.float32))
    with pytest.raises(DataError, match=r"audio_feature\.h5: no dataset 'avadataset'"):
        open_features(tmp_path, ann)
