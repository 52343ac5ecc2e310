"""MM-CSE training losses (docs/methods.md section 8), as the reference training script computes
them.

``L = BCE_a + BCE_v + BCE_video + w_rec L_rec + w_ort L_ort + w_ec L_ec`` (weights 1, 0.1, 0.1):

* ``BCE_a``, ``BCE_v``: :func:`~torch.nn.functional.binary_cross_entropy_with_logits` of the
  segment logits (B, T, C) against the segment pseudo labels ``pseudo_audio`` /
  ``pseudo_visual`` (B, T, C), mean over all elements (reference ``main_avvp.py``:
  ``frame_logits[:, :, m]`` vs ``*_pseudo_labels``). ``modality_target="video"`` instead
  applies BCE to the pooled video-level modality probabilities against the video-level pseudo
  labels (class present in any segment), an option the reference does not use.
* ``BCE_video``: BCE of the pooled video probability, clamped to [1e-7, 1 - 1e-7], against the
  weak label ``label`` (B, C).
* ``L_rec = 0.5 (MSE(rec_a, x_a) + MSE(rec_v, x_v))``, target = the projected holistic input,
  not detached (gradients flow into both sides, as in the reference).
* ``L_ort = mean_k,t cos(f_k^a, f_bg^a) + mean_t cos(mean_k f_k^v, f_bg^v)`` (the audio and the
  visual terms differ in the reference; reproduced as is).
* ``L_ec = sum over aa, vv, av, va of MSE(last-layer head-averaged SECM map, M)`` with
  ``M_t[i, j] = y^p_t[i] y^q_t[j]`` from the segment pseudo labels of modalities p, q.

A weight of 0 removes its term (not computed; logged as a zero tensor). A non-zero weight whose
inputs the model did not produce (e.g. ``reconstruction_heads=False`` with ``rec_weight > 0``)
raises :class:`~avvp.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from avvp.errors import ConfigError, DataError
from avvp.models.outputs import ParsingOutput

COOCCURRENCE_PAIRS: tuple[str, ...] = ("aa", "vv", "av", "va")
_EPS = 1e-7


def cooccurrence_targets(pseudo_audio: Tensor, pseudo_visual: Tensor) -> dict[str, Tensor]:
    """Binary segment-wise co-occurrence maps (B, T, C, C) for ``aa``, ``vv``, ``av``, ``va``.

    ``M^{pq}_t[i, j] = 1`` when class i is present in modality p and class j in modality q at
    segment t (pseudo labels thresholded at 0.5), e.g. ``av[t, i, j] = a[t, i] * v[t, j]`` and
    ``va`` is its transpose.
    """
    a = (pseudo_audio >= 0.5).to(pseudo_audio.dtype)
    v = (pseudo_visual >= 0.5).to(pseudo_visual.dtype)
    by_name = {"a": a, "v": v}
    return {
        pair: by_name[pair[0]].unsqueeze(-1) * by_name[pair[1]].unsqueeze(-2)
        for pair in COOCCURRENCE_PAIRS
    }


def _batch_tensor(batch: Mapping[str, Tensor], key: str, why: str) -> Tensor:
    if key not in batch:
        raise DataError(f"mmcse_loss: batch has no key {key!r} (needed for {why})")
    return batch[key]


def _extra(output: ParsingOutput, key: str, term: str, hint: str) -> Tensor:
    if key not in output.extras:
        raise ConfigError(
            f"loss.{term}_weight > 0 needs the model output extras[{key!r}], which this model "
            f"does not produce ({hint}); set loss.{term}_weight: 0"
        )
    return output.extras[key]


def reconstruction_loss(output: ParsingOutput) -> Tensor:
    """``0.5 (MSE(rec_a, x_a) + MSE(rec_v, x_v))``."""
    hint = "built with reconstruction_heads=False or use_cafd=False"
    terms = [
        F.mse_loss(
            _extra(output, f"recon_{m}", "rec", hint).float(),
            _extra(output, f"recon_{m}_target", "rec", hint).float(),
        )
        for m in ("audio", "visual")
    ]
    return 0.5 * (terms[0] + terms[1])


def orthogonality_loss(output: ParsingOutput) -> Tensor:
    """Cosine similarity of event-specific and background features (reference form)."""
    hint = "built with use_cafd=False"
    ev_a = _extra(output, "class_features_audio", "ort", hint).float()
    bg_a = _extra(output, "background_audio", "ort", hint).float()
    ev_v = _extra(output, "class_features_visual", "ort", hint).float()
    bg_v = _extra(output, "background_visual", "ort", hint).float()
    audio = F.cosine_similarity(ev_a, bg_a.unsqueeze(-2), dim=-1).mean()
    visual = F.cosine_similarity(ev_v.mean(dim=-2), bg_v, dim=-1).mean()
    return audio + visual


def cooccurrence_loss(output: ParsingOutput, batch: Mapping[str, Tensor]) -> Tensor:
    """Sum over aa, vv, av, va of the MSE between SECM maps and co-occurrence targets."""
    targets = cooccurrence_targets(
        _batch_tensor(batch, "pseudo_audio", "the event co-occurrence loss"),
        _batch_tensor(batch, "pseudo_visual", "the event co-occurrence loss"),
    )
    total = torch.zeros((), device=output.video_audio.device)
    for pair in COOCCURRENCE_PAIRS:
        pred = _extra(output, f"cooccurrence_{pair}", "ec", "built with use_secm=False").float()
        total = total + F.mse_loss(pred, targets[pair].to(pred))
    return total


def mmcse_loss(
    output: ParsingOutput,
    batch: Mapping[str, Tensor],
    *,
    rec_weight: float = 1.0,
    ort_weight: float = 0.1,
    ec_weight: float = 0.1,
    modality_target: Literal["segment", "video"] = "segment",
) -> tuple[Tensor, dict[str, Tensor]]:
    """The MM-CSE training loss and a log of each term (detached 0-dim tensors on the loss's
    device, unweighted, plus ``total``), like the other losses: the trainer sums them on the
    device and reads them back once per epoch, so no step waits for a host copy.

    ``batch`` needs ``label`` (B, C), ``pseudo_audio`` and ``pseudo_visual`` (B, T, C).
    """
    if modality_target not in ("segment", "video"):
        raise ConfigError(f"loss.modality_target: {modality_target!r} is not one of segment, video")
    label = _batch_tensor(batch, "label", "the video-level BCE").float()
    pseudo_a = _batch_tensor(batch, "pseudo_audio", "the audio BCE").float()
    pseudo_v = _batch_tensor(batch, "pseudo_visual", "the visual BCE").float()
    if output.video is None:
        raise ConfigError("mmcse_loss needs a pooled video probability (output.video is None)")

    if modality_target == "segment":
        hint = "not an MM-CSE model"
        bce_a = F.binary_cross_entropy_with_logits(
            _extra(output, "logits_audio", "bce", hint).float(), pseudo_a
        )
        bce_v = F.binary_cross_entropy_with_logits(
            _extra(output, "logits_visual", "bce", hint).float(), pseudo_v
        )
    # Autocast refuses F.binary_cross_entropy on probabilities; it runs in float32 here.
    with torch.autocast(device_type=label.device.type, enabled=False):
        if modality_target == "video":
            bce_a = F.binary_cross_entropy(
                output.video_audio.float().clamp(_EPS, 1 - _EPS), pseudo_a.amax(dim=1)
            )
            bce_v = F.binary_cross_entropy(
                output.video_visual.float().clamp(_EPS, 1 - _EPS), pseudo_v.amax(dim=1)
            )
        bce_video = F.binary_cross_entropy(output.video.float().clamp(_EPS, 1 - _EPS), label)

    terms: dict[str, Tensor] = {"bce_audio": bce_a, "bce_visual": bce_v, "bce_video": bce_video}
    total = bce_a + bce_v + bce_video
    skipped: list[str] = []
    for name, weight, fn in (
        ("rec", rec_weight, lambda: reconstruction_loss(output)),
        ("ort", ort_weight, lambda: orthogonality_loss(output)),
        ("ec", ec_weight, lambda: cooccurrence_loss(output, batch)),
    ):
        if weight == 0:
            skipped.append(name)
            continue
        terms[name] = fn()
        total = total + weight * terms[name]
    terms["total"] = total
    logs = {name: term.detach().float() for name, term in terms.items()}
    for name in skipped:
        logs[name] = torch.zeros((), device=total.device)
    return total, logs
