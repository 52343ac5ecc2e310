"""Events as maximal runs of True along the last (time) axis, vectorized with numpy.

An LLP event is a maximal run of positive segments of one (video, class, modality) row. Every
part of avvp that turns binary (..., T) rows into events goes through this module: the event
matching of the metrics, the LLP-eval prediction files, the LLP statistics, ``avvp parse``.

Inputs are array-likes of any shape (..., T) whose truthy entries are positives (bool, or 0/1
integers or floats). Nothing here loops over rows in Python.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["Runs", "count_runs", "find_runs", "run_ids", "run_starts"]

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


def _as_bool(rows: Any) -> BoolArray:
    # No copy for a bool array; at least 1-D so that the time axis exists.
    out: BoolArray = np.atleast_1d(np.asarray(rows, dtype=bool))
    return out


def run_starts(rows: Any) -> BoolArray:
    """(..., T) -> (..., T) bool, True at the first segment of every run."""
    r = np.ascontiguousarray(_as_bool(rows))
    t = r.shape[-1]
    flat = r.reshape(-1)
    starts = flat.copy()
    if t:
        # One contiguous pass over the flattened rows (strided (..., 1:) slices are much slower
        # on rows of 10 segments), then each row's first segment is put back: a run starts there
        # whatever the previous row ended with.
        starts[1:] &= ~flat[:-1]
        starts[::t] = flat[::t]
    return starts.reshape(r.shape)


def count_runs(rows: Any) -> IntArray:
    """(..., T) -> (...) int64, the number of runs in each row."""
    return np.count_nonzero(run_starts(rows), axis=-1).astype(np.int64)


def run_ids(rows: Any) -> tuple[IntArray, IntArray]:
    """Label each row's runs 1, 2, ... in time order (0 outside runs).

    Returns the (..., T) int64 labels and the (...) int64 run count per row.
    """
    r = _as_bool(rows)
    if r.shape[-1] == 0:
        return np.zeros(r.shape, dtype=np.int64), np.zeros(r.shape[:-1], dtype=np.int64)
    ids = np.cumsum(run_starts(r), axis=-1, dtype=np.int64)
    return np.where(r, ids, 0), ids[..., -1]


class Runs(NamedTuple):
    """Every run of a (..., T) array, in C order (row by row, then by onset).

    Attributes:
        row: the row of each run, one int64 array per leading axis (e.g. video, class).
        onset: first segment of each run.
        offset: one past its last segment (exclusive, like the LLP eval files).
    """

    row: tuple[IntArray, ...]
    onset: IntArray
    offset: IntArray

    @property
    def length(self) -> IntArray:
        """Segments in each run."""
        out: IntArray = self.offset - self.onset
        return out


def find_runs(rows: Any) -> Runs:
    """All runs of (..., T) rows as index arrays (see :class:`Runs`)."""
    r = _as_bool(rows)
    lead, t = r.shape[:-1], r.shape[-1]
    padded = np.zeros((*lead, t + 2), dtype=np.int8)
    padded[..., 1:-1] = r
    step = padded[..., 1:] - padded[..., :-1]  # +1 at an onset, -1 one past an offset
    # Flat positions in C order: the k-th onset and the k-th offset belong to the same run, and
    # one flat index per run (rather than np.nonzero's one per axis) halves the work.
    row, onset = np.divmod(np.flatnonzero(step == 1), t + 1)
    offset = np.flatnonzero(step == -1) - row * (t + 1)
    index = np.unravel_index(row, lead) if lead else ()
    return Runs(tuple(i.astype(np.int64, copy=False) for i in index), onset, offset)
