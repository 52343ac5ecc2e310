"""AVE segment accuracy, as the reference code computes it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avvp.ave.metric import AccuracyCounter, segment_accuracy


def test_hand_cases() -> None:
    gt = np.array([[28, 3, 3, 28], [1, 1, 1, 1]])
    assert segment_accuracy(gt, gt) == 1.0
    pred = np.array([[28, 3, 5, 3], [1, 1, 28, 1]])  # 5 of 8 segments right
    assert segment_accuracy(pred, gt) == pytest.approx(5 / 8)
    assert segment_accuracy(np.full_like(gt, 28), gt) == pytest.approx(2 / 8)
    with pytest.raises(ValueError, match="shape"):
        segment_accuracy(pred[:1], gt)
    with pytest.raises(ValueError, match="no segments"):
        segment_accuracy(np.zeros((0, 10)), np.zeros((0, 10)))


def test_matches_reference_argmax_formulation() -> None:
    # Reference: argmax over one-hot ground truth and over scores, flattened, accuracy_score.
    rng = np.random.default_rng(0)
    scores = rng.random((7, 10, 29))
    gt = rng.integers(0, 29, size=(7, 10))
    onehot = np.eye(29)[gt]
    expected = np.mean(scores.reshape(-1, 29).argmax(1) == onehot.reshape(-1, 29).argmax(1))
    assert segment_accuracy(scores.argmax(-1), gt) == pytest.approx(expected)


def test_counter_accumulates_and_splits_event_background() -> None:
    counter = AccuracyCounter(background=28)
    counter.update(torch.tensor([[28, 3, 5, 3]]), torch.tensor([[28, 3, 3, 28]]))
    counter.update(torch.tensor([[1, 1, 28, 1]]), torch.tensor([[1, 1, 1, 1]]))
    counter.all_reduce()  # single process: unchanged
    scores = counter.compute()
    assert scores["accuracy"] == pytest.approx(5 / 8)
    assert scores["accuracy_event"] == pytest.approx(4 / 6)
    assert scores["accuracy_background"] == pytest.approx(1 / 2)
    empty = AccuracyCounter(background=28).compute()
    assert math.isnan(empty["accuracy"])
