"""What every parsing model returns, and the benchmark's inference rule (docs/methods.md
section 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

from avvp.errors import ConfigError

Gate = Literal["pooled", "or", "modality", "mmcse"]
GATES: tuple[str, ...] = ("pooled", "or", "modality", "mmcse")


@dataclass
class EncoderOutput:
    """What an encoder may return instead of the plain pair ``(f_a, f_v)``.

    ``audio`` and ``visual`` go to the decoder as ``(f_a, f_v)``; ``extras`` (side outputs that
    only a loss or a figure reads, e.g. MM-CSE's decoupled features) are added to the decoder's
    ``ParsingOutput.extras``, so the decoder need not know about them.
    """

    audio: Tensor
    visual: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class ParsingOutput:
    """Output of a parsing model for a batch of B videos, T segments, C classes.

    Probabilities, not logits (decoders that train with logits put them in ``extras``).

    Attributes:
        segment_audio: (B, T, C) audio event probability per segment.
        segment_visual: (B, T, C) visual event probability per segment.
        video_audio: (B, C) video-level audio probability.
        video_visual: (B, C) video-level visual probability.
        video: (B, C) pooled video-level probability (MMIL-style decoders), or None where
            the decoder has none (LEAP: the gate is OR of the modality gates).
        audio_features: (B, T, d) encoder output for audio (used by L_avss).
        visual_features: (B, T, d) encoder output for visual.
        gate: which video-level gate the inference rule uses:
            ``"pooled"``  -- both modalities gated by ``video >= 0.5`` (HAN / MM-Pyr MMIL);
            ``"or"``      -- both gated by ``(video_audio >= .5) | (video_visual >= .5)`` (LEAP);
            ``"modality"``-- audio gated by ``video_audio``, visual by ``video_visual``;
            ``"mmcse"``   -- audio gated by ``video``, visual by ``video_visual`` (the MM-CSE
                             reference code's gating, a protocol difference to report).
        extras: decoder-specific tensors, e.g. ``"attention_audio"`` (B, C, T) LEAP
            label-to-segment attention, logits, MM-CSE auxiliaries.
    """

    segment_audio: Tensor
    segment_visual: Tensor
    video_audio: Tensor
    video_visual: Tensor
    video: Tensor | None
    audio_features: Tensor
    visual_features: Tensor
    gate: Gate
    extras: dict[str, Tensor] = field(default_factory=dict)


def predict_events(
    output: ParsingOutput, *, threshold: float = 0.5, gate: Gate | None = None
) -> tuple[Tensor, Tensor]:
    """Binary audio and visual event predictions, each (B, C, T) bool, by the benchmark rule.

    Segment prediction = (segment prob >= threshold) AND (video-level gate >= threshold).
    ``gate`` overrides ``output.gate`` (e.g. to report MM-CSE under both gates).
    """
    rule = gate or output.gate
    if rule == "pooled":
        if output.video is None:
            raise ConfigError(
                "gate 'pooled' needs a pooled video probability; this model has none "
                "(LEAP uses gate 'or')"
            )
        gate_a = gate_v = output.video >= threshold
    elif rule == "or":
        gate_a = gate_v = (output.video_audio >= threshold) | (output.video_visual >= threshold)
    elif rule == "modality":
        gate_a = output.video_audio >= threshold
        gate_v = output.video_visual >= threshold
    elif rule == "mmcse":
        if output.video is None:
            raise ConfigError("gate 'mmcse' needs a pooled video probability; this model has none")
        gate_a = output.video >= threshold
        gate_v = output.video_visual >= threshold
    else:
        raise ConfigError(f"unknown gate {rule!r}; expected one of {', '.join(GATES)}")
    audio = (output.segment_audio >= threshold) & gate_a.unsqueeze(1)
    visual = (output.segment_visual >= threshold) & gate_v.unsqueeze(1)
    return audio.transpose(1, 2).contiguous(), visual.transpose(1, 2).contiguous()
