"""Score prediction files (LLP evaluation TSV layout) against a split's ground truth
(``avvp score``): the benchmark protocol on all videos and on the overlapping /
non-overlapping subsets."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avvp.errors import DataError
from avvp.metrics.accumulator import ParsingMetric

#: The subsets ``avvp score`` reports, in order.
SCORE_SUBSETS = ("all", "overlap", "non_overlap")


@dataclass
class ScoredPredictions:
    metric: ParsingMetric  # accumulated over the split, with every subset of SCORE_SUBSETS
    annotations: Path  # the folder the annotation CSVs were read from
    num_videos: int  # videos of the split


def score_prediction_files(
    predictions: Sequence[Path], *, annotations: Path, split: str = "test"
) -> ScoredPredictions:
    """Score one combined predictions file (with a ``modality`` column) or an audio and a visual
    file against ``split`` of ``annotations`` (the CSV folder, or a dataset root holding
    ``annotations/``)."""
    from avvp.data.llp import find_annotations_dir, load_split
    from avvp.data.predictions import read_predictions

    if len(predictions) > 2:
        raise DataError(
            f"expected one combined predictions file or an audio and a visual file, "
            f"got {len(predictions)} files"
        )
    with contextlib.suppress(DataError):  # else load_split names the missing file precisely
        annotations = find_annotations_dir(annotations)
    loaded = load_split(annotations, split)
    if loaded.gt_audio is None or loaded.gt_visual is None:
        raise DataError(
            f"{annotations}: split {split!r} has no segment-level ground truth "
            "(AVVP_eval_audio.csv / AVVP_eval_visual.csv)"
        )
    num_segments = loaded.gt_audio.shape[2]
    pred_audio, pred_visual = read_predictions(
        predictions, loaded.filenames, num_segments=num_segments
    )
    metric = ParsingMetric(subsets=SCORE_SUBSETS)
    metric.update(pred_audio, pred_visual, loaded.gt_audio, loaded.gt_visual)
    return ScoredPredictions(
        metric=metric, annotations=annotations, num_videos=len(loaded.filenames)
    )


def scores_report(metric: ParsingMetric, *, per_class: bool = False) -> dict[str, Any]:
    """The ten numbers on all videos, ``num_videos``, the same per subset under ``subsets``
    and, with ``per_class``, the per-class event-level F1 by modality."""
    report: dict[str, Any] = dict(metric.compute("all"))
    report["num_videos"] = metric.count("all")
    report["subsets"] = {
        s: {
            "num_videos": metric.count(s),
            **metric.compute(s),
        }
        for s in SCORE_SUBSETS[1:]
    }
    if per_class:
        report["per_class_event_f1"] = {
            m: [float(x) for x in values]
            for m, values in metric.per_class_f1(level="event").items()
        }
    return report
