"""Time the synthetic LLP generator and print what it produced.

    python benchmarks/bench_synth.py [--videos 2000] [--threads 1] [--valor-plus-plus] [--keep DIR]

Prints the wall time of sampling annotations alone and of writing the whole dataset, videos per
second, bytes written, the pseudo-label segment F1 against the ground truth, and a
nearest-class-mean probe on segment features (signal and overlap difficulty, for
docs/synthetic.md). The goal (brief): 2,000 videos in under a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def ncm_probe(
    features: np.ndarray, gt: np.ndarray, *, train_fraction: float = 0.5
) -> dict[str, float]:
    """Nearest-class-mean probe on (N, T', F) features with (N, C, T) ground truth.

    Class means come from single-event segments of the first videos; on the others, for each
    active class of a segment, reports whether it is nearer than every inactive class (hit)
    and the fraction of inactive classes nearer than it (rank, chance 0.5), separately for
    single-event and 2+-event segments.
    """
    n, c, t = gt.shape
    if features.shape[1] != t:  # frames / CLAP steps: average within each segment
        index = (np.arange(features.shape[1]) * t) // features.shape[1]
        features = np.stack([features[:, index == s].mean(axis=1) for s in range(t)], axis=1)
    x = features.reshape(n * t, -1).astype(np.float64)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    g = gt.transpose(0, 2, 1).reshape(n * t, c).astype(bool)
    train = np.arange(n * t) < int(n * train_fraction) * t
    count = g.sum(axis=1)
    means = np.stack(
        [
            x[train & (count == 1) & g[:, k]].mean(axis=0)
            if (train & (count == 1) & g[:, k]).any()
            else np.full(x.shape[1], np.inf)
            for k in range(c)
        ]
    )
    dist = ((x[:, None, :] - means[None]) ** 2).sum(axis=-1)
    result = {}
    for name, sel in (("single", ~train & (count == 1)), ("overlap", ~train & (count >= 2))):
        gs, ds = g[sel], dist[sel]
        inactive = np.where(gs, np.inf, ds)
        nearer = (inactive[:, None, :] < ds[:, :, None]).sum(axis=2)
        frac = nearer / np.maximum((~gs).sum(axis=1, keepdims=True), 1)
        result[f"{name}_hit"] = float((nearer == 0)[gs].mean())
        result[f"{name}_rank"] = float(frac[gs].mean())
        result[f"{name}_segments"] = float(sel.sum())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: as is)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--valor-plus-plus", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep it")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from avvp.data.llp_stats import load_llp_stats
    from avvp.data.synth import (
        SynthConfig,
        build_world,
        generate_synthetic_llp,
        sample_annotations,
        synthesize_features,
    )

    stats = load_llp_stats()
    n_val = n_test = max(args.videos // 10, 1)
    config = SynthConfig(
        num_train=args.videos - n_val - n_test,
        num_val=n_val,
        num_test=n_test,
        valor_plus_plus=args.valor_plus_plus,
    )

    t0 = time.perf_counter()
    sample_annotations(args.videos, stats=stats, rng=np.random.default_rng(args.seed))
    t_ann = time.perf_counter() - t0

    out = args.keep or Path(tempfile.mkdtemp(prefix="avvp_bench_synth_"))
    try:
        t0 = time.perf_counter()
        generate_synthetic_llp(out, config=config, seed=args.seed)
        t_all = time.perf_counter() - t0
        size = _folder_bytes(out)
        meta = json.loads((out / "synth_config.json").read_text())
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)

    print(f"videos: {args.videos} (train {config.num_train}, val {n_val}, test {n_test})")
    print(f"sample_annotations: {t_ann:.3f} s")
    print(
        f"generate_synthetic_llp: {t_all:.1f} s = {args.videos / t_all:.1f} videos/s "
        f"({t_all / 60:.2f} of the 1-minute goal)"
    )
    print(f"bytes written: {size / 1e9:.2f} GB ({size / args.videos / 1e3:.0f} KB/video)")
    print("pseudo-label segment F1 vs GT:", meta["summary"]["pseudo_label_segment_f1"])
    print(
        "segments with 2+ events:",
        meta["summary"]["segments_with_2plus_events"],
        "real LLP:",
        {m: round(stats.overlap_fraction(m), 4) for m in ("audio", "visual")},
    )

    # Probe: 800 videos in memory.
    rng = np.random.default_rng(args.seed + 1)
    ann = sample_annotations(800, stats=stats, rng=rng)
    world = build_world(SynthConfig(), np.random.default_rng(args.seed + 2))
    keys = ("audio", "frames", "clips", "clap", "clip")
    feats = synthesize_features(world, ann, rng=rng, keys=keys)
    print("nearest-class-mean probe (hit: chance ~0.04; rank: chance 0.5, lower is better):")
    for key, arr in feats.items():
        gt = ann.gt_audio if key in ("audio", "clap") else ann.gt_visual
        r = ncm_probe(arr, gt)
        print(
            f"  {key:7s} single hit {r['single_hit']:.3f} rank {r['single_rank']:.3f} | "
            f"overlap hit {r['overlap_hit']:.3f} rank {r['overlap_rank']:.3f}"
        )


if __name__ == "__main__":
    main()
