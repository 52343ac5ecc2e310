"""Feature stores: the official one-file-per-video layout and the packed (memory-mapped) layout.

Both implement :class:`FeatureStore`: ``read(key, indices)`` returns a float32 batch
``(len(indices), *spec.shape)`` for positions into the store's ``ids`` (the split's order).

* Official layout: ``<root>/<spec.folder>/<id11>.npy`` (see :data:`FEATURE_SPECS`), one file per
  video; a batch read opens one file per video per key.
* Packed layout: ``<root>/packed/<split>/<key>.npy`` holds the split's rows in id order,
  opened with ``np.load(mmap_mode="r")`` so a batch is one fancy-index per key;
  ``<root>/packed/manifest.json`` records, per split, the ids and per key the shape, dtype,
  sha256 and source folder (see :mod:`avvp.data.pack`). Pseudo labels are packed as uint8
  (0/1), features as float32.

Staleness: the manifest also records cheap fingerprints (size and mtime in ns) of every packed
array and of every source file it was packed from. Opening a packed store compares them
(``stat`` calls only, no reads) and refuses a stale pack with a one-line DataError naming the
changed file; a manifest written before fingerprints existed is accepted with an
:class:`UnverifiedPackWarning`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from avvp.data.llp import LLPSplit
from avvp.errors import ConfigError, DataError

__all__ = [
    "FEATURE_SPECS",
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "PSEUDO_LABEL_KEYS",
    "FeatureSpec",
    "FeatureStore",
    "OfficialFeatureStore",
    "PackedFeatureStore",
    "StaleEntry",
    "UnverifiedPackWarning",
    "existing_keys",
    "file_fingerprint",
    "file_sha256",
    "find_stale",
    "has_fingerprints",
    "load_manifest",
    "load_video_array",
    "manifest_path",
    "open_feature_store",
    "packed_row_shape",
    "read_manifest",
    "resolve_specs",
    "warn_unverified_pack",
]

MANIFEST_FORMAT = "avvp-packed-llp"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class FeatureSpec:
    """One per-video array kind.

    ``folder`` is relative to the dataset root; ``shape`` is per video; ``dtype`` is what a store
    returns (always float32); ``source_kinds`` are the numpy dtype kinds accepted on disk ("f" for
    features; pseudo labels are written as int64 by VALOR, bool/uint8/float also accepted);
    ``packed_dtype`` is the dtype of the packed file.
    """

    key: str
    folder: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    source_kinds: str = "f"
    packed_dtype: str = "float32"
    binary: bool = False

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape))


FEATURE_SPECS: dict[str, FeatureSpec] = {
    spec.key: spec
    for spec in (
        FeatureSpec("audio", "feats/vggish", (10, 128)),
        FeatureSpec("frames", "feats/res152", (80, 2048)),
        FeatureSpec("clips", "feats/r2plus1d_18", (10, 512)),
        # VALOR++ (Franklin905/VALOR): CLAP/features and CLIP/features, one <id11>.npy each.
        FeatureSpec("clap", "CLAP/features", (64, 768)),
        FeatureSpec("clip", "CLIP/features", (10, 768)),
        FeatureSpec(
            "pseudo_audio",
            "CLAP/segment_pseudo_labels",
            (10, 25),
            source_kinds="biuf",
            packed_dtype="uint8",
            binary=True,
        ),
        FeatureSpec(
            "pseudo_visual",
            "CLIP/segment_pseudo_labels",
            (10, 25),
            source_kinds="biuf",
            packed_dtype="uint8",
            binary=True,
        ),
    )
}
PSEUDO_LABEL_KEYS: tuple[str, ...] = ("pseudo_audio", "pseudo_visual")


# Keys whose rows are frames grouped by segment: the packed layout may store them pre-averaged.
POOLABLE_KEYS: tuple[str, ...] = ("frames",)


def packed_row_shape(spec: FeatureSpec, frame_pool: int = 1) -> tuple[int, ...]:
    """Per-video shape in the packed file: frames averaged over groups of ``frame_pool``.

    Every model projects ResNet frames with an affine layer and then averages each segment's 8
    frames; averaging first is the same function (docs/methods.md section 3), with 8x less storage
    and memory traffic, which is what makes packed loading fast.
    """
    if frame_pool <= 1:
        return spec.shape
    if spec.key not in POOLABLE_KEYS or spec.shape[0] % frame_pool:
        raise ConfigError(f"{spec.key}: cannot pool {spec.shape[0]} rows in groups of {frame_pool}")
    return (spec.shape[0] // frame_pool, *spec.shape[1:])


def resolve_specs(keys: Sequence[str]) -> list[FeatureSpec]:
    """The specs of ``keys``; an unknown key is a ConfigError listing the known ones."""
    specs = []
    for key in keys:
        if key not in FEATURE_SPECS:
            raise ConfigError(f"unknown feature key {key!r}; known: {', '.join(FEATURE_SPECS)}")
        specs.append(FEATURE_SPECS[key])
    return specs


def existing_keys(root: Path) -> list[str]:
    """Keys whose official folder exists under ``root`` (in :data:`FEATURE_SPECS` order)."""
    return [key for key, spec in FEATURE_SPECS.items() if (Path(root) / spec.folder).is_dir()]


def manifest_path(root: Path) -> Path:
    return Path(root) / "packed" / "manifest.json"


def file_sha256(path: Path, *, chunk_bytes: int = 1 << 23) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


class UnverifiedPackWarning(UserWarning):
    """A packed manifest has no fingerprints (written by an older avvp): staleness unchecked."""


def file_fingerprint(path: Path) -> tuple[int, int]:
    """(size in bytes, mtime in ns): changes whenever a file is rewritten or edited."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def has_fingerprints(info: dict[str, Any]) -> bool:
    """Whether a manifest key entry records the fingerprints :func:`find_stale` compares."""
    return all(
        name in info
        for name in ("packed_size", "packed_mtime_ns", "source_size", "source_mtime_ns")
    )


@dataclass(frozen=True)
class StaleEntry:
    """Why a packed array is stale: the first changed file, what changed, how many changed."""

    path: Path
    message: str
    changed: int

    def describe(self, root: Path, split: str, key: str) -> str:
        """The one-line problem, with the command that rebuilds the pack."""
        more = f", {self.changed} file(s) in all" if self.changed > 1 else ""
        return (
            f"{self.message}{more}; packed {split}/{key} is stale: "
            f"run `avvp data pack {root} --force`"
        )


def warn_unverified_pack(
    manifest: Path, root: Path, entries: Sequence[str], *, stacklevel: int
) -> None:
    """Warn that the packed ``entries`` (``split/key``) of ``manifest`` carry no fingerprints."""
    warnings.warn(
        f"{manifest}: written without fingerprints, so changes to the packed or source files of "
        f"{', '.join(entries)} go unnoticed; `avvp data pack {root} --force` records them",
        UnverifiedPackWarning,
        stacklevel=stacklevel + 1,
    )


def find_stale(
    root: Path, packed_file: Path, ids: Sequence[str], info: dict[str, Any]
) -> StaleEntry | None:
    """Compare the fingerprints of ``info`` (a manifest key entry) with the files on disk.

    ``packed_file`` is the packed array; the sources are ``root/<info["source"]>/<id>.npy``.
    A source that no longer exists is not staleness (a pack may outlive its sources: it holds
    what was packed); a source whose size or mtime differs is. None when everything matches.
    Requires :func:`has_fingerprints`.
    """
    try:
        size, mtime = file_fingerprint(packed_file)
    except FileNotFoundError:
        return StaleEntry(packed_file, "packed file listed in the manifest is missing", 1)
    if (size, mtime) != (info["packed_size"], info["packed_mtime_ns"]):
        what = f"size {info['packed_size']} -> {size}" if size != info["packed_size"] else "mtime"
        return StaleEntry(packed_file, f"packed file changed after packing ({what})", 1)
    sizes, mtimes = info["source_size"], info["source_mtime_ns"]
    if len(sizes) != len(ids) or len(mtimes) != len(ids):
        return StaleEntry(packed_file, "manifest fingerprints do not match the packed ids", 1)
    folder = Path(root) / str(info.get("source", ""))
    if not folder.is_dir():
        return None
    first: tuple[Path, str] | None = None
    changed = 0
    for video_id, old_size, old_mtime in zip(ids, sizes, mtimes, strict=True):
        path = folder / f"{video_id[:11]}.npy"
        try:
            new_size, new_mtime = file_fingerprint(path)
        except FileNotFoundError:
            continue
        if (new_size, new_mtime) != (old_size, old_mtime):
            changed += 1
            if first is None:
                what = f"size {old_size} -> {new_size}" if new_size != old_size else "mtime"
                first = (path, f"source changed after packing ({what})")
    return None if first is None else StaleEntry(first[0], first[1], changed)


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The packed manifest of ``root``, or None when there is none; DataError when unreadable."""
    return load_manifest(manifest_path(root))


def load_manifest(path: Path) -> dict[str, Any] | None:
    """The packed manifest at ``path``, or None when there is none; DataError when unreadable."""
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable packed manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise DataError(f"{path}: not an avvp packed manifest (format != {MANIFEST_FORMAT!r})")
    if manifest.get("version") != MANIFEST_VERSION:
        raise DataError(
            f"{path}: packed manifest version {manifest.get('version')!r} is not supported "
            f"(expected {MANIFEST_VERSION}); re-run `avvp data pack`"
        )
    if not isinstance(manifest.get("splits"), dict):
        raise DataError(f"{path}: packed manifest has no 'splits' mapping")
    return manifest


def _as_indices(indices: np.ndarray | Sequence[int], size: int) -> np.ndarray:
    array = np.asarray(indices, dtype=np.int64).reshape(-1)
    if array.size and (array.min() < 0 or array.max() >= size):
        raise IndexError(f"indices out of range for {size} videos: {array.min()}..{array.max()}")
    return array


@runtime_checkable
class FeatureStore(Protocol):
    """Per-split feature access by position in ``ids``."""

    ids: list[str]
    keys: list[str]

    def read(self, key: str, indices: np.ndarray) -> np.ndarray:
        """A float32 array ``(len(indices), *shape)``: the spec's shape, except that packed
        frames may be pre-averaged per segment (see :func:`packed_row_shape`)."""
        ...


def load_video_array(path: Path, spec: FeatureSpec) -> np.ndarray:
    """One official per-video file, checked for shape and dtype kind (DataError naming it)."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: missing {spec.key} feature file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read {spec.key} feature file ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: expected one array, found an archive")
    if tuple(array.shape) != spec.shape:
        raise DataError(f"{path}: {spec.key} has shape {tuple(array.shape)}, expected {spec.shape}")
    if array.dtype.kind not in spec.source_kinds:
        raise DataError(f"{path}: {spec.key} has dtype {array.dtype}, expected a float array")
    return array


class OfficialFeatureStore:
    """Reads ``<root>/<folder>/<id11>.npy`` per video (the layout the features are released in)."""

    def __init__(self, root: Path, ids: Sequence[str], keys: Sequence[str]) -> None:
        self.root = Path(root)
        self.ids = list(ids)
        self.keys = list(keys)
        self.specs = {spec.key: spec for spec in resolve_specs(self.keys)}
        for spec in self.specs.values():
            folder = self.root / spec.folder
            if not folder.is_dir():
                raise DataError(f"{folder}: {spec.key} feature folder not found")

    def path(self, key: str, index: int) -> Path:
        return self.root / self.specs[key].folder / f"{self.ids[index][:11]}.npy"

    def read(self, key: str, indices: np.ndarray) -> np.ndarray:
        spec = self.specs[key]
        rows = _as_indices(indices, len(self.ids))
        out = np.empty((len(rows), *spec.shape), dtype=np.float32)
        for slot, index in enumerate(rows):
            path = self.path(key, int(index))
            array = load_video_array(path, spec)
            # NaN/Inf would otherwise surface as a loss traceback (train) or as a video with
            # no prediction (eval), neither naming the file.
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise DataError(
                    f"{path}: {key} features of video {self.ids[int(index)]} hold non-finite "
                    f"values (nan/inf); re-extract the file (`avvp data check` lists them all)"
                )
            out[slot] = array
        return out


class PackedFeatureStore:
    """Reads ``<root>/packed/<split>/<key>.npy`` (opened with ``np.load(mmap_mode="r")``).

    Large rows (>= 64 KiB: frames, clap) are copied from the map row by row into the batch
    buffer: once the process has touched the pages (from the second epoch on) this is ~1.8x
    faster than reading them with ``os.preadv`` and several times faster than fancy-indexing
    the map; on first touch it costs the same as ``preadv``. Small rows are gathered with one
    ``np.take``. Maps are opened lazily and dropped when pickled, so a store can be shipped to
    DataLoader worker processes.
    """

    def __init__(self, root: Path, split: str, ids: Sequence[str], keys: Sequence[str]) -> None:
        self.root = Path(root)
        self.split = split
        self.ids = list(ids)
        self.keys = list(keys)
        self.specs = {spec.key: spec for spec in resolve_specs(self.keys)}
        manifest = read_manifest(self.root)
        path = manifest_path(self.root)
        if manifest is None:
            raise DataError(f"{path}: no packed manifest; run `avvp data pack {self.root}`")
        entry = manifest["splits"].get(split)
        if entry is None:
            raise DataError(f"{path}: split {split!r} is not packed")
        if list(entry.get("ids", [])) != [i[:11] for i in self.ids]:
            raise DataError(
                f"{path}: packed ids of split {split!r} differ from the annotations; "
                f"re-run `avvp data pack {self.root}`"
            )
        self._entries: dict[str, dict[str, Any]] = {}
        self._row_shapes: dict[str, tuple[int, ...]] = {}
        unverified = []
        for key in self.keys:
            info = entry.get("keys", {}).get(key)
            if info is None:
                raise DataError(f"{path}: key {key!r} of split {split!r} is not packed")
            if not has_fingerprints(info):
                unverified.append(key)
            else:
                stale = find_stale(self.root, self.file(key), entry["ids"], info)
                if stale is not None:
                    raise DataError(f"{stale.path}: {stale.describe(self.root, split, key)}")
            row_shape = packed_row_shape(self.specs[key], int(info.get("frame_pool", 1)))
            self._row_shapes[key] = row_shape
            expected = [len(self.ids), *row_shape]
            if list(info.get("shape", [])) != expected:
                raise DataError(
                    f"{path}: packed {split}/{key} has shape {info.get('shape')}, "
                    f"expected {expected}"
                )
            self._entries[key] = info
        if unverified:
            warn_unverified_pack(
                path, self.root, [f"{split}/{key}" for key in unverified], stacklevel=2
            )
        self._maps: dict[str, np.memmap] = {}

    def file(self, key: str) -> Path:
        return self.root / "packed" / self.split / f"{key}.npy"

    def _map(self, key: str) -> np.memmap:
        array = self._maps.get(key)
        if array is None:
            path = self.file(key)
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except FileNotFoundError:
                raise DataError(f"{path}: packed file listed in the manifest is missing") from None
            except (OSError, ValueError) as exc:
                raise DataError(f"{path}: cannot open packed file ({exc})") from None
            expected = (len(self.ids), *self._row_shapes[key])
            if tuple(array.shape) != expected or not array.flags.c_contiguous:
                raise DataError(f"{path}: shape {tuple(array.shape)}, expected {expected}")
            self._maps[key] = array
        return array

    def read(self, key: str, indices: np.ndarray) -> np.ndarray:
        array = self._map(key)
        rows = _as_indices(indices, len(self.ids))
        row_bytes = int(array.strides[0])
        out = np.empty((len(rows), *array.shape[1:]), dtype=np.float32)
        if rows.size and row_bytes >= _ROW_COPY_MIN_BYTES:
            for slot, index in enumerate(rows.tolist()):
                out[slot] = array[index]  # casts uint8 pseudo labels on assignment
        elif array.dtype == np.float32:
            np.take(array, rows, axis=0, out=out)
        else:
            out[...] = array[rows]
        # Packing refuses non-finite sources, so NaN/Inf here means an edited or damaged pack;
        # checking the batch costs one pass over memory that is already in cache.
        if array.dtype.kind == "f" and not np.isfinite(out).all():
            bad = int(rows[np.flatnonzero(~np.isfinite(out).reshape(len(rows), -1).all(axis=1))[0]])
            raise DataError(
                f"{self.file(key)}: row {bad} (video {self.ids[bad]}) of packed {key} holds "
                f"non-finite values (nan/inf); run `avvp data pack {self.root} --force`"
            )
        return out

    def close(self) -> None:
        """Drop the memory maps (reads reopen them)."""
        self._maps = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_maps"] = {}
        return state


# Rows at least this large are copied one by one; smaller ones are gathered with np.take.
_ROW_COPY_MIN_BYTES = 64 * 1024


def _manifest_covers(root: Path, split: str, ids: Sequence[str], keys: Sequence[str]) -> bool:
    manifest = read_manifest(root)
    if manifest is None:
        return False
    entry = manifest["splits"].get(split)
    if entry is None or list(entry.get("ids", [])) != [i[:11] for i in ids]:
        return False
    packed_keys = entry.get("keys", {})
    return all(key in packed_keys for key in keys)


def open_feature_store(
    root: Path, split: LLPSplit, keys: Sequence[str], *, packed: bool | None = None
) -> FeatureStore:
    """A store for ``split`` (an :class:`~avvp.data.llp.LLPSplit`) over ``keys``.

    ``packed=None`` uses the packed layout when ``packed/manifest.json`` covers this split (same
    ids) and every key, else the official layout; True / False force one.
    """
    root = Path(root)
    ids = split.video_ids
    resolve_specs(keys)
    if packed is None:
        packed = _manifest_covers(root, split.name, ids, keys)
    if packed:
        return PackedFeatureStore(root, split.name, ids, keys)
    return OfficialFeatureStore(root, ids, keys)
