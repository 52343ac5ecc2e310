"""AVE segment accuracy (docs/methods.md section 11).

The reference code (AVE-ECCV18 / PSP ``compute_acc``, CMBS ``compute_accuracy_supervised``)
flattens the (video, segment) grid and counts the segments whose predicted label (an event class
or background) equals the ground truth: ``accuracy = correct / (N * T)``. Every segment weighs the
same, so the score is a micro average over segments, not a mean of per-video accuracies.

:class:`AccuracyCounter` keeps the integer counts so that data-parallel ranks can sum them and
get exactly the single-process score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from avvp.training.distributed import all_reduce_sum

__all__ = ["AccuracyCounter", "segment_accuracy"]


def segment_accuracy(pred: ArrayLike, target: ArrayLike) -> float:
    """Fraction of segments whose predicted label equals the ground truth.

    ``pred`` and ``target``: integer labels of the same shape, e.g. (N, T), background included
    as its own label. An empty input is an error (the reference would divide by zero).
    """
    p = np.asarray(pred)
    t = np.asarray(target)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} differs from target shape {t.shape}")
    if p.size == 0:
        raise ValueError("no segments to score")
    return float((p == t).sum() / p.size)


@dataclass
class AccuracyCounter:
    """Accumulates correct / total segment counts, overall and split by the ground truth
    being an event or background (``background`` is the background label)."""

    background: int
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("correct", "total", "event_correct", "event_total"), 0
        )
    )

    def update(self, pred: Tensor, target: Tensor) -> None:
        if pred.shape != target.shape:
            raise ValueError(
                f"prediction shape {tuple(pred.shape)} differs from "
                f"target shape {tuple(target.shape)}"
            )
        hit = pred == target
        event = target != self.background
        self.counts["correct"] += int(hit.sum())
        self.counts["total"] += int(hit.numel())
        self.counts["event_correct"] += int((hit & event).sum())
        self.counts["event_total"] += int(event.sum())

    def all_reduce(self, device: torch.device | None = None) -> None:
        """Sum the counts over data-parallel ranks (no-op in a single process); ``device`` is
        where the collective runs (CUDA under NCCL)."""
        keys = sorted(self.counts)
        packed = torch.tensor([self.counts[k] for k in keys], dtype=torch.float64, device=device)
        packed = all_reduce_sum(packed)
        self.counts = {k: round(float(v)) for k, v in zip(keys, packed.tolist(), strict=True)}

    def compute(self) -> dict[str, float]:
        """``accuracy`` (the benchmark number) plus accuracy on event / background segments."""
        c = self.counts
        bg_total = c["total"] - c["event_total"]
        bg_correct = c["correct"] - c["event_correct"]

        def ratio(a: int, b: int) -> float:
            return a / b if b else float("nan")

        return {
            "accuracy": ratio(c["correct"], c["total"]),
            "accuracy_event": ratio(c["event_correct"], c["event_total"]),
            "accuracy_background": ratio(bg_correct, bg_total),
        }
