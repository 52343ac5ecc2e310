"""Writing a synthetic LLP dataset in the official layout (:func:`generate_synthetic_llp`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from avvp.classes import LLP_CLASSES
from avvp.data.llp_stats import LLPStats, load_llp_stats
from avvp.data.synth.annotations import (
    SynthAnnotations,
    make_pseudo_labels,
    sample_annotations,
    segment_f1,
)
from avvp.data.synth.config import SPLITS, SYNTH_VERSION, SynthConfig
from avvp.data.synth.features import build_world, synthesize_features
from avvp.errors import ConfigError, DataError

# Videos per feature chunk. Part of the random stream layout: changing it changes the bytes.
_CHUNK = 64
_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))


@dataclass
class _Split:
    name: str
    filenames: list[str]
    annotations: SynthAnnotations
    pseudo_audio: NDArray[np.uint8] = field(repr=False)
    pseudo_visual: NDArray[np.uint8] = field(repr=False)


def _make_filenames(total: int, rng: np.random.Generator) -> list[str]:
    """Unique ``<11-char id>_<start>_<start + 10>`` names."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < total:
        need = total - len(names)
        chars = _ID_ALPHABET[rng.integers(0, len(_ID_ALPHABET), size=(need, 11))]
        starts = rng.integers(0, 291, size=need)
        for row, start in zip(chars, starts, strict=True):
            vid = "".join(row)
            if vid not in seen:
                seen.add(vid)
                names.append(f"{vid}_{start}_{start + 10}")
    return names


def _label_cell(row: NDArray[Any]) -> str:
    return ",".join(LLP_CLASSES[k] for k in np.flatnonzero(row))


def _write_weak(path: Path, filenames: list[str], labels: NDArray[Any]) -> None:
    lines = ["filename\tevent_labels"]
    lines += [f"{name}\t{_label_cell(row)}" for name, row in zip(filenames, labels, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _feature_folders(valor_plus_plus: bool) -> dict[str, tuple[str, tuple[int, ...]]]:
    from avvp.data.features import FEATURE_SPECS

    keys = ["audio", "frames", "clips", "pseudo_audio", "pseudo_visual"]
    if valor_plus_plus:
        keys += ["clap", "clip"]
    return {k: (FEATURE_SPECS[k].folder, tuple(FEATURE_SPECS[k].shape)) for k in keys}


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, _CHUNK):
        yield slice(start, min(start + _CHUNK, n))


def generate_synthetic_llp(
    out: Path,
    *,
    config: SynthConfig,
    seed: int,
    pack: bool = False,
    stats: LLPStats | None = None,
) -> Path:
    """Write a synthetic LLP dataset in the official layout under ``out``; returns ``out``.

    Writes the annotation CSVs (official names and formats, val/test with full segment-level
    ground truth), per-video features and VALOR pseudo labels, and ``synth_config.json`` (every
    knob, the seed, the statistics used and a summary such as the pseudo-label F1). The result
    is byte-identical for the same ``config``, ``seed`` and statistics. With ``pack``, the
    packed layout is added by :func:`avvp.data.pack.pack_dataset`.

    Args:
        out: dataset root (created; files of the same names are overwritten, others are left:
            use an empty folder).
        config: the knobs.
        seed: the random seed (any non-negative integer).
        pack: also write ``<out>/packed``.
        stats: LLP statistics (default: the committed ``llp_stats.json``).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"synth: seed must be a non-negative integer, got {seed!r}")
    stats = load_llp_stats() if stats is None else stats
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{out}: cannot create the output folder ({exc})") from exc
    folders = _feature_folders(config.valor_plus_plus)
    for folder, _ in folders.values():
        (out / folder).mkdir(parents=True, exist_ok=True)

    root_seq = np.random.SeedSequence(seed)
    world_seq, names_seq, *split_seqs = root_seq.spawn(2 + len(SPLITS))
    world = build_world(config, np.random.default_rng(world_seq))
    sizes = config.split_sizes()
    all_names = _make_filenames(sum(sizes.values()), np.random.default_rng(names_seq))

    splits: list[_Split] = []
    feature_rngs: dict[str, np.random.Generator] = {}
    start = 0
    for name, seq in zip(SPLITS, split_seqs, strict=True):
        ann_seq, pseudo_seq, feat_seq = seq.spawn(3)
        n = sizes[name]
        ann = sample_annotations(
            n,
            stats=stats,
            rng=np.random.default_rng(ann_seq),
            pattern_shrinkage=config.pattern_shrinkage,
        )
        prng = np.random.default_rng(pseudo_seq)
        pa = make_pseudo_labels(ann.gt_audio, ann.gt_visual, ann.labels, config=config, rng=prng)
        pv = make_pseudo_labels(ann.gt_visual, ann.gt_audio, ann.labels, config=config, rng=prng)
        splits.append(_Split(name, all_names[start : start + n], ann, pa, pv))
        feature_rngs[name] = np.random.default_rng(feat_seq)
        start += n

    _write_annotations(out, splits)
    keys = tuple(k for k in folders if not k.startswith("pseudo_"))
    total = sum(sizes.values())
    with tqdm(total=total, desc="synth features", unit="video", disable=None) as bar:
        for split in splits:
            ids = [f[:11] for f in split.filenames]
            for k, pseudo in (
                ("pseudo_audio", split.pseudo_audio),
                ("pseudo_visual", split.pseudo_visual),
            ):
                pseudo_folder = out / folders[k][0]
                for i, vid in enumerate(ids):
                    # VALOR files are (T, C) int64.
                    np.save(pseudo_folder / f"{vid}.npy", pseudo[i].T.astype(np.int64))
            for sl in _chunks(len(ids)):
                ann = split.annotations
                chunk = SynthAnnotations(ann.labels[sl], ann.gt_audio[sl], ann.gt_visual[sl])
                feats = synthesize_features(world, chunk, rng=feature_rngs[split.name], keys=keys)
                for key, arr in feats.items():
                    feature_folder = out / folders[key][0]
                    for j, vid in enumerate(ids[sl]):
                        np.save(feature_folder / f"{vid}.npy", arr[j])
                bar.update(sl.stop - sl.start)

    summary = _summary(splits)
    meta = {
        "generator": "avvp.data.synth",
        "version": SYNTH_VERSION,
        "seed": seed,
        "config": asdict(config),
        "stats_sha256": stats.raw.get("source_sha256", {}),
        "feature_folders": {k: v[0] for k, v in folders.items()},
        "summary": summary,
        "note": "Synthetic stand-in for LLP (see docs/synthetic.md); not a benchmark substitute.",
    }
    (out / "synth_config.json").write_text(
        json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    if pack:
        from avvp.data.pack import pack_dataset

        pack_dataset(out)
    return out


def _write_annotations(out: Path, splits: list[_Split]) -> None:
    from avvp.data.llp import EVAL_FILES, FULL_FILE, SPLIT_FILES
    from avvp.data.predictions import event_rows, write_event_tsv

    for split in splits:
        _write_weak(out / SPLIT_FILES[split.name], split.filenames, split.annotations.labels)
    _write_weak(
        out / FULL_FILE,
        [f for s in splits for f in s.filenames],
        np.concatenate([s.annotations.labels for s in splits]),
    )
    for modality, filename in EVAL_FILES.items():
        rows = []
        for split in splits:
            if split.name == "train":
                continue
            gt = split.annotations.gt_audio if modality == "audio" else split.annotations.gt_visual
            rows += event_rows(split.filenames, {modality: gt})
        write_event_tsv(out / filename, rows, modality_column=False)


def _summary(splits: list[_Split]) -> dict[str, Any]:
    """Measured properties of what was written (pseudo-label quality, overlap)."""
    gt_a = np.concatenate([s.annotations.gt_audio for s in splits])
    gt_v = np.concatenate([s.annotations.gt_visual for s in splits])
    pa = np.concatenate([s.pseudo_audio for s in splits])
    pv = np.concatenate([s.pseudo_visual for s in splits])
    return {
        "videos": {s.name: len(s.filenames) for s in splits},
        "pseudo_label_segment_f1": {
            "audio": round(segment_f1(pa, gt_a), 4),
            "visual": round(segment_f1(pv, gt_v), 4),
        },
        "segments_with_2plus_events": {
            "audio": round(float((gt_a.sum(axis=1) >= 2).mean()), 4),
            "visual": round(float((gt_v.sum(axis=1) >= 2).mean()), 4),
        },
    }
