"""Property tests: the vectorized metrics equal the plain reference loop on random data."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from avvp.metrics import (
    METRIC_KEYS,
    overlap_mask,
    parsing_scores,
    per_class_event_f1,
    per_class_segment_f1,
)
from avvp.metrics import parsing as parsing_module


def _load_reference() -> ModuleType:
    path = Path(__file__).with_name("reference_loop.py")
    spec = importlib.util.spec_from_file_location("avvp_tests_reference_loop", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load_reference()


@st.composite
def batches(draw: st.DrawFn, *, real_shape: bool = False) -> list[np.ndarray]:
    """Four binary (N, C, T) arrays; sparse or dense, so that every matching case occurs."""
    n = draw(st.integers(1, 5))
    c, t = (25, 10) if real_shape else (draw(st.integers(1, 4)), draw(st.integers(1, 12)))
    density = draw(st.sampled_from([0.05, 0.3, 0.5, 0.8]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    out = [rng.random((n, c, t)) < density for _ in range(4)]
    # Predictions close to the ground truth make IoU near 0.5 common.
    if draw(st.booleans()):
        out[0] = out[2].copy()
        flip = rng.random((n, c, t)) < 0.15
        out[0] ^= flip
    return out


def assert_scores_equal(got: dict[str, float], want: dict[str, float]) -> None:
    assert list(got) == list(METRIC_KEYS) == list(want)
    for key in METRIC_KEYS:
        assert got[key] == pytest.approx(want[key], abs=1e-12), key
        assert 0.0 <= got[key] <= 1.0


def assert_per_class_equal(got: dict[str, np.ndarray], want: dict[str, list[float]]) -> None:
    assert set(got) == set(want)
    for modality, values in want.items():
        np.testing.assert_allclose(got[modality], values, rtol=0, atol=1e-12, equal_nan=True)


@settings(max_examples=150, deadline=None)
@given(batches())
def test_matches_reference_small(data: list[np.ndarray]) -> None:
    assert_scores_equal(parsing_scores(*data), ref.reference_scores(*data))
    assert_per_class_equal(per_class_event_f1(*data), ref.reference_per_class(*data, "event"))
    assert_per_class_equal(per_class_segment_f1(*data), ref.reference_per_class(*data, "segment"))
    assert overlap_mask(data[2], data[3]).tolist() == ref.reference_overlap(data[2], data[3])


@settings(max_examples=40, deadline=None)
@given(batches(real_shape=True))
def test_matches_reference_real_shape(data: list[np.ndarray]) -> None:
    assert_scores_equal(parsing_scores(*data), ref.reference_scores(*data))
    assert_per_class_equal(per_class_event_f1(*data), ref.reference_per_class(*data, "event"))


@settings(max_examples=60, deadline=None)
@given(batches())
def test_bit_code_path_equals_generic_path(data: list[np.ndarray]) -> None:
    fast = parsing_module._counts_codes(*data)
    generic = parsing_module._counts_generic(*data)
    np.testing.assert_array_equal(fast, generic)


@pytest.mark.parametrize("t", [24, 25, 53, 54, 64, 65, 70])
def test_long_rows_use_exact_paths(t: int) -> None:
    # The bit codes switch from float32 to float64 products at 25 bits, to np.packbits at 54,
    # and rows longer than 64 segments go through the generic histogram path.
    rng = np.random.default_rng(t)
    data = [rng.random((3, 4, t)) < 0.4 for _ in range(4)]
    data[0][0, 0, :] = True  # a run over the whole row: highest bit set
    data[2][0, 0, :] = True
    assert_scores_equal(parsing_scores(*data), ref.reference_scores(*data))


def test_numpy_and_torch_inputs_agree() -> None:
    rng = np.random.default_rng(0)
    data = [rng.random((20, 25, 10)) < 0.2 for _ in range(4)]
    want = parsing_scores(*data)
    variants = [
        [torch.from_numpy(x) for x in data],
        [torch.from_numpy(x).float() for x in data],
        [x.astype(np.int64) for x in data],
        [x.astype(np.float32) for x in data],
    ]
    for variant in variants:
        assert parsing_scores(*variant) == want


def test_bad_inputs_raise() -> None:
    good = np.zeros((2, 25, 10), dtype=bool)
    with pytest.raises(ValueError, match="0 or 1"):
        parsing_scores(np.full((2, 25, 10), 0.7), good, good, good)
    with pytest.raises(ValueError, match="share one"):
        parsing_scores(good, good, good, np.zeros((3, 25, 10), dtype=bool))
    with pytest.raises(ValueError, match=r"\(N, C, T\)"):
        parsing_scores(good[0], good[0], good[0], good[0])


def test_empty_batch_is_nan() -> None:
    empty = np.zeros((0, 25, 10), dtype=bool)
    scores = parsing_scores(empty, empty, empty, empty)
    assert list(scores) == list(METRIC_KEYS)
    assert all(np.isnan(v) for v in scores.values())
