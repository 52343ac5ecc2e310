"""Losses of the MMIL paradigm (docs/methods.md section 5): the HAN recipe and the VALOR recipe."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from avvp.models.outputs import ParsingOutput

_EPS = 1e-7


def clamped_bce(prob: Tensor, target: Tensor) -> Tensor:
    """BCE on probabilities clamped to [1e-7, 1 - 1e-7], as every reference implementation does."""
    return F.binary_cross_entropy(prob.float().clamp(_EPS, 1.0 - _EPS), target.float())


def smooth(target: Tensor, eps: float) -> Tensor:
    """``y (1 - eps) + eps / 2``: HAN's visual target is ``0.9 y + 0.05`` (eps = 0.1)."""
    return target * (1.0 - eps) + 0.5 * eps if eps else target


def video_pseudo_labels(segment_labels: Tensor) -> Tensor:
    """Video-level labels of a modality: present in any segment of its (B, T, C) pseudo labels."""
    return (segment_labels.amax(dim=1) > 0).to(segment_labels.dtype)


def segment_bce(output: ParsingOutput, modality: str, target: Tensor) -> Tensor:
    """Segment-level BCE against (B, T, C) targets; with logits where the decoder exposes them."""
    logits = output.extras.get(f"segment_logits_{modality}")
    if logits is not None:
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())
    prob = output.segment_audio if modality == "audio" else output.segment_visual
    return clamped_bce(prob, target)


def han_loss(
    output: ParsingOutput,
    batch: Mapping[str, Tensor],
    *,
    audio_smoothing: float = 0.0,
    visual_smoothing: float = 0.1,
) -> tuple[Tensor, dict[str, Tensor]]:
    """HAN: BCE(p_audio, y) + BCE(p_visual, 0.9 y + 0.05) + BCE(p_video, y)."""
    if output.video is None:
        raise ValueError("the HAN recipe needs a pooled video probability (an MMIL-style decoder)")
    label = batch["label"]
    terms = {
        "audio": clamped_bce(output.video_audio, smooth(label, audio_smoothing)),
        "visual": clamped_bce(output.video_visual, smooth(label, visual_smoothing)),
        "video": clamped_bce(output.video, label),
    }
    return torch.stack(list(terms.values())).sum(), terms


def valor_loss(
    output: ParsingOutput,
    batch: Mapping[str, Tensor],
    *,
    modality_weight: float = 1.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """VALOR: BCE(p_video, y) + segment BCE of each modality against its segment pseudo labels,
    plus (docs/methods.md section 5) BCE of the modality video probabilities against the video-level
    pseudo labels. VALOR's own code leaves that last term out: ``modality_weight=0`` reproduces it.
    """
    if output.video is None:
        raise ValueError(
            "the VALOR recipe needs a pooled video probability (an MMIL-style decoder)"
        )
    pa, pv = batch["pseudo_audio"], batch["pseudo_visual"]
    terms = {
        "video": clamped_bce(output.video, batch["label"]),
        "segment_audio": segment_bce(output, "audio", pa),
        "segment_visual": segment_bce(output, "visual", pv),
    }
    total = torch.stack(list(terms.values())).sum()
    if modality_weight:
        terms["audio"] = clamped_bce(output.video_audio, video_pseudo_labels(pa))
        terms["visual"] = clamped_bce(output.video_visual, video_pseudo_labels(pv))
        total = total + modality_weight * (terms["audio"] + terms["visual"])
    return total, terms
