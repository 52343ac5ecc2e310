"""``ParsingMetric``: LLP metrics accumulated batch by batch (torchmetrics-style, no dependency).

The state is a set of sufficient statistics per subset of videos:

* ``f_sums`` (8,) float64: the sums of the per-video F values of :data:`PER_VIDEO_KEYS`;
* ``count`` (): the number of videos;
* ``class_counts`` (2, 3, 3, C) int64: TP / FP / FN summed over videos, per level, modality,
  class (for the dataset-level per-class F1).

Everything is a sum, so two metrics merge by addition and distributed ranks reduce with one
``all_reduce(SUM)``. ``compute()`` equals :func:`avvp.metrics.parsing_scores` on the concatenated
data (up to floating-point summation order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import torch

from avvp.classes import NUM_CLASSES
from avvp.errors import DataError
from avvp.metrics.parsing import (
    LEVELS,
    MODALITIES,
    PER_VIDEO_KEYS,
    FloatArray,
    _check_inputs,
    _counts,
    _per_class_from_totals,
    _per_video_from_counts,
    overlap_mask,
    scores_from_per_video_sums,
)

__all__ = ["SUBSETS", "ParsingMetric"]

SUBSETS: Final[tuple[str, ...]] = ("all", "overlap", "non_overlap")
"""Video subsets a :class:`ParsingMetric` can track: every video, and the LEAP overlap split."""

_STATE_FIELDS: Final[tuple[str, ...]] = ("f_sums", "count", "class_counts")


class ParsingMetric:
    """Accumulates the ten LLP benchmark numbers (and per-class F1) over batches of videos.

    Args:
        subsets: which of :data:`SUBSETS` to track ("all"; "overlap" / "non_overlap" split the
            videos by :func:`avvp.metrics.overlap_mask` of their ground truth).
        num_classes: C of the (N, C, T) inputs.
    """

    def __init__(
        self, *, subsets: Sequence[str] = ("all",), num_classes: int = NUM_CLASSES
    ) -> None:
        unknown = [s for s in subsets if s not in SUBSETS]
        if unknown or not subsets:
            raise ValueError(f"subsets must be a non-empty selection of {SUBSETS}, got {subsets!r}")
        self.subsets: tuple[str, ...] = tuple(dict.fromkeys(subsets))
        self.num_classes = num_classes
        self._f_sums: dict[str, FloatArray] = {}
        self._count: dict[str, int] = {}
        self._class_counts: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every video seen so far."""
        for s in self.subsets:
            self._f_sums[s] = np.zeros(len(PER_VIDEO_KEYS), dtype=np.float64)
            self._count[s] = 0
            self._class_counts[s] = np.zeros(
                (len(LEVELS), len(MODALITIES), 3, self.num_classes), dtype=np.int64
            )

    def update(self, pred_audio: Any, pred_visual: Any, gt_audio: Any, gt_visual: Any) -> None:
        """Add a batch of videos: binary (B, C, T) arrays or tensors (see ``parsing_scores``)."""
        pa, pv, ga, gv = _check_inputs(pred_audio, pred_visual, gt_audio, gt_visual)
        if pa.shape[1] != self.num_classes:
            raise ValueError(f"expected {self.num_classes} classes, got shape {pa.shape}")
        counts = _counts(pa, pv, ga, gv)  # (2, 3, 3, B, C)
        per_video = _per_video_from_counts(counts)
        f = np.stack([per_video[k] for k in PER_VIDEO_KEYS], axis=1)  # (B, 8)
        masks: dict[str, np.ndarray] = {}
        if "overlap" in self.subsets or "non_overlap" in self.subsets:
            overlap = overlap_mask(ga, gv)
            masks["overlap"] = overlap
            masks["non_overlap"] = ~overlap
        for s in self.subsets:
            if s == "all":  # no fancy-indexing copy for the common case
                self._f_sums[s] += f.sum(axis=0)
                self._count[s] += f.shape[0]
                self._class_counts[s] += counts.sum(axis=3)
                continue
            m = masks[s]
            self._f_sums[s] += f[m].sum(axis=0)
            self._count[s] += int(m.sum())
            self._class_counts[s] += counts[:, :, :, m].sum(axis=3)

    def merge(self, other: ParsingMetric) -> ParsingMetric:
        """Add ``other``'s statistics into this metric (same subsets and classes); returns self."""
        if other.subsets != self.subsets or other.num_classes != self.num_classes:
            raise ValueError(
                f"cannot merge a metric with subsets {other.subsets} / {other.num_classes} classes "
                f"into one with {self.subsets} / {self.num_classes}"
            )
        for s in self.subsets:
            self._f_sums[s] += other._f_sums[s]
            self._count[s] += other._count[s]
            self._class_counts[s] += other._class_counts[s]
        return self

    def count(self, subset: str = "all") -> int:
        """How many videos of ``subset`` were seen."""
        return self._count[self._subset(subset)]

    def compute(self, subset: str = "all") -> dict[str, float]:
        """The ten :data:`METRIC_KEYS` for ``subset`` (fractions; NaN if it holds no video)."""
        s = self._subset(subset)
        sums = dict(zip(PER_VIDEO_KEYS, self._f_sums[s].tolist(), strict=True))
        return scores_from_per_video_sums(sums, self._count[s])

    def compute_all(self) -> dict[str, dict[str, float]]:
        """``{subset: compute(subset)}`` for every tracked subset."""
        return {s: self.compute(s) for s in self.subsets}

    def per_class_f1(self, *, level: str = "event", subset: str = "all") -> dict[str, FloatArray]:
        """Dataset-level per-class F1 per modality (NaN where a class has no TP+FP+FN)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        return _per_class_from_totals(self._class_counts[self._subset(subset)][LEVELS.index(level)])

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The statistics as CPU tensors, keys ``<subset>/<field>`` (safe for safetensors/JSON)."""
        out: dict[str, torch.Tensor] = {}
        for s in self.subsets:
            out[f"{s}/f_sums"] = torch.from_numpy(self._f_sums[s].copy())
            out[f"{s}/count"] = torch.tensor(self._count[s], dtype=torch.int64)
            out[f"{s}/class_counts"] = torch.from_numpy(self._class_counts[s].copy())
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore statistics saved by :meth:`state_dict` (same subsets and classes)."""
        expected = {f"{s}/{field}" for s in self.subsets for field in _STATE_FIELDS}
        if set(state) != expected:
            missing = sorted(expected - set(state))
            extra = sorted(set(state) - expected)
            raise DataError(f"ParsingMetric state: missing keys {missing}, unexpected keys {extra}")
        new_f: dict[str, FloatArray] = {}
        new_counts: dict[str, np.ndarray] = {}
        for s in self.subsets:
            f = _to_numpy(state[f"{s}/f_sums"]).astype(np.float64)
            c = _to_numpy(state[f"{s}/class_counts"]).astype(np.int64)
            if f.shape != self._f_sums[s].shape or c.shape != self._class_counts[s].shape:
                raise DataError(
                    f"ParsingMetric state {s!r}: shapes {f.shape} / {c.shape}, expected "
                    f"{self._f_sums[s].shape} / {self._class_counts[s].shape}"
                )
            new_f[s], new_counts[s] = f, c
        for s in self.subsets:
            self._f_sums[s] = new_f[s]
            self._class_counts[s] = new_counts[s]
            self._count[s] = int(_to_numpy(state[f"{s}/count"]))

    def all_reduce(self, group: Any = None) -> None:
        """Sum the statistics over the ranks of ``group``; a no-op without torch.distributed.

        Every rank ends with the statistics of all ranks, so ``compute()`` agrees everywhere.
        Everything travels in one float64 tensor (counts stay exact below 2**53).
        """
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return
        device = torch.device("cpu")
        if torch.distributed.get_backend(group) == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())
        parts = []
        for s in self.subsets:
            parts += [
                self._f_sums[s],
                np.array([self._count[s]], dtype=np.float64),
                self._class_counts[s].ravel().astype(np.float64),
            ]
        flat = torch.from_numpy(np.concatenate(parts)).to(device)
        torch.distributed.all_reduce(flat, op=torch.distributed.ReduceOp.SUM, group=group)
        values = flat.cpu().numpy()
        offset = 0
        for s in self.subsets:
            n_f = self._f_sums[s].size
            n_c = self._class_counts[s].size
            self._f_sums[s] = values[offset : offset + n_f].copy()
            self._count[s] = round(float(values[offset + n_f]))
            start = offset + n_f + 1
            self._class_counts[s] = (
                np.rint(values[start : start + n_c])
                .astype(np.int64)
                .reshape(self._class_counts[s].shape)
            )
            offset = start + n_c

    def _subset(self, subset: str) -> str:
        if subset not in self.subsets:
            raise KeyError(f"subset {subset!r} is not tracked (tracked: {self.subsets})")
        return subset

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={self._count[s]}" for s in self.subsets)
        return f"ParsingMetric({counts})"


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
