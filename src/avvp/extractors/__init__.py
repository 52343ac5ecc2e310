"""Feature extractors: the LLP benchmark's (VGGish, ResNet-152, R(2+1)D-18) and offline ones
(YAMNet, EfficientNet-Lite0). Heavy or optional dependencies are imported lazily."""

from __future__ import annotations

from avvp.extractors.base import FeatureExtractor, load_state_dict_file
from avvp.extractors.factory import (
    BENCHMARK_EXTRACTORS,
    EXTRACTOR_NAMES,
    EXTRACTORS,
    KEY_TO_EXTRACTOR,
    create_extractor,
)

__all__ = [
    "BENCHMARK_EXTRACTORS",
    "EXTRACTORS",
    "EXTRACTOR_NAMES",
    "KEY_TO_EXTRACTOR",
    "FeatureExtractor",
    "create_extractor",
    "load_state_dict_file",
]
