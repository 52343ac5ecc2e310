"""``avvp explain CHECKPOINT --data ROOT --video NAME``: the qualitative figures for one video.

LEAP: the label-to-segment attention map per modality (as the LEAP paper's figures). MM-CSE: the
class-wise decoupled feature similarity map and the learned segment-wise class co-occurrence
(SECM attention), as in the MM-CSE paper. Every model: a timeline of ground truth vs prediction.
The figures are made by :func:`avvp.viz.explain.explain_video`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = ("explain",)
HELP = "save the qualitative figures of a model for one video (attention maps, timelines)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="run folder (best model) or checkpoint")
    parser.add_argument("--data", type=Path, required=True, help="dataset root")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument(
        "--video", required=True, help="filename (e.g. 4YdbENYcIyE_23_33), video id, or index"
    )
    parser.add_argument("--out", type=Path, default=Path("figures"), help="output folder")
    parser.add_argument("--segment", type=int, help="MM-CSE maps at one segment (default: mean)")
    parser.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from avvp.viz.explain import explain_video

    written = explain_video(
        args.checkpoint,
        data_root=args.data,
        video=args.video,
        out=args.out,
        split=args.split,
        segment=args.segment,
        device=args.device,
    )
    for path in written:
        print(path)
    return 0
