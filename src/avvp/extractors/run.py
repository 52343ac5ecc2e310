"""Extract features for a folder of videos into the official per-video layout.

``<out>/<extractor.folder>/<id>.npy`` with ``id`` = the video's file stem. Resumable (a video whose
files all exist is skipped; files are written atomically, so a killed run leaves no partial
file), shardable (``shard=(i, n)`` takes every n-th video starting at i, in sorted order), and
robust: a video that fails is recorded in ``<out>/extract_failures.jsonl`` (JSON lines
``{"file": ..., "error": ...}``) and the run continues.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from avvp.errors import AvvpError, ConfigError, DataError
from avvp.extractors.base import FeatureExtractor, save_npy_atomic
from avvp.video.decode import decode_video

VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".flv")
FAILURES_FILE = "extract_failures.jsonl"


@dataclass
class ExtractReport:
    """What a run did: ids written, skipped (already complete) and failed (with the error)."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def list_videos(folder: Path) -> list[Path]:
    """Video files directly in ``folder``, sorted by name."""
    if not folder.is_dir():
        raise DataError(f"{folder}: videos folder not found")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 0 <= i < n."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected i/n, e.g. 0/4") from None
    if not sep or n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text!r}: need 0 <= i < n")
    return i, n


def extract_folder(
    videos: Sequence[Path],
    out: Path,
    extractors: Sequence[FeatureExtractor],
    *,
    shard: tuple[int, int] = (0, 1),
    overwrite: bool = False,
) -> ExtractReport:
    """Run ``extractors`` over ``videos`` (this shard's part), writing ``out/<folder>/<id>.npy``."""
    index, count = shard
    mine = list(videos)[index::count]
    ids = [p.stem for p in mine]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise DataError(f"videos share a file stem (ids must be unique): {sorted(duplicates)[:5]}")
    report = ExtractReport()
    failures_path = out / FAILURES_FILE
    out.mkdir(parents=True, exist_ok=True)
    for path in tqdm(mine, desc="extract", unit="video", disable=None):
        targets = [(ex, out / ex.folder / f"{path.stem}.npy") for ex in extractors]
        todo = [(ex, t) for ex, t in targets if overwrite or not t.is_file()]
        if not todo:
            report.skipped.append(path.stem)
            continue
        try:
            video = decode_video(path)
            results = [(ex.extract(video), t) for ex, t in todo]
        except (AvvpError, RuntimeError, ValueError, MemoryError) as exc:
            message = str(exc)
            report.failed.append((str(path), message))
            with failures_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"file": str(path), "error": message}) + "\n")
            continue
        for array, target in results:
            save_npy_atomic(target, array)
        report.done.append(path.stem)
    return report
