"""Synthetic LLP: a dataset in the official layout, sampled from real LLP statistics.

It lets the pipeline (training, evaluation, demo) run and be tested without the multi-GB real
features. It is a fair stand-in, not a benchmark: numbers measured on it do not predict numbers
on real LLP. ``docs/synthetic.md`` describes the generative process and every knob.

Generative process (one seed fixes everything):

1. Annotations (:func:`sample_annotations`): a video's label set is drawn from the empirical
   distribution of real train label sets; each labelled class is audio-only / visual-only /
   audio-visual with the per-class proportions measured on real val+test; each present
   (class, modality) row is a whole 10-segment pattern drawn from the real patterns of that class
   and modality (shrunk towards the modality's pooled patterns); an audio-visual class copies its
   audio row to the visual one as often as real data does. Every video gets at least one audio
   and one visual event (the loader reports videos without rows as a defect).
2. A latent space per modality: each class has a random audio signature and an unrelated visual
   signature. A segment's latent is the sum of its active events' signatures (per-event and
   per-segment amplitude variation, concurrent events masking each other) plus a video-level
   nuisance (a "scene" prototype, the scene index shared by both modalities, and a random
   offset) plus temporally correlated per-segment noise.
3. Features: each feature space (vggish, res152, r2plus1d, clap, clip) is a fixed random
   2-layer tanh MLP of its modality's latent, so overlapping events interact non-linearly;
   res152 frames (8 per segment) and CLAP steps vary slightly within a segment.
4. VALOR-style pseudo labels: the ground truth with missed events and segments, shifted
   boundaries, spurious segments and cross-modal leaks, masked by the video label.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from avvp.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS
from avvp.data.llp_stats import LLPStats, load_llp_stats, rows_from_patterns
from avvp.errors import ConfigError, DataError

__all__ = [
    "SYNTH_VERSION",
    "SynthAnnotations",
    "SynthConfig",
    "SynthWorld",
    "build_world",
    "generate_synthetic_llp",
    "make_pseudo_labels",
    "sample_annotations",
    "segment_f1",
    "synthesize_features",
]

SYNTH_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "val", "test")
FRAMES_PER_SEGMENT = 8
CLAP_STEPS = 64
# Rank of the within-segment variation of res152 frames / CLAP steps (in feature space).
_JITTER_RANK = 8
# Videos per feature chunk. Part of the random stream layout: changing it changes the bytes.
_CHUNK = 64
_GRID = 4096.0
_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))


@dataclass(frozen=True)
class SynthConfig:
    """Every knob of the synthetic LLP generator (all written to ``synth_config.json``).

    Sizes:
        num_train, num_val, num_test: videos per split (real LLP: 10000 / 649 / 1200).

    Annotations:
        pattern_shrinkage: pseudo-count pulling a class's event-row pattern distribution
            towards its modality's pooled distribution (rare classes have few real rows).

    Features (latent norms are Euclidean norms in the ``latent_dim`` space):
        latent_dim: dimension of each modality's latent space.
        hidden_dim: hidden width of each random feature MLP.
        signature_strength: norm of each class signature (audio and visual).
        amplitude_min, amplitude_max: per-event amplitude, uniform in this range (one draw per
            video, class and modality).
        segment_amplitude_jitter: std of the multiplicative per-segment amplitude variation.
        num_scenes: number of "background scene" prototypes per modality.
        scene_scale: norm of a scene prototype (the video's scene index is shared by audio and
            visual, the prototypes are not).
        nuisance_scale: expected norm of the per-video random offset.
        noise_scale: expected norm of the per-segment noise.
        noise_temporal_corr: AR(1) correlation of the segment noise between adjacent segments.
        nonlinearity: gain before the tanh of the feature MLPs (higher: more saturation, more
            interaction between overlapping events).
        overlap_masking: how much concurrent events of a modality mask each other: a segment's
            event weights are multiplied by (max weight / weight norm) ** overlap_masking
            (0: plain sum; 1: two equal events each count 1/sqrt(2); a lone event is unchanged).
        frame_noise_scale: within-segment variation of res152 frames and CLAP steps, relative to
            the spread of the feature pre-activations.

    Pseudo labels (per modality, from the ground truth; rates are per class, multiplied by a
    per-class factor exp(N(0, s^2) - s^2 / 2), s = ``pseudo_class_rate_spread``, capped at 0.95):
        pseudo_event_miss_rate: probability that a (class, modality) row with events is missed
            entirely.
        pseudo_segment_miss_rate: probability that a true segment is dropped.
        pseudo_boundary_shift_rate: probability that an event's onset (and, independently, its
            offset) moves by one segment (outwards or inwards, equally likely).
        pseudo_spurious_rate: probability that a negative segment of a class that has events in
            this modality becomes positive.
        pseudo_cross_modal_rate: probability that a labelled class absent from this modality
            gets the other modality's row as pseudo events (teachers confuse the modalities).
        pseudo_class_rate_spread: the per-class variation of all these rates.

    Output:
        valor_plus_plus: also write VALOR++ CLAP (64, 768) and CLIP (10, 768) features.
    """

    num_train: int = 1600
    num_val: int = 200
    num_test: int = 200
    pattern_shrinkage: float = 20.0
    latent_dim: int = 64
    hidden_dim: int = 256
    signature_strength: float = 1.0
    amplitude_min: float = 0.6
    amplitude_max: float = 1.4
    segment_amplitude_jitter: float = 0.15
    num_scenes: int = 16
    scene_scale: float = 1.0
    nuisance_scale: float = 1.0
    noise_scale: float = 2.0
    noise_temporal_corr: float = 0.5
    nonlinearity: float = 1.0
    overlap_masking: float = 1.0
    frame_noise_scale: float = 0.1
    pseudo_event_miss_rate: float = 0.2
    pseudo_segment_miss_rate: float = 0.15
    pseudo_boundary_shift_rate: float = 0.4
    pseudo_spurious_rate: float = 0.1
    pseudo_cross_modal_rate: float = 0.4
    pseudo_class_rate_spread: float = 0.3
    valor_plus_plus: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "valor_plus_plus":
                if not isinstance(value, bool):
                    raise ConfigError(f"synth config: {f.name} must be true/false, got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"synth config: {f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"synth config: {f.name} must be finite and >= 0, got {value!r}")
        for name in ("num_train", "num_val", "num_test", "latent_dim", "hidden_dim", "num_scenes"):
            if not isinstance(getattr(self, name), int):
                raise ConfigError(f"synth config: {name} must be an integer")
        for name in ("latent_dim", "hidden_dim", "num_scenes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"synth config: {name} must be >= 1")
        if self.amplitude_min > self.amplitude_max:
            raise ConfigError("synth config: amplitude_min must be <= amplitude_max")
        if self.noise_temporal_corr >= 1:
            raise ConfigError("synth config: noise_temporal_corr must be < 1")
        for name in (
            "pseudo_event_miss_rate",
            "pseudo_segment_miss_rate",
            "pseudo_boundary_shift_rate",
            "pseudo_spurious_rate",
            "pseudo_cross_modal_rate",
        ):
            if getattr(self, name) > 1:
                value = getattr(self, name)
                raise ConfigError(f"synth config: {name} is a probability, got {value}")

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "val": self.num_val, "test": self.num_test}

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "<dict>") -> SynthConfig:
        """Build from a dictionary (e.g. ``synth_config.json``'s ``config``); unknown keys fail."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown synth config key(s): {', '.join(unknown)}")
        return cls(**values)


# ---------------------------------------------------------------------------------------------
# Annotations


@dataclass(frozen=True)
class SynthAnnotations:
    """Sampled annotations of N videos.

    Attributes:
        labels: (N, C) uint8 video-level labels (union of the audio and visual events).
        gt_audio: (N, C, T) uint8 audio ground truth.
        gt_visual: (N, C, T) uint8 visual ground truth.
    """

    labels: NDArray[np.uint8]
    gt_audio: NDArray[np.uint8]
    gt_visual: NDArray[np.uint8]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _pattern_cdfs(stats: LLPStats, modality: str, shrinkage: float) -> NDArray[np.float64]:
    """(C, 1024) CDFs of a class's non-empty row patterns, shrunk towards the pooled patterns."""
    table = stats.row_patterns[modality].astype(np.float64)
    pooled = table.sum(axis=0)
    pooled /= pooled.sum()
    probs = table + shrinkage * pooled[None, :]
    probs /= probs.sum(axis=1, keepdims=True)
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    return cdf


def _copy_probability(
    stats: LLPStats, cdf_a: NDArray[np.float64], cdf_v: NDArray[np.float64], shrinkage: float
) -> NDArray[np.float64]:
    """Per class, the probability that an audio-visual class's visual row copies the audio row.

    Chosen so that P(identical rows) matches the measured fraction: independent draws are also
    identical by coincidence with probability sum_p pa(p) pv(p).
    """
    pa = np.diff(cdf_a, axis=1, prepend=0.0)
    pv = np.diff(cdf_v, axis=1, prepend=0.0)
    coincide = (pa * pv).sum(axis=1)
    counts = stats.av_counts.astype(np.float64)
    pooled = float((stats.av_identical * counts).sum() / max(counts.sum(), 1.0))
    identical = (stats.av_identical * counts + shrinkage * pooled) / (counts + shrinkage)
    return np.clip((identical - coincide) / np.maximum(1.0 - coincide, 1e-9), 0.0, 1.0)


_MAX_REDRAWS = 50


def _sample_modalities(
    labels: NDArray[np.bool_],
    choice: NDArray[np.int64],
    *,
    stats: LLPStats,
    rng: np.random.Generator,
    min_set_videos: int,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which labelled classes have audio / visual events, (N, C) bool each.

    A label set seen in at least ``min_set_videos`` real val+test videos with events in both
    modalities (and an event for each labelled class) takes one of their joint assignments (so
    e.g. a lone "Speech" is audio-visual while "Speech" beside an instrument is often
    audio-only). Other label sets draw each class from its marginal proportions, redrawn until
    the video has events in both modalities.
    """
    n, c = labels.shape
    has_a = np.zeros((n, c), dtype=bool)
    has_v = np.zeros((n, c), dtype=bool)
    u_set = np.asarray(rng.random(n), dtype=np.float64)
    pending = np.zeros(n, dtype=bool)
    for s in np.unique(choice):
        rows = np.flatnonzero(choice == s)
        members = np.flatnonzero(stats.label_sets[s])
        entry = stats.label_set_types.get(tuple(int(k) for k in members))
        # Assignments with a labelled class that has no event ("n") are annotation gaps: left
        # out, so that a synthetic video label is always the union of its events.
        keep = [] if entry is None else [i for i, code in enumerate(entry[0]) if "n" not in code]
        if entry is None or int(entry[1][keep].sum()) < min_set_videos:
            pending[rows] = True
            continue
        codes = tuple(entry[0][i] for i in keep)
        counts = entry[1][keep]
        cdf: NDArray[np.float64] = np.cumsum(counts) / counts.sum()
        picked = np.minimum(np.searchsorted(cdf, u_set[rows], side="right"), len(codes) - 1)
        table = np.array([[ch in "ab" for ch in code] for code in codes])  # (K, |S|)
        table_v = np.array([[ch in "vb" for ch in code] for code in codes])
        has_a[np.ix_(rows, members)] = table[picked]
        has_v[np.ix_(rows, members)] = table_v[picked]
    cum = np.cumsum(stats.complete_modality_probs, axis=1)
    cum[:, -1] = 1.0
    for _ in range(_MAX_REDRAWS):
        u = rng.random((n, c))  # drawn every round: the stream layout does not depend on data
        if not pending.any():
            continue
        kind = (u[:, :, None] >= cum[None, :, :-1]).sum(axis=2)  # 0 A, 1 V, 2 AV
        a = labels & (kind != 1)
        v = labels & (kind != 0)
        has_a[pending], has_v[pending] = a[pending], v[pending]
        pending &= ~(has_a.any(axis=1) & has_v.any(axis=1))
    # Left-overs (vanishingly rare): one random labelled class becomes audio-visual.
    pick = np.argmax(np.where(labels, rng.random((n, c)), -1.0), axis=1)
    rows_all = np.arange(n)
    no_a, no_v = ~has_a.any(axis=1), ~has_v.any(axis=1)
    has_a[rows_all[no_a], pick[no_a]] = True
    has_v[rows_all[no_v], pick[no_v]] = True
    return has_a, has_v


def sample_annotations(
    num_videos: int,
    *,
    stats: LLPStats,
    rng: np.random.Generator,
    pattern_shrinkage: float = 20.0,
    min_set_videos: int = 3,
) -> SynthAnnotations:
    """Sample labels and segment-level ground truth of ``num_videos`` videos (no features).

    Follows the real LLP statistics in ``stats`` (see the module docstring). Every random draw
    has a data-independent shape, so the result is a pure function of the generator state.
    """
    n, c = num_videos, NUM_CLASSES
    choice = rng.choice(stats.label_sets.shape[0], size=n, p=stats.label_set_probs)
    labels = stats.label_sets[choice]  # (N, C) bool

    has_a, has_v = _sample_modalities(
        labels, choice, stats=stats, rng=rng, min_set_videos=min_set_videos
    )

    cdf_a = _pattern_cdfs(stats, "audio", pattern_shrinkage)
    cdf_v = _pattern_cdfs(stats, "visual", pattern_shrinkage)
    ua, uv, ucopy = rng.random((n, c)), rng.random((n, c)), rng.random((n, c))
    pat_a = np.empty((n, c), dtype=np.int64)
    pat_v = np.empty((n, c), dtype=np.int64)
    for k in range(c):
        pat_a[:, k] = np.searchsorted(cdf_a[k], ua[:, k], side="right")
        pat_v[:, k] = np.searchsorted(cdf_v[k], uv[:, k], side="right")
    copy = has_a & has_v & (ucopy < _copy_probability(stats, cdf_a, cdf_v, pattern_shrinkage))
    pat_v = np.where(copy, pat_a, pat_v)
    gt_a = rows_from_patterns(pat_a) * has_a[:, :, None]
    gt_v = rows_from_patterns(pat_v) * has_v[:, :, None]
    return SynthAnnotations(
        labels=labels.astype(np.uint8),
        gt_audio=gt_a.astype(np.uint8),
        gt_visual=gt_v.astype(np.uint8),
    )


# ---------------------------------------------------------------------------------------------
# Pseudo labels


def make_pseudo_labels(
    gt: NDArray[Any],
    other: NDArray[Any],
    labels: NDArray[Any],
    *,
    config: SynthConfig,
    rng: np.random.Generator,
) -> NDArray[np.uint8]:
    """VALOR-style noisy segment pseudo labels of one modality, (N, C, T) uint8.

    Args:
        gt: (N, C, T) ground truth of this modality.
        other: (N, C, T) ground truth of the other modality (source of cross-modal leaks).
        labels: (N, C) video labels; the result is masked by them.
    """
    g = np.asarray(gt).astype(bool)
    o = np.asarray(other).astype(bool)
    lab = np.asarray(labels).astype(bool)
    n, c, t = g.shape
    s = config.pseudo_class_rate_spread
    factor = np.exp(s * rng.standard_normal(c) - 0.5 * s * s)

    def rate(base: float) -> NDArray[np.float64]:
        return np.minimum(base * factor, 0.95)[None, :, None]

    cell_draws = ("on", "on_dir", "off", "off_dir", "seg", "fp")
    draws = {name: rng.random((n, c, t)) for name in cell_draws}
    row_draws = {name: rng.random((n, c)) for name in ("miss", "leak")}

    false_col = np.zeros((n, c, 1), dtype=bool)
    prev = np.concatenate([false_col, g[:, :, :-1]], axis=2)
    nxt = np.concatenate([g[:, :, 1:], false_col], axis=2)
    onset, last = g & ~prev, g & ~nxt
    p = g.copy()
    shift = rate(config.pseudo_boundary_shift_rate)
    # Shrinking a one-segment event would delete it: it can only grow.
    on_sel = onset & (draws["on"] < shift)
    on_grow = on_sel & ((draws["on_dir"] < 0.5) | ~nxt)
    p[:, :, :-1] |= on_grow[:, :, 1:]
    p &= ~(on_sel & ~on_grow)
    off_sel = last & (draws["off"] < shift)
    off_grow = off_sel & ((draws["off_dir"] < 0.5) | ~prev)
    p[:, :, 1:] |= off_grow[:, :, :-1]
    p &= ~(off_sel & ~off_grow)

    has_row: NDArray[np.bool_] = np.any(g, axis=2)
    p &= ~(draws["seg"] < rate(config.pseudo_segment_miss_rate))
    p |= ~g & has_row[:, :, None] & (draws["fp"] < rate(config.pseudo_spurious_rate))
    missed = has_row & (row_draws["miss"] < rate(config.pseudo_event_miss_rate)[:, :, 0])
    p[missed] = False
    leak = lab & ~has_row & (row_draws["leak"] < rate(config.pseudo_cross_modal_rate)[:, :, 0])
    p[leak] = o[leak]
    p &= lab[:, :, None]
    return p.astype(np.uint8)


def segment_f1(pred: NDArray[Any], gt: NDArray[Any]) -> float:
    """Micro segment-level F1 of binary ``pred`` against ``gt`` (any equal shapes)."""
    pb, gb = np.asarray(pred).astype(bool), np.asarray(gt).astype(bool)
    tp = float((pb & gb).sum())
    denom = float(pb.sum() + gb.sum())
    return 1.0 if denom == 0 else 2.0 * tp / denom


# ---------------------------------------------------------------------------------------------
# Features


def _quantize(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Round to multiples of 2**-12.

    BLAS results differ in the last bits with the thread count; computing in float64 and
    rounding to this grid (far finer than any signal or noise here) makes the written bytes the
    same whatever the thread count (a flip needs a value within ~1e-15 of a grid midpoint).
    """
    out: NDArray[np.float64] = np.round(x * _GRID) / _GRID
    return out


def _matmul(x: NDArray[Any], w: NDArray[Any]) -> NDArray[Any]:
    """(..., K) @ (K, F) as one 2-D product (numpy's stacked matmul is many times slower)."""
    out: NDArray[Any] = (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[1])
    return out


@dataclass(frozen=True)
class _FeatureMap:
    """A fixed random 2-layer MLP from a latent space to one feature space."""

    w1: NDArray[np.float64]  # (D, H)
    b1: NDArray[np.float64]  # (H,)
    w2: NDArray[np.float64]  # (H, F)
    b2: NDArray[np.float64]  # (F,)
    jitter: NDArray[np.float64]  # (rank, F): within-segment variation directions
    gain: float

    def pre(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """Output pre-activations (..., F) of latents (..., D)."""
        h = np.tanh(self.gain * (_matmul(z, self.w1) + self.b1))
        return _matmul(h, self.w2) + self.b2


# Output scale / bias of each feature space: chosen for plausible value ranges (docs/synthetic.md),
# not for difficulty. (weight std multiplier, bias mean, bias std)
_OUTPUT = {
    "audio": (2.0, -0.4, 0.5),  # -> sigmoid, 8-bit quantised: VGGish post-processed bytes / 255
    "frames": (0.8, 0.3, 0.25),  # -> ReLU: pooled ResNet-152, non-negative, mean ~0.45
    "clips": (0.8, 0.2, 0.25),  # -> ReLU: pooled R(2+1)D-18, non-negative
    "clap": (0.6, 0.0, 0.2),  # linear: CLAP feature maps, centred
    "clip": (0.3, 0.0, 0.0),  # + a shared direction, then L2-normalised
}
_DIMS = {"audio": 128, "frames": 2048, "clips": 512, "clap": 768, "clip": 768}
_MODALITY = {
    "audio": "audio",
    "clap": "audio",
    "frames": "visual",
    "clips": "visual",
    "clip": "visual",
}


@dataclass(frozen=True)
class SynthWorld:
    """Everything fixed by the seed: class signatures, scenes, the feature maps.

    Attributes:
        signatures: per modality, (C, D) class signature vectors.
        scenes: per modality, (K, D) background scene prototypes.
        maps: per feature key, its random MLP.
        clip_common: (768,) the direction every CLIP feature shares (as real CLIP features do).
    """

    config: SynthConfig
    signatures: dict[str, NDArray[np.float64]]
    scenes: dict[str, NDArray[np.float64]]
    maps: dict[str, _FeatureMap]
    clip_common: NDArray[np.float64]


def _unit_rows(x: NDArray[np.float64]) -> NDArray[np.float64]:
    norms: NDArray[np.float64] = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def build_world(config: SynthConfig, rng: np.random.Generator) -> SynthWorld:
    """Draw the class signatures, scene prototypes and feature maps."""
    d, h = config.latent_dim, config.hidden_dim
    signatures, scenes = {}, {}
    for m in ("audio", "visual"):
        sig = _unit_rows(rng.standard_normal((NUM_CLASSES, d))) * config.signature_strength
        signatures[m] = sig.astype(np.float64)
        sc = _unit_rows(rng.standard_normal((config.num_scenes, d))) * config.scene_scale
        scenes[m] = sc.astype(np.float64)
    # First layer scaled by the typical latent norm (one event at mean amplitude), so that the
    # tanh pre-activations have a std of about `nonlinearity` whatever the latent scales are.
    amp = 0.5 * (config.amplitude_min + config.amplitude_max)
    typical = math.sqrt(
        (amp * config.signature_strength) ** 2
        + config.scene_scale**2
        + config.nuisance_scale**2
        + config.noise_scale**2
    )
    w1_scale = 1.0 / max(typical, 1e-6)
    maps = {}
    for key in ("audio", "frames", "clips", "clap", "clip"):
        out = _DIMS[key]
        w_scale, b_mean, b_std = _OUTPUT[key]
        maps[key] = _FeatureMap(
            w1=(rng.standard_normal((d, h)) * w1_scale).astype(np.float64),
            b1=(0.5 * rng.standard_normal(h)).astype(np.float64),
            w2=(rng.standard_normal((h, out)) * (w_scale / math.sqrt(h))).astype(np.float64),
            b2=(b_mean + b_std * rng.standard_normal(out)).astype(np.float64),
            jitter=rng.standard_normal((_JITTER_RANK, out)) * (w_scale / math.sqrt(_JITTER_RANK)),
            gain=config.nonlinearity,
        )
    # Real CLIP image features share a large common component (unrelated images have a
    # cosine similarity of ~0.5); its norm here is about that of the varying part.
    common = _unit_rows(rng.standard_normal(768)) * (_OUTPUT["clip"][0] * math.sqrt(768 * 0.5))
    return SynthWorld(config, signatures, scenes, maps, common.astype(np.float64))


def _latents(
    world: SynthWorld,
    gt: NDArray[Any],
    scene: NDArray[np.int64],
    modality: str,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """(B, T, D) latents of one modality for ground truth (B, C, T)."""
    cfg = world.config
    b, c, t = gt.shape
    d = cfg.latent_dim
    amp = rng.uniform(cfg.amplitude_min, cfg.amplitude_max, size=(b, c, 1))
    jitter = np.maximum(1.0 + cfg.segment_amplitude_jitter * rng.standard_normal((b, c, t)), 0.0)
    weights = (gt * amp * jitter).transpose(0, 2, 1)  # (B, T, C)
    if cfg.overlap_masking > 0:
        # Concurrent events mask each other: scale a segment's events by
        # (max weight / weight norm) ** masking: 1 for a lone event, 2 ** -(m / 2) for two equal.
        norm = np.sqrt((weights**2).sum(axis=2, keepdims=True))
        peak = weights.max(axis=2, keepdims=True)
        weights = weights * (peak / np.maximum(norm, 1e-12)) ** cfg.overlap_masking
    z = _matmul(weights, world.signatures[modality])
    offset = rng.standard_normal((b, 1, d)) * (cfg.nuisance_scale / math.sqrt(d))
    z += world.scenes[modality][scene][:, None, :] + offset
    rho = cfg.noise_temporal_corr
    e = rng.standard_normal((b, t, d))
    for i in range(1, t):
        e[:, i] = rho * e[:, i - 1] + math.sqrt(1.0 - rho * rho) * e[:, i]
    z += e * (cfg.noise_scale / math.sqrt(d))
    return z


def _expand(
    world: SynthWorld, key: str, pre: NDArray[np.float64], steps: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """(B, T, F) segment pre-activations -> (B, steps, F) with small within-segment variation."""
    b, t, _ = pre.shape
    index = (np.arange(steps) * t) // steps
    noise = rng.standard_normal((b, steps, _JITTER_RANK))
    scale = world.config.frame_noise_scale
    return pre[:, index] + _matmul(noise * scale, world.maps[key].jitter)


def synthesize_features(
    world: SynthWorld,
    annotations: SynthAnnotations,
    *,
    rng: np.random.Generator,
    keys: tuple[str, ...] = ("audio", "frames", "clips"),
) -> dict[str, NDArray[np.float32]]:
    """Features of the videos in ``annotations`` (keep it to a chunk: res152 is 655 KB a video).

    Returns float32 arrays ``(N, *shape)`` per requested key (``audio``, ``frames``, ``clips``,
    ``clap``, ``clip``). Latents and within-segment variation are drawn whatever ``keys`` holds,
    so the features of a key do not depend on which other keys are asked for.
    """
    unknown = sorted(set(keys) - set(_DIMS))
    if unknown:
        raise ConfigError(f"unknown synthetic feature key(s): {', '.join(unknown)}")
    n = len(annotations)
    scene = rng.integers(0, world.config.num_scenes, size=n)
    z = {
        "audio": _latents(world, annotations.gt_audio, scene, "audio", rng),
        "visual": _latents(world, annotations.gt_visual, scene, "visual", rng),
    }
    # One child generator per key: a key's variation draws are independent of the other keys.
    key_rngs = dict(zip(_DIMS, rng.spawn(len(_DIMS)), strict=True))
    out: dict[str, NDArray[np.float32]] = {}
    for key in keys:
        fmap = world.maps[key]
        pre = fmap.pre(z[_MODALITY[key]])
        if key in ("frames", "clap"):
            pre = _expand(
                world,
                key,
                pre,
                NUM_SEGMENTS * FRAMES_PER_SEGMENT if key == "frames" else CLAP_STEPS,
                key_rngs[key],
            )
        pre = _quantize(pre)
        x: NDArray[Any]
        if key == "audio":
            x = 1.0 / (1.0 + np.exp(-pre))
            x = np.round(x * 255.0) / 255.0
        elif key in ("frames", "clips"):
            x = np.maximum(pre, 0.0)
        elif key == "clap":
            x = pre
        else:
            x = pre + world.clip_common
            x /= np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
        out[key] = np.ascontiguousarray(x, dtype=np.float32)
    return out


# ---------------------------------------------------------------------------------------------
# Writing the dataset


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
