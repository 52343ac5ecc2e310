"""Retired config keys (data.num_workers): dropped with a warning that names the source."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from avvp.config import CONFIG_DIR, RETIRED_KEYS, drop_retired_keys, load_config, to_container
from avvp.errors import ConfigError


def test_yaml_with_num_workers_warns_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text("data: {features: [audio], pseudo_labels: true, num_workers: 4}\n")
    with pytest.warns(FutureWarning, match=r"old\.yaml: data\.num_workers is ignored") as caught:
        cfg = load_config(path)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    data = to_container(cfg)["data"]
    assert "num_workers" not in data
    assert data["features"] == ["audio"] and data["pseudo_labels"] is True


def test_override_with_num_workers_warns() -> None:
    with pytest.warns(FutureWarning, match=r"command line: data\.num_workers is ignored"):
        cfg = load_config("smoke", ["data.num_workers=2", "seed=5"])
    assert cfg.seed == 5 and "num_workers" not in cfg.data


def test_saved_config_drops_it_silently() -> None:
    # What `avvp eval` / `avvp explain` do with the config of a checkpoint from an older avvp.
    saved = to_container(load_config("smoke"))
    saved["data"]["num_workers"] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer = drop_retired_keys(OmegaConf.create(saved), source=None)
        merged = OmegaConf.merge(load_config(None), layer)
    assert to_container(merged) == to_container(load_config("smoke"))
    with pytest.raises(OmegaConfBaseException, match="num_workers"):
        OmegaConf.merge(load_config(None), OmegaConf.create(saved))


def test_presets_hold_no_retired_key_and_unknown_keys_still_fail() -> None:
    presets = sorted(CONFIG_DIR.rglob("*.yaml"))
    assert presets
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for preset in presets:
            load_config(preset)
    assert set(RETIRED_KEYS) == {"data.num_workers"}
    with pytest.raises(ConfigError, match="num_worker"):
        load_config("smoke", ["data.num_worker=2"])
