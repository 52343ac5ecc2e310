"""Input projections shared by HAN, MM-Pyramid and LEAP (docs/methods.md section 3).

``fc_a`` projects VGGish audio, ``fc_v`` ResNet-152 frames, ``fc_st`` R(2+1)D clips and
``fc_fusion`` the concatenated visual parts. The reference projects all 80 frames and then
averages each group of 8; since ``fc_v`` is affine we average first and project after, the same
function up to float rounding at 8x less compute (and pre-pooled (B, 10, 2048) input works too).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from avvp.errors import DataError


class LLPInputs(nn.Module):
    """Batch ``audio`` (B, T, 128), ``frames`` (B, 8T or T, 2048), ``clips`` (B, T, 512)
    -> ``(x_a, x_v)``, each (B, T, d_model)."""

    def __init__(
        self,
        *,
        audio_dim: int = 128,
        frame_dim: int = 2048,
        clip_dim: int = 512,
        d_model: int = 512,
        frames_per_segment: int = 8,
    ) -> None:
        super().__init__()
        self.frames_per_segment = frames_per_segment
        self.fc_a = nn.Linear(audio_dim, d_model)
        self.fc_v = nn.Linear(frame_dim, d_model)
        self.fc_st = nn.Linear(clip_dim, d_model)
        self.fc_fusion = nn.Linear(2 * d_model, d_model)

    def pool_frames(self, frames: Tensor, segments: int) -> Tensor:
        """(B, F, D) frame features -> (B, segments, D): mean of each group of frames.

        Accepts already pooled input (F == segments).
        """
        b, n, d = frames.shape
        if n == segments:
            return frames
        if n != segments * self.frames_per_segment:
            raise DataError(
                f"batch key 'frames': expected {segments * self.frames_per_segment} frames "
                f"({self.frames_per_segment} per segment) or {segments} pooled segments, "
                f"got shape {tuple(frames.shape)}"
            )
        return frames.view(b, segments, self.frames_per_segment, d).mean(dim=2)

    def forward(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        for key in ("audio", "frames", "clips"):
            if key not in batch:
                raise DataError(f"batch has no {key!r} features (keys: {sorted(batch)})")
        audio, frames, clips = batch["audio"], batch["frames"], batch["clips"]
        segments = audio.shape[1]
        if clips.shape[1] != segments:
            raise DataError(
                f"batch key 'clips': {clips.shape[1]} segments, but 'audio' has {segments}"
            )
        x_a = self.fc_a(audio)
        frame_part = self.fc_v(self.pool_frames(frames, segments))
        x_v = self.fc_fusion(torch.cat((frame_part, self.fc_st(clips)), dim=-1))
        return x_a, x_v


def build_llp_inputs(
    *,
    audio_dim: int = 128,
    frame_dim: int = 2048,
    clip_dim: int = 512,
    d_model: int = 512,
    frames_per_segment: int = 8,
) -> LLPInputs:
    """The LLP input projections (fc_a, fc_v with frame pooling, fc_st, fc_fusion)."""
    return LLPInputs(
        audio_dim=audio_dim,
        frame_dim=frame_dim,
        clip_dim=clip_dim,
        d_model=d_model,
        frames_per_segment=frames_per_segment,
    )
