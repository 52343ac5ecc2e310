"""LEAP's losses (docs/methods.md section 7): L_basic and the audio-visual semantic similarity
L_avss."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from avvp.losses.mmil import clamped_bce, segment_bce, video_pseudo_labels
from avvp.models.outputs import ParsingOutput


def eiou_targets(pseudo_audio: Tensor, pseudo_visual: Tensor) -> Tensor:
    """The paper's target: r_ij = |events(a_i) AND events(v_j)| / |events(a_i) OR events(v_j)|.

    Inputs (B, T, C) binary; output (B, T, T). A pair of segments with no event in either has an
    empty union; its target is 0 (they share no event), which keeps the loss defined everywhere.
    """
    a, v = pseudo_audio.float(), pseudo_visual.float()
    inter = torch.bmm(a, v.transpose(1, 2))
    union = a.sum(-1, keepdim=True) + v.sum(-1).unsqueeze(1) - inter
    return torch.where(union > 0, inter / union.clamp_min(1.0), torch.zeros_like(inter))


def reference_targets(pseudo_audio: Tensor, pseudo_visual: Tensor, *, eps: float = 0.01) -> Tensor:
    """The LEAP code's target: x / (1 + x) + eps, x = shared classes of a_i and v_j divided by the
    largest number of events in one segment of the video over both modalities."""
    a, v = pseudo_audio.float(), pseudo_visual.float()
    shared = torch.bmm(a, v.transpose(1, 2))
    most = torch.maximum(a.sum(-1).amax(-1), v.sum(-1).amax(-1))
    # The reference adds 1e-8 to a zero maximum; shared is 0 there too, so x = 0 either way.
    x = shared / most.clamp_min(1e-8)[:, None, None]
    return x / (1.0 + x) + eps


def avss_loss(
    audio_features: Tensor,
    visual_features: Tensor,
    pseudo_audio: Tensor,
    pseudo_visual: Tensor,
    *,
    target: str = "eiou",
) -> Tensor:
    """MSE between segment-pair cosine similarities of the encoder outputs and the target.

    ``target="eiou"`` (paper): prediction = cosine similarity, target = EIoU.
    ``target="reference"`` (LEAP code): prediction = ReLU(cosine), target = x / (1 + x) + 0.01.
    """
    a = F.normalize(audio_features.float(), dim=-1)
    v = F.normalize(visual_features.float(), dim=-1)
    similarity = torch.bmm(a, v.transpose(1, 2))
    if target == "eiou":
        return F.mse_loss(similarity, eiou_targets(pseudo_audio, pseudo_visual))
    if target == "reference":
        return F.mse_loss(F.relu(similarity), reference_targets(pseudo_audio, pseudo_visual))
    raise ValueError(f"avss target must be 'eiou' or 'reference', got {target!r}")


def leap_loss(
    output: ParsingOutput,
    batch: Mapping[str, Tensor],
    *,
    avss_weight: float = 1.0,
    avss_target: str = "eiou",
    segment_weight: float = 1.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """L_basic + lambda L_avss with video- and segment-level targets from the pseudo labels.

    The hard OR gate's BCE term of Eq. 9 carries no gradient; it is reported as ``global`` and
    not added, which changes nothing in training.
    """
    pa, pv = batch["pseudo_audio"], batch["pseudo_visual"]
    terms = {
        "audio": clamped_bce(output.video_audio, video_pseudo_labels(pa)),
        "visual": clamped_bce(output.video_visual, video_pseudo_labels(pv)),
        "segment_audio": segment_bce(output, "audio", pa),
        "segment_visual": segment_bce(output, "visual", pv),
    }
    total = (
        terms["audio"]
        + terms["visual"]
        + segment_weight * (terms["segment_audio"] + terms["segment_visual"])
    )
    if avss_weight:
        terms["avss"] = avss_loss(
            output.audio_features, output.visual_features, pa, pv, target=avss_target
        )
        total = total + avss_weight * terms["avss"]
    with torch.no_grad():
        gate = ((output.video_audio >= 0.5) | (output.video_visual >= 0.5)).float()
        terms["global"] = clamped_bce(gate, batch["label"])
    return total, terms
