"""Pack per-video feature files into one array per split and key (the packed layout).

``<out>/<split>/<key>.npy`` holds the rows of the split in annotation order, ``(N, *shape)``:
float32 for features, uint8 (0/1) for pseudo labels (4x smaller; stores return float32).
``<out>/manifest.json`` (``out`` defaults to ``<root>/packed``)::

    {"format": "avvp-packed-llp", "version": 1,
     "splits": {"train": {"source_csv": "AVVP_train.csv", "ids": ["BjCEufrlXm4", ...],
                          "keys": {"audio": {"file": "train/audio.npy", "shape": [10000, 10, 128],
                                             "dtype": "float32", "sha256": "...",
                                             "source": "feats/vggish"}, ...}}, ...}}

Packing is resumable: a split/key whose manifest entry has the same ids, shape and dtype (and,
with ``verify``, the same sha256 as the file on disk) is skipped. Each file is written to a
temporary name and renamed into place, and the manifest is rewritten (atomically) after each key,
so an interrupted run leaves a consistent pack.
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
    file_sha256,
    load_manifest,
    load_video_array,
    packed_row_shape,
    resolve_specs,
)
from avvp.data.llp import SPLIT_FILES, find_annotations_dir, load_split
from avvp.errors import ConfigError, DataError

__all__ = ["pack_dataset", "write_json_atomic"]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
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
) -> str:
    """Stream every video's file into ``target`` (via a temporary file); returns its sha256."""
    dtype = np.dtype(spec.packed_dtype)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as handle:
            header = _npy_header((len(ids), *packed_row_shape(spec, frame_pool)), dtype)
            handle.write(header)
            digest.update(header)
            for video_id in tqdm(ids, desc=desc, unit="video", disable=None, leave=False):
                path = root / spec.folder / f"{video_id}.npy"
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
    return digest.hexdigest()


def _entry_is_current(
    info: dict[str, Any] | None,
    file: Path,
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
    return not verify or file_sha256(file) == info.get("sha256")


def pack_dataset(
    root: Path,
    *,
    splits: Sequence[str] = ("train", "val", "test"),
    keys: Sequence[str] | None = None,
    out: Path | None = None,
    verify: bool = True,
    frame_pool: int = 8,
) -> Path:
    """Pack ``keys`` (None: every key whose folder exists) of ``splits``; returns the pack folder.

    ``out`` defaults to ``<root>/packed`` (the place :func:`~avvp.data.features.open_feature_store`
    looks). With ``verify``, already-packed files are re-hashed before being skipped and each new
    file is re-hashed from disk after writing. ``frame_pool`` (default 8: one row per segment)
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
            if _entry_is_current(entry["keys"].get(spec.key), file, shape, spec, verify, pool):
                continue
            # Drop the stale entry first so an interruption never leaves it pointing at new data.
            entry["keys"].pop(spec.key, None)
            write_json_atomic(manifest_file, manifest)
            sha256 = _write_packed(
                file, root, ids, spec, desc=f"pack {split}/{spec.key}", frame_pool=pool
            )
            if verify and file_sha256(file) != sha256:
                raise DataError(f"{file}: sha256 after writing differs from the data written")
            entry["keys"][spec.key] = {
                "file": f"{split}/{spec.key}.npy",
                "shape": shape,
                "dtype": spec.packed_dtype,
                "sha256": sha256,
                "source": spec.folder,
                **({"frame_pool": pool} if pool > 1 else {}),
            }
            write_json_atomic(manifest_file, manifest)
    write_json_atomic(manifest_file, manifest)
    return out
