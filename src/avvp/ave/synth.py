"""Synthetic AVE-like data in the AVE root layout (``avvp.ave.data``), deterministic per seed.

Generative process:

1. Annotations: video ``i`` belongs to class ``i mod C`` for the first C videos (every class
   appears, so first-appearance order equals :data:`AVE_CLASSES` order), then to a uniform class;
   rows are written grouped by class as in the official file. The event is one contiguous
   interval: the whole clip with probability ``p_full`` (as in most real videos), else a random
   ``[start, end)`` of 1..10 segments.
2. Latents: each class has an audio signature and an unrelated visual signature (dimension
   ``latent_dim``). A segment's latent is a video-level nuisance (a "scene" offset) plus
   per-segment noise, plus the class signature with a random amplitude on event segments.
   Background segments may hold a one-modality distractor (the class heard but not seen, or
   seen but not heard) with probability ``p_distractor``: it is still background, since an AVE
   event must be both audible and visible.
3. Features: audio = a fixed random 2-layer tanh MLP of the audio latent (128-d); visual =
   a 7 x 7 x C map whose cells are a fixed random ReLU MLP of a clutter latent, and where the
   (visible) class object occupies a random 2 x 2 block of cells per segment.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from avvp.ave.data import (
    ANNOTATION_FILE,
    AUDIO_H5,
    AVE_CLASSES,
    HDF5_KEY,
    HEADER,
    NUM_SEGMENTS,
    SPLITS,
    VISUAL_H5,
)
from avvp.errors import ConfigError

__all__ = ["SynthAVEConfig", "generate_synthetic_ave"]


@dataclass(frozen=True)
class SynthAVEConfig:
    """Knobs of the generator; defaults give the real AVE feature shapes."""

    videos: int = 400
    seed: int = 0
    layout: str = "npy"  # npy | hdf5
    audio_dim: int = 128
    visual_dim: int = 512
    spatial: int = 7
    latent_dim: int = 32
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    p_full: float = 0.5
    p_distractor: float = 0.3
    noise: float = 0.6
    signal: float = 1.6


def _mlp(
    rng: np.random.Generator, d_in: int, d_hidden: int, d_out: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    w1 = rng.normal(size=(d_in, d_hidden)) / np.sqrt(d_in)
    w2 = rng.normal(size=(d_hidden, d_out)) / np.sqrt(d_hidden)
    return w1, w2


def _video_ids(rng: np.random.Generator, n: int) -> list[str]:
    alphabet = np.array(list(string.ascii_letters + string.digits + "-_"))
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        vid = "".join(rng.choice(alphabet, size=11))
        if vid not in seen:
            seen.add(vid)
            ids.append(vid)
    return ids


def generate_synthetic_ave(
    out: Path, config: SynthAVEConfig | None = None, *, progress: bool = True
) -> Path:
    """Write a synthetic AVE root into ``out`` and return it."""
    cfg = config or SynthAVEConfig()
    num_classes = len(AVE_CLASSES)
    if cfg.videos < num_classes:
        raise ConfigError(f"videos={cfg.videos}: need at least {num_classes} (one per class)")
    if cfg.layout not in ("npy", "hdf5"):
        raise ConfigError(f"layout={cfg.layout!r}: expected npy or hdf5")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    n, t_len, s = cfg.videos, NUM_SEGMENTS, cfg.spatial
    classes = np.concatenate(
        [np.arange(num_classes), rng.integers(0, num_classes, size=n - num_classes)]
    )
    classes = np.sort(classes, kind="stable")  # grouped by class, like the official file
    starts = np.zeros(n, dtype=np.int64)
    ends = np.full(n, t_len, dtype=np.int64)
    partial = rng.random(n) >= cfg.p_full
    for j in np.flatnonzero(partial):
        length = int(rng.integers(1, t_len + 1))
        starts[j] = int(rng.integers(0, t_len - length + 1))
        ends[j] = starts[j] + length
    ids = _video_ids(rng, n)

    latent = cfg.latent_dim
    sig_a = rng.normal(size=(num_classes, latent))
    sig_v = rng.normal(size=(num_classes, latent))
    mlp_a = _mlp(rng, latent, 64, cfg.audio_dim)
    mlp_v = _mlp(rng, latent, 64, cfg.visual_dim)
    scenes = rng.normal(size=(8, latent))

    lines = [HEADER]
    for i in range(n):
        lines.append(f"{AVE_CLASSES[classes[i]]}&{ids[i]}&good&{starts[i]}&{ends[i]}")
    (out / ANNOTATION_FILE).write_text("\n".join(lines) + "\n")

    order = rng.permutation(n)
    n_train = round(cfg.split[0] * n)
    n_val = round(cfg.split[1] * n)
    parts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    import h5py

    for split in SPLITS:
        with h5py.File(out / f"{split}_order.h5", "w") as handle:
            handle.create_dataset("order", data=np.sort(parts[split]).astype(np.int64))

    def features(i: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        event = (np.arange(t_len) >= starts[i]) & (np.arange(t_len) < ends[i])
        c = classes[i]
        scene = scenes[rng.integers(len(scenes))] * 0.8
        audible = event.copy()
        visible = event.copy()
        distract = (~event) & (rng.random(t_len) < cfg.p_distractor)
        which = rng.random(t_len) < 0.5
        audible |= distract & which
        visible |= distract & ~which
        amp_a = cfg.signal * (0.6 + 0.8 * rng.random(t_len)) * audible
        amp_v = cfg.signal * (0.6 + 0.8 * rng.random(t_len)) * visible
        z_a = scene + cfg.noise * rng.normal(size=(t_len, latent)) + amp_a[:, None] * sig_a[c]
        audio = np.tanh(np.tanh(z_a @ mlp_a[0]) @ mlp_a[1])
        # Visual: clutter in every cell, the object in a 2x2 block where visible.
        z_v = scene + cfg.noise * rng.normal(size=(t_len, s, s, latent))
        for t in np.flatnonzero(visible):
            r, q = rng.integers(0, s - 1, size=2)
            z_v[t, r : r + 2, q : q + 2] += amp_v[t] * sig_v[c]
        visual = np.maximum(np.tanh(z_v @ mlp_v[0]) @ mlp_v[1], 0.0)
        return audio.astype(np.float32), visual.astype(np.float32)

    bar = tqdm(range(n), desc="synthesizing AVE", disable=None if progress else True)
    if cfg.layout == "npy":
        (out / "audio").mkdir(exist_ok=True)
        (out / "visual").mkdir(exist_ok=True)
        for i in bar:
            audio, visual = features(i)
            np.save(out / "audio" / f"{ids[i]}.npy", audio)
            np.save(out / "visual" / f"{ids[i]}.npy", visual)
    else:
        with h5py.File(out / AUDIO_H5, "w") as fa, h5py.File(out / VISUAL_H5, "w") as fv:
            da = fa.create_dataset(HDF5_KEY, (n, t_len, cfg.audio_dim), dtype="float32")
            dv = fv.create_dataset(
                HDF5_KEY,
                (n, t_len, s, s, cfg.visual_dim),
                dtype="float32",
                chunks=(1, t_len, s, s, cfg.visual_dim),
            )
            for i in bar:
                da[i], dv[i] = features(i)
    return out
