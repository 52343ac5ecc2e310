"""Synthetic annotations: labels and segment ground truth drawn from real LLP statistics
(:func:`sample_annotations`), and VALOR-style noisy pseudo labels (:func:`make_pseudo_labels`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avvp.classes import NUM_CLASSES
from avvp.data.llp_stats import LLPStats, rows_from_patterns
from avvp.data.synth.config import SynthConfig


@dataclass(frozen=True)
class SynthAnnotations:
    """Sampled annotations of N videos.

    Attributes:
        labels: (N, C) uint8 video-level labels (union of the audio and visual events).
        gt_audio: (N, C, T) uint8 audio ground truth.
        gt_visual: (N, C, T) uint8 visual ground truth.
    """

    labels: NDArray[np.uint8]
    gt_audio: NDArray[np.uint8]
    gt_visual: NDArray[np.uint8]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _pattern_cdfs(stats: LLPStats, modality: str, shrinkage: float) -> NDArray[np.float64]:
    """(C, 1024) CDFs of a class's non-empty row patterns, shrunk towards the pooled patterns."""
    table = stats.row_patterns[modality].astype(np.float64)
    pooled = table.sum(axis=0)
    pooled /= pooled.sum()
    probs = table + shrinkage * pooled[None, :]
    probs /= probs.sum(axis=1, keepdims=True)
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    return cdf


def _copy_probability(
    stats: LLPStats, cdf_a: NDArray[np.float64], cdf_v: NDArray[np.float64], shrinkage: float
) -> NDArray[np.float64]:
    """Per class, the probability that an audio-visual class's visual row copies the audio row.

    Chosen so that P(identical rows) matches the measured fraction: independent draws are also
    identical by coincidence with probability sum_p pa(p) pv(p).
    """
    pa = np.diff(cdf_a, axis=1, prepend=0.0)
    pv = np.diff(cdf_v, axis=1, prepend=0.0)
    coincide = (pa * pv).sum(axis=1)
    counts = stats.av_counts.astype(np.float64)
    pooled = float((stats.av_identical * counts).sum() / max(counts.sum(), 1.0))
    identical = (stats.av_identical * counts + shrinkage * pooled) / (counts + shrinkage)
    return np.clip((identical - coincide) / np.maximum(1.0 - coincide, 1e-9), 0.0, 1.0)


_MAX_REDRAWS = 50


def _sample_modalities(
    labels: NDArray[np.bool_],
    choice: NDArray[np.int64],
    *,
    stats: LLPStats,
    rng: np.random.Generator,
    min_set_videos: int,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which labelled classes have audio / visual events, (N, C) bool each.

    A label set seen in at least ``min_set_videos`` real val+test videos with events in both
    modalities (and an event for each labelled class) takes one of their joint assignments (so
    e.g. a lone "Speech" is audio-visual while "Speech" beside an instrument is often
    audio-only). Other label sets draw each class from its marginal proportions, redrawn until
    the video has events in both modalities.
    """
    n, c = labels.shape
    has_a = np.zeros((n, c), dtype=bool)
    has_v = np.zeros((n, c), dtype=bool)
    u_set = np.asarray(rng.random(n), dtype=np.float64)
    pending = np.zeros(n, dtype=bool)
    for s in np.unique(choice):
        rows = np.flatnonzero(choice == s)
        members = np.flatnonzero(stats.label_sets[s])
        entry = stats.label_set_types.get(tuple(int(k) for k in members))
        # Assignments with a labelled class that has no event ("n") are annotation gaps: left
        # out, so that a synthetic video label is always the union of its events.
        keep = [] if entry is None else [i for i, code in enumerate(entry[0]) if "n" not in code]
        if entry is None or int(entry[1][keep].sum()) < min_set_videos:
            pending[rows] = True
            continue
        codes = tuple(entry[0][i] for i in keep)
        counts = entry[1][keep]
        cdf: NDArray[np.float64] = np.cumsum(counts) / counts.sum()
        picked = np.minimum(np.searchsorted(cdf, u_set[rows], side="right"), len(codes) - 1)
        table = np.array([[ch in "ab" for ch in code] for code in codes])  # (K, |S|)
        table_v = np.array([[ch in "vb" for ch in code] for code in codes])
        has_a[np.ix_(rows, members)] = table[picked]
        has_v[np.ix_(rows, members)] = table_v[picked]
    cum = np.cumsum(stats.complete_modality_probs, axis=1)
    cum[:, -1] = 1.0
    for _ in range(_MAX_REDRAWS):
        u = rng.random((n, c))  # drawn every round: the stream layout does not depend on data
        if not pending.any():
            continue
        kind = (u[:, :, None] >= cum[None, :, :-1]).sum(axis=2)  # 0 A, 1 V, 2 AV
        a = labels & (kind != 1)
        v = labels & (kind != 0)
        has_a[pending], has_v[pending] = a[pending], v[pending]
        pending &= ~(has_a.any(axis=1) & has_v.any(axis=1))
    # Left-overs (vanishingly rare): one random labelled class becomes audio-visual.
    pick = np.argmax(np.where(labels, rng.random((n, c)), -1.0), axis=1)
    rows_all = np.arange(n)
    no_a, no_v = ~has_a.any(axis=1), ~has_v.any(axis=1)
    has_a[rows_all[no_a], pick[no_a]] = True
    has_v[rows_all[no_v], pick[no_v]] = True
    return has_a, has_v


def sample_annotations(
    num_videos: int,
    *,
    stats: LLPStats,
    rng: np.random.Generator,
    pattern_shrinkage: float = 20.0,
    min_set_videos: int = 3,
) -> SynthAnnotations:
    """Sample labels and segment-level ground truth of ``num_videos`` videos (no features).

    Follows the real LLP statistics in ``stats`` (see the module docstring). Every random draw
    has a data-independent shape, so the result is a pure function of the generator state.
    """
    n, c = num_videos, NUM_CLASSES
    choice = rng.choice(stats.label_sets.shape[0], size=n, p=stats.label_set_probs)
    labels = stats.label_sets[choice]  # (N, C) bool

    has_a, has_v = _sample_modalities(
        labels, choice, stats=stats, rng=rng, min_set_videos=min_set_videos
    )

    cdf_a = _pattern_cdfs(stats, "audio", pattern_shrinkage)
    cdf_v = _pattern_cdfs(stats, "visual", pattern_shrinkage)
    ua, uv, ucopy = rng.random((n, c)), rng.random((n, c)), rng.random((n, c))
    pat_a = np.empty((n, c), dtype=np.int64)
    pat_v = np.empty((n, c), dtype=np.int64)
    for k in range(c):
        pat_a[:, k] = np.searchsorted(cdf_a[k], ua[:, k], side="right")
        pat_v[:, k] = np.searchsorted(cdf_v[k], uv[:, k], side="right")
    copy = has_a & has_v & (ucopy < _copy_probability(stats, cdf_a, cdf_v, pattern_shrinkage))
    pat_v = np.where(copy, pat_a, pat_v)
    gt_a = rows_from_patterns(pat_a) * has_a[:, :, None]
    gt_v = rows_from_patterns(pat_v) * has_v[:, :, None]
    return SynthAnnotations(
        labels=labels.astype(np.uint8),
        gt_audio=gt_a.astype(np.uint8),
        gt_visual=gt_v.astype(np.uint8),
    )


# ---------------------------------------------------------------------------------------------
# Pseudo labels


def make_pseudo_labels(
    gt: NDArray[Any],
    other: NDArray[Any],
    labels: NDArray[Any],
    *,
    config: SynthConfig,
    rng: np.random.Generator,
) -> NDArray[np.uint8]:
    """VALOR-style noisy segment pseudo labels of one modality, (N, C, T) uint8.

    Args:
        gt: (N, C, T) ground truth of this modality.
        other: (N, C, T) ground truth of the other modality (source of cross-modal leaks).
        labels: (N, C) video labels; the result is masked by them.
    """
    g = np.asarray(gt).astype(bool)
    o = np.asarray(other).astype(bool)
    lab = np.asarray(labels).astype(bool)
    n, c, t = g.shape
    s = config.pseudo_class_rate_spread
    factor = np.exp(s * rng.standard_normal(c) - 0.5 * s * s)

    def rate(base: float) -> NDArray[np.float64]:
        return np.minimum(base * factor, 0.95)[None, :, None]

    cell_draws = ("on", "on_dir", "off", "off_dir", "seg", "fp")
    draws = {name: rng.random((n, c, t)) for name in cell_draws}
    row_draws = {name: rng.random((n, c)) for name in ("miss", "leak")}

    false_col = np.zeros((n, c, 1), dtype=bool)
    prev = np.concatenate([false_col, g[:, :, :-1]], axis=2)
    nxt = np.concatenate([g[:, :, 1:], false_col], axis=2)
    onset, last = g & ~prev, g & ~nxt
    p = g.copy()
    shift = rate(config.pseudo_boundary_shift_rate)
    # Shrinking a one-segment event would delete it: it can only grow.
    on_sel = onset & (draws["on"] < shift)
    on_grow = on_sel & ((draws["on_dir"] < 0.5) | ~nxt)
    p[:, :, :-1] |= on_grow[:, :, 1:]
    p &= ~(on_sel & ~on_grow)
    off_sel = last & (draws["off"] < shift)
    off_grow = off_sel & ((draws["off_dir"] < 0.5) | ~prev)
    p[:, :, 1:] |= off_grow[:, :, :-1]
    p &= ~(off_sel & ~off_grow)

    has_row: NDArray[np.bool_] = np.any(g, axis=2)
    p &= ~(draws["seg"] < rate(config.pseudo_segment_miss_rate))
    p |= ~g & has_row[:, :, None] & (draws["fp"] < rate(config.pseudo_spurious_rate))
    missed = has_row & (row_draws["miss"] < rate(config.pseudo_event_miss_rate)[:, :, 0])
    p[missed] = False
    leak = lab & ~has_row & (row_draws["leak"] < rate(config.pseudo_cross_modal_rate)[:, :, 0])
    p[leak] = o[leak]
    p &= lab[:, :, None]
    return p.astype(np.uint8)


def segment_f1(pred: NDArray[Any], gt: NDArray[Any]) -> float:
    """Micro segment-level F1 of binary ``pred`` against ``gt`` (any equal shapes)."""
    pb, gb = np.asarray(pred).astype(bool), np.asarray(gt).astype(bool)
    tp = float((pb & gb).sum())
    denom = float(pb.sum() + gb.sum())
    return 1.0 if denom == 0 else 2.0 * tp / denom
