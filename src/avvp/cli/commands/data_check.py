"""``avvp data check ROOT``: report every problem of an LLP dataset root (exit status 1 if any)."""

from __future__ import annotations

import argparse
from pathlib import Path

from avvp.data.features import FEATURE_SPECS

COMMAND: tuple[str, ...] = ("data", "check")
HELP = "check an LLP dataset root: annotations, feature files, packed manifest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="dataset root (annotation CSVs + feature folders)")
    parser.add_argument(
        "--keys",
        nargs="+",
        choices=sorted(FEATURE_SPECS),
        default=None,
        help="feature keys to check (default: every key whose folder exists)",
    )


def run(args: argparse.Namespace) -> int:
    from avvp.data.check import check_dataset_report

    report = check_dataset_report(args.root, keys=args.keys)
    for problem in report.problems:
        print(problem)
    status = f"{len(report.problems)} problem(s)" if report.problems else "clean"
    print(
        f"{args.root}: {status}; {report.videos} videos, keys {', '.join(report.keys) or 'none'}, "
        f"{report.files_checked} files checked, "
        f"{report.annotation_defects} known annotation defect(s) tolerated"
    )
    return 1 if report.problems else 0
