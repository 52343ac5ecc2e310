"""``avvp data pack ROOT``: pack per-video feature files into memory-mappable arrays."""

from __future__ import annotations

import argparse
from pathlib import Path

from avvp.data.features import FEATURE_SPECS
from avvp.data.llp import SPLIT_FILES

COMMAND: tuple[str, ...] = ("data", "pack")
HELP = (
    "pack per-video feature files of an LLP dataset root into <root>/packed (resumable: only "
    "missing or stale split/keys are rebuilt; --force rebuilds all)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="dataset root (annotation CSVs + feature folders)")
    parser.add_argument(
        "--keys",
        nargs="+",
        choices=sorted(FEATURE_SPECS),
        default=None,
        help="feature keys to pack (default: every key whose folder exists)",
    )
    parser.add_argument("--splits", nargs="+", choices=list(SPLIT_FILES), default=list(SPLIT_FILES))
    parser.add_argument("--out", type=Path, default=None, help="pack folder (default ROOT/packed)")
    parser.add_argument(
        "--frame-pool",
        type=int,
        default=8,
        help="store ResNet frames averaged per group of N (default 8: one row per segment, the "
        "same function for every model, 8x less traffic); 1 keeps all 80 frames",
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="skip re-hashing packed files (faster resume, less safe)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild every selected split/key, even those whose fingerprints say up to date",
    )


def run(args: argparse.Namespace) -> int:
    from avvp.data.pack import pack_dataset

    out = pack_dataset(
        args.root,
        splits=args.splits,
        keys=args.keys,
        out=args.out,
        verify=args.verify,
        frame_pool=args.frame_pool,
        force=args.force,
    )
    print(f"packed into {out} (manifest {out / 'manifest.json'})")
    return 0
