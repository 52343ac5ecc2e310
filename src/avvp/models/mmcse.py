"""MM-CSE as one model, from the paper's flat hyper-parameters (docs/mmcse.md).

Zhao, Zhou et al., "Multimodal Class-aware Semantic Enhancement Network for Audio-Visual Video
Parsing", AAAI 2025 (arXiv 2412.11248). MM-CSE is a :class:`~avvp.models.model.ParsingModel`
like the others, assembled by the factory from three registered parts:

1. ``inputs: {name: mmcse}`` (:func:`avvp.models.inputs.build_mmcse_inputs`): holistic audio
   ``x_a`` and visual ``x_v``, (B, T, hidden), from CLAP or VGGish audio and CLIP or ResNet-152
   frames fused with R(2+1)D clips;
2. ``encoder: {name: mmcse}`` (:func:`avvp.models.encoders.mmcse.build_mmcse_encoder`): CAFD,
   26 branches per modality (25 events + background) with dynamic background fusion ->
   (B, T, C, D), then ``layers`` FGSE layers, each shared by (audio, visual) and (visual, audio);
   its side outputs (decoupled features, reconstructions, SECM maps) travel as extras;
3. ``decoder: {name: mmcse}`` (:func:`avvp.models.decoders.mmcse.build_mmcse_decoder`):
   class-specific heads + MMIL pooling -> :class:`~avvp.models.outputs.ParsingOutput`.

This module keeps the flat-keyword builder used by tests, figures and the converter, the list of
extras and :func:`strip_training_heads`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from torch import Tensor

from avvp.classes import NUM_CLASSES
from avvp.models.inputs import (
    AUDIO_INPUTS,
    VISUAL_INPUTS,
    AudioInput,
    VisualInput,
    clap_resampling_matrix,
)
from avvp.models.model import ParsingModel
from avvp.models.outputs import Gate

__all__ = [
    "AUDIO_INPUTS",
    "EXTRAS_DOC",
    "TRAINING_HEAD_PREFIXES",
    "VISUAL_INPUTS",
    "build_mmcse",
    "clap_resampling_matrix",
    "strip_training_heads",
]

#: keys of ``ParsingOutput.extras`` written by an MM-CSE model (see docs/mmcse.md).
EXTRAS_DOC = {
    "logits_audio": "(B, T, C) segment logits, audio",
    "logits_visual": "(B, T, C) segment logits, visual",
    "class_features_audio": "(B, T, C, D) CAFD event-specific features (before background fusion)",
    "class_features_visual": "(B, T, C, D)",
    "background_audio": "(B, T, D) CAFD background feature",
    "background_visual": "(B, T, D)",
    "alpha_audio": "(B, T) dynamic background fusion weight of the event features",
    "alpha_visual": "(B, T)",
    "recon_audio": "(B, T, hidden) reconstruction of the holistic feature (training heads only)",
    "recon_audio_target": "(B, T, hidden) holistic projected input (not detached, as reference)",
    "recon_visual": "(B, T, hidden)",
    "recon_visual_target": "(B, T, hidden)",
    "enhanced_audio": "(B, T, C, D) FGSE output per class (what the heads read)",
    "enhanced_visual": "(B, T, C, D)",
    "cooccurrence_aa": "(B, T, C, C) last-layer head-averaged SECM attention, audio -> audio",
    "cooccurrence_vv": "(B, T, C, C) visual -> visual",
    "cooccurrence_av": "(B, T, C, C) audio queries over visual keys",
    "cooccurrence_va": "(B, T, C, C) visual queries over audio keys",
}


def build_mmcse(
    *,
    audio_input: AudioInput = "clap",
    visual_input: VisualInput = "clip",
    hidden: int = 256,
    class_dim: int = 128,
    heads: int = 8,
    layers: int = 4,
    ff: int = 512,
    dropout: float = 0.1,
    use_cafd: bool = True,
    use_secm: bool = True,
    use_lgsf: bool = True,
    reconstruction_heads: bool = True,
    gate: Gate = "pooled",
    num_classes: int = NUM_CLASSES,
) -> ParsingModel:
    """Build MM-CSE from the paper's flat hyper-parameters (the factory does the work).

    Args:
        audio_input: ``"clap"`` (batch key ``clap`` (B, 64, 768)) or ``"vggish"`` (``audio``).
        visual_input: ``"clip"`` (``clip`` (B, 10, 768)) or ``"res152"`` (``frames``).
        hidden: width of the projected holistic features (256): inputs and encoder ``d_model``.
        class_dim: width of each class-wise feature (128).
        heads, layers, ff: SECM heads, FGSE layers, FGSE feed-forward width.
        dropout: dropout of the visual CAFD branches, the alpha nets, SECM attention and FF.
        use_cafd, use_secm, use_lgsf: ablation switches (see docs/mmcse.md).
        reconstruction_heads: build the CAFD reconstruction heads (L_rec only).
        gate: video-level gate of the inference rule (``pooled``, ``mmcse``, ``modality``).
        num_classes: number of event classes (25 on LLP).
    """
    from avvp.models.factory import build_model

    config = {
        "name": "mmcse",
        "audio_input": audio_input,
        "visual_input": visual_input,
        "hidden": hidden,
        "class_dim": class_dim,
        "heads": heads,
        "layers": layers,
        "ff": ff,
        "dropout": dropout,
        "use_cafd": use_cafd,
        "use_secm": use_secm,
        "use_lgsf": use_lgsf,
        "reconstruction_heads": reconstruction_heads,
        "gate": gate,
        "num_classes": num_classes,
    }
    return cast(ParsingModel, build_model(config))


# Matched anywhere after a dot too, so both layouts (``encoder.cafd_*``, old ``cafd_*``) strip.
TRAINING_HEAD_PREFIXES: tuple[str, ...] = ("cafd_audio.recon.", "cafd_visual.recon.")


def strip_training_heads(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Drop the reconstruction heads (training-only) from an avvp MM-CSE state dict.

    The result loads into a model built with ``reconstruction_heads=False``. Keys may carry a
    common prefix (e.g. ``model.``); any key containing a training-head path is dropped.
    """
    return {
        k: v
        for k, v in state_dict.items()
        if not any(k.startswith(p) or f".{p}" in k for p in TRAINING_HEAD_PREFIXES)
    }
