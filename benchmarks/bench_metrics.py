"""Vectorized LLP metrics vs the plain per-video, per-class Python loop.

Builds ``--videos`` LLP-like videos (25 classes x 10 segments; per modality 0-3 events of random
classes and lengths, as sparse as the real test split) and predictions that differ from the
ground truth by boundary shifts, misses and false alarms; or, with ``--llp DIR``, uses the real
test-split ground truth from the annotation CSVs with such predictions. Times
``avvp.metrics.parsing_scores`` and the independent reference loop
(``tests/metrics/reference_loop.py``), best of ``--repeats`` runs each, checks that they agree,
and prints both times and the ratio.

    python benchmarks/bench_metrics.py [--videos 1200] [--repeats 5] [--llp ../shared/data/llp]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from avvp.metrics import ParsingMetric, parsing_scores

REPO = Path(__file__).resolve().parents[1]


def load_reference() -> ModuleType:
    path = REPO / "tests" / "metrics" / "reference_loop.py"
    spec = importlib.util.spec_from_file_location("reference_loop", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic_truth(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros((2, n, 25, 10), dtype=bool)
    for m in range(2):
        for v in range(n):
            for cls in rng.choice(25, size=rng.integers(0 if m else 1, 4), replace=False):
                onset = int(rng.integers(0, 10))
                gt[m, v, cls, onset : int(rng.integers(onset + 1, 11))] = True
    return gt[0], gt[1]


def perturb(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift some rows by one segment, drop some events, add sparse false alarms."""
    pred = gt.copy()
    shift = rng.random(gt.shape[:2]) < 0.3
    pred[shift] = np.roll(gt[shift], rng.choice([-1, 1]), axis=-1)
    pred[rng.random(gt.shape[:2]) < 0.1] = False
    pred |= rng.random(gt.shape) < 0.005
    return pred


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--llp", type=Path, help="LLP annotation folder: use real test GT")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    if args.llp:
        from avvp.data.llp import load_split

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            split = load_split(args.llp, "test")
        assert split.gt_audio is not None and split.gt_visual is not None
        gt_a, gt_v = split.gt_audio.astype(bool), split.gt_visual.astype(bool)
        source = f"real LLP test ground truth ({len(gt_a)} videos)"
    else:
        gt_a, gt_v = synthetic_truth(args.videos, rng)
        source = f"synthetic LLP-like ground truth ({args.videos} videos)"
    pred_a, pred_v = perturb(gt_a, rng), perturb(gt_v, rng)
    data = (pred_a, pred_v, gt_a, gt_v)
    density = np.mean([x.mean() for x in data])
    print(f"{source}, shape {gt_a.shape}, mean density {density:.3f}")

    ref = load_reference()
    parsing_scores(*data)  # warm-up (imports, allocator)
    t_vec, fast = best_of(lambda: parsing_scores(*data), max(args.repeats, 20))
    t_ref, slow = best_of(lambda: ref.reference_scores(*data), args.repeats)

    def accumulate() -> dict[str, float]:
        metric = ParsingMetric(subsets=("all", "overlap", "non_overlap"))
        for start in range(0, len(gt_a), 64):
            metric.update(*(x[start : start + 64] for x in data))
        return metric.compute()

    t_acc, acc = best_of(accumulate, max(args.repeats, 20))
    worst = max(abs(fast[k] - slow[k]) for k in fast)
    worst_acc = max(abs(acc[k] - slow[k]) for k in fast)
    print(f"reference loop (best of {args.repeats}):    {t_ref * 1e3:9.2f} ms")
    print(f"parsing_scores (vectorized):     {t_vec * 1e3:9.2f} ms")
    print(f"ParsingMetric, batches of 64, 3 subsets: {t_acc * 1e3:9.2f} ms")
    print(f"speed-up loop / vectorized: {t_ref / t_vec:.1f}x")
    print(f"speed-up loop / accumulator: {t_ref / t_acc:.1f}x")
    print(f"max |difference| vectorized vs loop: {worst:.2e}, accumulator vs loop: {worst_acc:.2e}")
    print("scores x100: " + " ".join(f"{100 * fast[k]:.1f}" for k in fast))


if __name__ == "__main__":
    main()
