"""``avvp score``: prediction files scored against a split's ground truth."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from avvp.cli import main
from avvp.data.predictions import write_predictions
from avvp.metrics import METRIC_KEYS, overlap_mask, parsing_scores

TEST_NAMES = ["aaaaaaaaaaa_0_10", "bbbbbbbbbbb_0_10", "ccccccccccc_0_10"]


def write_toy_annotations(root: Path) -> Path:
    """A three-video test split with segment-level ground truth (official file names)."""
    root.mkdir(parents=True, exist_ok=True)
    weak = "filename\tevent_labels\n"
    (root / "AVVP_train.csv").write_text(weak + "ttttttttttt_0_10\tSpeech\n")
    (root / "AVVP_val_pd.csv").write_text(weak + "vvvvvvvvvvv_0_10\tDog\n")
    (root / "AVVP_test_pd.csv").write_text(
        weak + f"{TEST_NAMES[0]}\tSpeech,Dog\n{TEST_NAMES[1]}\tCar\n{TEST_NAMES[2]}\tDog\n"
    )
    header = "filename\tonset\toffset\tevent_labels\n"
    (root / "AVVP_eval_audio.csv").write_text(
        header
        + f"{TEST_NAMES[0]}\t0\t6\tSpeech\n{TEST_NAMES[0]}\t4\t10\tDog\n"  # overlapping video
        + f"{TEST_NAMES[1]}\t2\t5\tCar\n"
        + "vvvvvvvvvvv_0_10\t0\t10\tDog\n"
    )
    (root / "AVVP_eval_visual.csv").write_text(
        header + f"{TEST_NAMES[0]}\t3\t8\tDog\n{TEST_NAMES[2]}\t0\t10\tDog\n"
    )
    return root


def toy_ground_truth() -> tuple[np.ndarray, np.ndarray]:
    """The arrays the toy eval files above describe (class 0 Speech, 1 Car, 3 Dog)."""
    gt_a = np.zeros((3, 25, 10), dtype=bool)
    gt_v = np.zeros((3, 25, 10), dtype=bool)
    gt_a[0, 0, 0:6] = gt_a[0, 3, 4:10] = gt_a[1, 1, 2:5] = True
    gt_v[0, 3, 3:8] = gt_v[2, 3, 0:10] = True
    return gt_a, gt_v


def score_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader's data-defect summary
        assert main(["score", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_toy_split_perfect_and_perturbed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = write_toy_annotations(tmp_path / "ann")
    gt_a, gt_v = toy_ground_truth()
    write_predictions(tmp_path / "gt.tsv", TEST_NAMES, gt_a, gt_v)
    report = score_json(capsys, str(tmp_path / "gt.tsv"), "--annotations", str(ann))
    assert all(report[k] == 1.0 for k in METRIC_KEYS)
    assert report["num_videos"] == 3
    assert report["subsets"]["overlap"]["num_videos"] == 1
    assert report["subsets"]["non_overlap"]["num_videos"] == 2

    pred_a, pred_v = gt_a.copy(), gt_v.copy()
    pred_a[1, 1, 5:9] = True  # Car extended: IoU 3/7
    pred_v[2, 3] = False  # visual Dog missed
    pred_a[2, 7, 0:2] = True  # a false alarm
    paths = write_predictions(tmp_path / "pert.tsv", TEST_NAMES, pred_a, pred_v, combined=False)
    report = score_json(capsys, *map(str, paths), "--annotations", str(ann), "--per-class")
    want = parsing_scores(pred_a, pred_v, gt_a, gt_v)
    for key in METRIC_KEYS:
        assert report[key] == pytest.approx(want[key], abs=1e-12)
    assert report["event/audio"] < 1.0
    assert len(report["per_class_event_f1"]["audio"]) == 25
    assert report["per_class_event_f1"]["audio"][5] is None  # never present, never predicted

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(tmp_path / "pert.tsv"), "--annotations", str(ann)]) == 2
    assert "not found" in capsys.readouterr().err


def test_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = write_toy_annotations(tmp_path / "ann")
    empty = np.zeros((3, 25, 10), dtype=bool)
    write_predictions(tmp_path / "none.tsv", TEST_NAMES, empty, empty)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(tmp_path / "none.tsv"), "--annotations", str(ann)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "LLP test split, 3 videos"
    rows = {line.split(" (")[0]: line.split()[-10:] for line in lines[3:]}
    assert set(rows) == {"all", "overlapping", "non-overlapping"}
    gt_a, gt_v = toy_ground_truth()
    want = parsing_scores(empty, empty, gt_a, gt_v)
    assert rows["all"] == [f"{100 * want[k]:.1f}" for k in METRIC_KEYS]


def test_bad_prediction_row_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = write_toy_annotations(tmp_path / "ann")
    bad = tmp_path / "bad.tsv"
    bad.write_text(
        "filename\tonset\toffset\tevent_labels\tmodality\n"
        f"{TEST_NAMES[0]}\t0\t3\tSpeech\taudio\n"
        f"{TEST_NAMES[0]}\t0\t3\tNoSuchClass\taudio\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["score", str(bad), "--annotations", str(ann)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("avvp: error: ")
    assert f"{bad}:3: unknown class name 'NoSuchClass'" in err


def test_real_llp_test_split(
    llp_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from avvp.data.llp import load_split

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = load_split(llp_dir, "test")
    assert split.gt_audio is not None and split.gt_visual is not None
    gt_a = split.gt_audio.astype(bool)
    gt_v = split.gt_visual.astype(bool)
    write_predictions(tmp_path / "gt.tsv", split.filenames, gt_a, gt_v)
    report = score_json(capsys, str(tmp_path / "gt.tsv"), "--annotations", str(llp_dir))
    assert report["num_videos"] == len(split.filenames) == 1200
    assert all(report[k] == 1.0 for k in METRIC_KEYS)
    n_overlap = int(overlap_mask(gt_a, gt_v).sum())
    assert report["subsets"]["overlap"]["num_videos"] == n_overlap
    assert report["subsets"]["non_overlap"]["num_videos"] == 1200 - n_overlap

    rng = np.random.default_rng(0)
    pred_a = np.roll(gt_a, 1, axis=2) | (rng.random(gt_a.shape) < 0.01)
    pred_v = gt_v & (rng.random(gt_v.shape) < 0.9)
    write_predictions(tmp_path / "pert.tsv", split.filenames, pred_a, pred_v)
    report = score_json(capsys, str(tmp_path / "pert.tsv"), "--annotations", str(llp_dir))
    want = parsing_scores(pred_a, pred_v, gt_a, gt_v)
    for key in METRIC_KEYS:
        assert report[key] == pytest.approx(want[key], abs=1e-12)
    mask = overlap_mask(gt_a, gt_v)
    want_overlap = parsing_scores(pred_a[mask], pred_v[mask], gt_a[mask], gt_v[mask])
    for key in METRIC_KEYS:
        assert report["subsets"]["overlap"][key] == pytest.approx(want_overlap[key], abs=1e-12)
