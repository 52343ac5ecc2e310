"""Check a dataset root: annotations, per-video feature files and the packed layout.

:func:`check_dataset` returns every problem found (it does not stop at the first): missing or
unreadable files, wrong shapes or dtypes, non-finite values, pseudo labels that are not 0/1,
feature files whose id is in no split, split videos without their file, packed files that do
not match their manifest (ids, shape, dtype, sha256) and stale packs (a packed or source file
whose size or mtime changed since packing; one problem per split/key). Known annotation defects
(see :mod:`avvp.data.llp`) are not problems: loading warns about them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from avvp.data.features import (
    FEATURE_SPECS,
    FeatureSpec,
    existing_keys,
    file_sha256,
    find_stale,
    has_fingerprints,
    manifest_path,
    packed_row_shape,
    read_manifest,
    resolve_specs,
    warn_unverified_pack,
)
from avvp.data.llp import (
    EVAL_FILES,
    EVAL_WIDE_DEFECTS,
    SPLIT_FILES,
    DataDefectWarning,
    LLPSplit,
    find_annotations_dir,
    find_unknown_classes,
    load_split,
)
from avvp.errors import ConfigError, DataError

__all__ = ["CheckReport", "Problem", "check_dataset", "check_dataset_report"]


@dataclass(frozen=True)
class Problem:
    """One problem: the file (or folder) concerned and what is wrong with it."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class CheckReport:
    """What :func:`check_dataset_report` looked at, and the problems found."""

    problems: list[Problem]
    keys: list[str]
    videos: int
    files_checked: int
    annotation_defects: int


def _check_array(path: Path, spec: FeatureSpec) -> list[Problem]:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        return [Problem(path, f"unreadable {spec.key} file ({exc})")]
    if not isinstance(array, np.ndarray):
        return [Problem(path, f"{spec.key} file is an archive, expected one array")]
    problems = []
    if tuple(array.shape) != spec.shape:
        problems.append(Problem(path, f"shape {tuple(array.shape)}, expected {spec.shape}"))
    if array.dtype.kind not in spec.source_kinds:
        expected = "0/1 integers" if spec.binary else "floating point"
        problems.append(Problem(path, f"dtype {array.dtype}, expected {expected}"))
        return problems
    if spec.binary:
        if not np.isin(array, (0, 1)).all():
            problems.append(Problem(path, "pseudo labels hold values other than 0 and 1"))
    elif not np.isfinite(array).all():
        count = int(array.size - np.isfinite(array).sum())
        problems.append(Problem(path, f"{count} non-finite value(s) (nan/inf)"))
    return problems


def _check_folder(
    root: Path, spec: FeatureSpec, split_ids: set[str], known_ids: set[str], progress: tqdm
) -> tuple[list[Problem], int]:
    folder = root / spec.folder
    if not folder.is_dir():
        return [Problem(folder, f"{spec.key} feature folder not found")], 0
    present = {path.stem: path for path in folder.glob("*.npy")}
    problems = []
    for video_id in sorted(split_ids - present.keys()):
        problems.append(Problem(folder / f"{video_id}.npy", f"missing {spec.key} file"))
    for video_id in sorted(present.keys() - known_ids):
        problems.append(Problem(present[video_id], "id is in no split (AVVP_*.csv)"))
    checked = 0
    for video_id in sorted(present.keys() & split_ids):
        problems.extend(_check_array(present[video_id], spec))
        checked += 1
        progress.update(1)
    return problems, checked


def _check_packed(
    root: Path, splits: dict[str, LLPSplit], unloaded: set[str], progress: tqdm
) -> list[Problem]:
    path = manifest_path(root)
    try:
        manifest = read_manifest(root)
    except DataError as exc:
        return [Problem(path, str(exc).removeprefix(f"{path}: "))]
    if manifest is None:
        return []
    problems = []
    unverified = []
    for split, entry in manifest["splits"].items():
        if split in unloaded:
            progress.update(len(entry.get("keys", {})))
            continue  # its annotation file is broken (reported): nothing to compare with
        if split not in splits:
            problems.append(Problem(path, f"unknown split {split!r}"))
            continue
        if list(entry.get("ids", [])) != splits[split].video_ids:
            problems.append(
                Problem(path, f"ids of split {split!r} differ from {SPLIT_FILES[split]}")
            )
        for key, info in entry.get("keys", {}).items():
            if not has_fingerprints(info):
                unverified.append(f"{split}/{key}")
            ids = list(entry.get("ids", []))
            problems.extend(_check_packed_file(root, split, key, info, len(splits[split]), ids))
            progress.update(1)
    if unverified:
        warn_unverified_pack(path, root, unverified, stacklevel=3)
    return problems


def _check_packed_file(
    root: Path, split: str, key: str, info: dict[str, Any], count: int, ids: list[str]
) -> list[Problem]:
    file = root / "packed" / split / f"{key}.npy"
    if key not in FEATURE_SPECS:
        return [Problem(file, f"unknown feature key {key!r} in the manifest")]
    spec = FEATURE_SPECS[key]
    if not file.is_file():
        return [Problem(file, "packed file listed in the manifest is missing")]
    fix = f"run `avvp data pack {root} --force`"
    stale = find_stale(root, file, ids, info) if has_fingerprints(info) else None
    if stale is not None and stale.path != file:
        return [Problem(stale.path, stale.describe(root, split, key))]
    problems = []
    try:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        return [Problem(file, f"unreadable packed file ({exc})")]
    try:
        row_shape = packed_row_shape(spec, int(info.get("frame_pool", 1)))
    except ConfigError as exc:
        return [Problem(file, f"bad frame_pool in the manifest ({exc})")]
    expected = (count, *row_shape)
    if tuple(array.shape) != expected or list(info.get("shape", [])) != list(expected):
        problems.append(
            Problem(
                file,
                f"shape {tuple(array.shape)} (manifest {info.get('shape')}), expected {expected}",
            )
        )
    if str(array.dtype) != info.get("dtype"):
        problems.append(Problem(file, f"dtype {array.dtype}, manifest says {info.get('dtype')}"))
    del array
    if file_sha256(file) != info.get("sha256"):
        problems.append(
            Problem(file, f"sha256 differs from the manifest (file changed or torn); {fix}")
        )
    elif stale is not None:
        # Same content with another size/mtime (copied or touched): loading would refuse it.
        problems.append(Problem(file, f"{stale.message}, content (sha256) unchanged; {fix}"))
    return problems


def check_dataset_report(root: Path, *, keys: Sequence[str] | None = None) -> CheckReport:
    """Check ``root`` and say what was checked (see :func:`check_dataset`)."""
    root = Path(root)
    try:
        annotations = find_annotations_dir(root)
    except DataError as exc:
        return CheckReport([Problem(root, str(exc).removeprefix(f"{root}: "))], [], 0, 0, 0)
    splits: dict[str, LLPSplit] = {}
    problems: list[Problem] = []
    defects: dict[str, int] = {}
    # Ids of splits that failed to load, read leniently: their feature files are then not
    # reported as "in no split" (one broken line must give one problem, not one per video).
    unloaded: dict[str, set[str]] = {}
    for split in SPLIT_FILES:
        try:
            # The defects are already summarized by load warnings; here they are only counted.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataDefectWarning)
                splits[split] = load_split(annotations, split)
            for kind, count in splits[split].defects.items():
                # Eval-file-wide kinds are the same in the val and the test load: count once.
                merge = max if kind in EVAL_WIDE_DEFECTS else sum
                defects[kind] = merge((defects.get(kind, 0), count))
        except DataError as exc:
            unloaded[split] = _lenient_ids(annotations / SPLIT_FILES[split])
            # A broken eval or test file also stops the val load (and vice versa): report once.
            problem = _located_problem(exc, annotations / SPLIT_FILES[split])
            if problem not in problems:
                problems.append(problem)
    # Loading ignores unknown class names (a counted defect); here they are problems.
    defects.pop("unknown_class", None)
    broken = {p.path for p in problems}
    for name in (*SPLIT_FILES.values(), *EVAL_FILES.values()):
        if (annotations / name).is_file() and annotations / name not in broken:
            problems.extend(_unknown_class_problems(annotations / name))
    owner: dict[str, str] = {}
    for name, llp_split in splits.items():
        for video_id in llp_split.video_ids:
            if video_id in owner:
                problems.append(
                    Problem(
                        annotations / SPLIT_FILES[name],
                        f"video id {video_id} also in split {owner[video_id]!r}",
                    )
                )
            owner.setdefault(video_id, name)
    keys = list(keys) if keys is not None else existing_keys(root)
    specs = resolve_specs(keys)
    manifest = _read_manifest_quiet(root)
    packed_files = (
        sum(len(e.get("keys", {})) for e in manifest["splits"].values()) if manifest else 0
    )
    split_ids = set(owner)
    known_ids = split_ids.union(*unloaded.values())
    checked = 0
    with tqdm(
        total=len(split_ids) * len(specs) + packed_files, desc="check", unit="file", disable=None
    ) as progress:
        for spec in specs:
            found, count = _check_folder(root, spec, split_ids, known_ids, progress)
            problems.extend(found)
            checked += count
        problems.extend(_check_packed(root, splits, set(unloaded), progress))
    checked += packed_files
    return CheckReport(problems, keys, len(split_ids), checked, sum(defects.values()))


def _located_problem(exc: DataError, default: Path) -> Problem:
    """A load error as a Problem on the file it names (``<file>:<line>: <what>``), so the file
    is not printed twice."""
    text = str(exc)
    head, sep, rest = text.partition(": ")
    path, colon, line = head.rpartition(":")
    if sep and colon and line.isdigit():
        return Problem(Path(path), f"line {line}: {rest}")
    if sep and Path(head).suffix == ".csv":
        return Problem(Path(head), rest)
    return Problem(default, text)


def _lenient_ids(path: Path) -> set[str]:
    """The 11-character ids of a split file that does not load: the first token of each line."""
    try:
        lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError:
        return set()
    return {line.split()[0][:11] for line in lines[1:] if line.strip()}


def _unknown_class_problems(path: Path) -> list[Problem]:
    """One problem per distinct unknown class name of an annotation file (first line, count)."""
    try:
        unknown = find_unknown_classes(path)
    except DataError:
        return []  # malformed: already reported by the load
    problems = []
    for name, lines in unknown.items():
        rows = f" (and {len(lines) - 1} more row(s))" if len(lines) > 1 else ""
        hint = (
            "; quotes are not part of the format (tab-separated, unquoted)" if '"' in name else ""
        )
        problems.append(
            Problem(
                path,
                f"line {lines[0]}: unknown class name {name!r}{rows}, not one of the 25 LLP "
                f"classes (loading ignores it){hint}",
            )
        )
    return problems


def _read_manifest_quiet(root: Path) -> dict[str, Any] | None:
    try:
        return read_manifest(root)
    except DataError:
        return None


def check_dataset(root: Path, *, keys: Sequence[str] | None = None) -> list[Problem]:
    """Every problem of ``root`` (empty list when clean); ``keys`` None = every existing folder."""
    return check_dataset_report(root, keys=keys).problems
