"""LLP annotations: parsing, ground truth, defect warnings (real files when present, toy files)."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import avvp_tests_data_toy as toy  # registered by tests/data/conftest.py
import numpy as np
import pytest

from avvp.classes import CLASS_INDEX
from avvp.data.llp import (
    EVAL_FILES,
    FULL_FILE,
    SPLIT_FILES,
    DataDefectWarning,
    EventRecord,
    WeakLabelRecord,
    find_annotations_dir,
    load_split,
    read_eval_events,
    read_weak_labels,
)
from avvp.errors import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings("ignore::avvp.data.llp.DataDefectWarning")


def _load_quiet(path: Path, split: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataDefectWarning)
        return load_split(path, split)


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter="\t"))[1:]


# ---------------------------------------------------------------- real files


def test_real_row_counts(llp_dir: Path) -> None:
    counts = {name: len(read_weak_labels(llp_dir / file)) for name, file in SPLIT_FILES.items()}
    assert counts == {"train": 10000, "val": 649, "test": 1200}
    assert len(read_weak_labels(llp_dir / FULL_FILE)) == 11849
    train = read_weak_labels(llp_dir / SPLIT_FILES["train"])
    assert train[0] == WeakLabelRecord("BjCEufrlXm4_20_30", ("Speech", "Dog"))
    assert train[0].video_id == "BjCEufrlXm4"


def test_real_eval_defect_counts(llp_dir: Path) -> None:
    with pytest.warns(DataDefectWarning) as record:
        val = load_split(llp_dir, "val")
    assert len([w for w in record if w.category is DataDefectWarning]) == 1
    test = _load_quiet(llp_dir, "test")
    for split in (val, test):
        # Same eval files for both loads: the unmatched names are counted over the whole file.
        assert split.defects["eval_audio_unmatched_filename"] == 8
        assert split.defects["eval_visual_unmatched_filename"] == 7
    no_audio = val.defects["video_without_audio_rows"] + test.defects["video_without_audio_rows"]
    no_visual = val.defects["video_without_visual_rows"] + test.defects["video_without_visual_rows"]
    assert (no_audio, no_visual) == (9, 191)
    # Independent check of the no-rows counts by a plain csv pass.
    names = {r[0] for s in ("val", "test") for r in _csv_rows(llp_dir / SPLIT_FILES[s])}
    for modality, expected in (("audio", 9), ("visual", 191)):
        with_rows = {r[0] for r in _csv_rows(llp_dir / EVAL_FILES[modality])}
        assert len(names - with_rows) == expected


def test_real_test_videos_with_both_modalities(llp_dir: Path) -> None:
    test = _load_quiet(llp_dir, "test")
    assert test.gt_audio is not None and test.gt_visual is not None
    assert test.gt_audio.shape == (1200, 25, 10) and test.gt_audio.dtype == np.float32
    from_gt = int(
        np.sum(test.gt_audio.reshape(1200, -1).any(1) & test.gt_visual.reshape(1200, -1).any(1))
    )
    names = {r[0] for r in _csv_rows(llp_dir / SPLIT_FILES["test"])}
    marked: dict[str, set[str]] = {}
    for modality, file in EVAL_FILES.items():
        marked[modality] = {
            r[0] for r in _csv_rows(llp_dir / file) if r[0] in names and int(r[2]) > int(r[1])
        }
    from_csv = len(marked["audio"] & marked["visual"])
    assert from_gt == from_csv == 1073


def test_real_ground_truth_fill(llp_dir: Path) -> None:
    val = _load_quiet(llp_dir, "val")
    assert val.gt_audio is not None and val.gt_visual is not None
    row_of = {name: i for i, name in enumerate(val.filenames)}
    expected_a = np.zeros_like(val.gt_audio)
    for name, onset, offset, label in _csv_rows(llp_dir / EVAL_FILES["audio"]):
        if name in row_of:
            expected_a[row_of[name], CLASS_INDEX[label], int(onset) : int(offset)] = 1
    np.testing.assert_array_equal(val.gt_audio, expected_a)
    assert val.labels.shape == (649, 25)
    assert val.gt_visual.sum() > 0


def test_real_train_has_no_ground_truth(llp_dir: Path) -> None:
    train = _load_quiet(llp_dir, "train")
    assert train.gt_audio is None and train.gt_visual is None
    assert len(train.video_ids) == len(set(train.video_ids)) == 10000


# ---------------------------------------------------------------- synthetic files


def test_toy_split_and_ground_truth(tmp_path: Path) -> None:
    ds = toy.write_toy_dataset(tmp_path, keys=())
    test = load_split(tmp_path, "test")
    assert test.filenames == ds.filenames["test"]
    for row, labs in enumerate(ds.labels["test"]):
        assert {i for i in np.flatnonzero(test.labels[row])} == {CLASS_INDEX[x] for x in labs}
    events = read_eval_events(tmp_path / EVAL_FILES["visual"])
    assert all(isinstance(e, EventRecord) for e in events)
    expected = np.zeros((len(test), 25, 10), dtype=np.float32)
    for e in events:
        if e.filename in test.filenames:
            expected[test.filenames.index(e.filename), CLASS_INDEX[e.label], e.onset : e.offset] = 1
    np.testing.assert_array_equal(test.gt_visual, expected)


def test_malformed_row_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "AVVP_train.csv"
    path.write_text("filename\tevent_labels\nabcdefghijk_0_10\tSpeech\nbroken row\n")
    with pytest.raises(DataError, match=r"AVVP_train\.csv:3"):
        read_weak_labels(path)
    path.write_text("file\tlabels\nabcdefghijk_0_10\tSpeech\n")
    with pytest.raises(DataError, match=r"AVVP_train\.csv:1: expected header"):
        read_weak_labels(path)
    events = tmp_path / "AVVP_eval_audio.csv"
    events.write_text("filename\tonset\toffset\tevent_labels\nabcdefghijk_0_10\t0\tx\tSpeech\n")
    with pytest.raises(DataError, match=r"AVVP_eval_audio\.csv:2: onset/offset"):
        read_eval_events(events)


def test_crlf_trailing_newline_unknown_class(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_bytes(
        b"filename\tevent_labels\r\nabcdefghijk_0_10\tSpeech,Nope\r\nbbcdefghijk_0_10\tDog\r\n\r\n"
    )
    with pytest.warns(DataDefectWarning, match=r"1 class names not in the 25") as record:
        records = read_weak_labels(path)
    assert len(record) == 1
    assert records == [
        WeakLabelRecord("abcdefghijk_0_10", ("Speech",)),
        WeakLabelRecord("bbcdefghijk_0_10", ("Dog",)),
    ]


def test_toy_defects_one_warning_no_video_dropped(tmp_path: Path) -> None:
    ds = toy.write_toy_dataset(tmp_path, keys=())
    name = ds.filenames["val"][0]
    other_label = next(c for c in CLASS_INDEX if c not in ds.labels["val"][0])
    with open(tmp_path / EVAL_FILES["audio"], "a", encoding="utf-8") as handle:
        handle.write(f"{name}\t3\t3\t{ds.labels['val'][0][0]}\n")  # empty
        handle.write(f"{name}\t8\t2\t{ds.labels['val'][0][0]}\n")  # reversed
        handle.write(f"{name}\t-2\t12\t{other_label}\n")  # out of range, not in weak label
        handle.write("zzzzzzzzzzz_0_10\t0\t5\tSpeech\n")  # matches no video
        handle.write(f"{name}\t0\t5\tNot_a_class\n")  # unknown class
    with pytest.warns(DataDefectWarning) as record:
        val = load_split(tmp_path, "val")
    assert len(record) == 1
    assert len(val) == len(ds.filenames["val"])
    d = val.defects
    assert d["empty_event"] == 1 and d["reversed_event"] == 1 and d["out_of_range_event"] == 1
    assert d["eval_audio_unmatched_filename"] == 1 and d["unknown_class"] == 1
    assert d["event_class_not_in_weak_label"] >= 1
    assert val.gt_audio is not None
    assert val.gt_audio[0, CLASS_INDEX[other_label]].sum() == 10  # clipped to [0, 10)


def test_find_annotations_dir_and_split_names(tmp_path: Path) -> None:
    toy.write_toy_dataset(tmp_path / "a", keys=(), annotations_subdir=True)
    assert find_annotations_dir(tmp_path / "a") == tmp_path / "a" / "annotations"
    toy.write_toy_dataset(tmp_path / "b", keys=())
    assert find_annotations_dir(tmp_path / "b") == tmp_path / "b"
    with pytest.raises(DataError, match="no LLP annotations"):
        find_annotations_dir(tmp_path)
    with pytest.raises(ConfigError, match="unknown LLP split"):
        load_split(tmp_path / "b", "training")
