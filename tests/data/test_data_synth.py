"""Synthetic LLP generator: layout, loader round trip, determinism, statistics, signal."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from avvp.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS
from avvp.data.features import FEATURE_SPECS
from avvp.data.llp import EVAL_FILES, FULL_FILE, SPLIT_FILES, DataDefectWarning, load_split
from avvp.data.llp_stats import (
    STATS_PATH,
    derive_llp_stats,
    dumps_stats,
    load_llp_stats,
)
from avvp.data.synth import (
    SynthAnnotations,
    SynthConfig,
    build_world,
    generate_synthetic_llp,
    make_pseudo_labels,
    sample_annotations,
    segment_f1,
    synthesize_features,
)
from avvp.errors import ConfigError
from avvp.metrics.runs import count_runs, find_runs

SMALL = SynthConfig(num_train=30, num_val=10, num_test=10, valor_plus_plus=True)
FILENAME = re.compile(r"^[A-Za-z0-9_-]{11}_(\d+)_(\d+)$")


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synthetic_llp(tmp_path_factory.mktemp("synth") / "a", config=SMALL, seed=7)


@pytest.fixture(scope="module")
def stats():  # type: ignore[no-untyped-def]
    return load_llp_stats()


def test_synth_official_layout_loads_without_defects(small_root: Path) -> None:
    sizes = SMALL.split_sizes()
    loaded = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataDefectWarning)
        for split in SPLIT_FILES:
            loaded[split] = load_split(small_root, split)
    for split, data in loaded.items():
        assert len(data) == sizes[split]
        assert data.defects == {}
        for name in data.filenames:
            match = FILENAME.match(name)
            assert match is not None, name
            assert int(match.group(2)) - int(match.group(1)) == 10
        assert (data.labels.sum(axis=1) >= 1).all()
    for split in ("val", "test"):
        data = loaded[split]
        assert data.gt_audio is not None and data.gt_visual is not None
        assert data.gt_audio.shape == (sizes[split], NUM_CLASSES, NUM_SEGMENTS)
        # Video label = union of the audio and visual events; every video has both modalities.
        union = data.gt_audio.any(axis=2) | data.gt_visual.any(axis=2)
        np.testing.assert_array_equal(union, data.labels.astype(bool))
        assert data.gt_audio.any(axis=(1, 2)).all() and data.gt_visual.any(axis=(1, 2)).all()
    all_names = [n for d in loaded.values() for n in d.filenames]
    assert len({n[:11] for n in all_names}) == len(all_names)
    full = (small_root / FULL_FILE).read_text().splitlines()
    assert full[0] == "filename\tevent_labels"
    assert [line.split("\t")[0] for line in full[1:]] == all_names
    for name in EVAL_FILES.values():
        header = (small_root / name).read_text().splitlines()[0]
        assert header == "filename\tonset\toffset\tevent_labels"


def test_synth_feature_shapes_and_pseudo_label_mask(small_root: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataDefectWarning)
        splits = [load_split(small_root, s) for s in SPLIT_FILES]
    ids = [n[:11] for s in splits for n in s.filenames]
    labels = np.concatenate([s.labels for s in splits]).astype(bool)
    for key in ("audio", "frames", "clips", "clap", "clip", "pseudo_audio", "pseudo_visual"):
        spec = FEATURE_SPECS[key]
        arrays = np.stack([np.load(small_root / spec.folder / f"{vid}.npy") for vid in ids[:12]])
        assert arrays.shape[1:] == tuple(spec.shape), key
        assert np.isfinite(arrays).all()
        if key.startswith("pseudo"):
            assert arrays.dtype.kind == "i"
            assert set(np.unique(arrays)) <= {0, 1}
        else:
            assert arrays.dtype == np.float32
    vgg = np.load(small_root / "feats/vggish" / f"{ids[0]}.npy")
    assert vgg.min() >= 0.0 and vgg.max() <= 1.0
    frames = np.load(small_root / "feats/res152" / f"{ids[0]}.npy")
    assert frames.min() >= 0.0 and 0.2 < frames.mean() < 0.7
    clip = np.load(small_root / "CLIP/features" / f"{ids[0]}.npy")
    np.testing.assert_allclose(np.linalg.norm(clip, axis=1), 1.0, atol=1e-5)
    for key in ("pseudo_audio", "pseudo_visual"):
        folder = small_root / FEATURE_SPECS[key].folder
        pseudo = np.stack([np.load(folder / f"{vid}.npy") for vid in ids])  # (N, T, C)
        assert not (pseudo.astype(bool) & ~labels[:, None, :]).any()
        assert pseudo.sum() > 0
    meta = json.loads((small_root / "synth_config.json").read_text())
    assert meta["seed"] == 7
    assert set(meta["config"]) == {f for f in SynthConfig.__dataclass_fields__}


def test_synth_is_deterministic(small_root: Path, tmp_path: Path) -> None:
    again = generate_synthetic_llp(tmp_path / "b", config=SMALL, seed=7)
    assert _digest(again) == _digest(small_root)
    other = generate_synthetic_llp(tmp_path / "c", config=SMALL, seed=8)
    first, second = _digest(small_root), _digest(other)
    for name in ("AVVP_train.csv", "AVVP_eval_audio.csv", "synth_config.json"):
        assert first[name] != second[name]


def test_label_sampler_matches_llp_statistics(stats) -> None:  # type: ignore[no-untyped-def]
    ann = sample_annotations(2000, stats=stats, rng=np.random.default_rng(0))
    labels = ann.labels.astype(bool)
    freq = labels.mean(axis=0)
    assert np.corrcoef(freq, stats.class_frequency)[0, 1] > 0.97
    real_cpv = (stats.classes_per_video * np.arange(NUM_CLASSES + 1)).sum()
    assert abs(labels.sum(axis=1).mean() - real_cpv) < 0.1
    raw = stats.raw["eval"]
    for modality, gt in (("audio", ann.gt_audio), ("visual", ann.gt_visual)):
        assert not (gt.astype(bool) & ~labels[:, :, None]).any()
        mean_events = count_runs(gt).sum(axis=1).mean()
        real_events = stats.mean_events_per_video(modality)
        assert abs(mean_events - real_events) / real_events < 0.15, (modality, mean_events)
        overlap = float((gt.sum(axis=1) >= 2).mean())
        real_overlap = stats.overlap_fraction(modality)
        assert abs(overlap - real_overlap) / real_overlap < 0.3, (modality, overlap)
        events = find_runs(gt)
        onsets, durations = events.onset, events.length
        for values, hist in (
            (onsets, raw[modality]["onset_hist"]),
            (durations, raw[modality]["duration_hist"]),
        ):
            real = np.asarray(hist, dtype=float) / np.sum(hist)
            ours = np.bincount(values, minlength=real.size)[: real.size] / values.size
            assert 0.5 * np.abs(real - ours).sum() < 0.1, modality  # total variation distance
    has_a, has_v = ann.gt_audio.any(axis=2), ann.gt_visual.any(axis=2)
    ours = np.array(
        [
            (labels & has_a & ~has_v).sum(),
            (labels & ~has_a & has_v).sum(),
            (labels & has_a & has_v).sum(),
        ],
        dtype=float,
    )
    counts = raw["complete_videos"]["class_modality_counts"]
    real = np.array([sum(counts[k]) for k in ("audio_only", "visual_only", "audio_visual")], float)
    np.testing.assert_allclose(ours / ours.sum(), real / real.sum(), atol=0.06)
    # Per class (frequent classes), A-only / V-only / AV proportions follow the measurements.
    frequent = np.flatnonzero(labels.sum(axis=0) >= 100)
    per_class = np.stack(
        [
            (labels & has_a & ~has_v).sum(0),
            (labels & ~has_a & has_v).sum(0),
            (labels & has_a & has_v).sum(0),
        ],
        axis=1,
    )[frequent].astype(float)
    per_class /= per_class.sum(axis=1, keepdims=True)
    assert np.abs(per_class - stats.complete_modality_probs[frequent]).mean() < 0.1


def test_pseudo_labels_are_noisy_but_informative(stats) -> None:  # type: ignore[no-untyped-def]
    ann = sample_annotations(600, stats=stats, rng=np.random.default_rng(1))
    rng = np.random.default_rng(2)
    config = SynthConfig()
    for gt, other in ((ann.gt_audio, ann.gt_visual), (ann.gt_visual, ann.gt_audio)):
        pseudo = make_pseudo_labels(gt, other, ann.labels, config=config, rng=rng)
        assert not (pseudo.astype(bool) & ~ann.labels.astype(bool)[:, :, None]).any()
        assert 0.6 <= segment_f1(pseudo, gt) <= 0.85
    perfect = SynthConfig(
        pseudo_event_miss_rate=0.0,
        pseudo_segment_miss_rate=0.0,
        pseudo_boundary_shift_rate=0.0,
        pseudo_spurious_rate=0.0,
        pseudo_cross_modal_rate=0.0,
    )
    clean = make_pseudo_labels(ann.gt_audio, ann.gt_visual, ann.labels, config=perfect, rng=rng)
    np.testing.assert_array_equal(clean, ann.gt_audio)


def _ncm_hit_and_rank(features: np.ndarray, gt: np.ndarray) -> dict[str, tuple[float, float]]:
    """Nearest-class-mean probe: (hit rate, mean fraction of inactive classes nearer)."""
    n, c, t = gt.shape
    x = features.reshape(n * t, -1).astype(np.float64)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    g = gt.transpose(0, 2, 1).reshape(n * t, c).astype(bool)
    train = np.arange(n * t) < (n // 2) * t
    count = g.sum(axis=1)
    fit = train & (count == 1)
    present = [k for k in range(c) if (fit & g[:, k]).sum() >= 3]
    means = np.stack([x[fit & g[:, k]].mean(axis=0) for k in present])
    g = g[:, present]
    dist = ((x[:, None, :] - means[None]) ** 2).sum(axis=-1)
    out = {}
    for name, sel in (
        ("single", ~train & (g.sum(axis=1) == 1) & (count == 1)),
        ("overlap", ~train & (g.sum(axis=1) >= 2)),
    ):
        gs, ds = g[sel], dist[sel]
        nearer = (np.where(gs, np.inf, ds)[:, None, :] < ds[:, :, None]).sum(axis=2)
        frac = nearer / (~gs).sum(axis=1, keepdims=True)
        out[name] = (float((nearer == 0)[gs].mean()), float(frac[gs].mean()))
    return out


def test_features_carry_signal_and_overlap_is_harder(stats) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    ann = sample_annotations(400, stats=stats, rng=rng)
    world = build_world(SynthConfig(), np.random.default_rng(4))
    feats = synthesize_features(world, ann, rng=rng, keys=("audio", "clips"))
    for key, gt in (("audio", ann.gt_audio), ("clips", ann.gt_visual)):
        probe = _ncm_hit_and_rank(feats[key], gt)
        single_hit, single_rank = probe["single"]
        overlap_hit, overlap_rank = probe["overlap"]
        chance = 1.0 / NUM_CLASSES
        assert 5 * chance < single_hit < 0.9, (key, probe)  # signal, but far from trivial
        assert single_rank < 0.25, (key, probe)  # chance: 0.5
        assert overlap_rank > single_rank and overlap_hit < single_hit, (key, probe)


def test_features_do_not_depend_on_requested_keys(stats) -> None:  # type: ignore[no-untyped-def]
    ann = sample_annotations(5, stats=stats, rng=np.random.default_rng(5))
    world = build_world(SynthConfig(), np.random.default_rng(6))
    one = synthesize_features(world, ann, rng=np.random.default_rng(7), keys=("clips",))
    both = synthesize_features(world, ann, rng=np.random.default_rng(7), keys=("audio", "clips"))
    np.testing.assert_array_equal(one["clips"], both["clips"])
    empty = SynthAnnotations(ann.labels * 0, ann.gt_audio * 0, ann.gt_visual * 0)
    background = synthesize_features(world, empty, rng=np.random.default_rng(7), keys=("clips",))
    assert not np.array_equal(background["clips"], one["clips"])


def test_synth_config_validation() -> None:
    with pytest.raises(ConfigError, match="noise_scale"):
        SynthConfig(noise_scale=-1.0)
    with pytest.raises(ConfigError, match="pseudo_spurious_rate"):
        SynthConfig(pseudo_spurious_rate=1.5)
    with pytest.raises(ConfigError, match="unknown synth config key"):
        SynthConfig.from_dict({"noise": 1.0})
    with pytest.raises(ConfigError, match="seed"):
        generate_synthetic_llp(Path("unused"), config=SMALL, seed=-1)


def test_cli_data_synth_with_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from avvp.cli import main

    out = tmp_path / "cli"
    code = main(
        [
            "data",
            "synth",
            "--out",
            str(out),
            "--seed",
            "3",
            "--train",
            "6",
            "--val",
            "3",
            "--test",
            "3",
            "--set",
            "noise_scale=1.5",
            "--pack",
        ]
    )
    assert code == 0
    meta = json.loads((out / "synth_config.json").read_text())
    assert meta["config"]["noise_scale"] == 1.5 and meta["config"]["num_train"] == 6
    assert (out / "packed" / "manifest.json").is_file()
    assert "pseudo-label segment F1" in capsys.readouterr().out
    assert main(["data", "synth", "--out", str(out), "--set", "bogus=1"]) == 2
    assert "bogus" in capsys.readouterr().err


def test_llp_stats_rederivation_matches_committed(llp_dir: Path) -> None:
    derived = derive_llp_stats(llp_dir)
    assert dumps_stats(derived) == STATS_PATH.read_text(encoding="utf-8")
    assert derived["train"]["num_videos"] == 10000
    assert derived["eval"]["num_videos"] == 1849
    assert derived["classes"] == list(LLP_CLASSES)
