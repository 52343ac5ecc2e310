"""MM-CSE figures: PNG files written from real model extras; similarity maps are well formed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from avvp.errors import ConfigError, DataError
from avvp.losses.mmcse import cooccurrence_targets
from avvp.models.mmcse import build_mmcse
from avvp.viz.mmcse import decoupled_similarity, plot_cooccurrence, plot_decoupled_similarity

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def extras() -> dict[str, Tensor]:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    batch = {
        "clap": torch.randn(2, 64, 768, generator=gen),
        "clip": torch.randn(2, 10, 768, generator=gen),
        "clips": torch.randn(2, 10, 512, generator=gen),
    }
    model = build_mmcse(hidden=64, class_dim=32, heads=4, layers=2, ff=64).eval()
    with torch.no_grad():
        return model(batch).extras


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 5_000 and path.read_bytes()[:8] == PNG_MAGIC


def test_decoupled_similarity_maps(extras: dict[str, Tensor]) -> None:
    sims = decoupled_similarity(extras, 1)
    for m in ("audio", "visual"):
        s = sims[m]
        assert s.shape == (26, 26)
        np.testing.assert_allclose(np.diag(s), 1.0, atol=1e-6)
        np.testing.assert_allclose(s, s.T, atol=1e-12)
    seg = decoupled_similarity(extras, 1, segment=3)["audio"]
    assert not np.allclose(seg, sims["audio"])


def test_plots_written(extras: dict[str, Tensor], tmp_path: Path) -> None:
    p1 = plot_decoupled_similarity(extras, 0, tmp_path / "sim.png", dpi=40)
    gen = torch.Generator().manual_seed(1)
    targets = cooccurrence_targets(
        (torch.rand(2, 10, 25, generator=gen) < 0.2).float(),
        (torch.rand(2, 10, 25, generator=gen) < 0.2).float(),
    )
    p3 = plot_cooccurrence(extras, 0, tmp_path / "cooc.png", dpi=40)
    p4 = plot_cooccurrence(
        extras, 1, tmp_path / "sub" / "cooc_t.png", segment=2, targets=targets, dpi=40
    )
    for p in (p1, p3, p4):
        assert _is_png(p), p
    assert p4.stat().st_size > p3.stat().st_size  # the target row adds a second row of panels


def test_errors(extras: dict[str, Tensor], tmp_path: Path) -> None:
    with pytest.raises(DataError, match="index 5"):
        plot_cooccurrence(extras, 5, tmp_path / "x.png")
    with pytest.raises(DataError, match="segment 10"):
        plot_decoupled_similarity(extras, 0, tmp_path / "x.png", segment=10)
    no_cafd = {k: v for k, v in extras.items() if not k.startswith("class_features")}
    with pytest.raises(ConfigError, match="use_cafd"):
        plot_decoupled_similarity(no_cafd, 0, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
