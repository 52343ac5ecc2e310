"""Closed-form checks of the training losses (METHODS.md sections 5, 7, 8).

Every expected value is computed here from the written definition with plain Python floats
(``math``), on tensors small enough to check by hand: 1-2 videos, 2-3 segments, 2-3 classes. None
of them calls the code under test, so a wrong formula (a lost label smoothing, an inverted
similarity target, "all segments" for "any segment", a missing term or weight) fails a test here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
import torch
from torch import Tensor

from avvp.losses.leap import avss_loss, eiou_targets, leap_loss, reference_targets
from avvp.losses.mmcse import (
    cooccurrence_loss,
    mmcse_loss,
    orthogonality_loss,
    reconstruction_loss,
)
from avvp.losses.mmil import han_loss, valor_loss, video_pseudo_labels
from avvp.models.outputs import ParsingOutput

Matrix = list[list[float]]
EPS = 1e-7  # the probability clamp of every reference implementation


# ------------------------------------------------------------------ plain-math definitions


def bce(p: float, y: float) -> float:
    """Binary cross-entropy of one probability, clamped to [1e-7, 1 - 1e-7] first."""
    p = min(max(p, EPS), 1.0 - EPS)
    return -(y * math.log(p) + (1.0 - y) * math.log(1.0 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean_bce(probs: Sequence[float], targets: Sequence[float]) -> float:
    return sum(bce(p, y) for p, y in zip(probs, targets, strict=True)) / len(probs)


def flat(m: Sequence[Sequence[float]]) -> list[float]:
    return [x for row in m for x in row]


def any_segment(segments: Matrix) -> list[float]:
    """Video-level pseudo label: 1 for a class positive in at least one segment."""
    return [float(any(seg[c] > 0 for seg in segments)) for c in range(len(segments[0]))]


def cosine(u: Sequence[float], v: Sequence[float]) -> float:
    dot = sum(a * b for a, b in zip(u, v, strict=True))
    return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v)))


def events(segment: Sequence[float]) -> set[int]:
    return {c for c, y in enumerate(segment) if y > 0}


def eiou(a: Sequence[float], v: Sequence[float]) -> float:
    union = events(a) | events(v)
    return len(events(a) & events(v)) / len(union) if union else 0.0


def reference_target(pa: Matrix, pv: Matrix, i: int, j: int, eps: float = 0.01) -> float:
    """LEAP code: x / (1 + x) + eps, x = shared classes / most events in one segment (video)."""
    most = max(len(events(s)) for s in [*pa, *pv])
    x = len(events(pa[i]) & events(pv[j])) / most if most else 0.0
    return x / (1.0 + x) + eps


def mse(pred: Sequence[float], target: Sequence[float]) -> float:
    return sum((p - t) ** 2 for p, t in zip(pred, target, strict=True)) / len(pred)


def t(values: object) -> Tensor:
    return torch.tensor(values, dtype=torch.float32)


def output(**kwargs: object) -> ParsingOutput:
    """A ParsingOutput with the given fields; unused fields get small placeholders."""
    fields: dict[str, object] = {
        "segment_audio": torch.zeros(1, 1, 1),
        "segment_visual": torch.zeros(1, 1, 1),
        "video_audio": torch.zeros(1, 1),
        "video_visual": torch.zeros(1, 1),
        "video": None,
        "audio_features": torch.zeros(1, 1, 1),
        "visual_features": torch.zeros(1, 1, 1),
        "gate": "pooled",
        "extras": {},
    }
    fields.update(kwargs)
    return ParsingOutput(**fields)  # type: ignore[arg-type]


# ------------------------------------------------------------- the example video (1 x 3 x 3)

# Segment pseudo labels of one video, 3 segments x 3 classes. Audio: class 0 in segment 0 only,
# class 1 in every segment, class 2 never. Visual: class 0 never, class 2 in segment 2 only.
PA: Matrix = [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
PV: Matrix = [[0, 1, 0], [0, 0, 0], [0, 1, 1]]
LABEL = [1.0, 1.0, 1.0]
VIDEO_A = [0.8, 0.6, 0.3]
VIDEO_V = [0.2, 0.7, 0.55]
VIDEO = [0.9, 0.4, 0.65]
SEG_A: Matrix = [[0.7, 0.8, 0.1], [0.3, 0.6, 0.2], [0.25, 0.9, 0.05]]
SEG_V: Matrix = [[0.15, 0.6, 0.3], [0.2, 0.4, 0.1], [0.1, 0.75, 0.85]]
LOGIT_A: Matrix = [[1.5, 0.5, -2.0], [-1.0, 0.2, -1.5], [-0.5, 2.5, -3.0]]
LOGIT_V: Matrix = [[-2.0, 0.4, -1.0], [-1.5, -0.3, -2.5], [-2.2, 1.1, 1.9]]


def test_video_pseudo_labels_any_segment() -> None:
    # Class 0 is audible in one segment of three: the video-level audio label is still 1.
    assert any_segment(PA) == [1.0, 1.0, 0.0]
    assert any_segment(PV) == [0.0, 1.0, 1.0]
    got = video_pseudo_labels(t([PA, PV]))
    assert got.tolist() == [[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
    assert got.dtype == torch.float32


def test_han_loss_closed_form_with_visual_label_smoothing() -> None:
    label = [1.0, 0.0, 1.0]
    # video[1] = 0 is clamped to 1e-7 (target 0: no contribution); video_audio[2] = 0 with target
    # 1 costs -log(1e-7), which an unclamped BCE would make infinite.
    va, vv, video = [0.8, 0.3, 0.0], [0.7, 0.2, 0.9], [0.9, 0.0, 0.5]
    out = output(video_audio=t([va]), video_visual=t([vv]), video=t([video]))
    total, terms = han_loss(out, {"label": t([label])})
    smoothed = [0.9 * y + 0.05 for y in label]  # HAN: Pv = 0.9 y + 0.05
    expected = {
        "audio": mean_bce(va, label),
        "visual": mean_bce(vv, smoothed),
        "video": mean_bce(video, label),
    }
    assert expected["audio"] > -math.log(EPS) / 3  # the clamped term is in
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-5), name
    assert total.item() == pytest.approx(sum(expected.values()), rel=1e-5)
    # Smoothing is what the visual term sees: unsmoothed targets give a different number.
    assert abs(mean_bce(vv, label) - expected["visual"]) > 1e-2


def test_han_loss_audio_smoothing_option() -> None:
    label, va = [1.0, 0.0], [0.8, 0.3]
    out = output(video_audio=t([va]), video_visual=t([[0.5, 0.5]]), video=t([[0.5, 0.5]]))
    _, terms = han_loss(out, {"label": t([label])}, audio_smoothing=0.2, visual_smoothing=0.0)
    assert terms["audio"].item() == pytest.approx(
        mean_bce(va, [0.8 * y + 0.1 for y in label]), rel=1e-5
    )
    assert terms["visual"].item() == pytest.approx(mean_bce([0.5, 0.5], label), rel=1e-5)


def valor_expected(modality_weight: float, logits: bool) -> dict[str, float]:
    seg_a = [sigmoid(x) for x in flat(LOGIT_A)] if logits else flat(SEG_A)
    seg_v = [sigmoid(x) for x in flat(LOGIT_V)] if logits else flat(SEG_V)
    terms = {
        "video": mean_bce(VIDEO, LABEL),
        "segment_audio": mean_bce(seg_a, flat(PA)),
        "segment_visual": mean_bce(seg_v, flat(PV)),
    }
    total = sum(terms.values())
    if modality_weight:
        terms["audio"] = mean_bce(VIDEO_A, any_segment(PA))
        terms["visual"] = mean_bce(VIDEO_V, any_segment(PV))
        total += modality_weight * (terms["audio"] + terms["visual"])
    return {**terms, "total": total}


@pytest.mark.parametrize("logits", [False, True])
@pytest.mark.parametrize("modality_weight", [1.0, 0.5, 0.0])
def test_valor_loss_closed_form(modality_weight: float, logits: bool) -> None:
    extras = {"segment_logits_audio": t([LOGIT_A]), "segment_logits_visual": t([LOGIT_V])}
    out = output(
        segment_audio=t([SEG_A]),
        segment_visual=t([SEG_V]),
        video_audio=t([VIDEO_A]),
        video_visual=t([VIDEO_V]),
        video=t([VIDEO]),
        extras=extras if logits else {},
    )
    batch = {"label": t([LABEL]), "pseudo_audio": t([PA]), "pseudo_visual": t([PV])}
    total, terms = valor_loss(out, batch, modality_weight=modality_weight)
    expected = valor_expected(modality_weight, logits)
    assert set(terms) == set(expected) - {"total"}
    for name, value in expected.items():
        got = total if name == "total" else terms[name]
        assert got.item() == pytest.approx(value, rel=1e-5), name


# ------------------------------------------------------------------------------ LEAP L_avss

# Two videos, 3 segments x 3 classes: the second has a segment with 3 audio events, so its
# reference-target normaliser (most events in one segment) differs from the first video's (2).
AVSS_PA: list[Matrix] = [[[1, 1, 0], [0, 0, 0], [0, 0, 1]], [[1, 1, 1], [0, 1, 0], [0, 0, 0]]]
AVSS_PV: list[Matrix] = [[[1, 0, 1], [0, 1, 0], [0, 0, 0]], [[0, 1, 0], [1, 0, 0], [0, 0, 0]]]
# 2-d features with known angles; some cosines are negative, so ReLU(s) != s.
FEAT_A = [[[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [-1.0, 0.5], [2.0, -1.0]]]
FEAT_V = [[[1.0, 1.0], [-1.0, 0.0], [0.5, -2.0]], [[0.0, 1.0], [4.0, 3.0], [-1.0, -1.0]]]


def test_eiou_targets_closed_form() -> None:
    got = eiou_targets(t(AVSS_PA), t(AVSS_PV))
    for b in range(2):
        for i in range(3):
            for j in range(3):
                expected = eiou(AVSS_PA[b][i], AVSS_PV[b][j])
                assert got[b, i, j].item() == pytest.approx(expected, abs=1e-7), (b, i, j)
    # By hand, video 0: a_0 = {0, 1}, v_0 = {0, 2}: 1 shared of 3 -> 1/3; a_0, v_1 = {1}: 1/2;
    # a_1 and v_2 have no events at all: empty union -> 0.
    assert got[0, 0, 0].item() == pytest.approx(1 / 3)
    assert got[0, 0, 1].item() == pytest.approx(1 / 2)
    assert got[0, 1, 2].item() == 0.0
    assert got[0, 2, 0].item() == pytest.approx(1 / 2)  # a_2 = {2}, v_0 = {0, 2}


def test_reference_targets_closed_form() -> None:
    got = reference_targets(t(AVSS_PA), t(AVSS_PV))
    for b in range(2):
        for i in range(3):
            for j in range(3):
                expected = reference_target(AVSS_PA[b], AVSS_PV[b], i, j)
                assert got[b, i, j].item() == pytest.approx(expected, rel=1e-6), (b, i, j)
    # By hand: video 0 has at most 2 events in a segment, a_0 and v_0 share 1 -> x = 1/2 ->
    # 1/3 + 0.01; video 1 has 3 (a_0), a_0 and v_0 share 1 -> x = 1/3 -> 1/4 + 0.01; no shared
    # class -> 0.01.
    assert got[0, 0, 0].item() == pytest.approx(1 / 3 + 0.01)
    assert got[1, 0, 0].item() == pytest.approx(1 / 4 + 0.01)
    assert got[0, 1, 1].item() == pytest.approx(0.01)
    # A video without any pseudo event: every target is eps (the reference's 1e-8 guard).
    empty = reference_targets(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3))
    assert empty.flatten().tolist() == pytest.approx([0.01] * 4)


def avss_expected(target: str) -> float:
    pred, goal = [], []
    for b in range(2):
        for i in range(3):
            for j in range(3):
                s = cosine(FEAT_A[b][i], FEAT_V[b][j])
                if target == "eiou":
                    pred.append(s)
                    goal.append(eiou(AVSS_PA[b][i], AVSS_PV[b][j]))
                else:
                    pred.append(max(s, 0.0))
                    goal.append(reference_target(AVSS_PA[b], AVSS_PV[b], i, j))
    return mse(pred, goal)


@pytest.mark.parametrize("target", ["eiou", "reference"])
def test_avss_loss_closed_form(target: str) -> None:
    got = avss_loss(t(FEAT_A), t(FEAT_V), t(AVSS_PA), t(AVSS_PV), target=target)
    assert got.item() == pytest.approx(avss_expected(target), rel=1e-5)


def test_avss_targets_differ() -> None:
    # The two variants are different losses on this example (guards a test that cannot tell them
    # apart).
    assert abs(avss_expected("eiou") - avss_expected("reference")) > 1e-2
    with pytest.raises(ValueError, match="eiou"):
        avss_loss(t(FEAT_A), t(FEAT_V), t(AVSS_PA), t(AVSS_PV), target="cosine")


# ---------------------------------------------------------------------------- LEAP L_basic


@pytest.mark.parametrize("target", ["eiou", "reference"])
@pytest.mark.parametrize(("segment_weight", "avss_weight"), [(1.0, 1.0), (0.5, 0.25), (1.0, 0.0)])
def test_leap_loss_closed_form(target: str, segment_weight: float, avss_weight: float) -> None:
    # The example video (its video-level pseudo labels differ from its weak label) with the
    # features of the L_avss example.
    pa, pv, fa, fv = PA, PV, FEAT_A[0], FEAT_V[0]
    assert any_segment(pa) != LABEL and any_segment(pv) != LABEL
    video_a, video_v = [0.8, 0.3, 0.4], [0.45, 0.7, 0.2]
    out = output(
        video_audio=t([video_a]),
        video_visual=t([video_v]),
        segment_audio=torch.sigmoid(t([LOGIT_A])),
        segment_visual=torch.sigmoid(t([LOGIT_V])),
        audio_features=t([fa]),
        visual_features=t([fv]),
        gate="or",
        extras={"segment_logits_audio": t([LOGIT_A]), "segment_logits_visual": t([LOGIT_V])},
    )
    label = LABEL
    batch = {"label": t([label]), "pseudo_audio": t([pa]), "pseudo_visual": t([pv])}
    total, terms = leap_loss(
        out, batch, avss_weight=avss_weight, avss_target=target, segment_weight=segment_weight
    )

    # L_basic: video-level BCE against "any segment" pseudo labels, segment-level BCE (logits).
    expected = {
        "audio": mean_bce(video_a, any_segment(pa)),
        "visual": mean_bce(video_v, any_segment(pv)),
        "segment_audio": mean_bce([sigmoid(x) for x in flat(LOGIT_A)], flat(pa)),
        "segment_visual": mean_bce([sigmoid(x) for x in flat(LOGIT_V)], flat(pv)),
    }
    # The hard OR gate (p^a >= .5 or p^v >= .5) misses class 2: BCE -log(1e-7) / 3 after clamping.
    gate = [float(a >= 0.5 or v >= 0.5) for a, v in zip(video_a, video_v, strict=True)]
    assert gate == [1.0, 1.0, 0.0]
    expected["global"] = mean_bce(gate, label)
    total_expected = (
        expected["audio"]
        + expected["visual"]
        + segment_weight * (expected["segment_audio"] + expected["segment_visual"])
    )
    if avss_weight:
        sims = [[cosine(fa[i], fv[j]) for j in range(3)] for i in range(3)]
        if target == "eiou":
            pred = flat(sims)
            goal = [eiou(pa[i], pv[j]) for i in range(3) for j in range(3)]
        else:
            pred = [max(s, 0.0) for s in flat(sims)]
            goal = [reference_target(pa, pv, i, j) for i in range(3) for j in range(3)]
        expected["avss"] = mse(pred, goal)
        total_expected += avss_weight * expected["avss"]
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-5, abs=1e-6), name
    # The gate term carries no gradient and is not part of the total.
    assert total.item() == pytest.approx(total_expected, rel=1e-5)


def test_leap_video_targets_any_not_all_segments() -> None:
    # Audio class 0 is positive in segment 0 only: its video-level target must be 1, so a
    # video probability of 0.9 costs little and 0.1 costs a lot.
    pa = [[1.0, 0.0], [0.0, 0.0]]
    pv = [[0.0, 0.0], [0.0, 0.0]]
    batch = {"label": t([[1.0, 0.0]]), "pseudo_audio": t([pa]), "pseudo_visual": t([pv])}
    zeros = torch.zeros(1, 2, 2)
    logits = {"segment_logits_audio": zeros, "segment_logits_visual": zeros}
    for p0 in (0.9, 0.1):
        out = output(
            video_audio=t([[p0, 0.2]]),
            video_visual=t([[0.3, 0.4]]),
            audio_features=torch.ones(1, 2, 2),
            visual_features=torch.ones(1, 2, 2),
            extras=logits,
        )
        _, terms = leap_loss(out, batch, avss_weight=0.0)
        assert terms["audio"].item() == pytest.approx(mean_bce([p0, 0.2], [1.0, 0.0]), rel=1e-5)


# --------------------------------------------------------------------------------- MM-CSE

# One video, 2 segments, 2 classes (+ background), 2-d class features.
MC_PA: Matrix = [[0.9, 0.0], [0.6, 0.4]]  # soft pseudo labels: >= 0.5 counts as present
MC_PV: Matrix = [[0.0, 1.0], [1.0, 1.0]]
MC_PA_BIN: Matrix = [[1.0, 0.0], [1.0, 0.0]]
MC_PV_BIN: Matrix = MC_PV
EV_A = [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [2.0, -1.0]]]  # (T, K, D)
BG_A = [[1.0, 1.0], [-1.0, 0.0]]  # (T, D)
EV_V = [[[3.0, 1.0], [1.0, 3.0]], [[0.0, 2.0], [-2.0, 0.0]]]
BG_V = [[0.0, 1.0], [1.0, -1.0]]
REC_A, REC_A_TGT = [[0.5, -1.0, 2.0], [0.0, 1.0, 1.0]], [[1.0, -1.0, 0.0], [0.5, 0.5, 1.5]]
REC_V, REC_V_TGT = [[1.0, 1.0, 1.0], [2.0, 0.0, -1.0]], [[0.0, 1.0, 3.0], [2.0, 1.0, -1.0]]
# Head-averaged SECM maps (T, C, C) for aa, vv, av, va.
MAPS = {
    "aa": [[[0.7, 0.1], [0.2, 0.0]], [[0.5, 0.5], [0.3, 0.6]]],
    "vv": [[[0.1, 0.2], [0.3, 0.9]], [[0.8, 0.7], [0.6, 0.5]]],
    "av": [[[0.2, 0.6], [0.1, 0.3]], [[0.9, 0.4], [0.2, 0.1]]],
    "va": [[[0.0, 0.4], [0.5, 0.2]], [[0.3, 0.2], [0.8, 0.6]]],
}
MC_LOGIT_A: Matrix = [[2.0, -1.0], [0.5, -0.5]]
MC_LOGIT_V: Matrix = [[-1.5, 1.0], [0.3, 2.2]]
MC_VIDEO = [0.85, 0.6]
MC_LABEL = [1.0, 1.0]


def mmcse_output() -> ParsingOutput:
    extras = {
        "recon_audio": t([REC_A]),
        "recon_audio_target": t([REC_A_TGT]),
        "recon_visual": t([REC_V]),
        "recon_visual_target": t([REC_V_TGT]),
        "class_features_audio": t([EV_A]),
        "background_audio": t([BG_A]),
        "class_features_visual": t([EV_V]),
        "background_visual": t([BG_V]),
        "logits_audio": t([MC_LOGIT_A]),
        "logits_visual": t([MC_LOGIT_V]),
        **{f"cooccurrence_{k}": t([v]) for k, v in MAPS.items()},
    }
    return output(
        video=t([MC_VIDEO]),
        video_audio=t([[0.7, 0.2]]),
        video_visual=t([[0.4, 0.9]]),
        gate="mmcse",
        extras=extras,
    )


MC_BATCH = {"label": t([MC_LABEL]), "pseudo_audio": t([MC_PA]), "pseudo_visual": t([MC_PV])}


def rec_expected() -> float:
    return 0.5 * (mse(flat(REC_A), flat(REC_A_TGT)) + mse(flat(REC_V), flat(REC_V_TGT)))


def ort_expected() -> float:
    # Audio: every class feature against the background, averaged over segments and classes.
    audio = [cosine(EV_A[s][k], BG_A[s]) for s in range(2) for k in range(2)]
    # Visual: the mean class feature against the background, averaged over segments.
    visual = [
        cosine([(EV_V[s][0][d] + EV_V[s][1][d]) / 2 for d in range(2)], BG_V[s]) for s in range(2)
    ]
    return sum(audio) / len(audio) + sum(visual) / len(visual)


def ec_expected() -> float:
    by_name = {"a": MC_PA_BIN, "v": MC_PV_BIN}
    total = 0.0
    for pair, pred in MAPS.items():
        p, q = by_name[pair[0]], by_name[pair[1]]
        # M_t[i, j] = y^p_t[i] * y^q_t[j]
        goal = [p[s][i] * q[s][j] for s in range(2) for i in range(2) for j in range(2)]
        total += mse([pred[s][i][j] for s in range(2) for i in range(2) for j in range(2)], goal)
    return total


def test_mmcse_reconstruction_closed_form() -> None:
    assert reconstruction_loss(mmcse_output()).item() == pytest.approx(rec_expected(), rel=1e-6)


def test_mmcse_orthogonality_closed_form() -> None:
    assert orthogonality_loss(mmcse_output()).item() == pytest.approx(ort_expected(), rel=1e-6)
    # The visual form is not the mean of per-class cosines on this example.
    per_class = [cosine(EV_V[s][k], BG_V[s]) for s in range(2) for k in range(2)]
    mean_first = [
        cosine([(EV_V[s][0][d] + EV_V[s][1][d]) / 2 for d in range(2)], BG_V[s]) for s in range(2)
    ]
    assert abs(sum(per_class) / 4 - sum(mean_first) / 2) > 1e-2


def test_mmcse_cooccurrence_closed_form() -> None:
    got = cooccurrence_loss(mmcse_output(), MC_BATCH)
    assert got.item() == pytest.approx(ec_expected(), rel=1e-6)


@pytest.mark.parametrize(("rec_w", "ort_w", "ec_w"), [(1.0, 0.1, 0.1), (0.5, 0.0, 2.0)])
def test_mmcse_total_closed_form(rec_w: float, ort_w: float, ec_w: float) -> None:
    total, logs = mmcse_loss(
        mmcse_output(), MC_BATCH, rec_weight=rec_w, ort_weight=ort_w, ec_weight=ec_w
    )
    expected = {
        # Segment BCE with logits against the (soft) segment pseudo labels, not thresholded.
        "bce_audio": mean_bce([sigmoid(x) for x in flat(MC_LOGIT_A)], flat(MC_PA)),
        "bce_visual": mean_bce([sigmoid(x) for x in flat(MC_LOGIT_V)], flat(MC_PV)),
        "bce_video": mean_bce(MC_VIDEO, MC_LABEL),
        "rec": rec_expected() if rec_w else 0.0,
        "ort": ort_expected() if ort_w else 0.0,
        "ec": ec_expected() if ec_w else 0.0,
    }
    expected["total"] = (
        expected["bce_audio"]
        + expected["bce_visual"]
        + expected["bce_video"]
        + rec_w * expected["rec"]
        + ort_w * expected["ort"]
        + ec_w * expected["ec"]
    )
    assert set(logs) == set(expected)
    for name, value in expected.items():
        assert logs[name].item() == pytest.approx(value, rel=1e-5, abs=1e-7), name
    assert total.item() == pytest.approx(expected["total"], rel=1e-5)


def test_mmcse_video_modality_target_max_over_segments() -> None:
    _, logs = mmcse_loss(mmcse_output(), MC_BATCH, modality_target="video")
    # Video-level targets: the max over segments of the soft pseudo labels.
    target_a = [max(MC_PA[0][c], MC_PA[1][c]) for c in range(2)]
    target_v = [max(MC_PV[0][c], MC_PV[1][c]) for c in range(2)]
    assert logs["bce_audio"].item() == pytest.approx(mean_bce([0.7, 0.2], target_a), rel=1e-5)
    assert logs["bce_visual"].item() == pytest.approx(mean_bce([0.4, 0.9], target_v), rel=1e-5)
