"""The demo's reference rows and its mean ± std table (the end-to-end run is in tests/cli)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from avvp.demo import format_mean_std_table, mean_std, oracle_predictions, prior_predictions
from avvp.metrics import METRIC_KEYS


def test_oracle_and_prior_predictions() -> None:
    labels = np.array([[1, 0, 1], [0, 1, 0]], dtype=np.uint8)
    oracle = oracle_predictions(labels, 4)
    assert oracle.shape == (2, 3, 4) and oracle.dtype == bool
    assert (oracle == labels.astype(bool)[:, :, None]).all()
    train = np.array([[0, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=np.uint8)
    prior = prior_predictions(train, (5, 3, 4))
    # Class 1 is the most frequent training label: predicted everywhere, nothing else.
    assert prior[:, 1].all() and not prior[:, [0, 2]].any()


def test_mean_std_is_the_sample_std() -> None:
    mean, std = mean_std([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1)
    mean, std = mean_std([0.5])
    assert mean == 0.5 and math.isnan(std)


def test_mean_std_table() -> None:
    def scores(v: float) -> dict[str, float]:
        return {k: v for k in METRIC_KEYS}

    table = format_mean_std_table(
        {"ref": [scores(0.685)], "model": [scores(0.5), scores(0.6), scores(0.7)]},
        level="segment",
    )
    header, ref, model = table.splitlines()
    assert header.split() == ["Segment-level", "A", "V", "AV", "Type", "Event"]
    assert ref.split() == ["ref", *["68.5"] * 5]
    assert model.replace(" ± ", "±").split() == ["model", *["60.0±10.0"] * 5]
    # Columns line up: every row has the header's width.
    assert len({len(header), len(ref), len(model)}) == 1


@pytest.mark.parametrize(("option", "value"), [("seeds", 0), ("jobs", 0)])
def test_run_demo_rejects_bad_counts(tmp_path: Path, option: str, value: int) -> None:
    from avvp.demo import run_demo
    from avvp.errors import ConfigError

    with pytest.raises(ConfigError, match=f"--{option}: expected at least 1, got 0"):
        run_demo(out=tmp_path, cache=tmp_path, **{option: value})  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())  # nothing generated or trained
