"""Decode a video file into the LLP sampling: 8 fps RGB frames and 16 kHz mono audio.

The LLP features were computed from frames written by ``ffmpeg -r 8`` and from audio resampled
to 16 kHz mono. :func:`decode_video` reproduces that sampling with PyAV:

* The video is cut into ``T = floor(duration)`` one-second segments. The last partial second
  (``duration - T``) is dropped, so every segment is complete; a video shorter than one second
  raises :class:`~avvp.errors.DataError`.
* Frames: for each output time ``k / fps`` (``k = 0 .. fps*T - 1``) the frame on screen at that
  time (the last decoded frame whose timestamp is not later) is kept, as ffmpeg's frame-rate
  conversion does. Result: ``(fps*T, H, W, 3)`` uint8 RGB.
* Audio: resampled to 16 kHz float32 by libswresample, channels averaged to mono, then cut or
  zero-padded to exactly ``T * 16000`` samples. A file without an audio track gives silence and a
  warning.
* Truncation: a file cut short after its index (an mp4 with the ``moov`` atom first, a partial
  download) still decodes, just shorter. The decoded video duration is compared with the one the
  file declares (the video stream's, else the container's) and a shortfall above
  :data:`TRUNCATION_TOLERANCE_S` (:data:`CONTAINER_TOLERANCE_S` when only the container's,
  which may be the longer audio's, is known) raises :class:`~avvp.errors.DataError`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from avvp.errors import DataError

DEFAULT_FPS: int = 8
DEFAULT_SAMPLE_RATE: int = 16000
# How much shorter than declared the decoded video may be. The stream's own duration matches
# the decoded one to within a frame on intact files (the LLP clip: 10.028 s both ways); half a
# second leaves room for an odd last-frame duration while catching any lost segment of most
# clips. A container duration may be the audio's, which can outlast the video: allow more.
TRUNCATION_TOLERANCE_S: float = 0.5
CONTAINER_TOLERANCE_S: float = 1.0


class NoAudioWarning(UserWarning):
    """A video has no audio track; its audio is replaced by silence."""


@dataclass
class DecodedVideo:
    """A decoded video in the LLP sampling.

    Attributes:
        path: the source file.
        frames: (fps * T, H, W, 3) uint8 RGB frames, ``fps`` per segment.
        audio: (T * sample_rate,) float32 mono waveform in [-1, 1].
        num_segments: T, the number of whole seconds.
        duration: the container's duration in seconds (before dropping the partial second).
        fps: frames per second (per segment).
        sample_rate: audio samples per second.
        has_audio: False when the file had no audio track (``audio`` is then silence).
    """

    path: Path
    frames: np.ndarray
    audio: np.ndarray
    num_segments: int
    duration: float
    fps: int = DEFAULT_FPS
    sample_rate: int = DEFAULT_SAMPLE_RATE
    has_audio: bool = True

    @property
    def video_id(self) -> str:
        """The file stem (the id used for feature files)."""
        return self.path.stem

    def segment_frames(self, t: int) -> np.ndarray:
        """The ``fps`` frames of segment ``t``: (fps, H, W, 3) uint8."""
        return self.frames[t * self.fps : (t + 1) * self.fps]

    def segment_audio(self, t: int) -> np.ndarray:
        """The waveform of segment ``t``: (sample_rate,) float32."""
        return self.audio[t * self.sample_rate : (t + 1) * self.sample_rate]


def _scaled_size(width: int, height: int, max_short_side: int | None) -> tuple[int, int]:
    if max_short_side is None or min(width, height) <= max_short_side:
        return width, height
    scale = max_short_side / min(width, height)
    # Even sizes keep swscale's chroma handling exact.
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _frame_time(frame: av.VideoFrame, index: int, rate: float) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    return index / rate


def decode_video(
    path: str | Path,
    *,
    fps: int = DEFAULT_FPS,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    max_short_side: int | None = 256,
) -> DecodedVideo:
    """Decode ``path`` into T one-second segments of ``fps`` frames and ``sample_rate`` audio.

    Args:
        path: a video file PyAV (FFmpeg) can read.
        fps: frames kept per second (LLP: 8).
        sample_rate: audio rate in Hz (LLP: 16000).
        max_short_side: frames whose shorter side is larger are downscaled to it at decode time
            (keeps memory bounded for long HD videos; 256 is what every extractor's resize needs
            at most). ``None`` keeps the native size.

    Raises:
        DataError: unreadable or corrupt file, no video stream, or shorter than one second.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: video file not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot open video ({exc})") from None
    with container:
        if not container.streams.video:
            raise DataError(f"{path}: no video stream")
        vstream = container.streams.video[0]
        vstream.thread_type = "AUTO"
        rate = float(vstream.average_rate or vstream.guessed_rate or 25)
        declared = _declared_duration(container, vstream)
        try:
            frame_list, times = _decode_frames(container, vstream, rate, max_short_side)
        except av.error.FFmpegError as exc:
            raise DataError(f"{path}: corrupt video stream ({exc})") from None
    if not frame_list:
        raise DataError(f"{path}: no decodable video frames")
    duration = times[-1] + 1.0 / rate
    if declared is not None and duration < declared[0] - declared[1]:
        raise DataError(
            f"{path}: truncated video: decoded {duration:.2f} s of the {declared[0]:.2f} s the "
            f"file declares (cut short, e.g. a partial download); re-download it, or re-encode "
            f"the readable part with ffmpeg to use it"
        )
    # A tolerance of 1 ms absorbs timestamp rounding (a 10 s clip must give 10 segments).
    num_segments = math.floor(duration + 1e-3)
    if num_segments < 1:
        raise DataError(
            f"{path}: video is {duration:.3f} s long; at least one whole second is needed"
        )
    frames = _resample_frames(frame_list, times, fps, num_segments)
    audio, has_audio = _decode_audio(path, sample_rate, num_segments)
    if not has_audio:
        warnings.warn(f"{path}: no audio track; using silence", NoAudioWarning, stacklevel=2)
    return DecodedVideo(
        path=path,
        frames=frames,
        audio=audio,
        num_segments=num_segments,
        duration=duration,
        fps=fps,
        sample_rate=sample_rate,
        has_audio=has_audio,
    )


def _declared_duration(
    container: av.container.InputContainer, vstream: av.video.stream.VideoStream
) -> tuple[float, float] | None:
    """(seconds the file says its video lasts, tolerance), or None when it says nothing."""
    if vstream.duration and vstream.time_base:
        return float(vstream.duration * vstream.time_base), TRUNCATION_TOLERANCE_S
    if container.duration:
        return container.duration / av.time_base, CONTAINER_TOLERANCE_S
    return None


def _decode_frames(
    container: av.container.InputContainer,
    vstream: av.video.stream.VideoStream,
    rate: float,
    max_short_side: int | None,
) -> tuple[list[np.ndarray], list[float]]:
    frame_list: list[np.ndarray] = []
    times: list[float] = []
    start: float | None = None
    for index, frame in enumerate(container.decode(vstream)):
        t = _frame_time(frame, index, rate)
        if start is None:
            start = t
        width, height = _scaled_size(frame.width, frame.height, max_short_side)
        image = frame.to_ndarray(format="rgb24", width=width, height=height)
        frame_list.append(image)
        times.append(t - start)
    return frame_list, times


def _resample_frames(
    frame_list: list[np.ndarray], times: list[float], fps: int, num_segments: int
) -> np.ndarray:
    """Pick, for each output time k/fps, the frame on screen at that time."""
    stamps = np.asarray(times)
    order = np.argsort(stamps, kind="stable")  # B-frames may come out of presentation order
    stamps = stamps[order]
    targets = np.arange(fps * num_segments) / fps
    picked = np.searchsorted(stamps, targets + 1e-6, side="right") - 1
    picked = np.clip(picked, 0, len(stamps) - 1)
    shape = frame_list[0].shape
    out = np.empty((len(targets), *shape), dtype=np.uint8)
    for k, j in enumerate(picked):
        image = frame_list[int(order[j])]
        if image.shape != shape:  # a mid-stream resolution change: keep the first size
            raise DataError("video changes resolution mid-stream; re-encode it first")
        out[k] = image
    return out


def _decode_audio(path: Path, sample_rate: int, num_segments: int) -> tuple[np.ndarray, bool]:
    total = num_segments * sample_rate
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return np.zeros(total, dtype=np.float32), False
            astream = container.streams.audio[0]
            # Resample each channel, then average them: the reference VGGish input averages
            # channels, whereas FFmpeg's own stereo -> mono downmix scales by 1/sqrt(2).
            resampler = av.AudioResampler(format="fltp", rate=sample_rate)
            for frame in container.decode(astream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().mean(axis=0))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().mean(axis=0))
    except av.error.FFmpegError as exc:
        raise DataError(f"{path}: corrupt audio stream ({exc})") from None
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if audio.size >= total:
        return np.ascontiguousarray(audio[:total]), True
    # A slightly short audio track (encoder priming, truncated file) is padded with silence.
    return np.pad(audio, (0, total - audio.size)), True
