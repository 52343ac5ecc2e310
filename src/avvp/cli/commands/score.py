"""``avvp score PREDICTIONS.tsv [VISUAL.tsv] --annotations DIR --split test [--json]``.

Scores event predictions in the LLP evaluation layout (see :mod:`avvp.data.predictions`) against
a split's segment-level ground truth with the benchmark protocol, on all videos and on the
overlapping / non-overlapping subsets.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
    from avvp.metrics import format_per_class_table, format_scores_table
    from avvp.metrics.scoring import SCORE_SUBSETS, score_prediction_files, scores_report

    scored = score_prediction_files(
        args.predictions, annotations=args.annotations, split=args.split
    )
    metric = scored.metric
    if args.json:
        print(dumps_strict(scores_report(metric, per_class=args.per_class)))
        return 0

    rows = {f"{_ROW_NAMES[s]} ({metric.count(s)})": metric.compute(s) for s in SCORE_SUBSETS}
    print(f"LLP {args.split} split, {scored.num_videos} videos")
    print(format_scores_table(rows))
    if args.per_class:
        print()
        print("Per-class event-level F1")
        print(format_per_class_table(metric.per_class_f1(level="event"), LLP_CLASSES))
    return 0
