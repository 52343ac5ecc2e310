"""LLP (Look, Listen and Parse) annotations: weak labels, segment-level ground truth, defects.

The annotation files are tab-separated with a header row (docs/methods.md section 1):

* ``AVVP_train.csv`` / ``AVVP_val_pd.csv`` / ``AVVP_test_pd.csv`` / ``AVVP_dataset_full.csv``:
  ``filename<TAB>event_labels`` where ``event_labels`` is a comma-separated list of class names;
* ``AVVP_eval_audio.csv`` / ``AVVP_eval_visual.csv``:
  ``filename<TAB>onset<TAB>offset<TAB>event_labels``, one event per row, whole seconds,
  offset exclusive.

A malformed row (wrong number of fields, a non-integer onset) is a :class:`~avvp.errors.DataError`
naming the file and line. The known defects of the real files (eval rows naming no val/test video,
videos without rows for a modality, empty or reversed events, unknown or duplicate class names,
events whose class is missing from the video's weak label, duplicate rows ...) never stop a load:
they are counted and reported in ONE :class:`DataDefectWarning` per load, and no video is dropped.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avvp.classes import CLASS_INDEX, NUM_CLASSES, NUM_SEGMENTS
from avvp.errors import ConfigError, DataError

__all__ = [
    "DEFECT_DESCRIPTIONS",
    "EVAL_FILES",
    "EVAL_WIDE_DEFECTS",
    "FULL_FILE",
    "SPLIT_FILES",
    "DataDefectWarning",
    "DefectLog",
    "EventRecord",
    "LLPSplit",
    "WeakLabelRecord",
    "find_annotations_dir",
    "find_unknown_classes",
    "load_split",
    "read_eval_events",
    "read_weak_labels",
]

SPLIT_FILES: dict[str, str] = {
    "train": "AVVP_train.csv",
    "val": "AVVP_val_pd.csv",
    "test": "AVVP_test_pd.csv",
}
EVAL_FILES: dict[str, str] = {"audio": "AVVP_eval_audio.csv", "visual": "AVVP_eval_visual.csv"}
FULL_FILE: str = "AVVP_dataset_full.csv"

_WEAK_HEADER = ("filename", "event_labels")
_EVAL_HEADER = ("filename", "onset", "offset", "event_labels")
_MAX_EXAMPLES = 3


class DataDefectWarning(UserWarning):
    """Known, survivable defects of annotation files (one summarized warning per load)."""


# Defect kind -> what one count means. The keys are stable (tests and reports use them).
DEFECT_DESCRIPTIONS: dict[str, str] = {
    "unknown_class": "class names not in the 25 LLP classes (ignored)",
    "duplicate_class_in_row": "class names repeated within one row (counted once)",
    "duplicate_filename": "filenames listed twice in one split file (both rows kept)",
    "short_filename": "filenames shorter than the 11-character video id",
    "eval_audio_unmatched_filename": "AVVP_eval_audio.csv filenames matching no val/test video",
    "eval_audio_unmatched_row": "AVVP_eval_audio.csv rows of those filenames (not used)",
    "eval_visual_unmatched_filename": "AVVP_eval_visual.csv filenames matching no val/test video",
    "eval_visual_unmatched_row": "AVVP_eval_visual.csv rows of those filenames (not used)",
    "video_without_audio_rows": "videos with no audio rows (no audio events)",
    "video_without_visual_rows": "videos with no visual rows (no visual events)",
    "empty_event": "events with onset == offset (mark nothing)",
    "reversed_event": "events with onset > offset (mark nothing)",
    "out_of_range_event": "events with onset/offset outside [0, 10] (clipped)",
    "missing_eval_file": "eval files not found (the split gets no segment-level ground truth)",
    "duplicate_event_row": "eval rows repeated verbatim (no effect)",
    "event_class_not_in_weak_label": "events whose class is not in the video's weak label (kept)",
}


# Kinds counted over a whole eval file: a val load and a test load report the same numbers.
EVAL_WIDE_DEFECTS: frozenset[str] = frozenset(
    {
        "eval_audio_unmatched_filename",
        "eval_audio_unmatched_row",
        "eval_visual_unmatched_filename",
        "eval_visual_unmatched_row",
        "empty_event",
        "reversed_event",
        "out_of_range_event",
        "duplicate_event_row",
    }
)


@dataclass
class DefectLog:
    """Counts of data defects by kind, with a few examples each; emits one summary warning."""

    source: str
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, example: str, count: int = 1) -> None:
        self.counts[kind] += count
        bucket = self.examples.setdefault(kind, [])
        if len(bucket) < _MAX_EXAMPLES:
            bucket.append(example)

    def summary(self) -> str:
        parts = []
        for kind, count in self.counts.items():
            if count == 0:
                continue
            description = DEFECT_DESCRIPTIONS.get(kind, kind)
            examples = "; ".join(self.examples.get(kind, []))
            parts.append(f"{count} {description} [{kind}] (e.g. {examples})")
        total = sum(self.counts.values())
        return f"{self.source}: {total} known data defect(s), handled:\n  " + "\n  ".join(parts)

    def warn(self, stacklevel: int = 3) -> None:
        """Emit one :class:`DataDefectWarning` if anything was counted."""
        if any(self.counts.values()):
            warnings.warn(self.summary(), DataDefectWarning, stacklevel=stacklevel)


@dataclass(frozen=True)
class WeakLabelRecord:
    """One row of a split file: a filename and its video-level (weak) class names."""

    filename: str
    labels: tuple[str, ...]

    @property
    def video_id(self) -> str:
        """The YouTube id: the first 11 characters of the filename."""
        return self.filename[:11]


@dataclass(frozen=True)
class EventRecord:
    """One row of an eval file: an event of ``label`` over segments ``[onset, offset)``."""

    filename: str
    onset: int
    offset: int
    label: str


@dataclass
class LLPSplit:
    """One split: filenames in file order, weak labels and (val/test) segment-level ground truth.

    ``labels`` is (N, 25); ``gt_audio`` / ``gt_visual`` are (N, 25, 10) class-major float32, or
    ``None`` for splits without segment-level annotation (train). ``defects`` holds the defect
    counts found by this load (keys of :data:`DEFECT_DESCRIPTIONS`).
    """

    name: str
    filenames: list[str]
    labels: np.ndarray
    gt_audio: np.ndarray | None = None
    gt_visual: np.ndarray | None = None
    defects: dict[str, int] = field(default_factory=dict)

    @property
    def video_ids(self) -> list[str]:
        return [name[:11] for name in self.filenames]

    def __len__(self) -> int:
        return len(self.filenames)


def read_text_lines(path: Path, what: str) -> list[str]:
    """The lines of a UTF-8 text file (BOM, LF or CRLF); a missing or unreadable file is a
    DataError naming it as ``what`` (e.g. "annotation file")."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read {what} ({exc})") from None
    return text.splitlines()


def iter_fields(path: Path, lines: list[str], width: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped fields) of every non-blank line after the header; a line without
    exactly ``width`` tab-separated fields is a DataError naming ``path`` and the line."""
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != width:
            raise DataError(
                f"{path}:{number}: expected {width} tab-separated fields, "
                f"found {len(fields)}: {line!r}"
            )
        yield number, fields


def _read_rows(path: Path, header: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    """(line number, fields) for every data row; checks the header and the field count."""
    # Blank lines (e.g. a trailing one) carry no data.
    lines = read_text_lines(path, "annotation file")
    if not lines or tuple(f.strip() for f in lines[0].split("\t")) != header:
        found = lines[0] if lines else "<empty file>"
        raise DataError(f"{path}:1: expected header {'<TAB>'.join(header)!r}, found {found!r}")
    rows = []
    for number, fields in iter_fields(path, lines, len(header)):
        if not all(fields):
            raise DataError(f"{path}:{number}: empty field in {lines[number - 1]!r}")
        rows.append((number, fields))
    return rows


def read_weak_labels(path: Path, *, defects: DefectLog | None = None) -> list[WeakLabelRecord]:
    """Read a split file (``filename<TAB>event_labels``) in file order.

    Unknown class names are left out of the record and counted; repeated names are kept once.
    Defects go to ``defects`` when given, else one :class:`DataDefectWarning` is emitted here.
    """
    path = Path(path)
    log = defects if defects is not None else DefectLog(str(path))
    records = []
    seen: set[str] = set()
    for number, (filename, cell) in _read_rows(path, _WEAK_HEADER):
        where = f"{path.name}:{number}"
        if len(filename) < 11:
            log.add("short_filename", f"{where} {filename}")
        if filename in seen:
            log.add("duplicate_filename", f"{where} {filename}")
        seen.add(filename)
        labels: list[str] = []
        for raw in cell.split(","):
            name = raw.strip()
            if name not in CLASS_INDEX:
                log.add("unknown_class", f"{where} {name!r}")
            elif name in labels:
                log.add("duplicate_class_in_row", f"{where} {filename} {name}")
            else:
                labels.append(name)
        records.append(WeakLabelRecord(filename, tuple(labels)))
    if defects is None:
        log.warn()
    return records


def read_eval_events(path: Path, *, defects: DefectLog | None = None) -> list[EventRecord]:
    """Read an eval file (``filename<TAB>onset<TAB>offset<TAB>event_labels``) in file order.

    Records keep the onset/offset as written; empty, reversed and out-of-range events are counted
    (the ground-truth fill clips them). Rows with an unknown class are counted and left out.
    """
    path = Path(path)
    log = defects if defects is not None else DefectLog(str(path))
    records = []
    seen: set[tuple[str, ...]] = set()
    for number, fields in _read_rows(path, _EVAL_HEADER):
        filename, onset_text, offset_text, label = fields
        where = f"{path.name}:{number}"
        try:
            onset, offset = int(onset_text), int(offset_text)
        except ValueError:
            raise DataError(
                f"{path}:{number}: onset/offset must be whole seconds, "
                f"found {onset_text!r}/{offset_text!r}"
            ) from None
        key = tuple(fields)
        if key in seen:
            log.add("duplicate_event_row", f"{where} {filename} {onset}-{offset} {label}")
        seen.add(key)
        if label not in CLASS_INDEX:
            log.add("unknown_class", f"{where} {label!r}")
            continue
        if not (0 <= onset <= NUM_SEGMENTS and 0 <= offset <= NUM_SEGMENTS):
            log.add("out_of_range_event", f"{where} {filename} {onset}-{offset}")
        if onset == offset:
            log.add("empty_event", f"{where} {filename} {onset}-{offset} {label}")
        elif onset > offset:
            log.add("reversed_event", f"{where} {filename} {onset}-{offset} {label}")
        records.append(EventRecord(filename, onset, offset, label))
    if defects is None:
        log.warn()
    return records


def find_unknown_classes(path: Path) -> dict[str, list[int]]:
    """Class names of a split or eval file that are not LLP classes -> the lines naming them.

    Loading tolerates these (they are counted as ``unknown_class`` and ignored); ``avvp data
    check`` reports them, since they usually are typos that silently drop a label. The kind of
    file is told by its header; a malformed file is a DataError as in loading.
    """
    path = Path(path)
    lines = read_text_lines(path, "annotation file")
    is_eval = bool(lines) and tuple(f.strip() for f in lines[0].split("\t")) == _EVAL_HEADER
    unknown: dict[str, list[int]] = {}
    for number, fields in _read_rows(path, _EVAL_HEADER if is_eval else _WEAK_HEADER):
        names = [fields[3]] if is_eval else [name.strip() for name in fields[1].split(",")]
        for name in names:
            if name not in CLASS_INDEX:
                unknown.setdefault(name, []).append(number)
    return unknown


def find_annotations_dir(root: Path) -> Path:
    """``root`` or ``root/annotations``, whichever holds the split CSVs."""
    root = Path(root)
    for candidate in (root, root / "annotations"):
        if all((candidate / name).is_file() for name in SPLIT_FILES.values()):
            return candidate
    names = ", ".join(SPLIT_FILES.values())
    raise DataError(f"{root}: no LLP annotations ({names}) in it or in its annotations/ folder")


def _labels_array(records: list[WeakLabelRecord]) -> np.ndarray:
    labels = np.zeros((len(records), NUM_CLASSES), dtype=np.float32)
    for row, record in enumerate(records):
        for name in record.labels:
            labels[row, CLASS_INDEX[name]] = 1.0
    return labels


def load_split(annotations_dir: Path, split: str) -> LLPSplit:
    """Load one split (``train``, ``val`` or ``test``) with its ground truth.

    For val and test, ``GT_m[class, onset:offset] = 1`` for every eval row of the split's videos
    (rows are matched on the full filename, as the reference evaluation does). One
    :class:`DataDefectWarning` summarizes the defects met.
    """
    if split not in SPLIT_FILES:
        raise ConfigError(f"unknown LLP split {split!r}; expected one of {', '.join(SPLIT_FILES)}")
    annotations_dir = Path(annotations_dir)
    log = DefectLog(f"LLP annotations in {annotations_dir} (split {split!r})")
    records = read_weak_labels(annotations_dir / SPLIT_FILES[split], defects=log)
    filenames = [record.filename for record in records]
    labels = _labels_array(records)
    result = LLPSplit(name=split, filenames=filenames, labels=labels)
    eval_paths = {m: annotations_dir / f for m, f in EVAL_FILES.items()}
    if split != "train" and all(path.is_file() for path in eval_paths.values()):
        # Eval rows may name videos of either split: read both to tell "other split" from "none".
        other = "test" if split == "val" else "val"
        other_names = {
            r.filename
            for r in read_weak_labels(annotations_dir / SPLIT_FILES[other], defects=DefectLog(""))
        }
        row_of = {name: i for i, name in enumerate(filenames)}
        weak = {record.filename: set(record.labels) for record in records}
        for modality, path in eval_paths.items():
            gt = np.zeros((len(filenames), NUM_CLASSES, NUM_SEGMENTS), dtype=np.float32)
            unmatched: Counter[str] = Counter()
            covered: set[str] = set()
            for event in read_eval_events(path, defects=log):
                row = row_of.get(event.filename)
                if row is None:
                    if event.filename not in other_names:
                        unmatched[event.filename] += 1
                    continue
                covered.add(event.filename)
                if event.label not in weak[event.filename]:
                    log.add(
                        "event_class_not_in_weak_label",
                        f"{path.name} {event.filename} {event.label}",
                    )
                onset = min(max(event.onset, 0), NUM_SEGMENTS)
                offset = min(max(event.offset, 0), NUM_SEGMENTS)
                gt[row, CLASS_INDEX[event.label], onset:offset] = 1.0
            for name, count in unmatched.items():
                log.add(f"eval_{modality}_unmatched_filename", name)
                log.add(f"eval_{modality}_unmatched_row", name, count)
            for name in filenames:
                if name not in covered:
                    log.add(f"video_without_{modality}_rows", name)
            if modality == "audio":
                result.gt_audio = gt
            else:
                result.gt_visual = gt
    elif split != "train":
        for path in eval_paths.values():
            if not path.is_file():
                log.add("missing_eval_file", str(path))
    result.defects = {kind: count for kind, count in log.counts.items() if count}
    log.warn()
    return result
