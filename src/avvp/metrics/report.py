"""Plain-text tables of LLP scores, side by side, as the papers print them (x100, one decimal)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from avvp.metrics.parsing import LEVELS, METRIC_KEYS

__all__ = ["COLUMN_LABELS", "format_per_class_table", "format_scores_table"]

COLUMN_LABELS: dict[str, str] = {
    "audio": "A",
    "visual": "V",
    "audio-visual": "AV",
    "type@av": "Type",
    "event@av": "Event",
}
"""Short column headers for the five metrics of each level."""

_CELL = 6
_GAP = "   "


def _cell(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(_CELL)
    return f"{100.0 * value:.1f}".rjust(_CELL)


def format_scores_table(
    rows: Mapping[str, Mapping[str, float]], *, keys: Sequence[str] = METRIC_KEYS
) -> str:
    """An aligned text table: one row per named result set, the ten metrics x100 (one decimal).

    ``rows`` maps a row name (a model, a subset, ...) to a ``parsing_scores``-style dict; a
    missing key or NaN prints as ``-``. Columns follow the papers: segment-level A, V, AV,
    Type@AV, Event@AV, then event-level the same.
    """
    names = list(rows)
    name_width = max([len(n) for n in names] + [len("")])
    groups: list[tuple[str, list[str]]] = []
    for level in LEVELS:
        level_keys = [k for k in keys if k.startswith(f"{level}/")]
        if level_keys:
            groups.append((level, level_keys))
    ungrouped = [k for k in keys if not any(k in g for _, g in groups)]
    if ungrouped:
        groups.append(("other", ungrouped))

    def label(key: str) -> str:
        tail = key.split("/", 1)[-1]
        return COLUMN_LABELS.get(tail, tail)[:_CELL]

    title_cells = []
    header_cells = []
    for level, level_keys in groups:
        width = _CELL * len(level_keys)
        title_cells.append(f"{level.capitalize()}-level".center(width).rstrip().ljust(width))
        header_cells.append("".join(label(k).rjust(_CELL) for k in level_keys))
    lines = [
        (" " * name_width + _GAP + _GAP.join(title_cells)).rstrip(),
        " " * name_width + _GAP + _GAP.join(header_cells),
    ]
    for name in names:
        scores = rows[name]
        cells = ["".join(_cell(scores.get(k)) for k in level_keys) for _, level_keys in groups]
        lines.append(name.ljust(name_width) + _GAP + _GAP.join(cells))
    return "\n".join(lines)


def format_per_class_table(
    per_class: Mapping[str, Sequence[float] | NDArray[np.float64]], class_names: Sequence[str]
) -> str:
    """Per-class F1 (x100, one decimal; NaN as ``-``): a row per class, a column per modality."""
    columns = list(per_class)
    name_width = max(len(n) for n in class_names)
    width = max([_CELL, *(len(c) + 1 for c in columns)])
    lines = [" " * name_width + "".join(c.rjust(width) for c in columns)]
    for ci, name in enumerate(class_names):
        cells = []
        for c in columns:
            v = float(per_class[c][ci])
            cells.append(("-" if math.isnan(v) else f"{100.0 * v:.1f}").rjust(width))
        lines.append(name.ljust(name_width) + "".join(cells))
    return "\n".join(lines)
