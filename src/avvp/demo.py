"""``avvp demo``: synthetic LLP, MMIL vs LEAP (and MM-CSE) on one encoder, side by side.

Everything it needs is generated: the synthetic dataset is cached (generated once per seed and
size), the models are trained by the ordinary trainer with the demo presets in
``configs/demo/``, and the run folder gets the comparison table (JSON and text), a timeline figure
of a few test videos and LEAP's label-to-segment attention map for one video.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig

from avvp.config import load_config, save_config
from avvp.errors import ConfigError
from avvp.jsonio import write_json_strict
from avvp.metrics import METRIC_KEYS, ParsingMetric
from avvp.metrics.report import COLUMN_LABELS
from avvp.training.provenance import provenance

if TYPE_CHECKING:
    from avvp.training.trainer import RunResult

METHOD_PRESETS = {"mmil": "demo/llp_mmil", "leap": "demo/llp_leap", "mmcse": "demo/llp_mmcse"}
SUBSETS = ("all", "overlap", "non_overlap")

# The reference rows of the table, each named for what it reads.
ORACLE = "oracle: true video labels, all segs"
PSEUDO = "pseudo labels (masked by true labels)"
PRIOR = "prior: top train class, all segs"
REFERENCE_DESCRIPTIONS = {
    ORACLE: "each ground-truth video label of a test video predicted in all its segments, both "
    "modalities (an oracle: reads the test videos' true video labels, which no method sees)",
    PSEUDO: "the teacher's segment pseudo labels of the test videos (the kind of labels the "
    "methods are trained on); masked by the test videos' true video labels, as VALOR's are, so "
    "they read the video labels but not the segment ground truth",
    PRIOR: "the most frequent training video label predicted in all segments of every test "
    "video, both modalities (reads nothing of the test videos)",
}


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


def oracle_predictions(labels: np.ndarray, num_segments: int) -> np.ndarray:
    """Each true video-level label predicted in every segment: (N, C) -> (N, C, T).

    An oracle: it reads the test videos' ground-truth video labels, which no method sees.
    """
    return np.repeat(labels.astype(bool)[:, :, None], num_segments, axis=2)


def prior_predictions(train_labels: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """The most frequent training video label predicted in every segment of every test video.

    Reads nothing of the test videos (only the training labels' class counts): the floor any
    method must clear.
    """
    top = int(np.argmax(train_labels.sum(axis=0)))
    pred = np.zeros(shape, dtype=bool)
    pred[:, top, :] = True
    return pred


def reference_rows(data_root: Path) -> dict[str, dict[str, dict[str, float]]]:
    """The three reference rows on the test split, by subset: oracle, pseudo labels, prior.

    The pseudo labels are the (simulated) teacher's segment labels of the test videos, the same
    kind of labels the methods are trained on; like VALOR's they are masked by the video labels,
    so they too read the test videos' true video labels (but not their segment ground truth).
    """
    from avvp.data.dataset import LLPDataset
    from avvp.data.llp import find_annotations_dir, load_split

    test = LLPDataset(root=data_root, split="test", feature_keys=[], pseudo_labels=True)
    train_labels = load_split(find_annotations_dir(data_root), "train").labels
    split = test.split
    assert split.gt_audio is not None and split.gt_visual is not None
    gt_a, gt_v = split.gt_audio.astype(bool), split.gt_visual.astype(bool)
    batch = test.get_batch(np.arange(len(test)))
    # Stored (N, T, C) as VALOR writes them; the metric takes (N, C, T).
    pseudo_a = batch["pseudo_audio"].numpy().transpose(0, 2, 1) > 0.5
    pseudo_v = batch["pseudo_visual"].numpy().transpose(0, 2, 1) > 0.5
    oracle = oracle_predictions(split.labels, gt_a.shape[2])
    prior = prior_predictions(train_labels, gt_a.shape)
    return {
        ORACLE: _subset_scores(oracle, oracle, gt_a, gt_v),
        PSEUDO: _subset_scores(pseudo_a, pseudo_v, gt_a, gt_v),
        PRIOR: _subset_scores(prior, prior, gt_a, gt_v),
    }


def _subset_scores(
    pred_a: np.ndarray, pred_v: np.ndarray, gt_a: np.ndarray, gt_v: np.ndarray
) -> dict[str, dict[str, float]]:
    metric = ParsingMetric(subsets=SUBSETS)
    metric.update(pred_a, pred_v, gt_a, gt_v)
    return {s: metric.compute(s) for s in SUBSETS}


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if array.size > 1 else float("nan")
    return float(array.mean()), std


def _cell(values: list[float]) -> str:
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "-"
    if math.isnan(std):
        return f"{100 * mean:.1f}"
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def format_mean_std_table(rows: dict[str, list[dict[str, float]]], *, level: str) -> str:
    """One level's five metrics (x100), one row per entry: mean ± std over its runs.

    A row with one run (the deterministic reference rows) prints its value alone.
    """
    keys = [k for k in METRIC_KEYS if k.startswith(f"{level}/")]
    cells = {name: [_cell([run[k] for run in runs]) for k in keys] for name, runs in rows.items()}
    width = max([len(c) for row in cells.values() for c in row] + [6])
    title = f"{level.capitalize()}-level"
    name_width = max([len(n) for n in rows] + [len(title)])
    header = "".join(COLUMN_LABELS[k.split("/", 1)[1]].rjust(width + 2) for k in keys)
    lines = [f"{title:<{name_width}}{header}"]
    for name, row in cells.items():
        lines.append(name.ljust(name_width) + "".join(c.rjust(width + 2) for c in row))
    return "\n".join(lines)


def run_demo(
    *,
    out: Path,
    methods: tuple[str, ...] = ("mmil", "leap"),
    encoder: str = "han",
    cache: Path | None = None,
    sizes: DemoSizes = DemoSizes(),
    seed: int = 0,
    seeds: int = 3,
    epochs: int | None = None,
    overrides: tuple[str, ...] = (),
    progress: bool = True,
    jobs: int | None = None,
    precision: str = "auto",
) -> dict[str, Any]:
    """Train each method with ``seeds`` training seeds on the same synthetic data and encoder;
    return and save the comparison (mean ± std over the seeds) beside the reference rows.

    ``seed`` is the data seed and the first training seed (the runs use seed, seed+1, ...).
    ``jobs`` runs that many trainings at once, one thread each (default: 2, or 1 on a
    one-core machine); ``jobs=1`` trains one after the other in this process.
    """
    from avvp.training.checkpoint import load_checkpoint
    from avvp.training.llp_task import LLPTask
    from avvp.training.trainer import new_run_dir, read_metrics

    unknown = [m for m in methods if m not in METHOD_PRESETS]
    if unknown:
        raise ConfigError(f"unknown demo method(s) {unknown}: expected {', '.join(METHOD_PRESETS)}")
    if seeds < 1:
        raise ConfigError(f"--seeds: expected at least 1, got {seeds}")
    if jobs is None:
        jobs = min(2, os.cpu_count() or 1)
    if jobs < 1:
        raise ConfigError(f"--jobs: expected at least 1, got {jobs}")
    precision_overrides, precision_note = resolve_precision(precision)
    started = time.perf_counter()
    data_root = ensure_synthetic_dataset(
        cache or default_cache_dir(), sizes=sizes, seed=seed, mmcse="mmcse" in methods
    )
    demo_dir = new_run_dir(Path(out), "demo")
    train_seeds = [seed + i for i in range(seeds)]

    results: dict[str, dict[str, Any]] = {}
    predictions: dict[str, dict[str, np.ndarray]] = {}
    attention: dict[str, np.ndarray] | None = None
    gt: dict[str, np.ndarray] = {}
    filenames: list[str] = []
    counts: dict[str, int] = {}
    configs: dict[tuple[str, int], DictConfig] = {}
    for method in methods:
        for run_seed in train_seeds:
            # The demo evaluates each best checkpoint on the test split itself (it keeps the
            # predictions for the figures), so the trainer's own test pass would be repeated work.
            extra = [f"seed={run_seed}", "train.eval_test=false", *precision_overrides]
            if method != "mmcse":
                extra.append(f"model.encoder.name={encoder}")
            if epochs is not None:
                extra.append(f"train.epochs={epochs}")
            if jobs > 1:
                # Parallel runs of one thread each: on 2 cores two single-threaded runs get
                # ~1.7x the work done of one two-threaded run (small batches scale poorly).
                extra.append("train.threads=1")
            configs[method, run_seed] = load_config(METHOD_PRESETS[method], [*extra, *overrides])
    print(f"precision: {precision_note}", flush=True)
    trained = _train_all(
        configs, data_root=data_root, runs_dir=demo_dir / "runs", jobs=jobs, progress=progress
    )

    for method in methods:
        runs: list[dict[str, Any]] = []
        for run_seed in train_seeds:
            cfg = configs[method, run_seed]
            result = trained[method, run_seed]
            save_config(cfg, demo_dir / f"config-{method}-s{run_seed}.yaml")
            task = LLPTask(cfg, data_root)  # the demo compares LLP parsing methods
            test_set = task.dataset("test", train=False)
            model, _ = load_checkpoint(result.run_dir / "checkpoints" / "best")
            evaluation = task.evaluate(
                model, test_set, device=model_device(model), env=None, keep_predictions=True
            )
            select = str(cfg.train.select)
            # The validation curve shows when a model leaves its all-negative start (LEAP
            # spends a few hundred steps there).
            curve = [
                {
                    "epoch": int(m["epoch"]),
                    "train_loss": float(m["train/loss"]),
                    f"val/{select}": float(m[f"val/{select}"]),
                }
                for m in read_metrics(result.run_dir)
                if "split" not in m
            ]
            runs.append(
                {
                    "seed": run_seed,
                    "run": str(result.run_dir),
                    "best_epoch": result.best_epoch,
                    "gate": evaluation.gate,
                    "all": evaluation.scores,
                    **evaluation.subsets,
                    "counts": evaluation.counts,
                    "curve": curve,
                }
            )
            by_epoch = " ".join(f"{100 * c[f'val/{select}']:.1f}" for c in curve)
            print(
                f"{method} seed {run_seed}: validation {select} by epoch {by_epoch}; best epoch "
                f"{result.best_epoch}: test segment Type@AV "
                f"{100 * evaluation.scores['segment/type@av']:.1f}",
                flush=True,
            )
            if method in predictions:
                continue
            # The figures show the first seed's predictions (kept: keep_predictions=True).
            indices, pred_audio, pred_visual = (
                evaluation.indices,
                evaluation.pred_audio,
                evaluation.pred_visual,
            )
            assert indices is not None and pred_audio is not None and pred_visual is not None
            order = np.argsort(indices)
            predictions[method] = {"audio": pred_audio[order], "visual": pred_visual[order]}
            if method == "leap" and "attention_audio" in evaluation.extras:
                attention = {
                    "audio": evaluation.extras["attention_audio"][order],
                    "visual": evaluation.extras["attention_visual"][order],
                }
            if not gt:
                split = test_set.split  # type: ignore[attr-defined]
                gt = {"audio": split.gt_audio.astype(bool), "visual": split.gt_visual.astype(bool)}
                filenames = list(split.filenames)
                counts = dict(evaluation.counts)
        results[method] = {"runs": runs, **_aggregate(runs)}

    references = reference_rows(data_root)
    table = _table(references, results, counts, train_seeds, precision_note)
    figures = _figures(demo_dir, filenames, gt, predictions, attention)
    summary = {
        "data": str(data_root),
        "encoder": encoder,
        "data_seed": seed,
        "train_seeds": train_seeds,
        "precision": precision_note,
        "std": "sample standard deviation over the training seeds (ddof=1)",
        "references": {
            name: {"description": REFERENCE_DESCRIPTIONS[name], **scores}
            for name, scores in references.items()
        },
        "methods": results,
        "figures": figures,
        "seconds": round(time.perf_counter() - started, 1),
        "metric_keys": list(METRIC_KEYS),
        **provenance(),
    }
    # Strict JSON: the std of a single seed is NaN, written as null.
    write_json_strict(demo_dir / "results.json", summary)
    (demo_dir / "results.txt").write_text(table + "\n")
    print("\n" + table)
    print(f"\nfigures: {', '.join(figures.values())}")
    print(f"demo folder: {demo_dir}  ({summary['seconds']} s)")
    summary["demo_dir"] = str(demo_dir)
    return summary


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str) -> tuple[list[str], str]:
    """The training overrides for ``precision`` and a note saying what it resolved to."""
    from avvp.hardware import cpu_has_native_bf16

    if precision not in PRECISIONS:
        choices = ", ".join(PRECISIONS)
        raise ConfigError(f"--precision: expected one of {choices}, got {precision!r}")
    if precision == "fp32":
        return ["train.amp=false", "train.cpu_amp=false"], "float32"
    if precision == "bf16":
        return ["train.amp=true", "train.cpu_amp=true"], "bf16 mixed precision (--precision bf16)"
    if cpu_has_native_bf16():
        return (
            ["train.amp=true", "train.cpu_amp=true"],
            "bf16 mixed precision (auto: this CPU has native bf16 units; --precision fp32 for "
            "float32)",
        )
    return (
        ["train.amp=true", "train.cpu_amp=false"],
        "float32 on the CPU, bf16 mixed precision on CUDA (auto: this CPU has no native bf16 "
        "units)",
    )


def _train_one(cfg: DictConfig, data_root: Path, run_dir: Path, progress: bool) -> RunResult:
    from avvp.training.trainer import fit

    return fit(cfg, data_root=data_root, run_dir=run_dir, progress=progress)


def _train_all(
    configs: dict[tuple[str, int], DictConfig],
    *,
    data_root: Path,
    runs_dir: Path,
    jobs: int,
    progress: bool,
) -> dict[tuple[str, int], RunResult]:
    """Train every (method, seed) configuration, ``jobs`` at a time in worker processes.

    Each run gets its own named folder (parallel runs started in the same second would
    otherwise race for one timestamped name).
    """
    run_dirs = {key: runs_dir / f"{cfg.name}-s{key[1]}" for key, cfg in configs.items()}
    if jobs == 1:
        out = {}
        for key, cfg in configs.items():
            print(f"\n== training {key[0]} ({cfg.name}), seed {key[1]} ==", flush=True)
            out[key] = _train_one(cfg, data_root, run_dirs[key], progress)
        return out
    # The slowest runs first, so that the workers finish together.
    cost = {"mmcse": 0, "leap": 1, "mmil": 2}
    order = sorted(configs, key=lambda key: cost.get(key[0], 3))
    print(f"\ntraining {len(order)} runs, {jobs} at a time (one thread each) ...", flush=True)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {
            key: pool.submit(_train_one, configs[key], data_root, run_dirs[key], False)
            for key in order
        }
        out = {}
        for key in order:
            out[key] = futures[key].result()
            print(f"trained {key[0]} seed {key[1]} (best epoch {out[key].best_epoch})", flush=True)
    return out


def _aggregate(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{"mean": {subset: {key: value}}, "std": ...}`` over the runs."""
    out: dict[str, dict[str, dict[str, float]]] = {"mean": {}, "std": {}}
    for subset in SUBSETS:
        pairs = {k: mean_std([run[subset][k] for run in runs]) for k in METRIC_KEYS}
        out["mean"][subset] = {k: m for k, (m, _) in pairs.items()}
        out["std"][subset] = {k: s for k, (_, s) in pairs.items()}
    return out


def _table(
    references: dict[str, dict[str, dict[str, float]]],
    results: dict[str, dict[str, Any]],
    counts: dict[str, int],
    train_seeds: list[int],
    precision_note: str,
) -> str:
    seed_list = ", ".join(str(s) for s in train_seeds)
    blocks = [
        f"synthetic LLP test split, x100; {', '.join(results)}: mean ± std over training seeds "
        f"{seed_list} (same data); {precision_note}"
    ]
    titles = {
        "all": f"all {counts.get('all', 0)} videos",
        "overlap": f"overlapping subset: {counts.get('overlap', 0)} videos with a segment holding "
        "2+ events",
    }
    for subset, title in titles.items():
        rows = {name: [scores[subset]] for name, scores in references.items()}
        for method, res in results.items():
            rows[method] = [run[subset] for run in res["runs"]]
        blocks.append(f"\n{title}")
        blocks.extend(format_mean_std_table(rows, level=level) for level in ("segment", "event"))
    return "\n".join(blocks)


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
