"""Input projections: ``LLPInputs`` (HAN, MM-Pyramid, LEAP; docs/methods.md section 3) and
``MMCSEInputs`` (MM-CSE's CLAP / CLIP or VGGish / ResNet-152 variants, docs/mmcse.md).

``fc_a`` projects VGGish audio, ``fc_v`` ResNet-152 frames, ``fc_st`` R(2+1)D clips and
``fc_fusion`` the concatenated visual parts. The reference projects all 80 frames and then
averages each group of 8; since ``fc_v`` is affine we average first and project after, the same
function up to float rounding at 8x less compute (and pre-pooled (B, 10, 2048) input works too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avvp.classes import NUM_SEGMENTS
from avvp.errors import ConfigError, DataError


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

    @property
    def batch_keys(self) -> tuple[str, ...]:
        """The batch feature keys this module reads."""
        return ("audio", "frames", "clips")

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


AudioInput = Literal["clap", "vggish"]
VisualInput = Literal["clip", "res152"]

#: batch key and expected per-video shape of each MM-CSE input variant.
AUDIO_INPUTS: dict[str, tuple[str, tuple[int, int]]] = {
    "clap": ("clap", (64, 768)),
    "vggish": ("audio", (NUM_SEGMENTS, 128)),
}
VISUAL_INPUTS: dict[str, tuple[str, tuple[int, int]]] = {
    "clip": ("clip", (NUM_SEGMENTS, 768)),
    "res152": ("frames", (8 * NUM_SEGMENTS, 2048)),
}
CLIPS_KEY = "clips"
CLIPS_SHAPE = (NUM_SEGMENTS, 512)


def clap_resampling_matrix(
    *, length: int = 64, rows: int = 2, width: int = 1024, steps: int = NUM_SEGMENTS
) -> Tensor:
    """The MM-CSE reference CLAP feature-map resampling as a fixed (length, steps) matrix.

    The reference reshapes the (length, 768) map to (768, rows, length // rows), interpolates
    bicubically to (rows, width), projects, averages the rows and adaptive-average-pools the
    ``width`` steps to ``steps``. Everything but the projection is linear and acts on each channel
    alike, so it is the matrix obtained by pushing the unit vectors through it (in float64).
    """
    if length % rows:
        raise ConfigError(f"CLAP map length {length} is not divisible by {rows} rows")
    basis = torch.eye(length, dtype=torch.float64).view(length, 1, rows, length // rows)
    up = F.interpolate(basis, size=(rows, width), mode="bicubic", align_corners=False)
    pooled = F.adaptive_avg_pool1d(up.mean(dim=2), steps)  # (length, 1, steps)
    return pooled.squeeze(1).to(torch.float32)


class MMCSEInputs(nn.Module):
    """MM-CSE input projections: audio ``fc_a``; visual ``fc_fusion([fc_v(2D) ; fc_st(R(2+1)D)])``.

    The CLAP resampling is applied *before* ``fc_a`` as one (64, 10) matrix: ``fc_a`` is affine
    and every resampling weight row sums to one, so the order can be swapped (about 200x less
    compute than projecting 2 x 1024 interpolated steps). ResNet-152 frames are averaged in groups
    of 8 before ``fc_v`` for the same reason.
    """

    def __init__(self, *, audio_input: AudioInput, visual_input: VisualInput, d_model: int) -> None:
        super().__init__()
        self.audio_input = audio_input
        self.visual_input = visual_input
        self.audio_key, self.audio_shape = AUDIO_INPUTS[audio_input]
        self.visual_key, self.visual_shape = VISUAL_INPUTS[visual_input]
        self.fc_a = nn.Linear(self.audio_shape[1], d_model)
        self.fc_v = nn.Linear(self.visual_shape[1], d_model)
        self.fc_st = nn.Linear(CLIPS_SHAPE[1], d_model)
        self.fc_fusion = nn.Linear(2 * d_model, d_model)
        if audio_input == "clap":
            self.register_buffer(
                "clap_resample",
                clap_resampling_matrix(length=self.audio_shape[0]),
                persistent=False,
            )

    @property
    def batch_keys(self) -> tuple[str, ...]:
        """The batch feature keys this module reads."""
        return (self.audio_key, self.visual_key, CLIPS_KEY)

    def _feature(self, batch: Mapping[str, Tensor], key: str, *shapes: tuple[int, int]) -> Tensor:
        expected = " or ".join(f"(B, {s[0]}, {s[1]})" for s in shapes)
        if key not in batch:
            raise DataError(f"MM-CSE input: batch has no key {key!r} (expected {expected})")
        x = batch[key]
        if x.dim() != 3 or tuple(x.shape[1:]) not in shapes:
            raise DataError(
                f"MM-CSE input: batch[{key!r}] has shape {tuple(x.shape)}, expected {expected}"
            )
        return x

    def forward(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Holistic audio and visual features, each (B, T, d_model)."""
        audio = self._feature(batch, self.audio_key, self.audio_shape)
        if self.audio_input == "clap":
            resample = self.get_buffer("clap_resample")
            audio = torch.einsum("sn,bsc->bnc", resample.to(audio.dtype), audio)
        x_a = self.fc_a(audio)

        if self.visual_input == "res152":
            # Frames may come already averaged per segment (packed datasets store them so).
            frames = self._feature(
                batch, self.visual_key, self.visual_shape, (NUM_SEGMENTS, self.visual_shape[1])
            )
            b, n, c = frames.shape
            if n != NUM_SEGMENTS:
                frames = frames.reshape(b, NUM_SEGMENTS, n // NUM_SEGMENTS, c).mean(dim=2)
        else:
            frames = self._feature(batch, self.visual_key, self.visual_shape)
        clips = self._feature(batch, CLIPS_KEY, CLIPS_SHAPE)
        x_v = self.fc_fusion(torch.cat((self.fc_v(frames), self.fc_st(clips)), dim=-1))
        return x_a, x_v


def build_mmcse_inputs(
    *, audio_input: AudioInput = "clap", visual_input: VisualInput = "clip", d_model: int = 256
) -> MMCSEInputs:
    """MM-CSE inputs.

    Args:
        audio_input: ``"clap"`` (VALOR++ CLAP maps, batch key ``clap`` (B, 64, 768)) or
            ``"vggish"`` (batch key ``audio`` (B, 10, 128)).
        visual_input: ``"clip"`` (batch key ``clip`` (B, 10, 768)) or ``"res152"`` (batch key
            ``frames`` (B, 80, 2048), averaged per 8 frames). R(2+1)D ``clips`` (B, 10, 512) are
            always fused in, as the reference does.
        d_model: width of the projected holistic features (the paper's 256).
    """
    if audio_input not in AUDIO_INPUTS:
        raise ValueError(f"audio_input: {audio_input!r} is not one of {', '.join(AUDIO_INPUTS)}")
    if visual_input not in VISUAL_INPUTS:
        raise ValueError(f"visual_input: {visual_input!r} is not one of {', '.join(VISUAL_INPUTS)}")
    if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model <= 0:
        raise ValueError(f"d_model: expected a positive integer, got {d_model!r}")
    return MMCSEInputs(audio_input=audio_input, visual_input=visual_input, d_model=d_model)
