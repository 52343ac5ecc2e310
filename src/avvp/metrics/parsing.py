"""The LLP audio-visual video parsing metrics (docs/methods.md section 2), vectorized with numpy.

All inputs are binary arrays of shape (N, C, T) (videos, classes, segments), numpy or torch,
bool or 0/1 integers/floats. Audio-visual events are ``audio AND visual`` for both prediction and
ground truth.

The protocol, as implemented by the reference evaluation code (``utils/eval_metrics.py`` of
AVVP-ECCV20) and reproduced exactly here:

* per video, per modality (audio, visual, audio-visual), per class: TP / FP / FN
  - at segment level over the T segments;
  - at event level, an event being a maximal run of 1s: a predicted event counts as one TP when
    its IoU with at least one ground-truth event of the class is >= 0.5, else one FP; a
    ground-truth event with no predicted event at IoU >= 0.5 is one FN;
* F_c = 2TP / (2TP + FP + FN) for the classes with TP + FP + FN > 0; the video's F is their mean,
  1.0 when there is no such class (all true negatives);
* Event@AV: per class, the audio and visual TP / FP / FN are added before the F rule;
* the dataset score is the mean over all videos; Type@AV is the mean of the A, V and AV scores.

Everything is computed for all videos x classes x modalities at once: event extraction is a
cumulative sum over run starts, and event matching is a joint histogram (``np.bincount``) of
(predicted run id, ground-truth run id) per row, which yields every intersection size at once.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from avvp.metrics.runs import run_ids

__all__ = [
    "LEVELS",
    "METRIC_KEYS",
    "MODALITIES",
    "PER_VIDEO_KEYS",
    "STATS",
    "as_binary",
    "f1_from_counts",
    "overlap_mask",
    "parsing_counts",
    "parsing_scores",
    "per_class_event_f1",
    "per_class_f1",
    "per_class_segment_f1",
    "per_video_scores",
    "scores_from_per_video_sums",
]

LEVELS: Final[tuple[str, ...]] = ("segment", "event")
MODALITIES: Final[tuple[str, ...]] = ("audio", "visual", "audio-visual")
STATS: Final[tuple[str, ...]] = ("tp", "fp", "fn")

METRIC_KEYS: Final[tuple[str, ...]] = tuple(
    f"{level}/{name}"
    for level in LEVELS
    for name in ("audio", "visual", "audio-visual", "type@av", "event@av")
)
"""The ten benchmark numbers, in the papers' column order."""

PER_VIDEO_KEYS: Final[tuple[str, ...]] = tuple(
    f"{level}/{name}"
    for level in LEVELS
    for name in ("audio", "visual", "audio-visual", "event@av")
)
"""The eight metrics that have a per-video value (Type@AV is derived from three of them)."""

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def as_binary(x: Any, *, name: str = "array") -> BoolArray:
    """Convert a binary (N, C, T) numpy array or torch tensor to a numpy bool array.

    Raises ``ValueError`` for a wrong number of dimensions or values other than 0 and 1 (a
    probability map passed by mistake must not be silently thresholded).
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim != 3:
        raise ValueError(f"{name}: expected a binary (N, C, T) array, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    if not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name}: values must be 0 or 1 (threshold probabilities first)")
    return arr.astype(np.bool_)


def _check_inputs(
    pred_audio: Any, pred_visual: Any, gt_audio: Any, gt_visual: Any
) -> tuple[BoolArray, BoolArray, BoolArray, BoolArray]:
    arrays = (
        as_binary(pred_audio, name="pred_audio"),
        as_binary(pred_visual, name="pred_visual"),
        as_binary(gt_audio, name="gt_audio"),
        as_binary(gt_visual, name="gt_visual"),
    )
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(
            "pred_audio, pred_visual, gt_audio, gt_visual must share one (N, C, T) shape, got "
            + ", ".join(str(a.shape) for a in arrays)
        )
    return arrays


def _segment_counts(pred: BoolArray, gt: BoolArray) -> IntArray:
    """(..., T) -> (..., 3) TP, FP, FN over the last axis."""
    tp = np.count_nonzero(pred & gt, axis=-1)
    fp = np.count_nonzero(pred & ~gt, axis=-1)
    fn = np.count_nonzero(~pred & gt, axis=-1)
    return np.stack([tp, fp, fn], axis=-1).astype(np.int64)


def _event_counts(pred: BoolArray, gt: BoolArray) -> IntArray:
    """(..., T) -> (..., 3) event-level TP, FP, FN per row, as the reference counts them.

    A row has at most ceil(T/2) runs. One ``bincount`` over (row, predicted run id, ground-truth
    run id) gives, per row, the joint histogram H (K+1, K+1) with slot 0 = "outside any run":
    H[i, j] for i, j >= 1 is the intersection of predicted run i and ground-truth run j, and the
    run lengths are its row / column sums. IoU >= 0.5 <=> 2|x&y| >= |x|+|y|-|x&y|
    <=> 3|x&y| >= |x|+|y| (integers, so no rounding issue).
    """
    lead = pred.shape[:-1]
    t = pred.shape[-1]
    p = pred.reshape(-1, t)
    g = gt.reshape(-1, t)
    m = p.shape[0]
    if m == 0 or t == 0:
        return np.zeros((*lead, 3), dtype=np.int64)
    p_ids, p_runs = run_ids(p)
    g_ids, g_runs = run_ids(g)
    slots = int(max(p_runs.max(), g_runs.max())) + 1
    flat = (np.arange(m, dtype=np.int64)[:, None] * slots + p_ids) * slots + g_ids
    hist = np.bincount(flat.ravel(), minlength=m * slots * slots).reshape(m, slots, slots)
    inter = hist[:, 1:, 1:]
    p_len = hist[:, 1:, :].sum(axis=2)
    g_len = hist[:, :, 1:].sum(axis=1)
    match = (inter > 0) & (3 * inter >= p_len[:, :, None] + g_len[:, None, :])
    # The reference counts each predicted event that matches ANY ground-truth event as a TP, and
    # each ground-truth event matched by no predicted event as an FN (no one-to-one assignment).
    tp = np.count_nonzero(match.any(axis=2), axis=1)
    fn = g_runs - np.count_nonzero(match.any(axis=1), axis=1)
    fp = p_runs - tp
    return np.stack([tp, fp, fn], axis=-1).astype(np.int64).reshape(*lead, 3)


def _counts_generic(pa: BoolArray, pv: BoolArray, ga: BoolArray, gv: BoolArray) -> IntArray:
    """(2 levels, 3 modalities, 3 stats, N, C) counts on bool arrays; any T."""
    pred = np.stack([pa, pv, pa & pv])  # (3, N, C, T)
    gt = np.stack([ga, gv, ga & gv])
    seg = _segment_counts(pred, gt)  # (3, N, C, 3)
    evt = _event_counts(pred, gt)
    return np.moveaxis(np.stack([seg, evt]), -1, 2)


_MAX_CODE_BITS: Final[int] = 64
_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(x: NDArray[np.uint64]) -> IntArray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x)
    as_bytes = np.ascontiguousarray(x).view(np.uint8).reshape(*x.shape, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.int64)


def _codes(x: BoolArray) -> NDArray[np.uint64]:
    """(..., T) bool, T <= 64 -> (...) uint64 with bit t = segment t."""
    t = x.shape[-1]
    if t <= 53:
        # A matrix-vector product with powers of two is exact in float32 up to 24 bits and in
        # float64 up to 53, and much faster than np.packbits on short rows.
        dtype = np.float32 if t <= 24 else np.float64
        weights: NDArray[np.floating[Any]] = np.exp2(np.arange(t)).astype(dtype)
        return np.matmul(x.view(np.uint8), weights).astype(np.uint64)
    packed = np.packbits(x, axis=-1, bitorder="little")
    code = packed[..., 0].astype(np.uint64)
    for k in range(1, packed.shape[-1]):
        code |= packed[..., k].astype(np.uint64) << np.uint64(8 * k)
    return code


def _counts_codes(pa: BoolArray, pv: BoolArray, ga: BoolArray, gv: BoolArray) -> IntArray:
    """Same as :func:`_counts_generic` for T <= 64, working on one uint64 bit code per row.

    Segment counts and event counts are popcounts of bit codes; only the rows where a predicted
    and a ground-truth event intersect (the only rows where an event can match) go through the
    histogram matcher. Elsewhere TP = 0, FP = #predicted runs, FN = #ground-truth runs.
    """
    t = pa.shape[-1]
    a_p, v_p, a_g, v_g = _codes(pa), _codes(pv), _codes(ga), _codes(gv)
    # Counts are at most 2T per video and class, so int16 is enough and keeps memory traffic low.
    out = np.empty((2, 3, 3, *a_p.shape), dtype=np.int16)  # level, modality, stat, N, C
    one = np.uint64(1)
    rows = ((a_p, a_g), (v_p, v_g), (a_p & v_p, a_g & v_g))
    for mi, (pred, gt) in enumerate(rows):
        both = pred & gt
        out[0, mi, 0] = _popcount(both)
        out[0, mi, 1] = _popcount(pred & ~gt)
        out[0, mi, 2] = _popcount(gt & ~pred)
        tp = out[1, mi, 0]
        tp[...] = 0
        hit = np.nonzero(both)
        if hit[0].size:
            bits = one << np.arange(t, dtype=np.uint64)
            p_rows = (pred[hit][:, None] & bits) != 0
            g_rows = (gt[hit][:, None] & bits) != 0
            tp[hit] = _event_counts(p_rows, g_rows)[:, 0]
        # A run starts where bit t is set and bit t-1 is not.
        np.subtract(_popcount(pred & ~(pred << one)), tp, out=out[1, mi, 1])
        np.subtract(_popcount(gt & ~(gt << one)), tp, out=out[1, mi, 2])
    return out


def _counts(pa: BoolArray, pv: BoolArray, ga: BoolArray, gv: BoolArray) -> IntArray:
    """(2 levels, 3 modalities, 3 stats, N, C) TP/FP/FN (int16 for T <= 64, else int64)."""
    if 0 < pa.shape[-1] <= _MAX_CODE_BITS:
        return _counts_codes(pa, pv, ga, gv)
    return _counts_generic(pa, pv, ga, gv)


def parsing_counts(pred_audio: Any, pred_visual: Any, gt_audio: Any, gt_visual: Any) -> IntArray:
    """Per-video, per-class TP / FP / FN of every level and modality.

    Returns an int64 array of shape (N, 2, 3, 3, C): axis 1 is :data:`LEVELS` (segment, event),
    axis 2 :data:`MODALITIES` (audio, visual, audio-visual), axis 3 :data:`STATS` (tp, fp, fn).
    """
    counts = _counts(*_check_inputs(pred_audio, pred_visual, gt_audio, gt_visual))
    return np.ascontiguousarray(np.moveaxis(counts, 3, 0), dtype=np.int64)


def f1_from_counts(tp: Any, fp: Any, fn: Any) -> FloatArray:
    """F = 2TP / (2TP + FP + FN) elementwise; NaN where TP + FP + FN == 0."""
    tp = np.asarray(tp, dtype=np.float64)
    denom = 2 * tp + np.asarray(fp, dtype=np.float64) + np.asarray(fn, dtype=np.float64)
    out = np.full(denom.shape, np.nan)
    np.divide(2 * tp, denom, out=out, where=denom > 0)
    return out


def _video_f(stats: IntArray) -> FloatArray:
    """(G, 3 stats, N, C) TP/FP/FN -> (G, N) mean F over the classes that occur, 1.0 if none.

    Only the (group, video, class) cells with TP + FP + FN > 0 enter the mean; they are few
    (most classes are absent from a video and not predicted), so F is computed on those cells
    only and summed per (group, video) with ``np.bincount``.
    """
    g, _, n, c = stats.shape
    tp = stats[:, 0].astype(np.int32)
    denom = 2 * tp + stats[:, 1] + stats[:, 2]
    cells = np.flatnonzero(denom)
    f = 2.0 * tp.ravel()[cells] / denom.ravel()[cells]
    owner = cells // c  # index of the (group, video) pair
    total = np.bincount(owner, weights=f, minlength=g * n)
    n_present = np.bincount(owner, minlength=g * n)
    mean = np.divide(total, n_present, out=np.ones(g * n), where=n_present > 0)
    return mean.reshape(g, n)


def _per_video_from_counts(counts: IntArray) -> dict[str, FloatArray]:
    """(2 levels, 3 modalities, 3 stats, N, C) counts -> the eight per-video F values, each (N,)."""
    groups = np.empty((2, 4, *counts.shape[2:]), dtype=counts.dtype)
    groups[:, :3] = counts
    np.add(counts[:, 0], counts[:, 1], out=groups[:, 3])  # Event@AV: A and V counts added first
    f = _video_f(groups.reshape(8, *counts.shape[2:]))  # (8, N)
    return {key: f[i] for i, key in enumerate(PER_VIDEO_KEYS)}


def per_video_scores(
    pred_audio: Any, pred_visual: Any, gt_audio: Any, gt_visual: Any
) -> dict[str, FloatArray]:
    """The eight per-video F values (:data:`PER_VIDEO_KEYS`), each an (N,) float64 array."""
    return _per_video_from_counts(
        _counts(*_check_inputs(pred_audio, pred_visual, gt_audio, gt_visual))
    )


def scores_from_per_video_sums(sums: dict[str, float], count: int) -> dict[str, float]:
    """The ten :data:`METRIC_KEYS` from sums of per-video F values over ``count`` videos.

    With ``count == 0`` every value is NaN (an empty subset has no score).
    """
    if count == 0:
        return {key: float("nan") for key in METRIC_KEYS}
    mean = {key: float(sums[key]) / count for key in PER_VIDEO_KEYS}
    out: dict[str, float] = {}
    for level in LEVELS:
        a, v, av = (mean[f"{level}/{m}"] for m in MODALITIES)
        out[f"{level}/audio"] = a
        out[f"{level}/visual"] = v
        out[f"{level}/audio-visual"] = av
        out[f"{level}/type@av"] = (a + v + av) / 3.0
        out[f"{level}/event@av"] = mean[f"{level}/event@av"]
    return out


def parsing_scores(
    pred_audio: Any, pred_visual: Any, gt_audio: Any, gt_visual: Any
) -> dict[str, float]:
    """The ten LLP benchmark numbers (fractions in [0, 1]) for binary (N, C, T) inputs.

    Keys, in the papers' column order: ``segment/audio``, ``segment/visual``,
    ``segment/audio-visual``, ``segment/type@av``, ``segment/event@av``, then the same five for
    ``event/``. Each is the mean over all N videos of the per-video F (see the module docstring);
    with N == 0 every value is NaN.
    """
    per_video = per_video_scores(pred_audio, pred_visual, gt_audio, gt_visual)
    n = next(iter(per_video.values())).shape[0]
    return scores_from_per_video_sums({k: float(v.sum()) for k, v in per_video.items()}, n)


def _per_class_from_totals(totals: IntArray) -> dict[str, FloatArray]:
    """(3 modalities, 3 stats, C) dataset totals -> {modality: (C,) F1, NaN if no TP+FP+FN}."""
    return {
        modality: f1_from_counts(totals[mi, 0], totals[mi, 1], totals[mi, 2])
        for mi, modality in enumerate(MODALITIES)
    }


def per_class_f1(
    pred_audio: Any,
    pred_visual: Any,
    gt_audio: Any,
    gt_visual: Any,
    *,
    level: str = "event",
) -> dict[str, FloatArray]:
    """Per-class F1 per modality from TP / FP / FN summed over all videos (dataset level).

    Returns ``{"audio": (C,), "visual": (C,), "audio-visual": (C,)}`` float64 arrays; a class
    with TP + FP + FN == 0 over the whole set (never predicted, never present) is NaN.
    ``level`` is ``"event"`` or ``"segment"``.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    counts = _counts(*_check_inputs(pred_audio, pred_visual, gt_audio, gt_visual))
    return _per_class_from_totals(counts[LEVELS.index(level)].sum(axis=2))


def per_class_event_f1(
    pred_audio: Any, pred_visual: Any, gt_audio: Any, gt_visual: Any
) -> dict[str, FloatArray]:
    """Event-level per-class F1 per modality (LEAP's per-class figure); see :func:`per_class_f1`."""
    return per_class_f1(pred_audio, pred_visual, gt_audio, gt_visual, level="event")


def per_class_segment_f1(
    pred_audio: Any, pred_visual: Any, gt_audio: Any, gt_visual: Any
) -> dict[str, FloatArray]:
    """Segment-level per-class F1 per modality; see :func:`per_class_f1`."""
    return per_class_f1(pred_audio, pred_visual, gt_audio, gt_visual, level="segment")


def overlap_mask(gt_audio: Any, gt_visual: Any) -> BoolArray:
    """(N,) True for videos with at least one segment holding 2+ events in either modality.

    The LEAP "overlapping" subset (docs/methods.md section 7): within the audio ground truth or
    within the visual ground truth, some segment has two or more classes active. An audio event and
    a different visual event in the same segment do not by themselves make a video overlapping.
    """
    ga = as_binary(gt_audio, name="gt_audio")
    gv = as_binary(gt_visual, name="gt_visual")
    if ga.shape != gv.shape:
        raise ValueError(f"gt_audio {ga.shape} and gt_visual {gv.shape} must have one shape")
    multi_a = (ga.sum(axis=1) >= 2).any(axis=-1)
    multi_v = (gv.sum(axis=1) >= 2).any(axis=-1)
    return np.asarray(multi_a | multi_v, dtype=np.bool_)
