"""Pack per-video feature files into one array per split and key (the packed layout).

``<out>/<split>/<key>.npy`` holds the rows of the split in annotation order, ``(N, *shape)``:
float32 for features, uint8 (0/1) for pseudo labels (4x smaller; stores return float32).
``<out>/manifest.json`` (``out`` defaults to ``<root>/packed``)::

    {"format": "avvp-packed-llp", "version": 1,
     "splits": {"train": {"source_csv": "AVVP_train.csv", "ids": ["BjCEufrlXm4", ...],
                          "keys": {"audio": {"file": "train/audio.npy", "shape": [10000, 10, 128],
                                             "dtype": "float32", "sha256": "...",
                                             "source": "feats/vggish",
                                             "packed_size": ..., "packed_mtime_ns": ...,
                                             "source_size": [...], "source_mtime_ns": [...]},
                                   ...}}, ...}}

``packed_*`` fingerprint the packed file and ``source_*`` (in id order) the source file of each
video, as they were when packed; :func:`~avvp.data.features.find_stale` compares them.

Packing over an existing pack rebuilds only what is stale: a split/key is skipped when its
manifest entry has the same ids, shape, dtype and source folder, its fingerprints match the
files on disk (no packed or source file changed since) and, with ``verify``, the packed file
still has its sha256. An entry without fingerprints (an older avvp) is rebuilt. ``force``
rebuilds every selected split/key. Each file is written to a temporary name and renamed into
place, and the manifest is rewritten (atomically) after each key, so an interrupted run leaves
a consistent pack.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from avvp import __version__
from avvp.data.features import (
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    POOLABLE_KEYS,
    FeatureSpec,
    existing_keys,
    file_fingerprint,
    file_sha256,
    find_stale,
    has_fingerprints,
    load_manifest,
    load_video_array,
    packed_row_shape,
    resolve_specs,
)
from avvp.data.llp import SPLIT_FILES, find_annotations_dir, load_split
from avvp.errors import ConfigError, DataError

__all__ = ["pack_dataset", "write_json_atomic"]


def _dumps(value: Any, depth: int = 0) -> str:
    """JSON with one item per line, except lists of scalars, which stay on one line (the
    per-video id and fingerprint lists would otherwise take a line per video)."""
    pad = " " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(k)}: {_dumps(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        items = [f"{pad}{_dumps(v, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"
    return json.dumps(value, separators=(", ", ": "))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(_dumps(data) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    buffer = io.BytesIO()
    header = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": shape,
    }
    np.lib.format.write_array_header_2_0(buffer, header)
    return buffer.getvalue()


def _convert(array: np.ndarray, spec: FeatureSpec, path: Path, frame_pool: int = 1) -> np.ndarray:
    """The packed representation of one video's array; refuses values that would be corrupted."""
    if spec.binary:
        if not np.isin(array, (0, 1)).all():
            raise DataError(f"{path}: {spec.key} must hold only 0/1 values")
    elif not np.isfinite(array).all():
        raise DataError(f"{path}: {spec.key} holds non-finite values")
    if frame_pool > 1:
        rows = array.shape[0] // frame_pool
        array = array.reshape(rows, frame_pool, *array.shape[1:]).mean(axis=1, dtype=np.float64)
    return np.ascontiguousarray(array, dtype=spec.packed_dtype)


def _write_packed(
    target: Path, root: Path, ids: Sequence[str], spec: FeatureSpec, desc: str, frame_pool: int
) -> tuple[str, list[tuple[int, int]]]:
    """Stream every video's file into ``target`` (via a temporary file); returns its sha256 and
    the fingerprint of every source file, taken before reading it (a file rewritten while
    packing then shows as stale)."""
    dtype = np.dtype(spec.packed_dtype)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    digest = hashlib.sha256()
    fingerprints: list[tuple[int, int]] = []
    try:
        with open(tmp, "wb") as handle:
            header = _npy_header((len(ids), *packed_row_shape(spec, frame_pool)), dtype)
            handle.write(header)
            digest.update(header)
            for video_id in tqdm(ids, desc=desc, unit="video", disable=None, leave=False):
                path = root / spec.folder / f"{video_id}.npy"
                try:
                    fingerprints.append(file_fingerprint(path))
                except FileNotFoundError:
                    raise DataError(f"{path}: missing {spec.key} feature file") from None
                array = load_video_array(path, spec)
                data = _convert(array, spec, path, frame_pool).tobytes()
                handle.write(data)
                digest.update(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return digest.hexdigest(), fingerprints


def _entry_is_current(
    info: dict[str, Any] | None,
    file: Path,
    root: Path,
    ids: Sequence[str],
    shape: list[int],
    spec: FeatureSpec,
    verify: bool,
    frame_pool: int,
) -> bool:
    if info is None or not file.is_file():
        return False
    if int(info.get("frame_pool", 1)) != frame_pool:
        return False
    if list(info.get("shape", [])) != shape or info.get("dtype") != spec.packed_dtype:
        return False
    if info.get("source") != spec.folder:
        return False
    if not has_fingerprints(info) or find_stale(root, file, ids, info) is not None:
        return False
    return not verify or file_sha256(file) == info.get("sha256")


def pack_dataset(
    root: Path,
    *,
    splits: Sequence[str] = ("train", "val", "test"),
    keys: Sequence[str] | None = None,
    out: Path | None = None,
    verify: bool = True,
    frame_pool: int = 8,
    force: bool = False,
) -> Path:
    """Pack ``keys`` (None: every key whose folder exists) of ``splits``; returns the pack folder.

    ``out`` defaults to ``<root>/packed`` (the place :func:`~avvp.data.features.open_feature_store`
    looks). Split/keys already packed and not stale are skipped unless ``force``. With
    ``verify``, already-packed files are re-hashed before being skipped and each new file is
    re-hashed from disk after writing. ``frame_pool`` (default 8: one row per segment)
    stores ResNet frames averaged per segment, the same function for every model (see
    :func:`~avvp.data.features.packed_row_shape`); 1 keeps all 80 frames.
    """
    root = Path(root)
    annotations = find_annotations_dir(root)
    keys = list(keys) if keys is not None else existing_keys(root)
    if not keys:
        raise DataError(f"{root}: no feature folders to pack (looked for the official layout)")
    specs = resolve_specs(keys)
    for split in splits:
        if split not in SPLIT_FILES:
            raise ConfigError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_FILES)}")
    for spec in specs:
        if not (root / spec.folder).is_dir():
            raise DataError(f"{root / spec.folder}: {spec.key} feature folder not found")
    out = Path(out) if out is not None else root / "packed"
    manifest_file = out / "manifest.json"
    manifest = load_manifest(manifest_file) or {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "splits": {},
    }
    manifest["created_by"] = f"avvp {__version__}"
    for split in splits:
        llp_split = load_split(annotations, split)
        ids = llp_split.video_ids
        entry = manifest["splits"].get(split)
        if entry is None or list(entry.get("ids", [])) != ids:
            entry = {"source_csv": SPLIT_FILES[split], "ids": ids, "keys": {}}
            manifest["splits"][split] = entry
        (out / split).mkdir(parents=True, exist_ok=True)
        for spec in specs:
            file = out / split / f"{spec.key}.npy"
            pool = frame_pool if spec.key in POOLABLE_KEYS else 1
            shape = [len(ids), *packed_row_shape(spec, pool)]
            info = entry["keys"].get(spec.key)
            if not force and _entry_is_current(info, file, root, ids, shape, spec, verify, pool):
                continue
            # Drop the stale entry first so an interruption never leaves it pointing at new data.
            entry["keys"].pop(spec.key, None)
            write_json_atomic(manifest_file, manifest)
            sha256, sources = _write_packed(
                file, root, ids, spec, desc=f"pack {split}/{spec.key}", frame_pool=pool
            )
            if verify and file_sha256(file) != sha256:
                raise DataError(f"{file}: sha256 after writing differs from the data written")
            packed_size, packed_mtime = file_fingerprint(file)
            entry["keys"][spec.key] = {
                "file": f"{split}/{spec.key}.npy",
                "shape": shape,
                "dtype": spec.packed_dtype,
                "sha256": sha256,
                "source": spec.folder,
                **({"frame_pool": pool} if pool > 1 else {}),
                "packed_size": packed_size,
                "packed_mtime_ns": packed_mtime,
                "source_size": [size for size, _ in sources],
                "source_mtime_ns": [mtime for _, mtime in sources],
            }
            write_json_atomic(manifest_file, manifest)
    write_json_atomic(manifest_file, manifest)
    return out
