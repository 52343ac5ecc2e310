"""``avvp data stats``: re-derive the LLP statistics the synthetic generator samples from."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND: tuple[str, ...] = ("data", "stats")
HELP = "derive LLP annotation statistics (llp_stats.json) from the official annotation CSVs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "annotations",
        type=Path,
        help="folder with the official LLP CSVs (or a root with annotations/)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the JSON (default: print a summary only)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the committed llp_stats.json; exit 1 if it differs",
    )


def run(args: argparse.Namespace) -> int:
    from avvp.data.llp import find_annotations_dir
    from avvp.data.llp_stats import (
        STATS_PATH,
        derive_llp_stats,
        dumps_stats,
        stats_from_dict,
        write_llp_stats,
    )

    stats = derive_llp_stats(find_annotations_dir(args.annotations))
    parsed = stats_from_dict(stats)
    print(
        f"train videos {stats['train']['num_videos']}, label sets {len(parsed.label_sets)}; "
        f"val+test videos {stats['eval']['num_videos']}"
    )
    for m in ("audio", "visual"):
        print(
            f"  {m}: events/video {parsed.mean_events_per_video(m):.3f}, "
            f"segments with 2+ events {parsed.overlap_fraction(m):.4f}"
        )
    status = 0
    if args.check:
        same = STATS_PATH.read_text(encoding="utf-8") == dumps_stats(stats)
        print(f"committed {STATS_PATH.name}: {'identical' if same else 'DIFFERENT'}")
        status = 0 if same else 1
    if args.out is not None:
        print(f"wrote {write_llp_stats(stats, args.out)}")
    return status
