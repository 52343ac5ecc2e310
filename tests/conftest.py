"""Shared fixtures: the read-only real data beside the repository, seeds, small thread counts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AVVP_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (read-only real LLP/AVE files); skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def llp_dir(shared_data: Path) -> Path:
    path = shared_data / "llp"
    if not (path / "AVVP_train.csv").is_file():
        pytest.skip(f"LLP annotations not found in {path}")
    return path
