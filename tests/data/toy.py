"""A tiny random dataset in the official LLP layout, for the data-layer tests.

Not a realistic generator (that is :mod:`avvp.data.synth`): random ids, labels, events and
features with the official file names, folders and shapes, written fast.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avvp.classes import LLP_CLASSES, NUM_SEGMENTS
from avvp.data.features import FEATURE_SPECS
from avvp.data.llp import EVAL_FILES, FULL_FILE, SPLIT_FILES

ID_ALPHABET = string.ascii_letters + string.digits + "-_"
DEFAULT_KEYS = ("audio", "frames", "clips", "pseudo_audio", "pseudo_visual")


@dataclass
class ToyDataset:
    root: Path
    annotations: Path
    filenames: dict[str, list[str]]
    labels: dict[str, list[tuple[str, ...]]]
    keys: tuple[str, ...]

    def ids(self, split: str) -> list[str]:
        return [name[:11] for name in self.filenames[split]]

    def feature_path(self, key: str, video_id: str) -> Path:
        return self.root / FEATURE_SPECS[key].folder / f"{video_id}.npy"


def _write_tsv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_toy_dataset(
    root: Path,
    *,
    sizes: dict[str, int] | None = None,
    keys: Sequence[str] = DEFAULT_KEYS,
    seed: int = 0,
    annotations_subdir: bool = False,
) -> ToyDataset:
    """Write annotations (all six CSVs) and per-video ``.npy`` files for ``keys`` under ``root``."""
    rng = np.random.default_rng(seed)
    sizes = sizes or {"train": 6, "val": 3, "test": 4}
    annotations = root / "annotations" if annotations_subdir else root
    annotations.mkdir(parents=True, exist_ok=True)
    filenames: dict[str, list[str]] = {}
    labels: dict[str, list[tuple[str, ...]]] = {}
    used: set[str] = set()
    for split in SPLIT_FILES:
        filenames[split], labels[split] = [], []
        while len(filenames[split]) < sizes.get(split, 0):
            video_id = "".join(rng.choice(list(ID_ALPHABET), size=11))
            if video_id in used:
                continue
            used.add(video_id)
            start = int(rng.integers(0, 300))
            filenames[split].append(f"{video_id}_{start}_{start + 10}")
            count = int(rng.integers(1, 4))
            picked = rng.choice(len(LLP_CLASSES), size=count, replace=False)
            labels[split].append(tuple(LLP_CLASSES[i] for i in picked))
    full_rows = []
    for split, file in SPLIT_FILES.items():
        rows = [(f, ",".join(lab)) for f, lab in zip(filenames[split], labels[split], strict=True)]
        _write_tsv(annotations / file, ("filename", "event_labels"), rows)
        full_rows.extend(rows)
    _write_tsv(annotations / FULL_FILE, ("filename", "event_labels"), full_rows)
    for file in EVAL_FILES.values():
        events = []
        for split in ("val", "test"):
            for name, labs in zip(filenames[split], labels[split], strict=True):
                for label in labs:
                    if rng.random() < 0.3:
                        continue  # this class is absent from this modality
                    onset = int(rng.integers(0, NUM_SEGMENTS))
                    offset = int(rng.integers(onset + 1, NUM_SEGMENTS + 1))
                    events.append((name, onset, offset, label))
        _write_tsv(annotations / file, ("filename", "onset", "offset", "event_labels"), events)
    for key in keys:
        spec = FEATURE_SPECS[key]
        folder = root / spec.folder
        folder.mkdir(parents=True, exist_ok=True)
        for split in SPLIT_FILES:
            for name, labs in zip(filenames[split], labels[split], strict=True):
                if spec.binary:
                    mask = np.zeros(spec.shape[1], dtype=bool)
                    mask[[LLP_CLASSES.index(lab) for lab in labs]] = True
                    array = (rng.random(spec.shape) < 0.5) & mask
                    np.save(folder / f"{name[:11]}.npy", array.astype(np.int64))
                else:
                    array = rng.standard_normal(spec.shape, dtype=np.float32)
                    np.save(folder / f"{name[:11]}.npy", array)
    return ToyDataset(root, annotations, filenames, labels, tuple(keys))
