"""AVEL models: an encoder (AVE / PSP / CMBS) with its default head (DCH) or LEAP.

:func:`build_ave_model` builds the AVE task's models; it chooses the encoder from
:data:`ENCODERS` and the head from :data:`HEADS` (:class:`~avvp.registry.Registry` tables). The
``model`` config section::

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
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch.nn.functional as F
from torch import Tensor, nn

from avvp.ave.data import AVE_CLASSES, NUM_AVE_CLASSES
from avvp.ave.encoders import AVEBaselineEncoder, AVEEncoding, CMBSEncoder, PSPEncoder
from avvp.ave.heads import AVEBaselineHead, AVEOutput, CMBSHead, LeapHead, PSPHead
from avvp.errors import ConfigError
from avvp.models.complexity import count_parameters
from avvp.registry import Registry

__all__ = [
    "ENCODERS",
    "HEADS",
    "AVEEncoderEntry",
    "AVEModel",
    "avps_loss",
    "build_ave_model",
    "describe",
    "gate_loss",
]


@dataclass(frozen=True)
class AVEEncoderEntry:
    """What ``model.encoder`` names: the encoder's builder (``encoder_args`` are its keyword
    arguments), the classification head it was published with (``model.head=dch``) and its
    auxiliary losses with their default weights (``model.aux_weights``)."""

    encoder: Callable[..., nn.Module]
    dch: Callable[..., nn.Module]
    aux_weights: Mapping[str, float] = field(default_factory=dict)


ENCODERS: Registry[AVEEncoderEntry] = Registry("AVE encoder")
ENCODERS.add("ave", AVEEncoderEntry(AVEBaselineEncoder, AVEBaselineHead))
ENCODERS.add("psp", AVEEncoderEntry(PSPEncoder, PSPHead, {"avps": 100.0}))
ENCODERS.add("cmbs", AVEEncoderEntry(CMBSEncoder, CMBSHead, {"gate": 1.0}))

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
        encoder: Any,
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
    entry = ENCODERS.get(encoder_name, where="model.encoder")
    build_head = HEADS.get(head_name, where="model.head")
    num_classes = int(cfg.get("num_classes", NUM_AVE_CLASSES))
    encoder = _call(
        entry.encoder,
        _plain(cfg.get("encoder_args"), "model.encoder_args"),
        "model.encoder_args",
    )
    head = build_head(
        entry=entry,
        encoder=encoder,
        num_classes=num_classes,
        head_args=_plain(cfg.get("head_args"), "model.head_args"),
        label_embeddings=cfg.get("label_embeddings"),
    )
    aux = dict(entry.aux_weights)
    for key, value in _plain(cfg.get("aux_weights"), "model.aux_weights").items():
        if key not in entry.aux_weights:
            allowed = ", ".join(entry.aux_weights) or "none"
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


class HeadBuilder(Protocol):
    """How ``model.head`` builds the head on top of ``encoder`` (built from ``entry``; it has
    ``out_dim``, the width of its per-modality features, and ``fused_dim``)."""

    def __call__(
        self,
        *,
        entry: AVEEncoderEntry,
        encoder: Any,
        num_classes: int,
        head_args: dict[str, Any],
        label_embeddings: Any,
    ) -> nn.Module: ...


def _dch_head(
    *,
    entry: AVEEncoderEntry,
    encoder: Any,
    num_classes: int,
    head_args: dict[str, Any],
    label_embeddings: Any,
) -> nn.Module:
    if label_embeddings is not None:
        raise ConfigError("model.label_embeddings: only used with model.head=leap")
    head_args = {"in_dim": encoder.fused_dim, "num_classes": num_classes, **head_args}
    head: nn.Module = _call(entry.dch, head_args, "model.head_args")
    return head


def _leap_head(
    *,
    entry: AVEEncoderEntry,
    encoder: Any,
    num_classes: int,
    head_args: dict[str, Any],
    label_embeddings: Any,
) -> nn.Module:
    return _build_leap_head(
        num_classes=num_classes,
        d_model=int(encoder.out_dim),
        head_args=head_args,
        embedding_args=_plain(label_embeddings, "model.label_embeddings"),
    )


HEADS: Registry[HeadBuilder] = Registry("AVE head")
HEADS.add("dch", _dch_head)
HEADS.add("leap", _leap_head)


def describe(model: AVEModel) -> dict[str, int]:
    """Parameter counts of a model: total, trainable, encoder, head."""
    counts = count_parameters(model, parts=("encoder", "head"))
    return {key: counts[key] for key in ("total", "trainable", "encoder", "head")}
