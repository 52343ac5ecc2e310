"""Strict JSON for reports: every file avvp writes parses with any JSON reader.

Python's :mod:`json` writes ``NaN`` and ``Infinity`` by default, which are not JSON (``jq``,
JavaScript and most other readers reject the file). Scores are NaN where they are undefined (a
class with no event in the split, a subset with no video), so reports go through
:func:`strict_json_value` first: non-finite floats become ``null`` and numpy scalars and arrays
become plain Python values. The encoder is then run with ``allow_nan=False`` so a value that
slipped through fails loudly instead of writing a broken file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["dumps_strict", "strict_json_value", "write_json_strict"]


def strict_json_value(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``None`` and numpy types made plain."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return strict_json_value(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): strict_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json_value(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def dumps_strict(value: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of ``value`` (see :func:`strict_json_value`)."""
    return json.dumps(strict_json_value(value), indent=indent, allow_nan=False)


def write_json_strict(path: Path, value: Any, *, indent: int | None = 2) -> None:
    """Write ``value`` as strict JSON; a temporary file renamed into place, so a reader never
    sees half a report."""
    text = dumps_strict(value, indent=indent) + "\n"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
