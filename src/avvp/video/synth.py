"""Write small synthetic videos with PyAV (for tests, benchmarks and smoke runs)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_test_video(
    path: str | Path,
    *,
    seconds: float,
    fps: int = 25,
    size: tuple[int, int] = (96, 64),
    tone_hz: float | None = 440.0,
    sample_rate: int = 44100,
    seed: int = 0,
) -> Path:
    """An H.264 (yuv420p) mp4 of moving colour bands with a sine tone (AAC, stereo).

    ``size`` = (width, height); ``tone_hz=None`` writes no audio track. Frame k is brighter as
    k grows, so tests can tell which source frame was picked.
    """
    path = Path(path)
    width, height = size
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 64, size=(height, width, 3), dtype=np.uint8)
    with av.open(str(path), mode="w") as container:
        vstream = container.add_stream("libx264", rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        astream = None
        if tone_hz is not None:
            astream = container.add_stream("aac", rate=sample_rate, layout="stereo")
        num_frames = round(seconds * fps)
        for k in range(num_frames):
            image = base.copy()
            image[..., 0] = np.uint8(min(255, 64 + k * 191 // max(1, num_frames - 1)))
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = k
            frame.time_base = Fraction(1, fps)
            for packet in vstream.encode(frame):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None and tone_hz is not None:
            total = round(seconds * sample_rate)
            t = np.arange(total) / sample_rate
            wave = (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            chunk = 1024
            for start in range(0, total, chunk):
                piece = wave[start : start + chunk]
                planar = np.stack([piece, piece])  # (channels, samples) for planar float
                aframe = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
                aframe.sample_rate = sample_rate
                aframe.pts = start
                aframe.time_base = Fraction(1, sample_rate)
                for packet in astream.encode(aframe):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path
