"""AVEL models: an encoder (AVE / PSP / CMBS) with its default head (DCH) or LEAP.

:func:`build_ave_model` is the only name -> builder mapping for the AVE task. The ``model``
config section::

    encoder: psp              # ave | psp | cmbs
    head: dch                 # dch (the encoder's default classification head) | leap
    num_classes: 28           # AVE event classes (background is label num_classes)
    encoder_args: {}          # keyword arguments of the encoder class (dims, dropout, ...)
    head_args: {}             # DCH: its class's arguments; LEAP: build_leap_decoder's arguments
                              #   (heads, ff_dim, num_blocks, ...), segment_weight,
                              #   video_loss (ce | bce), segment_loss (relevance | multilabel)
    label_embeddings: {source: learnable, dim: 300}   # LEAP only (build_label_embeddings)
    aux_weights: {}           # encoder-side losses: avps (PSP, default 100), gate (CMBS, 1)

Encoder-side auxiliary losses belong to the encoder and are kept with either head:

* PSP's AVPS loss: ``MSE(relu(s) / sum_t relu(s), g)`` with ``s`` the per-segment audio-visual
  cosine and ``g`` = 1 / (number of event segments) on event segments, 0 elsewhere.
* CMBS's background-suppression gate loss: ``BCEWithLogits(gate_a * gate_v, event mask)``; the
  reference feeds the gate PROBABILITY to a with-logits BCE, reproduced as is.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from avvp.ave.data import AVE_CLASSES, NUM_AVE_CLASSES
from avvp.ave.encoders import AVEBaselineEncoder, AVEEncoding, CMBSEncoder, PSPEncoder
from avvp.ave.heads import AVEBaselineHead, AVEOutput, CMBSHead, LeapHead, PSPHead
from avvp.errors import ConfigError
from avvp.models.complexity import count_parameters

__all__ = [
    "ENCODERS",
    "AVEModel",
    "avps_loss",
    "build_ave_model",
    "describe",
    "gate_loss",
]

ENCODERS: dict[str, type[nn.Module]] = {
    "ave": AVEBaselineEncoder,
    "psp": PSPEncoder,
    "cmbs": CMBSEncoder,
}
_DCH: dict[str, type[nn.Module]] = {"ave": AVEBaselineHead, "psp": PSPHead, "cmbs": CMBSHead}
_AUX_DEFAULTS: dict[str, dict[str, float]] = {
    "ave": {},
    "psp": {"avps": 100.0},
    "cmbs": {"gate": 1.0},
}
_MODEL_KEYS = {
    "encoder",
    "head",
    "num_classes",
    "encoder_args",
    "head_args",
    "label_embeddings",
    "aux_weights",
}


def avps_loss(similarity: Tensor, label: Tensor, *, background: int) -> Tensor:
    """PSP's audio-visual pair similarity loss (B, T) -> scalar (see the module docstring)."""
    event = (label != background).float()
    target = event / event.sum(dim=-1, keepdim=True).clamp_min(1.0)
    relu = F.relu(similarity.float())
    normalised = relu / (relu.sum(dim=-1, keepdim=True) + 1e-8)
    return F.mse_loss(normalised, target)


def gate_loss(gate: Tensor, label: Tensor, *, background: int) -> Tensor:
    """CMBS's background gate loss, as the reference computes it (see the module docstring)."""
    return F.binary_cross_entropy_with_logits(gate.float(), (label != background).float())


class AVEModel(nn.Module):
    """``forward(batch) -> AVEOutput``; ``loss(output, batch)`` adds head and encoder losses."""

    def __init__(
        self,
        *,
        encoder: nn.Module,
        head: nn.Module,
        num_classes: int = NUM_AVE_CLASSES,
        aux_weights: Mapping[str, float] | None = None,
        encoder_name: str = "",
        head_name: str = "",
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.num_classes = num_classes
        self.aux_weights = dict(aux_weights or {})
        self.encoder_name = encoder_name
        self.head_name = head_name

    def forward(self, batch: Mapping[str, Tensor]) -> AVEOutput:
        encoding: AVEEncoding = self.encoder(batch["audio"], batch["visual"])
        output: AVEOutput = self.head(encoding)
        return output

    def loss(
        self, output: AVEOutput, batch: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        total, terms = self.head.loss(output, batch)  # type: ignore[operator]
        extras = output.encoding.extras
        label = batch["label"]
        weight = self.aux_weights.get("avps", 0.0)
        if weight and "av_similarity" in extras:
            term = avps_loss(extras["av_similarity"], label, background=self.num_classes)
            total = total + weight * term
            terms["avps"] = term.detach()
        weight = self.aux_weights.get("gate", 0.0)
        if weight and "av_gate" in extras:
            term = gate_loss(extras["av_gate"], label, background=self.num_classes)
            total = total + weight * term
            terms["gate"] = term.detach()
        return total, terms


def _call(builder: Callable[..., Any], kwargs: Mapping[str, Any], where: str) -> Any:
    """Call ``builder(**kwargs)``; an unknown argument is a ConfigError naming the key."""
    params = inspect.signature(builder).parameters
    for key in kwargs:
        if key not in params:
            allowed = ", ".join(p for p in params if p not in ("self", "decoder"))
            raise ConfigError(f"{where}.{key}: unknown option (expected one of: {allowed})")
    try:
        return builder(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _plain(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def build_ave_model(config: Mapping[str, Any]) -> AVEModel:
    """Build the AVEL model described by the ``model`` config section (module docstring)."""
    cfg = _plain(config, "model")
    for key in cfg:
        if key not in _MODEL_KEYS:
            allowed = ", ".join(sorted(_MODEL_KEYS))
            raise ConfigError(f"model.{key}: unknown option (expected {allowed})")
    encoder_name = str(cfg.get("encoder", "psp"))
    head_name = str(cfg.get("head", "dch"))
    if encoder_name not in ENCODERS:
        raise ConfigError(f"model.encoder={encoder_name!r}: expected one of {', '.join(ENCODERS)}")
    if head_name not in ("dch", "leap"):
        raise ConfigError(f"model.head={head_name!r}: expected dch or leap")
    num_classes = int(cfg.get("num_classes", NUM_AVE_CLASSES))
    encoder = _call(
        ENCODERS[encoder_name],
        _plain(cfg.get("encoder_args"), "model.encoder_args"),
        "model.encoder_args",
    )
    head_args = _plain(cfg.get("head_args"), "model.head_args")
    head: nn.Module
    if head_name == "dch":
        if cfg.get("label_embeddings") is not None:
            raise ConfigError("model.label_embeddings: only used with model.head=leap")
        head_args = {"in_dim": encoder.fused_dim, "num_classes": num_classes, **head_args}
        head = _call(_DCH[encoder_name], head_args, "model.head_args")
    else:
        head = _build_leap_head(
            num_classes=num_classes,
            d_model=int(encoder.out_dim),
            head_args=head_args,
            embedding_args=_plain(cfg.get("label_embeddings"), "model.label_embeddings"),
        )
    aux = dict(_AUX_DEFAULTS[encoder_name])
    for key, value in _plain(cfg.get("aux_weights"), "model.aux_weights").items():
        if key not in _AUX_DEFAULTS[encoder_name]:
            allowed = ", ".join(_AUX_DEFAULTS[encoder_name]) or "none"
            raise ConfigError(
                f"model.aux_weights.{key}: not a loss of encoder {encoder_name!r} "
                f"(its auxiliary losses: {allowed})"
            )
        aux[key] = float(value)
    return AVEModel(
        encoder=encoder,
        head=head,
        num_classes=num_classes,
        aux_weights=aux,
        encoder_name=encoder_name,
        head_name=head_name,
    )


def ave_class_words(name: str) -> str:
    """An AVE class name as plain words for GloVe / text encoders ("Violin, fiddle" ->
    "Violin fiddle")."""
    return " ".join(name.replace(",", " ").replace("(", " ").replace(")", " ").split())


def _build_leap_head(
    *, num_classes: int, d_model: int, head_args: dict[str, Any], embedding_args: dict[str, Any]
) -> LeapHead:
    from avvp.models.decoders.leap import build_leap_decoder
    from avvp.models.label_embeddings import build_label_embeddings

    if num_classes != NUM_AVE_CLASSES:
        names: list[str] = [f"class {i}" for i in range(num_classes)]
    else:
        names = [ave_class_words(n) for n in AVE_CLASSES]
    embedding_args = {"source": "learnable", **embedding_args}
    if embedding_args["source"] == "release":
        raise ConfigError(
            "model.label_embeddings.source=release: the LEAP release file holds the "
            "25 LLP classes; for AVE use learnable, glove (a GloVe text file) or "
            "sentence"
        )
    embeddings = _call(
        build_label_embeddings,
        {**embedding_args, "class_names": names},
        "model.label_embeddings",
    )
    options = {
        k: head_args.pop(k)
        for k in ("segment_weight", "video_loss", "segment_loss")
        if k in head_args
    }
    decoder = _call(
        build_leap_decoder,
        {"d_model": d_model, **head_args, "label_embeddings": embeddings},
        "model.head_args",
    )
    try:
        return LeapHead(decoder=decoder, num_classes=num_classes, **options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.head_args: {exc}") from None


def describe(model: AVEModel) -> dict[str, int]:
    """Parameter counts of a model: total, encoder, head."""
    counts = count_parameters(model, parts=("encoder", "head"))
    return {key: counts[key] for key in ("total", "encoder", "head")}
