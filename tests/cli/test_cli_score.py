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


def write_sampled_annotations(root: Path, *, num_test: int, seed: int) -> Path:
    """An LLP-sized test split (and a small val split) whose labels and segment-level ground
    truth follow the real LLP statistics (``sample_annotations``), in the official layout."""
    from avvp.classes import LLP_CLASSES
    from avvp.data.llp_stats import load_llp_stats
    from avvp.data.synth import sample_annotations

    rng = np.random.default_rng(seed)
    stats = load_llp_stats()
    root.mkdir(parents=True, exist_ok=True)
    weak = ["filename\tevent_labels"]
    rows = {"audio": ["filename\tonset\toffset\tevent_labels"]}
    rows["visual"] = list(rows["audio"])
    for split, count in (("val", 20), ("test", num_test)):
        ann = sample_annotations(count, stats=stats, rng=rng)
        names = [f"{split[0]}{i:010d}_0_10" for i in range(count)]
        lines = list(weak)
        for name, label in zip(names, ann.labels, strict=True):
            lines.append(f"{name}\t" + ",".join(LLP_CLASSES[k] for k in np.flatnonzero(label)))
        file = "AVVP_test_pd.csv" if split == "test" else "AVVP_val_pd.csv"
        (root / file).write_text("\n".join(lines) + "\n")
        for modality, gt in (("audio", ann.gt_audio), ("visual", ann.gt_visual)):
            for name, per_class in zip(names, gt, strict=True):
                for k, row in enumerate(per_class):
                    # maximal runs of 1s -> one eval row each (offset exclusive)
                    edges = np.diff(np.concatenate([[0], row.astype(int), [0]]))
                    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
                    for on, off in zip(starts, ends, strict=True):
                        rows[modality].append(f"{name}\t{on}\t{off}\t{LLP_CLASSES[k]}")
    (root / "AVVP_train.csv").write_text("\n".join(weak) + "\n")
    for modality, lines in rows.items():
        (root / f"AVVP_eval_{modality}.csv").write_text("\n".join(lines) + "\n")
    return root


def check_test_split_scoring(
    annotations: Path, num_videos: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ground truth scores 1.0 everywhere; perturbed predictions score what parsing_scores says,
    on all videos and on the overlap subset."""
    from avvp.data.llp import load_split

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = load_split(annotations, "test")
    assert split.gt_audio is not None and split.gt_visual is not None
    gt_a = split.gt_audio.astype(bool)
    gt_v = split.gt_visual.astype(bool)
    write_predictions(tmp_path / "gt.tsv", split.filenames, gt_a, gt_v)
    report = score_json(capsys, str(tmp_path / "gt.tsv"), "--annotations", str(annotations))
    assert report["num_videos"] == len(split.filenames) == num_videos
    assert all(report[k] == 1.0 for k in METRIC_KEYS)
    n_overlap = int(overlap_mask(gt_a, gt_v).sum())
    assert 0 < n_overlap < num_videos
    assert report["subsets"]["overlap"]["num_videos"] == n_overlap
    assert report["subsets"]["non_overlap"]["num_videos"] == num_videos - n_overlap

    rng = np.random.default_rng(0)
    pred_a = np.roll(gt_a, 1, axis=2) | (rng.random(gt_a.shape) < 0.01)
    pred_v = gt_v & (rng.random(gt_v.shape) < 0.9)
    write_predictions(tmp_path / "pert.tsv", split.filenames, pred_a, pred_v)
    report = score_json(capsys, str(tmp_path / "pert.tsv"), "--annotations", str(annotations))
    want = parsing_scores(pred_a, pred_v, gt_a, gt_v)
    for key in METRIC_KEYS:
        assert report[key] == pytest.approx(want[key], abs=1e-12)
    mask = overlap_mask(gt_a, gt_v)
    want_overlap = parsing_scores(pred_a[mask], pred_v[mask], gt_a[mask], gt_v[mask])
    for key in METRIC_KEYS:
        assert report["subsets"]["overlap"][key] == pytest.approx(want_overlap[key], abs=1e-12)


def test_llp_sized_sampled_test_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real test split's size and label statistics, without the real files."""
    annotations = write_sampled_annotations(tmp_path / "ann", num_test=1200, seed=0)
    check_test_split_scoring(annotations, 1200, tmp_path, capsys)


def test_real_llp_test_split(
    llp_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_test_split_scoring(llp_dir, 1200, tmp_path, capsys)
