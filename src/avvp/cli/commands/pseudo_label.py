"""``avvp pseudo-label ROOT``: segment-level pseudo labels for new data from zero-shot teachers."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND: tuple[str, ...] = ("pseudo-label",)
HELP = (
    "write CLAP/ and CLIP/segment_pseudo_labels/<id>.npy (int (T, 25)) for a folder of videos "
    "with offline teachers, masked by the weak labels of ROOT's annotation CSVs"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="dataset root to write into")
    parser.add_argument(
        "--audio-teacher",
        required=True,
        metavar="yamnet:PATH",
        help="audio teacher: yamnet:PATH/TO/yamnet.tflite (class map read beside it)",
    )
    parser.add_argument(
        "--visual-teacher",
        default="efficientnet",
        metavar="efficientnet[:PATH]",
        help="visual teacher: efficientnet (packaged ImageNet weights) or efficientnet:WEIGHTS",
    )
    parser.add_argument(
        "--videos", type=Path, default=None, help="folder of videos (default ROOT/video)"
    )
    parser.add_argument("--thresholds", type=Path, default=None, help="per-class JSON/YAML")
    parser.add_argument(
        "--labels",
        type=Path,
        nargs="+",
        default=None,
        help="weak-label CSVs (default: the LLP CSVs found in ROOT or ROOT/annotations)",
    )
    parser.add_argument("--no-mask", action="store_true", help="do not mask by weak labels")
    parser.add_argument("--shard", default="0/1", help="i/n: process every n-th video from i")
    parser.add_argument("--overwrite", action="store_true", help="recompute existing files")


def run(args: argparse.Namespace) -> int:
    from avvp.pseudo.run import pseudo_label_folder, teacher_from_spec

    audio = teacher_from_spec(args.audio_teacher, modality="audio")
    visual = teacher_from_spec(args.visual_teacher, modality="visual")
    report = pseudo_label_folder(
        args.root,
        videos_dir=args.videos,
        audio_teacher=audio,
        visual_teacher=visual,
        thresholds_file=args.thresholds,
        label_files=args.labels,
        mask=not args.no_mask,
        shard=args.shard,
        overwrite=args.overwrite,
    )
    print(report.summary())
    return 1 if report.failed else 0
