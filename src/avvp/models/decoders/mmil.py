"""MMIL: attentive multimodal multiple-instance pooling (HAN / MM-Pyramid decoder; docs/methods.md
section 5).

``x = stack(audio, visual)`` (B, T, 2, d); ``p = sigmoid(fc_prob(x))``; temporal attention
``W_t = softmax_T(fc_frame_att(x))``; modality attention ``W_m = softmax_2(fc_av_att(x))``;
video probability ``sum_{t,m} W_t W_m p``; per-modality video probability ``sum_t W_t p``.

``swap_modalities=True`` reproduces the MM-Pyramid reference quirk: its code stacks
``[visual, audio]`` but reads index 0 as audio, so its "audio" predictions come from the visual
stream (needed to reproduce reference MM-Pyr+MMIL checkpoints exactly).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from avvp.classes import NUM_CLASSES
from avvp.models.outputs import ParsingOutput


class MMILDecoder(nn.Module):
    """``forward(f_a, f_v) -> ParsingOutput`` with gate ``"pooled"``."""

    def __init__(
        self, *, d_model: int = 512, num_classes: int = NUM_CLASSES, swap_modalities: bool = False
    ) -> None:
        super().__init__()
        self.swap_modalities = swap_modalities
        self.fc_prob = nn.Linear(d_model, num_classes)
        self.fc_frame_att = nn.Linear(d_model, num_classes)
        self.fc_av_att = nn.Linear(d_model, num_classes)

    def forward(self, f_a: Tensor, f_v: Tensor) -> ParsingOutput:
        first, second = (f_v, f_a) if self.swap_modalities else (f_a, f_v)
        x = torch.stack((first, second), dim=2)  # (B, T, 2, d)
        logits = self.fc_prob(x)
        prob = torch.sigmoid(logits)
        frame_att = torch.softmax(self.fc_frame_att(x), dim=1)
        av_att = torch.softmax(self.fc_av_att(x), dim=2)
        temporal = frame_att * prob
        video = (temporal * av_att).sum(dim=(1, 2))
        per_modality = temporal.sum(dim=1)  # (B, 2, C)
        return ParsingOutput(
            segment_audio=prob[:, :, 0],
            segment_visual=prob[:, :, 1],
            video_audio=per_modality[:, 0],
            video_visual=per_modality[:, 1],
            video=video,
            audio_features=f_a,
            visual_features=f_v,
            gate="pooled",
            extras={
                "segment_logits_audio": logits[:, :, 0],
                "segment_logits_visual": logits[:, :, 1],
            },
        )


def build_mmil_decoder(
    *, d_model: int = 512, num_classes: int = NUM_CLASSES, swap_modalities: bool = False
) -> MMILDecoder:
    """MMIL decoder; ``swap_modalities`` reproduces the MM-Pyramid reference quirk."""
    return MMILDecoder(d_model=d_model, num_classes=num_classes, swap_modalities=swap_modalities)
