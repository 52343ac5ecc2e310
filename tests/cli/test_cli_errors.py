"""Bad input to train / eval is one line `avvp: error: ...` naming the file or key, status 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from avvp.cli import main
from avvp.config import load_config, to_container
from avvp.models.factory import build_model
from avvp.training.checkpoint import save_checkpoint

WIDTH_48 = ["model.inputs.d_model=48", "model.encoder.d_model=48", "model.decoder.d_model=48"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from avvp.data.synth import SynthConfig, generate_synthetic_llp

    root = tmp_path_factory.mktemp("errors") / "llp"
    return generate_synthetic_llp(
        root, config=SynthConfig(num_train=16, num_val=8, num_test=8), seed=2, pack=True
    )


@pytest.fixture(scope="module")
def run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("errors-runs")
    # The overrides after the options, as docs/training.md writes them.
    args = [
        "train",
        "smoke",
        "--data",
        str(data),
        "--out",
        str(out),
        "--no-progress",
        "train.epochs=1",
        "train.eval_test=false",
    ]
    assert main(args) == 0
    (run_dir,) = out.iterdir()
    assert load_config(run_dir / "config.yaml").train.epochs == 1
    return run_dir


def error_line(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    status = main(args)
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("avvp: error: "), err
    return err.removeprefix("avvp: error: ")


def train_error(capsys: pytest.CaptureFixture[str], data: Path, out: Path, *extra: str) -> str:
    return error_line(
        capsys, ["train", "smoke", *extra, "--data", str(data), "--out", str(out), "--no-progress"]
    )


def test_negative_lr(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_error(capsys, data, tmp_path, "optim.lr=-0.001") == (
        "optim.lr=-0.001: must not be negative"
    )
    assert list(tmp_path.iterdir()) == []  # no run folder for a run that never started


def test_zero_batch_size(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_error(capsys, data, tmp_path, "train.batch_size=0") == (
        "train.batch_size=0: must be at least 1"
    )


@pytest.mark.parametrize("epochs", [0, -3])
def test_no_epochs(
    epochs: int, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_error(capsys, data, tmp_path, f"train.epochs={epochs}") == (
        f"train.epochs={epochs}: must be at least 1"
    )


def test_broken_yaml_names_file_and_line(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("name: broken\nmodel: {inputs: {d_model: 32}\ntrain:\n  epochs: 2\n")
    message = error_line(
        capsys, ["train", str(config), "--data", str(data), "--out", str(tmp_path / "runs")]
    )
    assert message.startswith(f"{config}:3:")
    assert "not valid YAML" in message


def test_widths_of_inputs_encoder_decoder_must_agree(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_error(capsys, data, tmp_path, "model.decoder.d_model=64") == (
        "model.decoder.d_model=64 does not match model.encoder.d_model=32: the widths must be equal"
    )
    message = train_error(capsys, data, tmp_path, "model.inputs.d_model=null")
    assert message.startswith("model.inputs.d_model")


def test_eval_checkpoint_of_another_width(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Weights of a 32-wide model beside a sidecar whose config says 48.
    model = build_model(load_config("smoke").model)
    config = {"task": "llp", "model": to_container(load_config("smoke", WIDTH_48))["model"]}
    weights, _ = save_checkpoint(tmp_path / "model", model=model, config=config)
    message = error_line(capsys, ["eval", str(tmp_path / "model"), "--data", str(data)])
    assert message.startswith(f"{weights} (config: model.json): ")
    assert "has shape" in message and "another model width" in message


def test_resume_with_another_width(
    run: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = error_line(
        capsys, ["train", "--resume", str(run), *WIDTH_48, "--data", str(data), "--no-progress"]
    )
    state = run / "checkpoints" / "last_state.safetensors"
    assert message.startswith(f"{state} (config: config.yaml): ")
    assert "another model width" in message


def test_eval_without_the_eval_annotations(
    run: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "llp"
    shutil.copytree(data, copy)
    (copy / "AVVP_eval_visual.csv").unlink()
    with pytest.warns(UserWarning):  # the loader's defect warning comes first
        message = error_line(capsys, ["eval", str(run), "--data", str(copy)])
    assert message == (
        f"{copy / 'AVVP_eval_visual.csv'}: not found; scoring the test split needs the "
        "segment-level annotations AVVP_eval_audio.csv and AVVP_eval_visual.csv"
    )
    message = error_line(capsys, ["eval", str(run), "--data", str(data), "--split", "train"])
    assert message.startswith("the train split has no segment-level annotations")


def test_train_without_the_eval_annotations(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "llp"
    shutil.copytree(data, copy)
    (copy / "AVVP_eval_audio.csv").unlink()
    out = tmp_path / "runs"
    with pytest.warns(UserWarning):  # the loader's defect warning comes first
        message = train_error(capsys, copy, out)
    # Found at set-up, before the first epoch: no run folder is created.
    assert message == (
        f"{copy / 'AVVP_eval_audio.csv'}: not found; scoring the val split needs the "
        "segment-level annotations AVVP_eval_audio.csv and AVVP_eval_visual.csv"
    )
    assert not out.exists() or list(out.iterdir()) == []
