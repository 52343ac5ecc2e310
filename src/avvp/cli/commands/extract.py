"""``avvp extract VIDEOS_DIR --out ROOT``: features of a folder of videos, official layout."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND: tuple[str, ...] = ("extract",)
HELP = "extract features of a folder of videos into ROOT/feats/<extractor>/<id>.npy (resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", type=Path, help="folder of video files (id = file stem)")
    parser.add_argument("--out", type=Path, required=True, help="dataset root to write into")
    parser.add_argument(
        "--extractors",
        default="vggish,res152,r2plus1d_18",
        help="comma-separated: vggish, res152, r2plus1d_18 (the benchmark's; need --weights), "
        "yamnet (needs --weights yamnet=PATH), efficientnet (packaged weights)",
    )
    parser.add_argument(
        "--weights",
        nargs="+",
        metavar="NAME=PATH",
        default=None,
        help="weight files: vggish=, vggish_pca=, res152=, r2plus1d_18=, yamnet=, efficientnet= "
        "(.pt/.pth via torch.load(weights_only=True), or .safetensors)",
    )
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="run the benchmark extractors with random weights (smoke tests and timing only)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the random initialisation (--random-weights): same seed, same features "
        "(default 0)",
    )
    parser.add_argument("--shard", default="0/1", help="i/n: process every n-th video from i")
    parser.add_argument("--overwrite", action="store_true", help="recompute existing files")
    parser.add_argument(
        "--pack", action="store_true", help="then pack the benchmark features (avvp data pack)"
    )


def run(args: argparse.Namespace) -> int:
    from avvp.extractors.factory import create_extractor, parse_names, parse_weights
    from avvp.extractors.run import FAILURES_FILE, extract_folder, list_videos, parse_shard

    names = parse_names(args.extractors)
    weights = parse_weights(args.weights)
    shard = parse_shard(args.shard)
    videos = list_videos(args.videos)
    extractors = [
        create_extractor(n, weights=weights, allow_random=args.random_weights, seed=args.seed)
        for n in names
    ]
    report = extract_folder(videos, args.out, extractors, shard=shard, overwrite=args.overwrite)
    total = len(videos[shard[0] :: shard[1]])
    print(
        f"extract: {len(report.done)} done, {len(report.skipped)} already complete, "
        f"{len(report.failed)} failed (of {total} in shard {args.shard})"
    )
    if report.failed:
        print(f"failures listed in {args.out / FAILURES_FILE}")
    if args.pack:
        from avvp.data.features import FEATURE_SPECS
        from avvp.data.pack import pack_dataset

        keys = [ex.key for ex in extractors if ex.key in FEATURE_SPECS]
        out = pack_dataset(args.out, keys=keys)
        print(f"packed {', '.join(keys)} into {out}")
    return 1 if report.failed else 0
