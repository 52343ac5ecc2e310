"""Event predictions in the LLP evaluation layout (tab-separated, one event per row).

Two layouts, both with whole-second onsets and offsets (offset exclusive), like
``AVVP_eval_audio.csv`` / ``AVVP_eval_visual.csv``:

* one file per modality, header ``filename<TAB>onset<TAB>offset<TAB>event_labels``;
* one combined file with an extra ``modality`` column (``audio`` or ``visual``), header
  ``filename<TAB>onset<TAB>offset<TAB>event_labels<TAB>modality``.

Written rows are the maximal runs of 1s of the (N, C, T) prediction arrays, ordered by video
(in the order given), modality, class index, onset. On reading, overlapping or repeated rows are
merged (their union), videos without rows have no events, and an ``onset == offset`` row marks
nothing (as in the ground-truth files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from avvp.classes import CLASS_INDEX, LLP_CLASSES, NUM_SEGMENTS
from avvp.data.llp import iter_fields, read_text_lines
from avvp.errors import DataError
from avvp.metrics.parsing import as_binary
from avvp.metrics.runs import find_runs

__all__ = [
    "COMBINED_HEADER",
    "HEADER",
    "MODALITY_NAMES",
    "EventRow",
    "event_rows",
    "read_predictions",
    "split_paths",
    "write_event_tsv",
    "write_predictions",
]

HEADER: tuple[str, ...] = ("filename", "onset", "offset", "event_labels")
COMBINED_HEADER: tuple[str, ...] = (*HEADER, "modality")
MODALITY_NAMES: tuple[str, str] = ("audio", "visual")
_MAX_EXAMPLES = 5


def split_paths(path: Path) -> tuple[Path, Path]:
    """Where ``write_predictions(..., combined=False)`` puts the audio and visual files:
    ``<stem>_audio<suffix>`` and ``<stem>_visual<suffix>`` beside ``path``."""
    path = Path(path)
    return (
        path.with_name(f"{path.stem}_audio{path.suffix}"),
        path.with_name(f"{path.stem}_visual{path.suffix}"),
    )


EventRow = tuple[str, int, int, str, str]
"""One written event: (filename, onset, offset, class name, modality)."""


def event_rows(filenames: Sequence[str], preds: Mapping[str, Any]) -> list[EventRow]:
    """The events of binary (N, C, T) arrays (numpy or torch), one per modality in ``preds``.

    Ordered by video (in the order of ``filenames``), modality (in the order of ``preds``),
    class index, onset.
    """
    names = list(filenames)
    if not preds:
        raise ValueError("event_rows: no prediction array given")
    unknown = sorted(set(preds) - set(MODALITY_NAMES))
    if unknown:
        raise ValueError(f"unknown modality {unknown[0]!r}, expected one of {MODALITY_NAMES}")
    arrays = {m: as_binary(p, name=f"pred_{m}") for m, p in preds.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1 or next(iter(shapes))[0] != len(names):
        raise ValueError(
            " and ".join(f"pred_{m} {a.shape}" for m, a in arrays.items())
            + f" must be (N, C, T) with N = {len(names)} filenames"
        )
    classes = next(iter(shapes))[1]
    if classes != len(LLP_CLASSES):
        raise ValueError(f"expected {len(LLP_CLASSES)} classes, got {classes}")
    modalities = list(arrays)
    # Runs of the (N, M, C, T) stack come in C order: video, modality, class, onset.
    runs = find_runs(np.stack(list(arrays.values()), axis=1))
    video, modality, cls = (i.tolist() for i in runs.row)
    return [
        (names[v], on, off, LLP_CLASSES[c], modalities[m])
        for v, m, c, on, off in zip(
            video, modality, cls, runs.onset.tolist(), runs.offset.tolist(), strict=True
        )
    ]


def write_event_tsv(path: Path, rows: Iterable[EventRow], *, modality_column: bool) -> Path:
    """Write event rows in the LLP evaluation layout; returns ``path``.

    With ``modality_column`` the combined layout (:data:`COMBINED_HEADER`), otherwise the
    one-modality layout of ``AVVP_eval_<modality>.csv`` (:data:`HEADER`, the rows' modality is
    dropped). Rows are written in the order given; the parent folder is created.
    """
    header = COMBINED_HEADER if modality_column else HEADER
    lines = ["\t".join(header)]
    lines += ["\t".join(str(field) for field in row[: len(header)]) for row in rows]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_predictions(
    path: Path,
    filenames: Sequence[str],
    pred_audio: Any,
    pred_visual: Any,
    *,
    combined: bool = True,
) -> list[Path]:
    """Write binary (N, C, T) audio and visual predictions (numpy or torch) as event rows.

    With ``combined=True`` one file at ``path`` holds both modalities (``modality`` column);
    otherwise two files, see :func:`split_paths`. Returns the paths written.
    """
    rows = event_rows(filenames, {"audio": pred_audio, "visual": pred_visual})
    if combined:
        return [write_event_tsv(path, rows, modality_column=True)]
    return [
        write_event_tsv(target, [r for r in rows if r[4] == m], modality_column=False)
        for m, target in zip(MODALITY_NAMES, split_paths(path), strict=True)
    ]


def _parse_bound(value: str, path: Path, number: int, column: str, t: int) -> int:
    try:
        number_value = float(value)
    except ValueError:
        raise DataError(f"{path}:{number}: {column} {value!r} is not a number") from None
    if not number_value.is_integer():
        raise DataError(f"{path}:{number}: {column} {value!r} is not a whole second")
    bound = int(number_value)
    if not 0 <= bound <= t:
        raise DataError(f"{path}:{number}: {column} {bound} is outside 0..{t}")
    return bound


def _read_file(
    path: Path,
    modality: str | None,
    row_of: dict[str, int],
    out: dict[str, np.ndarray],
    unknown: dict[str, int],
) -> None:
    """Fill ``out[modality]`` from one file; ``modality=None`` means the file names it per row."""
    t = next(iter(out.values())).shape[2]
    lines = read_text_lines(path, "predictions file")
    header = tuple(f.strip() for f in lines[0].split("\t")) if lines else ()
    if header == COMBINED_HEADER:
        has_modality = True
    elif header == HEADER:
        has_modality = False
    else:
        found = lines[0] if lines else "<empty file>"
        raise DataError(
            f"{path}:1: expected header {'<TAB>'.join(HEADER)!r} (optionally followed by "
            f"'<TAB>modality'), found {found!r}"
        )
    if modality is None and not has_modality:
        raise DataError(
            f"{path}: a single predictions file needs a 'modality' column; "
            "otherwise give an audio file and a visual file"
        )
    for number, fields in iter_fields(path, lines, len(header)):
        filename, onset_text, offset_text, label = fields[:4]
        row_modality = modality
        if has_modality:
            if fields[4] not in MODALITY_NAMES:
                raise DataError(
                    f"{path}:{number}: unknown modality {fields[4]!r} (expected audio or visual)"
                )
            if modality is not None and fields[4] != modality:
                raise DataError(
                    f"{path}:{number}: a {fields[4]} row in the {modality} predictions file"
                )
            row_modality = fields[4]
        assert row_modality is not None
        onset = _parse_bound(onset_text, path, number, "onset", t)
        offset = _parse_bound(offset_text, path, number, "offset", t)
        if onset > offset:
            raise DataError(f"{path}:{number}: onset {onset} is after offset {offset}")
        cls = CLASS_INDEX.get(label)
        if cls is None:
            raise DataError(f"{path}:{number}: unknown class name {label!r}")
        row = row_of.get(filename)
        if row is None:
            unknown.setdefault(filename, number)
            continue
        out[row_modality][row, cls, onset:offset] = True


def read_predictions(
    path_or_paths: Path | str | Sequence[Path | str],
    filenames: Sequence[str],
    *,
    num_segments: int = NUM_SEGMENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Read predictions for the videos ``filenames`` (a split's file order).

    ``path_or_paths`` is one combined file (with a ``modality`` column) or an ``(audio, visual)``
    pair of files. Returns ``(pred_audio, pred_visual)``, each (N, 25, num_segments) bool.
    Malformed rows raise :class:`DataError` naming the file and line; rows naming videos that are
    not in ``filenames`` raise one :class:`DataError` with their count and a few examples.
    """
    if isinstance(path_or_paths, str | Path):
        files: list[tuple[Path, str | None]] = [(Path(path_or_paths), None)]
    else:
        paths = [Path(p) for p in path_or_paths]
        if len(paths) == 1:
            files = [(paths[0], None)]
        elif len(paths) == 2:
            files = [(paths[0], "audio"), (paths[1], "visual")]
        else:
            raise DataError(
                f"expected one combined predictions file or an audio and a visual file, "
                f"got {len(paths)} files"
            )
    names = list(filenames)
    row_of = {name: i for i, name in enumerate(names)}
    shape = (len(names), len(LLP_CLASSES), num_segments)
    out = {m: np.zeros(shape, dtype=np.bool_) for m in MODALITY_NAMES}
    for path, modality in files:
        unknown: dict[str, int] = {}
        _read_file(path, modality, row_of, out, unknown)
        if unknown:
            examples = ", ".join(
                f"{name!r} (line {line})" for name, line in list(unknown.items())[:_MAX_EXAMPLES]
            )
            raise DataError(
                f"{path}: {len(unknown)} filename(s) are not in the split "
                f"({len(names)} videos), e.g. {examples}"
            )
    return out["audio"], out["visual"]
