"""Text tables of scores (x100, one decimal) and per-class F1."""

from __future__ import annotations

import math

from avvp.metrics import METRIC_KEYS, format_per_class_table, format_scores_table


def test_scores_table_layout() -> None:
    first = {key: (i + 1) / 20 for i, key in enumerate(METRIC_KEYS)}  # 5.0, 10.0, ... 50.0
    second = dict(first, **{"event/audio": math.nan})
    del second["segment/visual"]
    table = format_scores_table({"model A": first, "B": second})
    lines = table.splitlines()
    assert len(lines) == 4
    assert "Segment-level" in lines[0] and "Event-level" in lines[0]
    assert lines[1].split() == ["A", "V", "AV", "Type", "Event"] * 2
    assert lines[2].split() == ["model", "A"] + [f"{5.0 * (i + 1):.1f}" for i in range(10)]
    # a missing key and a NaN both print as "-"
    assert lines[3].split()[1:4] == ["5.0", "-", "15.0"]
    assert lines[3].split()[6] == "-"
    # columns line up: every value ends at the same offset in every row
    for line in lines[2:]:
        assert len(line) == len(lines[1])


def test_scores_table_rounds_to_one_decimal() -> None:
    scores = dict.fromkeys(METRIC_KEYS, 0.61849)
    line = format_scores_table({"x": scores}).splitlines()[2]
    assert line.split()[1:] == ["61.8"] * 10


def test_per_class_table() -> None:
    table = format_per_class_table(
        {"audio": [0.5, math.nan], "visual": [1.0, 0.25]}, ["Speech", "Car"]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["audio", "visual"]
    assert lines[1].split() == ["Speech", "50.0", "100.0"]
    assert lines[2].split() == ["Car", "-", "25.0"]
