"""Hand-computed golden cases for the LLP parsing metrics (values derived in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from avvp.metrics import (
    METRIC_KEYS,
    overlap_mask,
    parsing_counts,
    parsing_scores,
    per_class_event_f1,
    per_class_segment_f1,
)

C, T = 25, 10
Events = dict[int, list[tuple[int, int]]]


def video(events: Events) -> np.ndarray:
    """(C, T) bool from {class: [(onset, offset), ...]} (offset exclusive)."""
    x = np.zeros((C, T), dtype=bool)
    for cls, spans in events.items():
        for on, off in spans:
            x[cls, on:off] = True
    return x


def scores_of(pa: Events, pv: Events, ga: Events, gv: Events) -> dict[str, float]:
    arrays = [video(e)[None] for e in (pa, pv, ga, gv)]
    return parsing_scores(*arrays)


def expected(seg: tuple[float, float, float, float], evt: tuple[float, float, float, float]):
    """Ten values from per-level (A, V, AV, Event@AV); Type@AV = mean(A, V, AV)."""
    out = {}
    for level, (a, v, av, e) in (("segment", seg), ("event", evt)):
        out[f"{level}/audio"] = a
        out[f"{level}/visual"] = v
        out[f"{level}/audio-visual"] = av
        out[f"{level}/type@av"] = (a + v + av) / 3
        out[f"{level}/event@av"] = e
    return out


# Case "boundary": GT audio class 0 = [0,3) and [7,10) (two events of one class touching
# segments 0 and 9); prediction [0,2) and [8,10). Nothing visual.
#   segment: pred {0,1,8,9}, GT {0,1,2,7,8,9}: TP 4, FP 0, FN 2 -> F = 8/10 = 0.8
#   event: IoU([0,2),[0,3)) = 2/3, IoU([8,10),[7,10)) = 2/3 -> TP 2, FP 0, FN 0 -> F = 1
#   visual and AV: nothing predicted, nothing true -> 1.0 (all true negatives)
#   Event@AV adds A and V counts per class: class 0 -> same as audio (0.8 / 1.0)
BOUNDARY = (
    {0: [(0, 2), (8, 10)]},
    {},
    {0: [(0, 3), (7, 10)]},
    {},
)
BOUNDARY_EXPECTED = expected((0.8, 1.0, 1.0, 0.8), (1.0, 1.0, 1.0, 1.0))

# Case "one-segment": audio class 1 GT [4,5), pred [4,6): IoU 1/2 = 0.5 counts (>=) -> event TP;
#   segment TP 1, FP 1 -> 2/3.
# audio class 2 GT [2,3), pred [3,4): disjoint -> event FP 1, FN 1 -> 0; segment FP 1, FN 1 -> 0.
#   audio: segment mean(2/3, 0) = 1/3; event mean(1, 0) = 1/2. Visual/AV empty -> 1.0.
ONE_SEGMENT = (
    {1: [(4, 6)], 2: [(3, 4)]},
    {},
    {1: [(4, 5)], 2: [(2, 3)]},
    {},
)
ONE_SEGMENT_EXPECTED = expected((1 / 3, 1.0, 1.0, 1 / 3), (0.5, 1.0, 1.0, 0.5))

# Case "low IoU": visual class 5 GT [0,2), pred [0,5): IoU 2/5 = 0.4 < 0.5 -> event FP 1, FN 1
#   -> 0; segment TP 2, FP 3 -> 4/7. Audio empty -> 1.0; AV empty -> 1.0.
LOW_IOU = ({}, {5: [(0, 5)]}, {}, {5: [(0, 2)]})
LOW_IOU_EXPECTED = expected((1.0, 4 / 7, 1.0, 4 / 7), (1.0, 0.0, 1.0, 0.0))

# Case "split prediction": audio class 3 GT [0,6); pred [0,3) and [4,6).
#   event: IoU([0,3),[0,6)) = 3/6 = 0.5 -> TP; IoU([4,6),[0,6)) = 2/6 -> FP; GT matched -> FN 0
#   -> 2/(2+1) = 2/3. segment: TP 5, FN 1 -> 10/11.
SPLIT = ({3: [(0, 3), (4, 6)]}, {}, {3: [(0, 6)]}, {})
SPLIT_EXPECTED = expected((10 / 11, 1.0, 1.0, 10 / 11), (2 / 3, 1.0, 1.0, 2 / 3))

# Case "audio-visual": class 0 GT audio [0,5), GT visual [3,8) -> GT AV [3,5);
# pred audio [0,5), pred visual [2,8) -> pred AV [2,5).
#   audio: perfect -> 1 (both levels).
#   visual: segment TP 5, FP 1 -> 10/11; event IoU 5/6 -> 1.
#   AV: segment TP 2, FP 1 -> 4/5; event IoU([2,5),[3,5)) = 2/3 -> 1.
#   Event@AV: segment TP 5+5, FP 0+1 -> 20/21; event TP 1+1 -> 1.
AUDIO_VISUAL = ({0: [(0, 5)]}, {0: [(2, 8)]}, {0: [(0, 5)]}, {0: [(3, 8)]})
AUDIO_VISUAL_EXPECTED = expected((1.0, 10 / 11, 0.8, 20 / 21), (1.0, 1.0, 1.0, 1.0))

# Case "empty GT": audio class 3 predicted [0,10), nothing true.
#   audio: segment FP 10 -> 0; event FP 1 -> 0. Visual: empty -> 1. AV: pred AV empty -> 1.
#   Event@AV class 3: FP only -> 0.
EMPTY_GT = ({3: [(0, 10)]}, {}, {}, {})
EMPTY_GT_EXPECTED = expected((0.0, 1.0, 1.0, 0.0), (0.0, 1.0, 1.0, 0.0))

# Case "empty prediction": visual class 4 GT [3,7), nothing predicted.
#   visual: segment FN 4 -> 0; event FN 1 -> 0. Audio, AV: empty -> 1. Event@AV: FN only -> 0.
EMPTY_PRED = ({}, {}, {}, {4: [(3, 7)]})
EMPTY_PRED_EXPECTED = expected((1.0, 0.0, 1.0, 0.0), (1.0, 0.0, 1.0, 0.0))

# Case "all true negatives": nothing anywhere -> every value 1.0.
NEGATIVE = ({}, {}, {}, {})
NEGATIVE_EXPECTED = expected((1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0))

CASES = {
    "boundary": (BOUNDARY, BOUNDARY_EXPECTED),
    "one_segment": (ONE_SEGMENT, ONE_SEGMENT_EXPECTED),
    "low_iou": (LOW_IOU, LOW_IOU_EXPECTED),
    "split": (SPLIT, SPLIT_EXPECTED),
    "audio_visual": (AUDIO_VISUAL, AUDIO_VISUAL_EXPECTED),
    "empty_gt": (EMPTY_GT, EMPTY_GT_EXPECTED),
    "empty_pred": (EMPTY_PRED, EMPTY_PRED_EXPECTED),
    "negative": (NEGATIVE, NEGATIVE_EXPECTED),
}


@pytest.mark.parametrize("name", list(CASES))
def test_golden_video(name: str) -> None:
    case, want = CASES[name]
    got = scores_of(*case)
    assert list(got) == list(METRIC_KEYS)
    for key in METRIC_KEYS:
        assert got[key] == pytest.approx(want[key], abs=1e-12), key


def test_dataset_score_is_mean_over_videos() -> None:
    stacked = [np.stack([video(case[i]) for case, _ in CASES.values()]) for i in range(4)]
    got = parsing_scores(*stacked)
    for key in METRIC_KEYS:
        want = sum(expected_[key] for _, expected_ in CASES.values()) / len(CASES)
        assert got[key] == pytest.approx(want, abs=1e-12), key


def test_counts_of_split_prediction() -> None:
    counts = parsing_counts(*[video(e)[None] for e in SPLIT])
    assert counts.shape == (1, 2, 3, 3, C)
    # (video 0, level, modality audio, stats, class 3)
    assert counts[0, 0, 0, :, 3].tolist() == [5, 0, 1]  # segment TP, FP, FN
    assert counts[0, 1, 0, :, 3].tolist() == [1, 1, 0]  # event TP, FP, FN
    assert counts[0, :, 1:].sum() == 0  # nothing visual, nothing audio-visual


def test_per_class_f1_sums_counts_over_videos() -> None:
    # Videos BOUNDARY and ONE_SEGMENT and SPLIT, audio only:
    #   class 0 (boundary): event TP 2 -> 1.0; segment TP 4, FN 2 -> 0.8
    #   class 1 (one-segment): event TP 1 -> 1.0; segment TP 1, FP 1 -> 2/3
    #   class 2 (one-segment): event FP 1, FN 1 -> 0; segment FP 1, FN 1 -> 0
    #   class 3 (split): event TP 1, FP 1 -> 2/3; segment TP 5, FN 1 -> 10/11
    # Every other class, and every visual / audio-visual class: no TP+FP+FN -> NaN.
    cases = (BOUNDARY, ONE_SEGMENT, SPLIT)
    arrays = [np.stack([video(case[i]) for case in cases]) for i in range(4)]
    event = per_class_event_f1(*arrays)
    segment = per_class_segment_f1(*arrays)
    assert set(event) == {"audio", "visual", "audio-visual"}
    np.testing.assert_allclose(event["audio"][:4], [1.0, 1.0, 0.0, 2 / 3])
    np.testing.assert_allclose(segment["audio"][:4], [0.8, 2 / 3, 0.0, 10 / 11])
    assert np.isnan(event["audio"][4:]).all()
    assert np.isnan(event["visual"]).all() and np.isnan(segment["audio-visual"]).all()


def test_overlap_mask() -> None:
    audio_two_classes = video({0: [(0, 5)], 1: [(4, 6)]})  # segment 4 holds two audio events
    visual_two_classes = video({2: [(9, 10)], 3: [(9, 10)]})  # segment 9 holds two visual events
    one_each = video({0: [(0, 5)]}), video({1: [(0, 5)]})  # one audio + one visual: not overlap
    touching = video({0: [(0, 5)], 1: [(5, 10)]})  # consecutive, never in one segment
    empty = video({})
    gt_a = np.stack([audio_two_classes, empty, one_each[0], touching, empty])
    gt_v = np.stack([empty, visual_two_classes, one_each[1], empty, empty])
    assert overlap_mask(gt_a, gt_v).tolist() == [True, True, False, False, False]
