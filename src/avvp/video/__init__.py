"""Video decoding in the LLP sampling (8 fps frames, 16 kHz mono audio, 1-second segments)."""

from __future__ import annotations

from avvp.video.decode import (
    DEFAULT_FPS,
    DEFAULT_SAMPLE_RATE,
    DecodedVideo,
    NoAudioWarning,
    decode_video,
)

__all__ = ["DEFAULT_FPS", "DEFAULT_SAMPLE_RATE", "DecodedVideo", "NoAudioWarning", "decode_video"]
