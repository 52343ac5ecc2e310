"""ParsingMetric: accumulation, subsets, merge, state dicts and (simulated) distributed reduce."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avvp.errors import DataError
from avvp.metrics import (
    METRIC_KEYS,
    ParsingMetric,
    overlap_mask,
    parsing_scores,
    per_class_event_f1,
    per_class_segment_f1,
)

SUBSETS = ("all", "overlap", "non_overlap")


def realistic(n: int, seed: int) -> list[np.ndarray]:
    """Sparse LLP-like ground truth (1-3 events per modality per video) and noisy predictions."""
    rng = np.random.default_rng(seed)
    gt = np.zeros((2, n, 25, 10), dtype=bool)
    for m in range(2):
        for v in range(n):
            for cls in rng.choice(25, size=rng.integers(0, 4), replace=False):
                on = rng.integers(0, 10)
                gt[m, v, cls, on : rng.integers(on + 1, 11)] = True
    pred = gt ^ (rng.random(gt.shape) < 0.05)
    return [pred[0], pred[1], gt[0], gt[1]]


def assert_close(got: dict[str, float], want: dict[str, float]) -> None:
    assert list(got) == list(METRIC_KEYS)
    for key in METRIC_KEYS:
        assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-12), key


def test_batches_equal_functional_and_subsets() -> None:
    data = realistic(90, seed=1)
    metric = ParsingMetric(subsets=SUBSETS)
    for start, stop in ((0, 7), (7, 40), (40, 41), (41, 90)):
        metric.update(*[x[start:stop] for x in data])
    assert metric.count("all") == 90
    assert_close(metric.compute(), parsing_scores(*data))
    mask = overlap_mask(data[2], data[3])
    assert 0 < mask.sum() < 90
    assert metric.count("overlap") == mask.sum()
    assert_close(metric.compute("overlap"), parsing_scores(*[x[mask] for x in data]))
    assert_close(metric.compute("non_overlap"), parsing_scores(*[x[~mask] for x in data]))
    assert set(metric.compute_all()) == set(SUBSETS)
    for level, functional in (("event", per_class_event_f1), ("segment", per_class_segment_f1)):
        want = functional(*data)
        got = metric.per_class_f1(level=level)
        for modality in want:
            np.testing.assert_allclose(got[modality], want[modality], equal_nan=True)


def test_merge_of_halves_equals_whole() -> None:
    data = realistic(60, seed=2)
    whole, first, second = (ParsingMetric(subsets=SUBSETS) for _ in range(3))
    whole.update(*data)
    first.update(*[x[:25] for x in data])
    second.update(*[x[25:] for x in data])
    assert first.merge(second) is first
    for s in SUBSETS:
        assert_close(first.compute(s), whole.compute(s))
        assert first.count(s) == whole.count(s)
    with pytest.raises(ValueError, match="cannot merge"):
        first.merge(ParsingMetric())


def test_torch_and_numpy_updates_agree() -> None:
    data = realistic(30, seed=3)
    a, b = ParsingMetric(), ParsingMetric()
    a.update(*data)
    b.update(*[torch.from_numpy(x).float() for x in data])
    assert a.compute() == b.compute()


def test_empty_subset_is_nan_and_reset() -> None:
    metric = ParsingMetric(subsets=SUBSETS)
    assert all(np.isnan(v) for v in metric.compute().values())
    quiet = np.zeros((4, 25, 10), dtype=bool)  # no events at all: non-overlapping, all 1.0
    metric.update(quiet, quiet, quiet, quiet)
    assert all(v == 1.0 for v in metric.compute("non_overlap").values())
    assert all(np.isnan(v) for v in metric.compute("overlap").values())
    metric.reset()
    assert metric.count("all") == 0
    with pytest.raises(KeyError):
        ParsingMetric().compute("overlap")
    with pytest.raises(ValueError):
        ParsingMetric(subsets=("everything",))


def test_state_dict_round_trip() -> None:
    data = realistic(40, seed=4)
    metric = ParsingMetric(subsets=SUBSETS)
    metric.update(*data)
    state = metric.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    restored = ParsingMetric(subsets=SUBSETS)
    restored.load_state_dict(state)
    for s in SUBSETS:
        assert restored.compute(s) == metric.compute(s)
    with pytest.raises(DataError, match="missing keys"):
        ParsingMetric(subsets=SUBSETS).load_state_dict({"all/count": torch.tensor(1)})
    bad = dict(state)
    bad["all/class_counts"] = torch.zeros(3)
    with pytest.raises(DataError, match="shapes"):
        ParsingMetric(subsets=SUBSETS).load_state_dict(bad)


def test_all_reduce_is_noop_without_distributed() -> None:
    data = realistic(10, seed=5)
    metric = ParsingMetric()
    metric.update(*data)
    before = metric.compute()
    metric.all_reduce()
    assert metric.compute() == before


def test_all_reduce_sums_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two simulated ranks: rank 1's packed statistics are added into rank 0's tensor."""
    data = realistic(50, seed=6)
    whole, rank0, rank1 = (ParsingMetric(subsets=SUBSETS) for _ in range(3))
    whole.update(*data)
    rank0.update(*[x[:20] for x in data])
    rank1.update(*[x[20:] for x in data])
    dist = torch.distributed
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_backend", lambda group=None: "gloo")
    captured: list[torch.Tensor] = []
    monkeypatch.setattr(dist, "all_reduce", lambda t, op=None, group=None: captured.append(t))
    rank1.all_reduce()  # leaves rank 1 unchanged, records its packed tensor
    monkeypatch.setattr(dist, "all_reduce", lambda t, op=None, group=None: t.add_(captured[0]))
    rank0.all_reduce()
    for s in SUBSETS:
        assert rank0.count(s) == whole.count(s)
        assert_close(rank0.compute(s), whole.compute(s))
    np.testing.assert_array_equal(
        rank0.per_class_f1(level="event")["audio"], whole.per_class_f1(level="event")["audio"]
    )


def test_all_reduce_with_a_real_single_rank_group(tmp_path: Path) -> None:
    dist = torch.distributed
    if not dist.is_available() or dist.is_initialized():
        pytest.skip("torch.distributed unavailable or already initialized")
    data = realistic(15, seed=7)
    metric = ParsingMetric(subsets=SUBSETS)
    metric.update(*data)
    before = {s: metric.compute(s) for s in SUBSETS}
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdv'}", rank=0, world_size=1)
    try:
        metric.all_reduce()
    finally:
        dist.destroy_process_group()
    for s in SUBSETS:
        assert metric.compute(s) == before[s]
