"""Segment-level pseudo labels for new data in VALOR's layout, from pluggable teachers.

Writes ``<root>/CLAP/segment_pseudo_labels/<id>.npy`` (audio) and
``<root>/CLIP/segment_pseudo_labels/<id>.npy`` (visual): int64 (T, 25) 0/1, a segment positive
where the teacher's score reaches the class threshold, then masked by the video's weak label
(when the dataset's annotation CSVs name the video), as VALOR's files are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from avvp.classes import CLASS_INDEX, LLP_CLASSES, NUM_CLASSES
from avvp.errors import ConfigError

AUDIO_FOLDER = "CLAP/segment_pseudo_labels"
VISUAL_FOLDER = "CLIP/segment_pseudo_labels"
DEFAULT_AUDIO_THRESHOLD = 0.2
DEFAULT_VISUAL_THRESHOLD = 0.3
LABEL_FILES = ("AVVP_dataset_full.csv", "AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv")


@dataclass
class Thresholds:
    """Per-class score thresholds, (25,) float each."""

    audio: np.ndarray
    visual: np.ndarray

    @classmethod
    def default(cls) -> Thresholds:
        return cls(
            audio=np.full(NUM_CLASSES, DEFAULT_AUDIO_THRESHOLD, dtype=np.float32),
            visual=np.full(NUM_CLASSES, DEFAULT_VISUAL_THRESHOLD, dtype=np.float32),
        )


def _threshold_vector(section: Any, default: float, *, where: str) -> np.ndarray:
    if isinstance(section, int | float) and not isinstance(section, bool):
        return np.full(NUM_CLASSES, float(section), dtype=np.float32)
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: expected a number or a mapping of class -> threshold")
    values = dict(section)
    base = values.pop("default", default)
    vector = np.full(NUM_CLASSES, float(_check_value(base, f"{where}.default")), np.float32)
    for name, value in values.items():
        if name not in CLASS_INDEX:
            raise ConfigError(
                f"{where}.{name}: unknown LLP class (known: {', '.join(LLP_CLASSES)})"
            )
        vector[CLASS_INDEX[name]] = _check_value(value, f"{where}.{name}")
    return vector


def _check_value(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{where}: threshold must be a number in [0, 1], got {value!r}")
    return float(value)


def load_thresholds(path: str | Path) -> Thresholds:
    """Read per-class thresholds from JSON or YAML.

    Format: ``{"audio": {"default": 0.2, "Dog": 0.4, ...}, "visual": 0.3}``; a modality may be a
    single number; missing modalities and classes keep the defaults.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read thresholds file ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid JSON/YAML ({exc})") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping with 'audio' and/or 'visual'")
    unknown = set(data) - {"audio", "visual"}
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)} (expected 'audio', 'visual')")
    return Thresholds(
        audio=_threshold_vector(
            data.get("audio", {}), DEFAULT_AUDIO_THRESHOLD, where=f"{path}: audio"
        ),
        visual=_threshold_vector(
            data.get("visual", {}), DEFAULT_VISUAL_THRESHOLD, where=f"{path}: visual"
        ),
    )


def binarize(
    scores: np.ndarray, thresholds: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """(T, 25) scores -> int64 (T, 25) 0/1 labels, optionally masked by a (25,) weak label."""
    labels = (scores >= thresholds[None, :]).astype(np.int64)
    if mask is not None:
        labels *= mask.astype(np.int64)[None, :]
    return labels


def read_video_labels(paths: Iterable[Path]) -> dict[str, np.ndarray]:
    """Weak labels by filename and by 11-character video id, from LLP split CSVs.

    Returns ``{key: (25,) 0/1}``; later files do not override earlier ones.
    """
    from avvp.data.llp import read_weak_labels

    labels: dict[str, np.ndarray] = {}
    for path in paths:
        for record in read_weak_labels(path):
            vector = np.zeros(NUM_CLASSES, dtype=np.int64)
            for name in record.labels:
                vector[CLASS_INDEX[name]] = 1
            labels.setdefault(record.filename, vector)
            labels.setdefault(record.video_id, vector)
    return labels


def find_label_files(root: Path) -> list[Path]:
    """The annotation CSVs with weak labels in ``root`` or ``root/annotations`` (may be none)."""
    found = []
    for folder in (root, root / "annotations"):
        for name in LABEL_FILES:
            if (folder / name).is_file():
                found.append(folder / name)
    return found


def lookup_mask(labels: Mapping[str, np.ndarray], video_id: str) -> np.ndarray | None:
    """The weak label of a video named ``video_id`` (its file stem), or None when unknown."""
    if video_id in labels:
        return labels[video_id]
    return labels.get(video_id[:11]) if len(video_id) >= 11 else None
