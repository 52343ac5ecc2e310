"""`key=value` overrides are accepted before and after the options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avvp.cli import main


@pytest.mark.parametrize(
    "args",
    [
        ["info", "smoke", "name=renamed", "model.encoder.d_model=16", "--json", "--no-flops"],
        ["info", "smoke", "--json", "--no-flops", "name=renamed", "model.encoder.d_model=16"],
        ["info", "smoke", "name=renamed", "--json", "model.encoder.d_model=16", "--no-flops"],
    ],
)
def test_overrides_anywhere(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*args, "model.inputs.d_model=16", "model.decoder.d_model=16"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "renamed"
    assert info["model"]["encoder"]["d_model"] == 16


@pytest.mark.parametrize("after", [False, True])
def test_train_override_order(
    after: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An invalid value proves the override reached the config, before any data is read.
    options = ["--data", str(tmp_path / "data"), "--out", str(tmp_path / "runs")]
    args = (
        ["train", "smoke", *options, "train.epochs=0"]
        if after
        else ["train", "smoke", "train.epochs=0", *options]
    )
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == "avvp: error: train.epochs=0: must be at least 1"


def test_stray_arguments_are_still_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["info", "smoke", "--json", "--bogus=1", "name=x"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --bogus=1" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # commands without overrides take none
        main(["eval", "run", "--data", "d", "train.epochs=1"])
