"""avvp.metrics.scoring: prediction files scored against a split (the library of avvp score)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from avvp.data.predictions import write_predictions
from avvp.errors import DataError
from avvp.metrics import METRIC_KEYS, parsing_scores
from avvp.metrics.scoring import score_prediction_files, scores_report

NAMES = ["aaaaaaaaaaa_0_10", "bbbbbbbbbbb_0_10"]


def write_annotations(root: Path) -> Path:
    root.mkdir(parents=True)
    weak = "filename\tevent_labels\n"
    (root / "AVVP_train.csv").write_text(weak + "ttttttttttt_0_10\tSpeech\n")
    (root / "AVVP_val_pd.csv").write_text(weak + "vvvvvvvvvvv_0_10\tDog\n")
    (root / "AVVP_test_pd.csv").write_text(weak + f"{NAMES[0]}\tSpeech,Dog\n{NAMES[1]}\tCar\n")
    header = "filename\tonset\toffset\tevent_labels\n"
    (root / "AVVP_eval_audio.csv").write_text(
        header + f"{NAMES[0]}\t0\t6\tSpeech\n{NAMES[0]}\t4\t10\tDog\n{NAMES[1]}\t2\t5\tCar\n"
    )
    (root / "AVVP_eval_visual.csv").write_text(header + f"{NAMES[0]}\t3\t8\tDog\n")
    return root


def test_scores_match_the_protocol_on_the_arrays(tmp_path: Path) -> None:
    annotations = write_annotations(tmp_path / "data" / "annotations")
    gt_a = np.zeros((2, 25, 10), dtype=bool)
    gt_v = np.zeros((2, 25, 10), dtype=bool)
    gt_a[0, 0, 0:6] = gt_a[0, 3, 4:10] = gt_a[1, 1, 2:5] = True
    gt_v[0, 3, 3:8] = True
    pred_a, pred_v = gt_a.copy(), gt_v.copy()
    pred_a[1, 1, 5:9] = True
    write_predictions(tmp_path / "p.tsv", NAMES, pred_a, pred_v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader's data-defect summary
        # A dataset root is accepted for its annotations/ folder.
        scored = score_prediction_files([tmp_path / "p.tsv"], annotations=tmp_path / "data")
    assert scored.annotations == annotations and scored.num_videos == 2
    report = scores_report(scored.metric, per_class=True)
    want = parsing_scores(pred_a, pred_v, gt_a, gt_v)
    for key in METRIC_KEYS:
        assert report[key] == pytest.approx(want[key], abs=1e-12)
    assert report["num_videos"] == 2
    assert report["subsets"]["overlap"]["num_videos"] == 1
    assert report["subsets"]["non_overlap"]["num_videos"] == 1
    assert len(report["per_class_event_f1"]["audio"]) == 25
    assert "per_class_event_f1" not in scores_report(scored.metric)


def test_more_than_two_files_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="got 3 files"):
        score_prediction_files([tmp_path / "a"] * 3, annotations=tmp_path)
