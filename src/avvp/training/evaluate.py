"""Evaluating a parsing model on an LLP split by the benchmark protocol (docs/methods.md sec. 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from avvp.metrics import ParsingMetric
from avvp.models.outputs import Gate, ParsingOutput, predict_events
from avvp.training.batching import BatchDataset, autocast, eval_batches, to_device
from avvp.training.distributed import DistEnv


@dataclass
class ParsingEvaluation:
    """Scores of one split, plus (single process) the predictions behind them."""

    scores: dict[str, float]
    subsets: dict[str, dict[str, float]]
    counts: dict[str, int]
    per_class_event_f1: dict[str, list[float]]
    gate: str
    indices: np.ndarray | None = None
    pred_audio: np.ndarray | None = None  # (N, C, T) bool
    pred_visual: np.ndarray | None = None
    prob_audio: np.ndarray | None = None  # (N, T, C) float
    prob_visual: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "scores": self.scores,
            "subsets": self.subsets,
            "counts": self.counts,
            "per_class_event_f1": self.per_class_event_f1,
        }


@torch.no_grad()
def evaluate_parsing(
    model: nn.Module,
    dataset: BatchDataset,
    *,
    device: torch.device,
    batch_size: int = 128,
    gate: Gate | None = None,
    threshold: float = 0.5,
    env: DistEnv | None = None,
    amp: bool = False,
    cpu_amp: bool = False,
    keep_predictions: bool = False,
    keep_extras: tuple[str, ...] = (),
    progress: bool = True,
    desc: str = "eval",
) -> ParsingEvaluation:
    """Score ``model`` on ``dataset`` (which must carry ``gt_audio`` / ``gt_visual``).

    Under DDP each rank scores its share and the sufficient statistics are summed across ranks,
    so the numbers equal a single-process evaluation. Predictions are kept only when asked.
    """
    was_training = model.training
    model.eval()
    metric = ParsingMetric(subsets=("all", "overlap", "non_overlap"))
    kept: dict[str, list[np.ndarray]] = {}
    used_gate = gate
    batches = eval_batches(len(dataset), batch_size, env)
    show = progress and (env is None or env.is_main)
    for indices in tqdm(batches, desc=desc, leave=False, disable=None if show else True):
        batch = to_device(dataset.get_batch(indices), device)
        if "gt_audio" not in batch:
            raise ValueError("this split has no segment-level ground truth to evaluate against")
        with autocast(device, amp, cpu=cpu_amp):
            output: ParsingOutput = model(batch)
        used_gate = used_gate or output.gate
        pred_a, pred_v = predict_events(output, threshold=threshold, gate=gate)
        metric.update(pred_a, pred_v, batch["gt_audio"], batch["gt_visual"])
        if keep_predictions:
            parts = {
                "indices": indices,
                "pred_audio": pred_a.cpu().numpy(),
                "pred_visual": pred_v.cpu().numpy(),
                "prob_audio": output.segment_audio.float().cpu().numpy(),
                "prob_visual": output.segment_visual.float().cpu().numpy(),
            }
            parts.update(
                {
                    k: output.extras[k].float().cpu().numpy()
                    for k in keep_extras
                    if k in output.extras
                }
            )
            for key, value in parts.items():
                kept.setdefault(key, []).append(value)
    metric.all_reduce()
    model.train(was_training)
    per_class = metric.per_class_f1(level="event")
    result = ParsingEvaluation(
        scores=metric.compute("all"),
        subsets={s: metric.compute(s) for s in ("overlap", "non_overlap")},
        counts={s: metric.count(s) for s in ("all", "overlap", "non_overlap")},
        per_class_event_f1={m: [float(x) for x in v] for m, v in per_class.items()},
        gate=str(used_gate),
    )
    if keep_predictions and kept:
        joined = {k: np.concatenate(v) for k, v in kept.items()}
        result.indices = joined.pop("indices")
        result.pred_audio = joined.pop("pred_audio")
        result.pred_visual = joined.pop("pred_visual")
        result.prob_audio = joined.pop("prob_audio")
        result.prob_visual = joined.pop("prob_visual")
        result.extras = joined
    return result
