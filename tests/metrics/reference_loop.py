"""An independent, deliberately plain implementation of the LLP parsing metrics.

Written straight from the protocol (docs/methods.md section 2) with Python loops over videos,
classes and events; it shares no code with ``avvp.metrics`` and serves as the oracle for its tests
and as the baseline of ``benchmarks/bench_metrics.py``. Inputs: nested sequences or arrays
indexable as ``x[n][c][t]`` with 0/1 (or bool) values.
"""

from __future__ import annotations

from typing import Any


def events_of(row: Any) -> list[tuple[int, int]]:
    """Maximal runs of 1s as half-open (start, end) intervals."""
    events = []
    start = None
    for t, value in enumerate(row):
        if value and start is None:
            start = t
        elif not value and start is not None:
            events.append((start, t))
            start = None
    if start is not None:
        events.append((start, len(row)))
    return events


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union


def event_counts(pred_row: Any, gt_row: Any) -> tuple[int, int, int]:
    pred_events = events_of(pred_row)
    gt_events = events_of(gt_row)
    tp = fp = fn = 0
    for p in pred_events:
        if any(iou(p, g) >= 0.5 for g in gt_events):
            tp += 1
        else:
            fp += 1
    for g in gt_events:
        if not any(iou(p, g) >= 0.5 for p in pred_events):
            fn += 1
    return tp, fp, fn


def segment_counts(pred_row: Any, gt_row: Any) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for p, g in zip(pred_row, gt_row, strict=True):
        if p and g:
            tp += 1
        elif p:
            fp += 1
        elif g:
            fn += 1
    return tp, fp, fn


def f_of_video(per_class: list[tuple[int, int, int]]) -> float:
    values = []
    for tp, fp, fn in per_class:
        if tp + fp > 0 or tp + fn > 0:
            values.append(2 * tp / (2 * tp + fp + fn))
    if not values:
        return 1.0
    return sum(values) / len(values)


def both(a_row: Any, v_row: Any) -> list[int]:
    return [1 if (a and v) else 0 for a, v in zip(a_row, v_row, strict=True)]


def video_scores(pa: Any, pv: Any, ga: Any, gv: Any) -> dict[str, float]:
    """The eight per-video F values of one video ((C, T) each)."""
    out = {}
    for level, counter in (("segment", segment_counts), ("event", event_counts)):
        audio, visual, av, combined = [], [], [], []
        for c in range(len(pa)):
            a = counter(pa[c], ga[c])
            v = counter(pv[c], gv[c])
            audio.append(a)
            visual.append(v)
            av.append(counter(both(pa[c], pv[c]), both(ga[c], gv[c])))
            combined.append((a[0] + v[0], a[1] + v[1], a[2] + v[2]))
        out[f"{level}/audio"] = f_of_video(audio)
        out[f"{level}/visual"] = f_of_video(visual)
        out[f"{level}/audio-visual"] = f_of_video(av)
        out[f"{level}/event@av"] = f_of_video(combined)
    return out


def reference_scores(pred_audio: Any, pred_visual: Any, gt_audio: Any, gt_visual: Any) -> dict:
    """The ten benchmark numbers, looping over videos."""
    per_video = [
        video_scores(pred_audio[n], pred_visual[n], gt_audio[n], gt_visual[n])
        for n in range(len(pred_audio))
    ]
    out = {}
    for level in ("segment", "event"):
        means = {
            name: sum(v[f"{level}/{name}"] for v in per_video) / len(per_video)
            for name in ("audio", "visual", "audio-visual", "event@av")
        }
        out[f"{level}/audio"] = means["audio"]
        out[f"{level}/visual"] = means["visual"]
        out[f"{level}/audio-visual"] = means["audio-visual"]
        out[f"{level}/type@av"] = (means["audio"] + means["visual"] + means["audio-visual"]) / 3
        out[f"{level}/event@av"] = means["event@av"]
    return out


def reference_per_class(
    pred_audio: Any, pred_visual: Any, gt_audio: Any, gt_visual: Any, level: str = "event"
) -> dict[str, list[float]]:
    """Dataset-level per-class F1 per modality (NaN for classes with no TP+FP+FN)."""
    counter = event_counts if level == "event" else segment_counts
    num_classes = len(pred_audio[0]) if len(pred_audio) else 0
    totals = {
        m: [[0, 0, 0] for _ in range(num_classes)] for m in ("audio", "visual", "audio-visual")
    }
    for n in range(len(pred_audio)):
        for c in range(num_classes):
            rows = {
                "audio": (pred_audio[n][c], gt_audio[n][c]),
                "visual": (pred_visual[n][c], gt_visual[n][c]),
                "audio-visual": (
                    both(pred_audio[n][c], pred_visual[n][c]),
                    both(gt_audio[n][c], gt_visual[n][c]),
                ),
            }
            for m, (p, g) in rows.items():
                for i, value in enumerate(counter(p, g)):
                    totals[m][c][i] += value
    out: dict[str, list[float]] = {}
    for m, per_class in totals.items():
        out[m] = [
            2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else float("nan")
            for tp, fp, fn in per_class
        ]
    return out


def reference_overlap(gt_audio: Any, gt_visual: Any) -> list[bool]:
    """True for videos where, in one modality, some segment has two or more active classes."""
    out = []
    for ga, gv in zip(gt_audio, gt_visual, strict=True):
        flag = False
        for gt in (ga, gv):
            for t in range(len(gt[0])):
                if sum(1 for c in range(len(gt)) if gt[c][t]) >= 2:
                    flag = True
        out.append(flag)
    return out
