"""Statistics of the real LLP annotations that the synthetic generator samples from.

The committed file ``llp_stats.json`` (beside this module) is produced by
:func:`derive_llp_stats` from the official annotation CSVs (``avvp data stats`` re-derives it).
Everything in it is an integer count, so re-deriving from the same CSVs gives the same JSON.

What is measured (see ``HOW_COMPUTED``):

* train (weak labels only): per-class video frequency, pairwise class co-occurrence, the
  number of classes per video and the empirical distribution of whole label sets;
* val + test (segment-level ground truth, ``GT_m[c, onset:offset] = 1``): per class how often a
  labelled class is audio-only / visual-only / audio-visual (or, a data defect, neither); events
  (maximal runs of 1s, the evaluation's definition) per video per modality; event onset and
  duration histograms per modality; runs per non-empty class row; how many segments hold 2+
  events; how often an audio-visual class has identical audio and visual rows; and per class and
  modality the histogram of whole 10-segment row patterns (a pattern is the row read as a 10-bit
  integer, bit ``t`` = segment ``t``), which is what the sampler draws event timings from.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avvp.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS
from avvp.errors import DataError
from avvp.metrics.runs import count_runs, find_runs

STATS_PATH: Path = Path(__file__).with_name("llp_stats.json")
STATS_VERSION = 1
MODALITIES: tuple[str, str] = ("audio", "visual")
# Modality assignment of a labelled class: index = has_audio + 2 * has_visual.
_TYPE_CODES = "navb"  # neither, audio-only, visual-only, both

HOW_COMPUTED = (
    "Derived by avvp.data.llp_stats.derive_llp_stats (CLI: avvp data stats) from the official LLP "
    "annotation CSVs. Train statistics use the weak labels of AVVP_train.csv. Segment statistics "
    "use val+test (AVVP_val_pd.csv, AVVP_test_pd.csv) with the ground truth of AVVP_eval_audio.csv "
    "/ AVVP_eval_visual.csv built as GT_m[c, onset:offset] = 1 by avvp.data.llp.load_split (eval "
    "rows naming no val/test video and empty rows mark nothing). An event is a maximal run of 1s "
    "in a class row (the evaluation's definition). A labelled class with events in neither "
    "modality is counted as 'neither' (an annotation defect). Row patterns encode a class row as "
    "sum(row[t] << t). All values are integer counts; fractions are computed on load."
)


def _pattern_of(rows: NDArray[Any]) -> NDArray[np.int64]:
    """(..., T) binary rows -> (...) integer patterns, bit t = segment t."""
    weights = (1 << np.arange(NUM_SEGMENTS, dtype=np.int64)).astype(np.int64)
    return (rows.astype(np.int64) * weights).sum(axis=-1)


def rows_from_patterns(patterns: NDArray[np.integer[Any]]) -> NDArray[np.uint8]:
    """(...) integer patterns -> (..., T) uint8 binary rows (inverse of the pattern encoding)."""
    bits = (patterns[..., None].astype(np.int64) >> np.arange(NUM_SEGMENTS)) & 1
    return bits.astype(np.uint8)


def _histogram(values: NDArray[Any], size: int) -> list[int]:
    return [int(x) for x in np.bincount(values.astype(np.int64).ravel(), minlength=size)[:size]]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def derive_stats_from_arrays(
    *,
    train_labels: NDArray[Any],
    eval_labels: NDArray[Any],
    eval_gt_audio: NDArray[Any],
    eval_gt_visual: NDArray[Any],
) -> dict[str, Any]:
    """The statistics (JSON-ready, integer counts) from label / ground-truth arrays.

    Args:
        train_labels: (N_train, C) binary video-level labels.
        eval_labels: (N_eval, C) binary video-level labels of the videos with segment GT.
        eval_gt_audio: (N_eval, C, T) binary audio ground truth.
        eval_gt_visual: (N_eval, C, T) binary visual ground truth.
    """
    c, t = NUM_CLASSES, NUM_SEGMENTS
    train = np.asarray(train_labels).astype(bool)
    labels = np.asarray(eval_labels).astype(bool)
    gts = {
        "audio": np.asarray(eval_gt_audio).astype(bool),
        "visual": np.asarray(eval_gt_visual).astype(bool),
    }
    if train.ndim != 2 or train.shape[1] != c:
        raise DataError(f"train labels must be (N, {c}), got {train.shape}")
    for name, gt in gts.items():
        if gt.shape != (labels.shape[0], c, t):
            expected = (labels.shape[0], c, t)
            raise DataError(f"{name} ground truth must be {expected}, got {gt.shape}")

    # Train: weak labels.
    sets: dict[tuple[int, ...], int] = {}
    for row in train:
        key = tuple(int(i) for i in np.flatnonzero(row))
        sets[key] = sets.get(key, 0) + 1
    label_sets = sorted(sets.items(), key=lambda kv: (-kv[1], kv[0]))
    co = train.T.astype(np.int64) @ train.astype(np.int64)
    train_stats = {
        "num_videos": int(train.shape[0]),
        "class_counts": [int(x) for x in train.sum(axis=0)],
        "cooccurrence": [[int(x) for x in row] for row in co],
        "classes_per_video": _histogram(train.sum(axis=1), c + 1),
        "label_sets": [[list(k), v] for k, v in label_sets],
    }

    # Val + test: segment-level ground truth.
    has: dict[str, NDArray[np.bool_]] = {m: np.any(gt, axis=2) for m, gt in gts.items()}
    a, v = has["audio"], has["visual"]
    modality_counts = {
        "audio_only": (labels & a & ~v).sum(axis=0),
        "visual_only": (labels & ~a & v).sum(axis=0),
        "audio_visual": (labels & a & v).sum(axis=0),
        "neither": (labels & ~a & ~v).sum(axis=0),
        # Events of a class the weak label does not list (should not happen; counted to see).
        "unlabelled_events": (~labels & (a | v)).sum(axis=0),
    }
    same_rows = (labels & a & v & (gts["audio"] == gts["visual"]).all(axis=2)).sum(axis=0)
    per_modality: dict[str, Any] = {}
    for m, gt in gts.items():
        events = find_runs(gt)
        onsets, durations = events.onset, events.length
        runs = count_runs(gt)  # (N, C)
        active = gt.sum(axis=1)  # (N, T) events per segment
        patterns = _pattern_of(gt)  # (N, C)
        row_patterns = []
        for k in range(c):
            nonzero = patterns[:, k][patterns[:, k] > 0]
            values, counts = np.unique(nonzero, return_counts=True)
            row_patterns.append([[int(p), int(n)] for p, n in zip(values, counts, strict=True)])
        per_modality[m] = {
            "events_per_video": _histogram(runs.sum(axis=1), 4 * t),
            "classes_per_video": _histogram(has[m].sum(axis=1), c + 1),
            "onset_hist": _histogram(onsets, t),
            "duration_hist": [0, *_histogram(durations, t + 1)[1:]],
            "runs_per_row": _histogram(runs[runs > 0], t // 2 + 2),
            "segments_total": int(active.size),
            "segments_with_event": int((active >= 1).sum()),
            "segments_2plus": int((active >= 2).sum()),
            "row_patterns": row_patterns,
        }
    # Videos with events in both modalities (the others are annotation gaps the loader reports):
    # the joint modality assignment of their classes, per label set.
    complete = a.any(axis=1) & v.any(axis=1)
    types: dict[tuple[int, ...], dict[str, int]] = {}
    for row in np.flatnonzero(complete):
        members = tuple(int(k) for k in np.flatnonzero(labels[row]))
        code = "".join(_TYPE_CODES[int(a[row, k]) + 2 * int(v[row, k])] for k in members)
        bucket = types.setdefault(members, {})
        bucket[code] = bucket.get(code, 0) + 1
    lc, ac, vc = labels[complete], a[complete], v[complete]
    complete_stats = {
        "num_videos": int(complete.sum()),
        "class_modality_counts": {
            "audio_only": [int(x) for x in (lc & ac & ~vc).sum(axis=0)],
            "visual_only": [int(x) for x in (lc & ~ac & vc).sum(axis=0)],
            "audio_visual": [int(x) for x in (lc & ac & vc).sum(axis=0)],
            "neither": [int(x) for x in (lc & ~ac & ~vc).sum(axis=0)],
        },
        "label_set_types": [
            [list(k), sorted([code, n] for code, n in val.items())]
            for k, val in sorted(types.items())
        ],
    }
    eval_stats = {
        "num_videos": int(labels.shape[0]),
        "complete_videos": complete_stats,
        "class_modality_counts": {k: [int(x) for x in val] for k, val in modality_counts.items()},
        "av_identical_rows": [int(x) for x in same_rows],
        **per_modality,
    }
    return {
        "version": STATS_VERSION,
        "how_computed": HOW_COMPUTED,
        "classes": list(LLP_CLASSES),
        "train": train_stats,
        "eval": eval_stats,
    }


def derive_llp_stats(annotations_dir: Path) -> dict[str, Any]:
    """Derive the statistics from the official LLP annotation CSVs in ``annotations_dir``.

    Data-defect warnings of the loader (eval rows naming unknown videos, empty rows) are
    expected on the real files and are not repeated here.
    """
    from avvp.data.llp import EVAL_FILES, SPLIT_FILES, load_split

    annotations_dir = Path(annotations_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train = load_split(annotations_dir, "train")
        splits = [load_split(annotations_dir, s) for s in ("val", "test")]
    for name, split in zip(("val", "test"), splits, strict=True):
        if split.gt_audio is None or split.gt_visual is None:
            raise DataError(f"{annotations_dir}: no segment-level ground truth for split {name!r}")
    stats = derive_stats_from_arrays(
        train_labels=np.asarray(train.labels),
        eval_labels=np.concatenate([np.asarray(s.labels) for s in splits]),
        eval_gt_audio=np.concatenate([np.asarray(s.gt_audio) for s in splits]),
        eval_gt_visual=np.concatenate([np.asarray(s.gt_visual) for s in splits]),
    )
    names = sorted({*_file_names(SPLIT_FILES), *_file_names(EVAL_FILES)})
    sources = {}
    for name in names:
        path = _find_csv(annotations_dir, name)
        if path is not None:
            sources[name] = _sha256(path)
    stats["source_sha256"] = sources
    stats["eval"]["splits"] = {"val": len(splits[0].filenames), "test": len(splits[1].filenames)}
    return stats


def _file_names(mapping: Any) -> list[str]:
    """File names from SPLIT_FILES / EVAL_FILES (a mapping to names, or a sequence of names)."""
    values = mapping.values() if isinstance(mapping, dict) else mapping
    out: list[str] = []
    for v in values:
        if isinstance(v, str | Path):
            out.append(Path(v).name)
        else:
            out.extend(Path(x).name for x in v)
    return out


def _find_csv(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / "annotations" / name):
        if candidate.is_file():
            return candidate
    return None


def write_llp_stats(stats: dict[str, Any], path: Path = STATS_PATH) -> Path:
    """Write the statistics as compact, stable JSON (sorted keys, one line per top-level list)."""
    path = Path(path)
    path.write_text(dumps_stats(stats), encoding="utf-8")
    return path


def dumps_stats(stats: dict[str, Any]) -> str:
    """The canonical JSON text of the statistics (what is committed)."""
    return json.dumps(stats, sort_keys=True, separators=(",", ":")) + "\n"


@dataclass(frozen=True)
class LLPStats:
    """The committed statistics as arrays (fractions where the sampler needs them).

    Attributes:
        label_sets: (S, C) bool, the distinct train label sets.
        label_set_probs: (S,) their empirical probabilities.
        class_frequency: (C,) fraction of train videos labelled with each class.
        cooccurrence: (C, C) train co-occurrence counts (diagonal = class counts).
        classes_per_video: (C + 1,) probability of k classes per train video.
        modality_probs: (C, 3) per class P(audio-only), P(visual-only), P(audio-visual) among
            labelled occurrences with at least one event.
        av_identical: (C,) fraction of audio-visual occurrences with equal audio and visual rows.
        av_counts: (C,) number of audio-visual occurrences (the denominator of ``av_identical``).
        row_patterns: per modality, (C, 1024) counts of each non-empty row pattern.
        complete_modality_probs: like ``modality_probs``, over the val+test videos with events
            in both modalities only.
        label_set_types: for each label set (sorted class indices) seen among those videos, the
            observed joint modality assignments (one code letter per class: ``a`` audio-only,
            ``v`` visual-only, ``b`` both, ``n`` neither) and their counts.
        raw: the JSON dictionary itself.
    """

    label_sets: NDArray[np.bool_]
    label_set_probs: NDArray[np.float64]
    class_frequency: NDArray[np.float64]
    cooccurrence: NDArray[np.int64]
    classes_per_video: NDArray[np.float64]
    modality_probs: NDArray[np.float64]
    av_identical: NDArray[np.float64]
    av_counts: NDArray[np.int64]
    row_patterns: dict[str, NDArray[np.int64]]
    complete_modality_probs: NDArray[np.float64]
    label_set_types: dict[tuple[int, ...], tuple[tuple[str, ...], NDArray[np.int64]]]
    raw: dict[str, Any]

    def overlap_fraction(self, modality: str) -> float:
        """Fraction of segments holding 2+ events of ``modality`` (val+test)."""
        m = self.raw["eval"][modality]
        return float(m["segments_2plus"]) / float(m["segments_total"])

    def mean_events_per_video(self, modality: str) -> float:
        """Mean number of events (runs) per val+test video for ``modality``."""
        hist = np.asarray(self.raw["eval"][modality]["events_per_video"], dtype=np.float64)
        return float((hist * np.arange(hist.size)).sum() / hist.sum())


def _modality_matrix(counts: dict[str, Any]) -> NDArray[np.float64]:
    """(C, 3) counts of audio-only, visual-only, audio-visual occurrences."""
    keys = ("audio_only", "visual_only", "audio_visual")
    return np.stack([np.asarray(counts[k], dtype=np.float64) for k in keys], axis=1)


def stats_from_dict(raw: dict[str, Any], *, source: str = "<dict>") -> LLPStats:
    """Parse the JSON dictionary into :class:`LLPStats` (DataError naming ``source`` if bad)."""
    c = NUM_CLASSES
    try:
        if raw["version"] != STATS_VERSION:
            raise DataError(f"{source}: stats version {raw['version']}, expected {STATS_VERSION}")
        if list(raw["classes"]) != list(LLP_CLASSES):
            raise DataError(f"{source}: 'classes' differ from avvp.classes.LLP_CLASSES")
        tr, ev = raw["train"], raw["eval"]
        sets = np.zeros((len(tr["label_sets"]), c), dtype=bool)
        counts = np.zeros(len(tr["label_sets"]), dtype=np.float64)
        for i, (members, n) in enumerate(tr["label_sets"]):
            sets[i, list(members)] = True
            counts[i] = n
        cpv = np.asarray(tr["classes_per_video"], dtype=np.float64)
        mc = ev["class_modality_counts"]
        mod = _modality_matrix(mc)
        complete = ev["complete_videos"]
        cmod = _modality_matrix(complete["class_modality_counts"])
        set_types: dict[tuple[int, ...], tuple[tuple[str, ...], NDArray[np.int64]]] = {}
        for members, entries in complete["label_set_types"]:
            codes = tuple(str(code) for code, _ in entries)
            if any(len(code) != len(members) or set(code) - set(_TYPE_CODES) for code in codes):
                raise ValueError(f"bad modality codes {codes} for label set {members}")
            set_types[tuple(int(k) for k in members)] = (
                codes,
                np.asarray([n for _, n in entries], dtype=np.int64),
            )
        av_counts = np.asarray(mc["audio_visual"], dtype=np.int64)
        identical = np.asarray(ev["av_identical_rows"], dtype=np.float64)
        patterns: dict[str, NDArray[np.int64]] = {}
        for m in MODALITIES:
            table = np.zeros((c, 1 << NUM_SEGMENTS), dtype=np.int64)
            for k, entries in enumerate(ev[m]["row_patterns"]):
                for p, n in entries:
                    table[k, int(p)] = int(n)
            patterns[m] = table
        return LLPStats(
            label_sets=sets,
            label_set_probs=counts / counts.sum(),
            class_frequency=np.asarray(tr["class_counts"], dtype=np.float64) / tr["num_videos"],
            cooccurrence=np.asarray(tr["cooccurrence"], dtype=np.int64),
            classes_per_video=cpv / cpv.sum(),
            modality_probs=mod / np.maximum(mod.sum(axis=1, keepdims=True), 1.0),
            av_identical=identical / np.maximum(av_counts, 1),
            av_counts=av_counts,
            row_patterns=patterns,
            complete_modality_probs=cmod / np.maximum(cmod.sum(axis=1, keepdims=True), 1.0),
            label_set_types=set_types,
            raw=raw,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise DataError(f"{source}: malformed LLP statistics ({problem})") from exc


def load_llp_stats(path: Path | None = None) -> LLPStats:
    """Load the statistics (default: the committed ``llp_stats.json``)."""
    path = STATS_PATH if path is None else Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"{path}: LLP statistics file not found") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    return stats_from_dict(raw, source=str(path))
