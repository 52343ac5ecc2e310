"""``avvp data synth-ave --out DIR --seed S [--videos N]``: a synthetic AVE root."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND: tuple[str, ...] = ("data", "synth-ave")
HELP = "write a synthetic AVE-like dataset (Annotations.txt, split files, features)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="dataset root to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--videos", type=int, default=400, help="number of videos (>= 28)")
    parser.add_argument(
        "--layout",
        choices=("npy", "hdf5"),
        default="npy",
        help="per-video npy files (audio/, visual/) or the reference HDF5 files",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from avvp.ave.synth import SynthAVEConfig, generate_synthetic_ave

    config = SynthAVEConfig(videos=args.videos, seed=args.seed, layout=args.layout)
    out = generate_synthetic_ave(args.out, config, progress=not args.no_progress)
    print(f"synthetic AVE dataset ({args.videos} videos, {args.layout}) written to {out}")
    return 0
