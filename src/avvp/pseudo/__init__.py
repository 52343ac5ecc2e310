"""Pseudo labels for new data: teachers, AudioSet/ImageNet -> LLP class maps, thresholds."""

from __future__ import annotations

from avvp.pseudo.labels import Thresholds, binarize, load_thresholds
from avvp.pseudo.maps import AUDIOSET_TO_LLP, IMAGENET_TO_LLP, NO_VISUAL_COUNTERPART
from avvp.pseudo.teachers import ImageNetTeacher, Teacher, YAMNetTeacher

__all__ = [
    "AUDIOSET_TO_LLP",
    "IMAGENET_TO_LLP",
    "NO_VISUAL_COUNTERPART",
    "ImageNetTeacher",
    "Teacher",
    "Thresholds",
    "YAMNetTeacher",
    "binarize",
    "load_thresholds",
]
