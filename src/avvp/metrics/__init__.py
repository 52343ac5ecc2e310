"""LLP audio-visual video parsing metrics: the exact benchmark protocol, vectorized.

* :func:`parsing_scores` -- the ten benchmark numbers for binary (N, C, T) predictions;
* :func:`per_class_event_f1` / :func:`per_class_segment_f1` -- dataset-level per-class F1;
* :func:`overlap_mask` -- the LEAP overlapping / non-overlapping split;
* :class:`ParsingMetric` -- the same, accumulated over batches (mergeable, distributed);
* :func:`format_scores_table` -- side-by-side text tables (x100, one decimal).

See ``docs/metrics.md`` for the protocol.
"""

from __future__ import annotations

from avvp.metrics.accumulator import SUBSETS, ParsingMetric
from avvp.metrics.parsing import (
    LEVELS,
    METRIC_KEYS,
    MODALITIES,
    PER_VIDEO_KEYS,
    STATS,
    as_binary,
    f1_from_counts,
    overlap_mask,
    parsing_counts,
    parsing_scores,
    per_class_event_f1,
    per_class_f1,
    per_class_segment_f1,
    per_video_scores,
    scores_from_per_video_sums,
)
from avvp.metrics.report import COLUMN_LABELS, format_per_class_table, format_scores_table

__all__ = [
    "COLUMN_LABELS",
    "LEVELS",
    "METRIC_KEYS",
    "MODALITIES",
    "PER_VIDEO_KEYS",
    "STATS",
    "SUBSETS",
    "ParsingMetric",
    "as_binary",
    "f1_from_counts",
    "format_per_class_table",
    "format_scores_table",
    "overlap_mask",
    "parsing_counts",
    "parsing_scores",
    "per_class_event_f1",
    "per_class_f1",
    "per_class_segment_f1",
    "per_video_scores",
    "scores_from_per_video_sums",
]
