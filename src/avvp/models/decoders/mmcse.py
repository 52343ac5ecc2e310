"""MM-CSE decoder: class-specific heads with attentive MMIL pooling (docs/mmcse.md).

Reads the class-wise features (B, T, C, D) of :mod:`avvp.models.encoders.mmcse`. Each class k
has its own ``Linear(D, 1)`` for the segment logit, the temporal attention and the modality
attention (the reference's 3 x 25 heads, stored stacked: one parameter each, one kernel);
``P = sigmoid(logit)``, ``W_t = softmax_T``, ``W_m = softmax_modality``,
``video = sum_{t,m} W_t W_m P``, ``video_{audio,visual} = sum_t W_t P`` (MMIL, per class).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from avvp.classes import NUM_CLASSES
from avvp.models.outputs import GATES, Gate, ParsingOutput


class ClassLinear(nn.Module):
    """C class-specific ``Linear(D, 1)`` maps, stacked: (..., C, D) -> (..., C)."""

    def __init__(self, *, classes: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(classes, dim))
        self.bias = nn.Parameter(torch.empty(classes))
        bound = 1.0 / math.sqrt(dim)
        for k in range(classes):
            nn.init.kaiming_uniform_(self.weight[k : k + 1], a=math.sqrt(5))
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return (x * self.weight).sum(dim=-1) + self.bias


class MMCSEDecoder(nn.Module):
    """``forward(f_a, f_v) -> ParsingOutput`` on class-wise features (B, T, C, D).

    ``audio_features`` / ``visual_features`` are the class tokens' mean (B, T, D); the segment
    logits are in ``extras`` (``logits_audio``, ``logits_visual``).
    """

    def __init__(self, *, classes: int, dim: int, gate: Gate = "pooled") -> None:
        super().__init__()
        self.prob = ClassLinear(classes=classes, dim=dim)
        self.temporal = ClassLinear(classes=classes, dim=dim)
        self.modality = ClassLinear(classes=classes, dim=dim)
        self.gate: Gate = gate

    def forward(self, f_a: Tensor, f_v: Tensor) -> ParsingOutput:
        x = torch.stack((f_a, f_v), dim=2)  # (B, T, 2, C, D)
        logits = self.prob(x)
        prob = torch.sigmoid(logits)
        w_t = torch.softmax(self.temporal(x), dim=1)
        w_m = torch.softmax(self.modality(x), dim=2)
        temporal = w_t * prob
        video = (temporal * w_m).sum(dim=(1, 2))
        return ParsingOutput(
            segment_audio=prob[:, :, 0],
            segment_visual=prob[:, :, 1],
            video_audio=temporal[:, :, 0].sum(dim=1),
            video_visual=temporal[:, :, 1].sum(dim=1),
            video=video,
            audio_features=f_a.mean(dim=2),
            visual_features=f_v.mean(dim=2),
            gate=self.gate,
            extras={"logits_audio": logits[:, :, 0], "logits_visual": logits[:, :, 1]},
        )


def build_mmcse_decoder(
    *, class_dim: int = 128, num_classes: int = NUM_CLASSES, gate: Gate = "pooled"
) -> MMCSEDecoder:
    """MM-CSE class-specific heads.

    Args:
        class_dim: width of each class-wise feature (the encoder's ``class_dim``, 128).
        num_classes: number of event classes (25 on LLP).
        gate: video-level gate of the inference rule: ``"pooled"`` (benchmark MMIL rule,
            default), ``"mmcse"`` (the reference code: visual gated by the visual-only
            probability) or ``"modality"`` (per-modality video probabilities).
    """
    for key, value in (("class_dim", class_dim), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{key}: expected a positive integer, got {value!r}")
    if gate not in GATES:
        raise ValueError(f"gate: {gate!r} is not one of {', '.join(GATES)}")
    return MMCSEDecoder(classes=num_classes, dim=class_dim, gate=gate)
