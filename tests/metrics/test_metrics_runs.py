"""avvp.metrics.runs against a plain per-row Python scan."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from avvp.metrics.runs import count_runs, find_runs, run_ids, run_starts


def scan(row: list[bool]) -> list[tuple[int, int]]:
    """(onset, offset) of every maximal run of True, one element at a time."""
    runs, t = [], 0
    while t < len(row):
        if not row[t]:
            t += 1
            continue
        end = t
        while end < len(row) and row[end]:
            end += 1
        runs.append((t, end))
        t = end
    return runs


def expected(rows: np.ndarray) -> list[tuple[tuple[int, ...], int, int]]:
    lead = rows.shape[:-1]
    return [
        (idx, on, off)
        for idx in itertools.product(*(range(n) for n in lead))
        for on, off in scan([bool(x) for x in rows[idx]])
    ]


SHAPES = [(7,), (1,), (0,), (5, 10), (3, 4, 10), (2, 3, 2, 65), (0, 25, 10), (4, 0)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.2, 0.5, 0.9])
def test_runs_match_the_scan(shape: tuple[int, ...], density: float) -> None:
    rows = np.random.default_rng(sum(shape) + int(10 * density)).random(shape) < density
    want = expected(rows)
    runs = find_runs(rows)
    got = [
        (tuple(int(i[k]) for i in runs.row), int(runs.onset[k]), int(runs.offset[k]))
        for k in range(runs.onset.size)
    ]
    assert got == want
    assert len(runs.row) == rows.ndim - 1
    assert runs.onset.dtype == runs.offset.dtype == np.int64
    assert runs.length.tolist() == [off - on for _, on, off in want]

    counts = count_runs(rows)
    assert counts.shape == rows.shape[:-1] and counts.dtype == np.int64
    per_row = np.zeros(rows.shape[:-1], dtype=np.int64)
    for idx, _, _ in want:
        per_row[idx] += 1
    np.testing.assert_array_equal(counts, per_row)

    starts = run_starts(rows)
    assert starts.dtype == np.bool_ and starts.shape == rows.shape
    assert sorted(zip(*np.nonzero(starts), strict=True)) == [(*i, on) for i, on, _ in want]

    ids, n = run_ids(rows)
    assert ids.shape == rows.shape and ids.dtype == n.dtype == np.int64
    np.testing.assert_array_equal(n, per_row)
    labels = np.zeros(rows.shape, dtype=np.int64)
    number: dict[tuple[int, ...], int] = {}
    for idx, on, off in want:
        number[idx] = number.get(idx, 0) + 1
        labels[(*idx, slice(on, off))] = number[idx]
    np.testing.assert_array_equal(ids, labels)


def test_runs_take_any_binary_dtype() -> None:
    rows = np.array([[0, 1, 1, 0, 1], [1, 1, 1, 1, 1]], dtype=np.uint8)
    for data in (rows, rows.astype(np.float32), rows.astype(bool), rows.tolist()):
        runs = find_runs(data)
        assert runs.row[0].tolist() == [0, 0, 1]
        assert runs.onset.tolist() == [1, 4, 0]
        assert runs.offset.tolist() == [3, 5, 5]
        assert count_runs(data).tolist() == [2, 1]


def test_run_starts_does_not_modify_its_input() -> None:
    rows = np.ones((2, 4), dtype=bool)
    run_starts(rows)
    find_runs(rows)
    assert rows.all()


def test_runs_of_a_transposed_view() -> None:
    # avvp parse keeps (T, C) decisions and finds the runs of their transpose.
    decisions = np.random.default_rng(1).random((12, 25)) < 0.4
    runs = find_runs(decisions.T)
    want = expected(np.ascontiguousarray(decisions.T))
    assert list(
        zip(runs.row[0].tolist(), runs.onset.tolist(), runs.offset.tolist(), strict=True)
    ) == [(i[0], on, off) for i, on, off in want]
    np.testing.assert_array_equal(count_runs(decisions.T), count_runs(decisions.T.copy()))
