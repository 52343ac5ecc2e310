"""avvp.training.runs: run folders and checkpoints as the commands name them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from avvp.config import load_config, to_container
from avvp.errors import ConfigError, DataError
from avvp.training.runs import (
    checkpoint_feature_keys,
    config_from_checkpoint,
    default_eval_dir,
    eval_overrides,
    evaluate_checkpoint,
    open_checkpoint,
    resolve_checkpoint,
    set_label_embeddings_path,
    training_config,
)
from avvp.training.trainer import fit, read_metrics


def touch_pair(prefix: Path) -> Path:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prefix.with_suffix(".json").write_text("{}")
    prefix.with_suffix(".safetensors").write_bytes(b"")
    return prefix


@pytest.mark.parametrize("inside", ["checkpoints/best", "model", "best"])
def test_a_run_folder_resolves_to_its_model(tmp_path: Path, inside: str) -> None:
    prefix = touch_pair(tmp_path / inside)
    assert resolve_checkpoint(tmp_path) == prefix


def test_the_trainers_best_model_comes_first(tmp_path: Path) -> None:
    touch_pair(tmp_path / "model")
    touch_pair(tmp_path / "best")
    assert resolve_checkpoint(tmp_path) == tmp_path / "model"
    best = touch_pair(tmp_path / "checkpoints" / "best")
    assert resolve_checkpoint(tmp_path) == best


@pytest.mark.parametrize("name", ["last", "last.json", "last.safetensors"])
def test_a_checkpoint_file_or_prefix_resolves_to_the_prefix(tmp_path: Path, name: str) -> None:
    prefix = touch_pair(tmp_path / "checkpoints" / "last")
    assert resolve_checkpoint(tmp_path / "checkpoints" / name) == prefix


def test_no_checkpoint_is_a_one_line_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no checkpoint found") as folder:
        resolve_checkpoint(tmp_path)
    assert str(folder.value).startswith(f"{tmp_path}:")
    with pytest.raises(DataError, match=r"not a checkpoint \(no gone\.json beside it\)"):
        resolve_checkpoint(tmp_path / "gone.safetensors")


def test_config_from_checkpoint_drops_retired_keys_and_applies_overrides() -> None:
    saved = to_container(load_config("smoke", ["eval.gate=or"]))
    saved["data"]["num_workers"] = 4  # written by an older avvp
    sidecar = {"config": saved}
    cfg = config_from_checkpoint(sidecar, prefix=Path("ck/best"))
    assert "num_workers" not in cfg.data
    assert cfg.name == "smoke" and cfg.eval.gate == "or"
    assert to_container(cfg) == to_container(load_config("smoke", ["eval.gate=or"]))
    cfg = config_from_checkpoint(
        sidecar, prefix=Path("ck/best"), overrides=eval_overrides(gate="modality", batch_size=7)
    )
    assert cfg.eval.gate == "modality" and cfg.train.eval_batch_size == 7
    assert saved["data"]["num_workers"] == 4  # the caller's sidecar is not changed


def test_a_config_of_another_version_is_a_config_error() -> None:
    sidecar = {"config": {"train": {"epochs": "many"}}}
    with pytest.raises(ConfigError, match=r"^ck/best\.json: its config does not fit"):
        config_from_checkpoint(sidecar, prefix=Path("ck/best"))
    with pytest.raises(ConfigError, match="does not fit"):
        config_from_checkpoint({"config": {"no_such_section": 1}}, prefix=Path("ck/best"))


def test_eval_overrides() -> None:
    assert eval_overrides() == []
    assert eval_overrides(gate="pooled", batch_size=8) == [
        "eval.gate=pooled",
        "train.eval_batch_size=8",
    ]


def test_default_eval_dir(tmp_path: Path) -> None:
    prefix = touch_pair(tmp_path / "run" / "checkpoints" / "best")
    assert default_eval_dir(tmp_path / "run", prefix, "val") == tmp_path / "run" / "eval-val"
    assert default_eval_dir(prefix, prefix, "test") == prefix.parent / "eval-test"


@pytest.fixture(scope="module")
def trained_run(tiny_llp: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    cfg = load_config("smoke", ["train.eval_test=false", "train.epochs=1"])
    return fit(cfg, data_root=tiny_llp, out=out, progress=False).run_dir


def test_open_checkpoint_of_a_run_folder(trained_run: Path) -> None:
    opened = open_checkpoint(trained_run, device="cpu", overrides=["eval.gate=or"])
    assert opened.prefix == trained_run / "checkpoints" / "best"
    assert opened.device.type == "cpu" and not opened.model.training
    assert opened.config.name == "smoke" and opened.config.eval.gate == "or"
    assert opened.sidecar["config"]["name"] == "smoke"


def test_evaluate_checkpoint_reproduces_the_validation_scores(
    trained_run: Path, tiny_llp: Path
) -> None:
    result = evaluate_checkpoint(trained_run, data_root=tiny_llp, split="val", device="cpu")
    assert result.prefix == trained_run / "checkpoints" / "best"
    assert result.out == trained_run / "eval-val" and result.num_videos == 24
    written = json.loads((result.out / "report.json").read_text())  # strict JSON: NaN -> null
    assert written["scores"] == result.report["scores"]
    assert written["checkpoint"] == result.report["checkpoint"] == str(result.prefix)
    (epoch,) = [m for m in read_metrics(trained_run) if "split" not in m]
    for key, value in result.report["scores"].items():
        assert value == pytest.approx(epoch[f"val/{key}"], abs=1e-12), key
    assert result.summary  # the task's text summary, printed by `avvp eval`


def test_evaluate_checkpoint_into_a_chosen_folder(
    trained_run: Path, tiny_llp: Path, tmp_path: Path
) -> None:
    last = trained_run / "checkpoints" / "last.json"
    result = evaluate_checkpoint(last, data_root=tiny_llp, device="cpu", out=tmp_path / "e")
    assert result.prefix == trained_run / "checkpoints" / "last"
    assert result.split == "test" and (tmp_path / "e" / "report.json").is_file()


def test_training_config(tmp_path: Path) -> None:
    cfg = training_config("smoke", ["train.epochs=3"])
    assert cfg.name == "smoke" and cfg.train.epochs == 3
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    resumed = training_config(None, ["train.epochs=5"], resume=tmp_path)
    assert (
        resumed.train.epochs == 5 and to_container(resumed)["model"] == to_container(cfg)["model"]
    )
    with pytest.raises(ConfigError, match=r"--resume continues a run with its own config\.yaml"):
        training_config("smoke", resume=tmp_path)
    with pytest.raises(ConfigError, match=r"give a CONFIG preset or path \(or --resume RUN\)"):
        training_config(None)


def test_set_label_embeddings_path(tmp_path: Path) -> None:
    cfg = load_config("mmpyr_leap")
    set_label_embeddings_path(cfg, tmp_path / "emb.pt")
    assert cfg.model.decoder.label_embeddings.path == str(tmp_path / "emb.pt")
    with pytest.raises(ConfigError, match="config 'smoke' reads no label-embedding file"):
        set_label_embeddings_path(load_config("smoke"), tmp_path / "emb.pt")


def test_checkpoint_feature_keys() -> None:
    sidecar = {"config": {"data": {"features": ["audio", "frames"]}}}
    assert checkpoint_feature_keys(sidecar, source=Path("m")) == ["audio", "frames"]
    for broken in ({}, {"config": {"data": None}}):
        with pytest.raises(ConfigError, match=r"^m: sidecar has no config\.data\.features"):
            checkpoint_feature_keys(broken, source=Path("m"))
