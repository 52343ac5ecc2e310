"""AVE (audio-visual event localization) data: annotations, splits, labels and features.

Dataset root layout (docs/methods.md section 11; the reference code's ``data/`` folder):

* ``Annotations.txt``: ``Category&VideoID&Quality&StartTime&EndTime`` per video (an optional
  header line of that form). Row ``i`` is video ``i``: the split files and the HDF5 feature files
  index videos by their annotation row.
* ``{train,val,test}_order.h5``: HDF5 dataset ``order``, int64 annotation rows of the split.
* Features, one of two layouts:

  - reference HDF5: ``audio_feature.h5`` (N, 10, 128) and ``visual_feature.h5``
    (N, 10, 7, 7, 512), each holding the dataset ``avadataset`` (the key the reference code
    reads), row ``i`` = annotation row ``i``;
  - per-video npy: ``audio/<VideoID>.npy`` (10, 128) and ``visual/<VideoID>.npy`` (10, 7, 7, 512).

Labels: the class index is the order of first appearance of a category in ``Annotations.txt``;
background is index 28 (``num_classes``). Segment ``t`` (second ``[t, t+1)``) carries the video's
class when ``Start <= t < End``, else background.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from avvp.errors import DataError

__all__ = [
    "ANNOTATION_FILE",
    "AUDIO_H5",
    "AVE_CLASSES",
    "BACKGROUND",
    "FEATURE_KEYS",
    "HDF5_KEY",
    "HEADER",
    "NUM_AVE_CLASSES",
    "NUM_SEGMENTS",
    "SPLITS",
    "VISUAL_H5",
    "AVEAnnotations",
    "AVEDataset",
    "AVERecord",
    "FeatureStore",
    "HDF5Features",
    "NpyFeatures",
    "open_features",
    "read_annotations",
    "read_split_order",
    "segment_labels",
]

# The 28 AVE categories in order of first appearance in the official Annotations.txt.
AVE_CLASSES: tuple[str, ...] = (
    "Church bell",
    "Male speech, man speaking",
    "Bark",
    "Fixed-wing aircraft, airplane",
    "Race car, auto racing",
    "Female speech, woman speaking",
    "Helicopter",
    "Violin, fiddle",
    "Flute",
    "Ukulele",
    "Frying (food)",
    "Truck",
    "Shofar",
    "Motorcycle",
    "Acoustic guitar",
    "Train horn",
    "Clock",
    "Banjo",
    "Goat",
    "Baby cry, infant cry",
    "Bus",
    "Chainsaw",
    "Cat",
    "Horse",
    "Toilet flush",
    "Rodents, rats, mice",
    "Accordion",
    "Mandolin",
)
NUM_AVE_CLASSES = len(AVE_CLASSES)
BACKGROUND = NUM_AVE_CLASSES  # label index of background segments
NUM_SEGMENTS = 10
SPLITS: tuple[str, ...] = ("train", "val", "test")
ANNOTATION_FILE = "Annotations.txt"
HEADER = "Category&VideoID&Quality&StartTime&EndTime"
AUDIO_H5 = "audio_feature.h5"
VISUAL_H5 = "visual_feature.h5"
HDF5_KEY = "avadataset"
FEATURE_KEYS: tuple[str, ...] = ("audio", "visual")
# Trailing shape per key after the segment axis: audio (128,), visual (H, W, C).
FEATURE_NDIM = {"audio": 2, "visual": 4}


@dataclass(frozen=True)
class AVERecord:
    """One line of ``Annotations.txt`` (``line`` is 1-based in the file)."""

    category: str
    video_id: str
    quality: str
    start: float
    end: float
    line: int


def segment_labels(
    start: float,
    end: float,
    class_index: int,
    *,
    num_segments: int = NUM_SEGMENTS,
    background: int = BACKGROUND,
) -> NDArray[np.int64]:
    """(T,) labels: ``class_index`` where ``start <= t < end``, else ``background``."""
    t = np.arange(num_segments)
    return np.where((t >= start) & (t < end), class_index, background).astype(np.int64)


@dataclass
class AVEAnnotations:
    """Parsed ``Annotations.txt``: records in file order and the class list they define."""

    path: Path
    records: list[AVERecord]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def video_ids(self) -> list[str]:
        return [r.video_id for r in self.records]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_indices(self) -> NDArray[np.int64]:
        """(N,) class index of each video."""
        index = {name: i for i, name in enumerate(self.classes)}
        return np.array([index[r.category] for r in self.records], dtype=np.int64)

    def labels(self) -> NDArray[np.int64]:
        """(N, T) segment labels, class index or background (``num_classes``)."""
        cls = self.class_indices()
        return (
            np.stack(
                [
                    segment_labels(r.start, r.end, int(c), background=self.num_classes)
                    for r, c in zip(self.records, cls, strict=True)
                ]
            )
            if self.records
            else np.zeros((0, NUM_SEGMENTS), dtype=np.int64)
        )

    def event_mask(self) -> NDArray[np.float32]:
        """(N, T) 1 on event segments (the reference ``labels_closs.h5``)."""
        return (self.labels() != self.num_classes).astype(np.float32)

    def video_onehot(self) -> NDArray[np.float32]:
        """(N, C + 1) one-hot video category (the reference ``mil_labels.h5``)."""
        out = np.zeros((len(self.records), self.num_classes + 1), dtype=np.float32)
        out[np.arange(len(self.records)), self.class_indices()] = 1.0
        return out

    def segment_onehot(self) -> NDArray[np.float32]:
        """(N, T, C + 1) one-hot segment labels (the reference ``labels.h5``)."""
        labels = self.labels()
        return np.eye(self.num_classes + 1, dtype=np.float32)[labels]


def _parse_time(value: str, path: Path, line: int, field: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"{path}:{line}: {field} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise DataError(f"{path}:{line}: {field} {value!r} is not finite")
    return number


def read_annotations(
    path: Path, *, max_classes: int = NUM_AVE_CLASSES, num_segments: int = NUM_SEGMENTS
) -> AVEAnnotations:
    """Read ``Annotations.txt`` (header line optional); malformed lines are a ``DataError``.

    The official file annotates 45 videos twice (two categories, two rows); rows, not video ids,
    identify samples.
    """
    path = Path(path)
    if path.is_dir():
        path = path / ANNOTATION_FILE
    if not path.is_file():
        raise DataError(f"{path}: AVE annotation file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    records: list[AVERecord] = []
    classes: list[str] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split("&")
        if line_no == 1 and fields[0].strip().lower() == "category":
            continue  # header
        if len(fields) != 5:
            raise DataError(
                f"{path}:{line_no}: expected 5 '&'-separated fields "
                f"(Category&VideoID&Quality&StartTime&EndTime), got {len(fields)}"
            )
        category, video_id, quality = (f.strip() for f in fields[:3])
        if not category or not video_id:
            raise DataError(f"{path}:{line_no}: empty category or video id")
        start = _parse_time(fields[3].strip(), path, line_no, "StartTime")
        end = _parse_time(fields[4].strip(), path, line_no, "EndTime")
        # start == end occurs in the official file (an empty event: all background).
        if not 0 <= start <= end <= num_segments:
            raise DataError(
                f"{path}:{line_no}: event [{fields[3]}, {fields[4]}) must satisfy "
                f"0 <= start <= end <= {num_segments}"
            )
        if category not in classes:
            if len(classes) == max_classes:
                raise DataError(
                    f"{path}:{line_no}: category {category!r} would be class {max_classes + 1}; "
                    f"AVE has {max_classes} event classes"
                )
            classes.append(category)
        records.append(AVERecord(category, video_id, quality, start, end, line_no))
    if not records:
        raise DataError(f"{path}: no annotation lines")
    return AVEAnnotations(path=path, records=records, classes=tuple(classes))


def read_split_order(path: Path, *, num_videos: int | None = None) -> NDArray[np.int64]:
    """Annotation rows of a split from ``<split>_order.h5`` (dataset ``order``)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: split index file not found")
    try:
        with h5py.File(path, "r") as handle:
            if "order" not in handle:
                raise DataError(f"{path}: no dataset 'order' (found {', '.join(handle) or 'none'})")
            order = np.asarray(handle["order"][()])
    except OSError as exc:
        raise DataError(f"{path}: cannot read as HDF5 ({exc})") from None
    if order.ndim != 1 or not np.issubdtype(order.dtype, np.integer):
        raise DataError(
            f"{path}: key 'order' must be a 1-d integer array, got {order.dtype} {order.shape}"
        )
    order = order.astype(np.int64)
    if num_videos is not None and len(order) and (order.min() < 0 or order.max() >= num_videos):
        raise DataError(
            f"{path}: key 'order' holds rows outside 0..{num_videos - 1} "
            f"(min {order.min()}, max {order.max()})"
        )
    if len(np.unique(order)) != len(order):
        raise DataError(f"{path}: key 'order' repeats annotation rows")
    return order


class FeatureStore:
    """Reads features of annotation rows; ``shapes`` is the per-video shape of each key."""

    shapes: dict[str, tuple[int, ...]]

    def read(self, key: str, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        raise NotImplementedError

    def close(self) -> None:
        """Release open files (a store re-opens lazily)."""


def _check_shape(shape: tuple[int, ...], key: str, where: str, num_segments: int) -> None:
    ndim = FEATURE_NDIM[key]
    if len(shape) != ndim or shape[0] != num_segments:
        expected = "(10, 128)" if key == "audio" else "(10, 7, 7, 512)"
        raise DataError(
            f"{where}: {key} features have shape {shape}, expected {expected}-like "
            f"({ndim} axes, {num_segments} segments first)"
        )


class HDF5Features(FeatureStore):
    """The reference layout: one HDF5 file per key, dataset ``avadataset``, row = video."""

    FILES: ClassVar[dict[str, str]] = {"audio": AUDIO_H5, "visual": VISUAL_H5}

    def __init__(
        self,
        root: Path,
        keys: Sequence[str],
        *,
        num_videos: int,
        num_segments: int = NUM_SEGMENTS,
    ) -> None:
        import h5py

        self.paths = {k: Path(root) / self.FILES[k] for k in keys}
        self.shapes = {}
        self._handles: dict[str, Any] = {}
        for key, path in self.paths.items():
            if not path.is_file():
                raise DataError(f"{path}: {key} feature file not found")
            try:
                with h5py.File(path, "r") as handle:
                    if HDF5_KEY not in handle:
                        raise DataError(
                            f"{path}: no dataset {HDF5_KEY!r} (found {', '.join(handle) or 'none'})"
                        )
                    shape = tuple(int(s) for s in handle[HDF5_KEY].shape)
            except OSError as exc:
                raise DataError(f"{path}: cannot read as HDF5 ({exc})") from None
            if shape[0] != num_videos:
                raise DataError(
                    f"{path}: key {HDF5_KEY!r} has {shape[0]} rows, "
                    f"Annotations.txt has {num_videos} videos"
                )
            _check_shape(shape[1:], key, f"{path} (key {HDF5_KEY!r})", num_segments)
            self.shapes[key] = shape[1:]

    def read(self, key: str, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        import h5py

        handle = self._handles.get(key)
        if handle is None:
            handle = self._handles[key] = h5py.File(self.paths[key], "r")
        # h5py fancy indexing needs increasing, unique rows: read sorted, then restore order.
        unique, inverse = np.unique(rows, return_inverse=True)
        data = np.asarray(handle[HDF5_KEY][unique.tolist()], dtype=np.float32)
        return data[inverse]

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state


class NpyFeatures(FeatureStore):
    """Per-video layout: ``<root>/<key>/<VideoID>.npy``."""

    def __init__(
        self,
        root: Path,
        keys: Sequence[str],
        *,
        video_ids: Sequence[str],
        num_segments: int = NUM_SEGMENTS,
    ) -> None:
        self.root = Path(root)
        self.video_ids = list(video_ids)
        self.num_segments = num_segments
        self.shapes = {}
        for key in keys:
            folder = self.root / key
            if not folder.is_dir():
                raise DataError(f"{folder}: {key} feature folder not found")
            first = self._load(key, 0)
            self.shapes[key] = tuple(int(s) for s in first.shape)
            _check_shape(self.shapes[key], key, str(self._path(key, 0)), num_segments)

    def _path(self, key: str, row: int) -> Path:
        return self.root / key / f"{self.video_ids[row]}.npy"

    def _load(self, key: str, row: int) -> NDArray[Any]:
        path = self._path(key, row)
        if not path.is_file():
            raise DataError(f"{path}: {key} features of video {self.video_ids[row]!r} not found")
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read as .npy ({exc})") from None

    def read(self, key: str, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        shape = self.shapes[key]
        out = np.empty((len(rows), *shape), dtype=np.float32)
        for i, row in enumerate(rows):
            array = self._load(key, int(row))
            if array.shape != shape:
                raise DataError(
                    f"{self._path(key, int(row))}: shape {array.shape}, expected "
                    f"{shape} (as the other {key} files)"
                )
            out[i] = array
        return out


def open_features(
    root: Path,
    annotations: AVEAnnotations,
    keys: Sequence[str] = FEATURE_KEYS,
    *,
    layout: str = "auto",
) -> FeatureStore:
    """The HDF5 layout when its files exist (or ``layout="hdf5"``), else per-video npy."""
    root = Path(root)
    for key in keys:
        if key not in FEATURE_KEYS:
            raise DataError(f"{root}: unknown AVE feature key {key!r} (expected audio, visual)")
    if layout not in ("auto", "hdf5", "npy"):
        raise DataError(f"{root}: unknown feature layout {layout!r} (expected auto, hdf5, npy)")
    has_h5 = all((root / HDF5Features.FILES[k]).is_file() for k in keys)
    if layout == "hdf5" or (layout == "auto" and has_h5):
        return HDF5Features(root, keys, num_videos=len(annotations))
    has_npy = all((root / k).is_dir() for k in keys)
    if layout == "npy" or has_npy:
        return NpyFeatures(root, keys, video_ids=annotations.video_ids)
    raise DataError(
        f"{root}: no AVE features found: expected {AUDIO_H5} + {VISUAL_H5} (key {HDF5_KEY!r}) "
        "or the folders audio/ and visual/ of <VideoID>.npy files"
    )


class AVEDataset:
    """One split of an AVE root; ``get_batch(indices)`` returns the batch dict.

    Batch keys: ``index`` (B,) int64 into the split; ``audio`` (B, 10, 128) and ``visual``
    (B, 10, H, W, C) float32; ``label`` (B, 10) int64 segment labels (background =
    ``num_classes``); ``category`` (B,) int64 video class.
    """

    def __init__(
        self,
        root: Path,
        split: str,
        *,
        keys: Sequence[str] = FEATURE_KEYS,
        layout: str = "auto",
        annotations: AVEAnnotations | None = None,
    ) -> None:
        if split not in SPLITS:
            raise DataError(f"unknown AVE split {split!r} (expected {', '.join(SPLITS)})")
        self.root = Path(root)
        self.split = split
        self.annotations = annotations or read_annotations(self.root / ANNOTATION_FILE)
        n = len(self.annotations)
        self.rows = read_split_order(self.root / f"{split}_order.h5", num_videos=n)
        self.keys = list(keys)
        self.features = open_features(self.root, self.annotations, self.keys, layout=layout)
        self._labels = self.annotations.labels()
        self._category = self.annotations.class_indices()
        self.filenames = [self.annotations.records[int(r)].video_id for r in self.rows]

    @property
    def num_classes(self) -> int:
        return self.annotations.num_classes

    def __len__(self) -> int:
        return len(self.rows)

    def labels(self) -> NDArray[np.int64]:
        """(N_split, T) ground-truth segment labels of the split, in split order."""
        return self._labels[self.rows]

    def get_batch(self, indices: NDArray[np.int64]) -> dict[str, Tensor]:
        indices = np.asarray(indices, dtype=np.int64)
        rows = self.rows[indices]
        batch = {
            "index": torch.from_numpy(indices.copy()),
            "label": torch.from_numpy(self._labels[rows]),
            "category": torch.from_numpy(self._category[rows]),
        }
        for key in self.keys:
            batch[key] = torch.from_numpy(self.features.read(key, rows))
        return batch
