"""``avvp eval RUN_OR_CHECKPOINT --data ROOT --split test``."""

from __future__ import annotations

import argparse
from pathlib import Path

from avvp.jsonio import dumps_strict

COMMAND = ("eval",)
HELP = "evaluate a run folder or checkpoint (LLP: the benchmark protocol; AVE: segment accuracy)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", type=Path, help="run folder (uses its best model) or checkpoint"
    )
    parser.add_argument("--data", type=Path, required=True, help="dataset root")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument(
        "--gate",
        choices=("pooled", "or", "modality", "mmcse"),
        help="LLP: video-level gate of the inference rule (default: the model's own; "
        "mmcse = the MM-CSE code's gating: visual by the visual-only video probability)",
    )
    parser.add_argument("--out", type=Path, help="folder for report.json and predictions")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from avvp.training.runs import evaluate_checkpoint

    result = evaluate_checkpoint(
        args.checkpoint,
        data_root=args.data,
        split=args.split,
        device=args.device,
        gate=args.gate,
        batch_size=args.batch_size,
        out=args.out,
    )
    if args.json:
        print(dumps_strict(result.report))
        return 0
    print(f"{result.prefix} on the {args.split} split ({result.num_videos} videos)")
    print(result.summary)
    print(f"\nreport and predictions: {result.out}")
    return 0
