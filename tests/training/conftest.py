"""A tiny synthetic LLP dataset (official + packed layout), generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_llp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from avvp.data.synth import SynthConfig, generate_synthetic_llp

    root = tmp_path_factory.mktemp("tiny_llp")
    config = SynthConfig(num_train=48, num_val=24, num_test=24)
    return generate_synthetic_llp(root, config=config, seed=3, pack=True)
