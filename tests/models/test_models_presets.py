"""The five encoder/decoder presets load, build, and have the reference live parameter counts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from avvp.config import load_config
from avvp.errors import ConfigError
from avvp.models.complexity import count_parameters
from avvp.models.factory import build_model

PRESETS = {
    "han_mmil": 4_569_675,
    "han_mmil_valor": None,
    "mmpyr_mmil_valor": 40_827_469,
    "han_leap": None,
    "mmpyr_leap": 47_256_068,
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_builds(name: str, tmp_path: Path) -> None:
    overrides = []
    if "leap" in name:
        # the preset's release path is the user's own copy; a stand-in file of the same layout
        from avvp.classes import LLP_CLASSES

        emb = tmp_path / "labels.pt"
        torch.save({c: torch.randn(300) for c in LLP_CLASSES}, emb)
        overrides.append(f"model.decoder.label_embeddings.path={emb}")
    config = load_config(name, overrides)
    assert config.name == name
    with torch.device("meta"):  # shapes only: no memory, fast
        model = build_model(config.model)
    counts = count_parameters(model)
    expected = PRESETS[name]
    if expected is not None:
        assert counts["total"] == expected
    if "leap" in name:
        assert counts["leap_blocks"] == 6_311_936
        assert config.loss.recipe == "leap" and config.data.pseudo_labels


def test_leap_preset_without_embedding_file_names_it(tmp_path: Path) -> None:
    config = load_config("mmpyr_leap", [f"model.decoder.label_embeddings.path={tmp_path}/x.pt"])
    with pytest.raises(ConfigError, match=r"label_embeddings\.path: file not found: .*x\.pt"):
        build_model(config.model)
