"""``avvp score PREDICTIONS.tsv [VISUAL.tsv] --annotations DIR --split test [--json]``.

Scores event predictions in the LLP evaluation layout (see :mod:`avvp.data.predictions`) against
a split's segment-level ground truth with the benchmark protocol, on all videos and on the
overlapping / non-overlapping subsets.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from avvp.errors import DataError
from avvp.jsonio import dumps_strict

COMMAND = ("score",)
HELP = (
    "score LLP event predictions (TSV) against a split's ground truth (the ten benchmark numbers)"
)

_ROW_NAMES = {"all": "all", "overlap": "overlapping", "non_overlap": "non-overlapping"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "predictions",
        type=Path,
        nargs="+",
        metavar="PREDICTIONS",
        help="one combined TSV (with a 'modality' column) or an audio TSV and a visual TSV",
    )
    parser.add_argument(
        "--annotations",
        type=Path,
        required=True,
        help="folder with the LLP annotation CSVs (or a dataset root with annotations/)",
    )
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--json", action="store_true", help="print a JSON object instead")
    parser.add_argument(
        "--per-class", action="store_true", help="also print the per-class event-level F1"
    )


def run(args: argparse.Namespace) -> int:
    from avvp.classes import LLP_CLASSES
    from avvp.data.llp import find_annotations_dir, load_split
    from avvp.data.predictions import read_predictions
    from avvp.metrics import ParsingMetric, format_per_class_table, format_scores_table

    if len(args.predictions) > 2:
        raise DataError(
            f"expected one combined predictions file or an audio and a visual file, "
            f"got {len(args.predictions)} files"
        )
    annotations = args.annotations
    with contextlib.suppress(DataError):  # else load_split names the missing file precisely
        annotations = find_annotations_dir(annotations)
    split = load_split(annotations, args.split)
    if split.gt_audio is None or split.gt_visual is None:
        raise DataError(
            f"{annotations}: split {args.split!r} has no segment-level ground truth "
            "(AVVP_eval_audio.csv / AVVP_eval_visual.csv)"
        )
    num_segments = split.gt_audio.shape[2]
    pred_audio, pred_visual = read_predictions(
        args.predictions, split.filenames, num_segments=num_segments
    )
    metric = ParsingMetric(subsets=("all", "overlap", "non_overlap"))
    metric.update(pred_audio, pred_visual, split.gt_audio, split.gt_visual)

    if args.json:
        report: dict[str, Any] = dict(metric.compute("all"))
        report["num_videos"] = metric.count("all")
        report["subsets"] = {
            s: {
                "num_videos": metric.count(s),
                **metric.compute(s),
            }
            for s in ("overlap", "non_overlap")
        }
        if args.per_class:
            report["per_class_event_f1"] = {
                m: [float(x) for x in values]
                for m, values in metric.per_class_f1(level="event").items()
            }
        print(dumps_strict(report))
        return 0

    rows = {
        f"{_ROW_NAMES[s]} ({metric.count(s)})": metric.compute(s)
        for s in ("all", "overlap", "non_overlap")
    }
    print(f"LLP {args.split} split, {len(split.filenames)} videos")
    print(format_scores_table(rows))
    if args.per_class:
        print()
        print("Per-class event-level F1")
        print(format_per_class_table(metric.per_class_f1(level="event"), LLP_CLASSES))
    return 0
