from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from avvp.jsonio import dumps_strict, strict_json_value, write_json_strict


def loads_strict(text: str) -> object:
    """json.loads that rejects NaN / Infinity, as jq and JavaScript do."""

    def reject(token: str) -> object:
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=reject)


def test_non_finite_become_null_and_numpy_becomes_plain() -> None:
    value = {
        "f1": [0.5, math.nan, np.float32(np.inf), np.float64(-np.inf)],
        "count": np.int64(3),
        "flag": np.bool_(True),
        "array": np.array([[1.0, np.nan]]),
        "nested": {"x": (math.nan, 1)},
    }
    assert strict_json_value(value) == {
        "f1": [0.5, None, None, None],
        "count": 3,
        "flag": True,
        "array": [[1.0, None]],
        "nested": {"x": [None, 1]},
    }
    text = dumps_strict(value)
    assert "NaN" not in text and "Infinity" not in text
    assert loads_strict(text) == strict_json_value(value)


def test_unknown_types_fail_loudly() -> None:
    with pytest.raises(TypeError, match="object"):
        dumps_strict({"x": object()})


def test_write_is_strict_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_json_strict(path, {"per_class_event_f1": {"audio": [math.nan, 0.25]}})
    assert loads_strict(path.read_text()) == {"per_class_event_f1": {"audio": [None, 0.25]}}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
