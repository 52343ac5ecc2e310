"""The AVE task through the trainer: tiny synthetic data, DCH and LEAP presets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avvp.ave.synth import SynthAVEConfig, generate_synthetic_ave
from avvp.ave.task import AVETask
from avvp.cli import main as cli_main
from avvp.config import load_config
from avvp.errors import ConfigError
from avvp.training.trainer import fit

TINY = [
    "train.epochs=2",
    "train.batch_size=16",
    "train.eval_batch_size=32",
    "train.device=cpu",
    "train.threads=1",
    "model.encoder_args.visual_dim=16",
]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ave") / "data"
    return generate_synthetic_ave(
        out, SynthAVEConfig(videos=48, seed=1, visual_dim=16, layout="hdf5"), progress=False
    )


@pytest.mark.parametrize("preset", ["ave/psp_dch", "ave/psp_leap", "ave/cmbs_dch"])
def test_fit_writes_run_folder(tiny_root: Path, tmp_path: Path, preset: str) -> None:
    cfg = load_config(preset, TINY)
    result = fit(cfg, data_root=tiny_root, out=tmp_path, progress=False)
    run = result.run_dir
    assert (run / "config.yaml").is_file() and (run / "checkpoints").is_dir()
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines[:2]] == [1, 2]
    assert 0.0 <= result.best_score <= 1.0
    text = (run / "test" / "report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON
    report = json.loads(text)
    assert 0.0 <= report["scores"]["accuracy"] <= 1.0
    rows = (run / "test" / "predictions.tsv").read_text().splitlines()
    assert len(rows) == 1 + report["counts"]["total"] // 10
    task = AVETask(cfg, tiny_root)
    evaluation = task.evaluate(
        task.build_model(), task.dataset("val", train=False), device=torch.device("cpu"), env=None
    )
    assert "segment accuracy" in task.summary(evaluation)


def test_ave_baseline_and_cmbs_leap_presets_train(tiny_root: Path, tmp_path: Path) -> None:
    for preset in ("ave/ave_dch", "ave/ave_leap", "ave/cmbs_leap"):
        cfg = load_config(preset, [*TINY, "train.epochs=1", "train.eval_test=false"])
        result = fit(cfg, data_root=tiny_root, out=tmp_path, progress=False)
        assert 0.0 <= result.best_score <= 1.0


def test_task_config_errors(tiny_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not match model\.head"):
        AVETask(load_config("ave/psp_dch", ["loss.recipe=ave_leap"]), tiny_root)
    with pytest.raises(ConfigError, match=r"expects one of"):
        AVETask(load_config("ave/psp_dch", ["loss.recipe=han"]), tiny_root)
    with pytest.raises(ConfigError, match=r"ave\.colour"):
        AVETask(load_config("ave/psp_dch", ["ave.colour=1"]), tiny_root)


def test_cli_synth_ave(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(
        [
            "data",
            "synth-ave",
            "--out",
            str(tmp_path / "s"),
            "--seed",
            "2",
            "--videos",
            "28",
            "--no-progress",
            "--layout",
            "hdf5",
        ]
    )
    assert code == 0
    assert (tmp_path / "s" / "Annotations.txt").read_text().count("\n") == 29
    assert "written" in capsys.readouterr().out


def test_demo_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from avvp.ave.demo import run_ave_demo

    result = run_ave_demo(
        tmp_path, encoder="ave", epochs=1, videos=30, progress=False, overrides=("train.threads=1",)
    )
    for head in ("dch", "leap"):
        assert 0.0 <= result["heads"][head]["test_accuracy"] <= 1.0
    saved = json.loads((Path(result["folder"]) / "comparison.json").read_text())
    assert saved["heads"]["dch"]["test_accuracy"] == result["heads"]["dch"]["test_accuracy"]
    assert "ave+leap" in capsys.readouterr().out


def test_checkpoint_stores_ave_classes_and_reloads_through_the_task(
    tiny_root: Path, tmp_path: Path
) -> None:
    from avvp.ave.data import AVE_CLASSES
    from avvp.ave.models import AVEModel
    from avvp.training.checkpoint import load_checkpoint, read_sidecar, read_weights

    cfg = load_config("ave/psp_dch", [*TINY, "train.epochs=1", "train.eval_test=false"])
    run = fit(cfg, data_root=tiny_root, out=tmp_path, progress=False).run_dir
    prefix = run / "checkpoints" / "best"
    sidecar = read_sidecar(prefix)
    assert sidecar["class_names"] == list(AVE_CLASSES) and len(AVE_CLASSES) == 28
    model, _ = load_checkpoint(prefix)
    assert isinstance(model, AVEModel)
    stored = read_weights(prefix)
    assert all(torch.equal(v, stored[k]) for k, v in model.state_dict().items())


def test_checkpoint_of_an_unknown_task_is_one_line(tiny_root: Path, tmp_path: Path) -> None:
    from avvp.training.checkpoint import load_checkpoint, save_checkpoint

    cfg = load_config("ave/psp_dch", TINY)
    model = AVETask(cfg, tiny_root).build_model()
    save_checkpoint(tmp_path / "ck", model=model, config={"task": "asr", "model": {}})
    with pytest.raises(ConfigError, match=r"ck\.json: task: unknown 'asr' \(one of llp, ave\)$"):
        load_checkpoint(tmp_path / "ck")


def test_glove_leap_checkpoint_reloads_without_the_glove_file(
    tiny_root: Path, tmp_path: Path
) -> None:
    from avvp.ave.data import AVE_CLASSES
    from avvp.ave.models import ave_class_words
    from avvp.models.label_embeddings import class_words
    from avvp.training.checkpoint import load_checkpoint, read_sidecar

    words = sorted({w for n in AVE_CLASSES for w in class_words(ave_class_words(n))})
    generator = torch.Generator().manual_seed(3)
    glove = tmp_path / "glove.txt"
    glove.write_text(
        "".join(
            w + " " + " ".join(f"{x:.4f}" for x in torch.randn(6, generator=generator)) + "\n"
            for w in words
        )
    )
    overrides = [
        *TINY,
        "train.epochs=1",
        "train.eval_test=false",
        "model.label_embeddings.source=glove",
        f"model.label_embeddings.path={glove}",
        "model.label_embeddings.dim=6",
    ]
    cfg = load_config("ave/psp_leap", overrides)
    run = fit(cfg, data_root=tiny_root, out=tmp_path / "runs", progress=False).run_dir
    prefix = run / "checkpoints" / "best"
    assert read_sidecar(prefix)["config"]["model"]["label_embeddings"] == {
        "source": "stored",
        "dim": 6,
    }
    glove.unlink()  # the checkpoint carries the table
    model, _ = load_checkpoint(prefix)
    table = model.head.decoder.label_embeddings()  # type: ignore[union-attr, operator]
    assert table.shape == (len(AVE_CLASSES), 6) and table.abs().sum() > 0
