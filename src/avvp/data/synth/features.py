"""Synthetic features: class signatures and scenes in a latent space per modality, mapped by
fixed random MLPs to each feature space (:func:`build_world`, :func:`synthesize_features`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avvp.classes import NUM_CLASSES, NUM_SEGMENTS
from avvp.data.synth.annotations import SynthAnnotations
from avvp.data.synth.config import SynthConfig
from avvp.errors import ConfigError

FRAMES_PER_SEGMENT = 8
CLAP_STEPS = 64
# Rank of the within-segment variation of res152 frames / CLAP steps (in feature space).
_JITTER_RANK = 8
_GRID = 4096.0


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
