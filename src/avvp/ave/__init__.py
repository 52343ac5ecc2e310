"""Audio-visual event localization (AVE dataset): data, metric, AVE / PSP / CMBS encoders with
their default classification heads or LEAP, and the trainer task (see ``docs/ave.md``)."""

from __future__ import annotations

from avvp.ave.data import (
    AVE_CLASSES,
    BACKGROUND,
    NUM_AVE_CLASSES,
    AVEAnnotations,
    AVEDataset,
    read_annotations,
    read_split_order,
    segment_labels,
)
from avvp.ave.metric import AccuracyCounter, segment_accuracy

__all__ = [
    "AVE_CLASSES",
    "BACKGROUND",
    "NUM_AVE_CLASSES",
    "AVEAnnotations",
    "AVEDataset",
    "AccuracyCounter",
    "read_annotations",
    "read_split_order",
    "segment_accuracy",
    "segment_labels",
]
