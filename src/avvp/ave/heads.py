"""AVEL classification heads: each encoder's default classification head (DCH) and LEAP.

A head maps an :class:`~avvp.ave.encoders.AVEEncoding` to an :class:`AVEOutput` (per-segment
predicted labels, background = ``num_classes``, plus the logits its loss needs) and owns its loss
``loss(output, batch) -> (total, terms)`` (float32). The batch supplies ``label`` (B, T) int64
segment labels and ``category`` (B,) int64 video classes.

* :class:`AVEBaselineHead` (AVE-ECCV18): ``softmax(L2(relu(L1(relu([h_a; h_v])))))`` over the
  C + 1 labels per segment; the reference trains it with ``MultiLabelSoftMarginLoss`` applied to
  these softmax PROBABILITIES against one-hot targets (kept as is: a sigmoid BCE on softmax
  outputs); prediction = argmax.
* :class:`PSPHead` (PSP): bias-free ``L2(relu(L1(fused)))`` C + 1 logits per segment, cross
  entropy; prediction = argmax.
* :class:`CMBSHead` (CMBS): per-segment event logit ``Linear(d, 1)(fused)``; video class logits
  ``Linear(d, C)(max_t fused) + gamma * s_cas`` with ``s_cas`` the mean of the audio and visual
  class activation sequences' top-4-over-time averages; loss BCE(event) + CE(class) +
  CE(s_cas); prediction: the video class where ``sigmoid(event) > 0.5``, else background.
* :class:`LeapHead`: the LEAP decoder (:mod:`avvp.models.decoders.leap`, reused) with C label
  queries over the encoder's audio and visual segment features; it yields per modality ``m``
  video logits ``z^m`` (C,) (``Linear(d, 1)`` of the refined label embeddings) and segment
  logits ``S^m`` (T, C) (label-to-segment attention scores). Per-segment predictions: video class
  ``c* = argmax_c (q^a_c + q^v_c) / 2`` with ``q^m = softmax(z^m)`` (``video_loss="ce"``) or
  ``sigmoid(z^m)`` (``"bce"``); segment ``t`` is an event of ``c*`` when its event relevance
  ``r_t = (sigmoid(S^a_{t,c*}) + sigmoid(S^v_{t,c*})) / 2 >= 0.5``, else background.
  Loss, both modalities supervised by the AVE labels (an AVE event is audible and visible):
  video term ``CE(z^m, c)`` (default; ``"bce"``: LEAP's BCE against the one-hot class) plus
  segment term ``BCE(S^m_{:, c}, event mask)`` on the true class's scores (default
  ``segment_loss="relevance"``; ``"multilabel"``: LEAP's BCE of all (T, C) scores against the
  one-hot segment labels). The defaults are ours: with AVE's single class per video, the
  multi-label BCE terms spend almost all their gradient on the 27 absent classes and, on
  synthetic AVE, leave every segment background for many epochs (docs/ave.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avvp.ave.encoders import AVEEncoding
from avvp.models.decoders.leap import LeapDecoder
from avvp.models.outputs import ParsingOutput

__all__ = [
    "AVEBaselineHead",
    "AVEOutput",
    "CMBSHead",
    "LeapHead",
    "PSPHead",
    "segment_onehot",
]


@dataclass
class AVEOutput:
    """Output of an AVEL model for B videos, T segments, C event classes.

    Attributes:
        prediction: (B, T) int64 predicted label per segment (background = C).
        scores: (B, T, C + 1) per-segment scores whose argmax is the prediction (probabilities
            or logits depending on the head; kept for reports).
        logits: head-specific tensors the loss reads.
        encoding: the encoder output (auxiliary losses read its extras).
    """

    prediction: Tensor
    scores: Tensor
    logits: dict[str, Tensor]
    encoding: AVEEncoding
    extras: dict[str, Tensor] = field(default_factory=dict)


def segment_onehot(label: Tensor, num_classes: int) -> Tensor:
    """(B, T) labels (background = C) -> (B, T, C) float one-hot, all zero on background."""
    return F.one_hot(label.long(), num_classes + 1)[..., :num_classes].float()


class AVEBaselineHead(nn.Module):
    def __init__(self, *, in_dim: int = 512, hidden: int = 64, num_classes: int = 28) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.L1 = nn.Linear(in_dim, hidden)
        self.L2 = nn.Linear(hidden, num_classes + 1)
        nn.init.xavier_uniform_(self.L1.weight)
        nn.init.xavier_uniform_(self.L2.weight)

    def forward(self, encoding: AVEEncoding) -> AVEOutput:
        logits = self.L2(F.relu(self.L1(F.relu(encoding.fused))))
        probs = torch.softmax(logits.float(), dim=-1)
        return AVEOutput(
            prediction=probs.argmax(dim=-1),
            scores=probs,
            logits={"probs": probs},
            encoding=encoding,
        )

    def loss(self, output: AVEOutput, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        target = F.one_hot(batch["label"].long(), self.num_classes + 1).float()
        # MultiLabelSoftMarginLoss(probs, target) == mean sigmoid-BCE over every element.
        loss = F.binary_cross_entropy_with_logits(output.logits["probs"], target)
        return loss, {"cls": loss.detach()}


class PSPHead(nn.Module):
    def __init__(self, *, in_dim: int = 256, hidden: int = 64, num_classes: int = 28) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.L1 = nn.Linear(in_dim, hidden, bias=False)
        self.L2 = nn.Linear(hidden, num_classes + 1, bias=False)
        nn.init.xavier_uniform_(self.L1.weight)
        nn.init.xavier_uniform_(self.L2.weight)

    def forward(self, encoding: AVEEncoding) -> AVEOutput:
        logits = self.L2(F.relu(self.L1(encoding.fused))).float()
        return AVEOutput(
            prediction=logits.argmax(dim=-1),
            scores=logits,
            logits={"logits": logits},
            encoding=encoding,
        )

    def loss(self, output: AVEOutput, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        logits = output.logits["logits"]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["label"].reshape(-1))
        return loss, {"cls": loss.detach()}


class CMBSHead(nn.Module):
    def __init__(
        self, *, in_dim: int = 256, num_classes: int = 28, gamma: float = 0.3, top_k: int = 4
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.gamma = gamma
        self.top_k = top_k
        self.classifier = nn.Linear(in_dim, 1)
        self.event_classifier = nn.Linear(in_dim, num_classes)
        self.audio_cas = nn.Linear(in_dim, num_classes)
        self.video_cas = nn.Linear(in_dim, num_classes)

    def _top_k_mean(self, cas: Tensor) -> Tensor:
        k = min(self.top_k, cas.shape[1])
        return cas.topk(k, dim=1).values.mean(dim=1)

    def forward(self, encoding: AVEEncoding) -> AVEOutput:
        fused = encoding.fused
        is_event = self.classifier(fused).squeeze(-1).float()  # (B, T)
        class_logits = self.event_classifier(fused.max(dim=1).values).float()
        score_audio = self._top_k_mean(self.audio_cas(encoding.extras["audio_query"]).float())
        score_video = self._top_k_mean(self.video_cas(encoding.extras["visual_query"]).float())
        av_score = (score_video + score_audio) / 2
        event_scores = class_logits + self.gamma * av_score
        category = event_scores.argmax(dim=-1)
        is_fg = torch.sigmoid(is_event) > 0.5
        background = torch.full_like(is_fg, self.num_classes, dtype=torch.long)
        prediction = torch.where(is_fg, category[:, None].expand_as(is_fg), background)
        # Report scores with the prediction as argmax: P(event) spread over the classes in
        # proportion to their softmax, the top class getting all of it; background 1 - P(event).
        p_event = torch.sigmoid(is_event)
        probs = torch.softmax(event_scores, dim=-1)
        fg = p_event[..., None] * (probs / probs.max(dim=-1, keepdim=True).values)[:, None, :]
        scores = torch.cat([fg, (1 - p_event)[..., None]], dim=-1)
        return AVEOutput(
            prediction=prediction,
            scores=scores,
            logits={"is_event": is_event, "event_scores": event_scores, "av_score": av_score},
            encoding=encoding,
        )

    def loss(self, output: AVEOutput, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        event_mask = (batch["label"] != self.num_classes).float()
        category = batch["category"].long()
        is_event = F.binary_cross_entropy_with_logits(output.logits["is_event"], event_mask)
        event = F.cross_entropy(output.logits["event_scores"], category)
        cas = F.cross_entropy(output.logits["av_score"], category)
        total = is_event + event + cas
        return total, {"is_event": is_event.detach(), "event": event.detach(), "cas": cas.detach()}


class LeapHead(nn.Module):
    """LEAP as the AVEL classifier; ``decoder`` is the shared LEAP decoder module."""

    def __init__(
        self,
        *,
        decoder: LeapDecoder,
        num_classes: int = 28,
        segment_weight: float = 1.0,
        video_loss: str = "ce",
        segment_loss: str = "relevance",
    ) -> None:
        super().__init__()
        if video_loss not in ("ce", "bce"):
            raise ValueError(f"video_loss={video_loss!r}: expected ce or bce")
        if segment_loss not in ("relevance", "multilabel"):
            raise ValueError(f"segment_loss={segment_loss!r}: expected relevance or multilabel")
        self.video_loss = video_loss
        self.segment_loss = segment_loss
        if decoder.label_embeddings.num_classes != num_classes:
            raise ValueError(
                f"the LEAP decoder has {decoder.label_embeddings.num_classes} label "
                f"queries, expected {num_classes}"
            )
        self.num_classes = num_classes
        self.segment_weight = segment_weight
        self.decoder = decoder

    def forward(self, encoding: AVEEncoding) -> AVEOutput:
        out: ParsingOutput = self.decoder(encoding.audio, encoding.visual)
        seg_a = out.extras["segment_logits_audio"].float()
        seg_v = out.extras["segment_logits_visual"].float()
        vid_a = out.extras["video_logits_audio"].float()
        vid_v = out.extras["video_logits_visual"].float()
        squash = torch.sigmoid if self.video_loss == "bce" else partial(torch.softmax, dim=-1)
        video_prob = (squash(vid_a) + squash(vid_v)) / 2  # (B, C)
        segment_prob = (torch.sigmoid(seg_a) + torch.sigmoid(seg_v)) / 2  # (B, T, C)
        category = video_prob.argmax(dim=-1)
        relevance = segment_prob.gather(
            2, category[:, None, None].expand(-1, segment_prob.shape[1], 1)
        ).squeeze(-1)  # (B, T): event relevance of the predicted class
        is_fg = relevance >= 0.5
        background = torch.full_like(is_fg, self.num_classes, dtype=torch.long)
        prediction = torch.where(is_fg, category[:, None].expand_as(is_fg), background)
        fg = relevance[..., None] * F.one_hot(category, self.num_classes).float()[:, None, :]
        scores = torch.cat([fg, (1 - relevance)[..., None]], dim=-1)
        return AVEOutput(
            prediction=prediction,
            scores=scores,
            logits={
                "segment_audio": seg_a,
                "segment_visual": seg_v,
                "video_audio": vid_a,
                "video_visual": vid_v,
            },
            encoding=encoding,
            extras={
                "attention_audio": out.extras["attention_audio"],
                "attention_visual": out.extras["attention_visual"],
            },
        )

    def loss(self, output: AVEOutput, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        category = batch["category"].long()
        lg = output.logits
        video = torch.zeros((), device=category.device)
        segment = torch.zeros((), device=category.device)
        y_video = F.one_hot(category, self.num_classes).float()
        event = (batch["label"] != self.num_classes).float()
        index = category[:, None, None].expand(-1, event.shape[1], 1)
        for m in ("audio", "visual"):
            z, s = lg[f"video_{m}"], lg[f"segment_{m}"]
            if self.video_loss == "ce":
                video = video + F.cross_entropy(z, category)
            else:
                video = video + F.binary_cross_entropy_with_logits(z, y_video)
            if self.segment_loss == "relevance":
                relevance = s.gather(2, index).squeeze(-1)
                segment = segment + F.binary_cross_entropy_with_logits(relevance, event)
            else:
                y_segment = segment_onehot(batch["label"], self.num_classes)
                segment = segment + F.binary_cross_entropy_with_logits(s, y_segment)
        total = video + self.segment_weight * segment
        return total, {"video": video.detach(), "segment": segment.detach()}
