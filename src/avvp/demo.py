"""``avvp demo``: synthetic LLP, MMIL vs LEAP (and MM-CSE) on one encoder, side by side.

Everything it needs is generated: the synthetic dataset is cached (generated once per seed and
size), the models are trained by the ordinary trainer with the demo presets in
``configs/demo/``, and the run folder gets the comparison table (JSON and text), a timeline figure
of a few test videos and LEAP's label-to-segment attention map for one video.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from avvp.config import load_config, save_config
from avvp.errors import ConfigError
from avvp.metrics import METRIC_KEYS, ParsingMetric, format_scores_table
from avvp.training.provenance import provenance

METHOD_PRESETS = {"mmil": "demo/llp_mmil", "leap": "demo/llp_leap", "mmcse": "demo/llp_mmcse"}


@dataclass(frozen=True)
class DemoSizes:
    train: int = 2000
    val: int = 300
    test: int = 500


def default_cache_dir() -> Path:
    """``$AVVP_CACHE``, else ``$XDG_CACHE_HOME/avvp``, else ``~/.cache/avvp``."""
    if os.environ.get("AVVP_CACHE"):
        return Path(os.environ["AVVP_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "avvp"


def ensure_synthetic_dataset(cache: Path, *, sizes: DemoSizes, seed: int, mmcse: bool) -> Path:
    """Generate (once) and pack the demo dataset; later calls reuse the cached copy."""
    from avvp.data.synth import SynthConfig, generate_synthetic_llp

    suffix = "-vpp" if mmcse else ""
    root = cache / f"demo-synth-s{seed}-{sizes.train}-{sizes.val}-{sizes.test}{suffix}"
    done = root / ".complete"
    if done.is_file():
        return root
    config = SynthConfig(
        num_train=sizes.train,
        num_val=sizes.val,
        num_test=sizes.test,
        valor_plus_plus=mmcse,
    )
    print(f"generating the synthetic LLP dataset in {root} (once) ...", flush=True)
    generate_synthetic_llp(root, config=config, seed=seed, pack=True)
    done.write_text("ok\n")
    return root


def baseline_predictions(labels: np.ndarray, num_segments: int) -> np.ndarray:
    """Each video-level label predicted in every segment: (N, C) -> (N, C, T)."""
    return np.repeat(labels.astype(bool)[:, :, None], num_segments, axis=2)


def _subset_scores(
    pred_a: np.ndarray, pred_v: np.ndarray, gt_a: np.ndarray, gt_v: np.ndarray
) -> dict[str, dict[str, float]]:
    metric = ParsingMetric(subsets=("all", "overlap", "non_overlap"))
    metric.update(pred_a, pred_v, gt_a, gt_v)
    return {s: metric.compute(s) for s in ("all", "overlap", "non_overlap")}


def run_demo(
    *,
    out: Path,
    methods: tuple[str, ...] = ("mmil", "leap"),
    encoder: str = "han",
    cache: Path | None = None,
    sizes: DemoSizes = DemoSizes(),
    seed: int = 0,
    epochs: int | None = None,
    overrides: tuple[str, ...] = (),
    progress: bool = True,
) -> dict[str, Any]:
    """Train each method on the same synthetic data and encoder; return and save the comparison."""
    from avvp.training.checkpoint import load_checkpoint
    from avvp.training.trainer import build_task, fit, new_run_dir

    unknown = [m for m in methods if m not in METHOD_PRESETS]
    if unknown:
        raise ConfigError(f"unknown demo method(s) {unknown}: expected {', '.join(METHOD_PRESETS)}")
    started = time.perf_counter()
    data_root = ensure_synthetic_dataset(
        cache or default_cache_dir(), sizes=sizes, seed=seed, mmcse="mmcse" in methods
    )
    demo_dir = new_run_dir(Path(out), "demo")

    configs: dict[str, DictConfig] = {}
    for method in methods:
        extra = [f"seed={seed}"]
        if method != "mmcse":
            extra.append(f"model.encoder.name={encoder}")
        if epochs is not None:
            extra.append(f"train.epochs={epochs}")
        configs[method] = load_config(METHOD_PRESETS[method], [*extra, *overrides])

    results: dict[str, dict[str, Any]] = {}
    predictions: dict[str, dict[str, np.ndarray]] = {}
    attention: dict[str, np.ndarray] | None = None
    gt: dict[str, np.ndarray] = {}
    labels: np.ndarray | None = None
    for method, cfg in configs.items():
        print(f"\n== training {method} ({cfg.name}) ==", flush=True)
        result = fit(cfg, data_root=data_root, out=demo_dir / "runs", progress=progress)
        task = build_task(cfg, data_root)
        test_set = task.dataset("test", train=False)
        model, _ = load_checkpoint(result.run_dir / "checkpoints" / "best")
        evaluation = task.evaluate(
            model, test_set, device=model_device(model), env=None, keep_predictions=True
        )
        results[method] = {
            "run": str(result.run_dir),
            "best_epoch": result.best_epoch,
            "gate": evaluation.gate,
            "all": evaluation.scores,
            **evaluation.subsets,
            "counts": evaluation.counts,
        }
        order = np.argsort(evaluation.indices)
        predictions[method] = {
            "audio": evaluation.pred_audio[order],
            "visual": evaluation.pred_visual[order],
        }
        if method == "leap" and "attention_audio" in evaluation.extras:
            attention = {
                "audio": evaluation.extras["attention_audio"][order],
                "visual": evaluation.extras["attention_visual"][order],
            }
        if not gt:
            split = test_set.split  # type: ignore[attr-defined]
            gt = {"audio": split.gt_audio.astype(bool), "visual": split.gt_visual.astype(bool)}
            labels = split.labels
            filenames = list(split.filenames)

    assert labels is not None
    base = baseline_predictions(labels, gt["audio"].shape[2])
    baseline = _subset_scores(base, base, gt["audio"], gt["visual"])
    rows_all = {"baseline (video labels everywhere)": baseline["all"]}
    rows_overlap = {"baseline (video labels everywhere)": baseline["overlap"]}
    for method, res in results.items():
        rows_all[method] = res["all"]
        rows_overlap[method] = res["overlap"]
    counts = next(iter(results.values()))["counts"]
    table = "\n".join(
        [
            f"synthetic LLP test split: all {counts['all']} videos",
            format_scores_table(rows_all),
            "",
            f"overlapping subset: {counts['overlap']} videos with a segment holding 2+ events",
            format_scores_table(rows_overlap),
        ]
    )
    figures = _figures(demo_dir, filenames, gt, predictions, attention)
    summary = {
        "data": str(data_root),
        "encoder": encoder,
        "seed": seed,
        "baseline": baseline,
        "methods": results,
        "figures": figures,
        "seconds": round(time.perf_counter() - started, 1),
        "metric_keys": list(METRIC_KEYS),
        **provenance(),
    }
    for method, cfg in configs.items():
        save_config(cfg, demo_dir / f"config-{method}.yaml")
    (demo_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    (demo_dir / "results.txt").write_text(table + "\n")
    print("\n" + table)
    print(f"\nfigures: {', '.join(figures.values())}")
    print(f"demo folder: {demo_dir}  ({summary['seconds']} s)")
    summary["demo_dir"] = str(demo_dir)
    return summary


def model_device(model: Any) -> Any:
    return next(model.parameters()).device


def _figures(
    demo_dir: Path,
    filenames: list[str],
    gt: dict[str, np.ndarray],
    predictions: dict[str, dict[str, np.ndarray]],
    attention: dict[str, np.ndarray] | None,
) -> dict[str, str]:
    from avvp.metrics import overlap_mask
    from avvp.viz.timeline import plot_attention, plot_timelines

    overlap = np.flatnonzero(overlap_mask(gt["audio"], gt["visual"]))
    others = np.flatnonzero(~overlap_mask(gt["audio"], gt["visual"]))
    chosen = [int(i) for i in list(overlap[:2]) + list(others[:1])] or [0]
    figures = {}
    path = plot_timelines(
        demo_dir / "timeline.png",
        names=[filenames[i] for i in chosen],
        ground_truth={m: gt[m][chosen] for m in gt},
        predictions={k: {m: v[m][chosen] for m in v} for k, v in predictions.items()},
    )
    figures["timeline"] = str(path)
    if attention is not None:
        i = chosen[0]
        path = plot_attention(
            demo_dir / "leap_attention.png",
            name=filenames[i],
            attention={m: attention[m][i] for m in attention},
            ground_truth={m: gt[m][i] for m in gt},
        )
        figures["leap_attention"] = str(path)
    return figures
