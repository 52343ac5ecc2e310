"""Unreadable .pt files: one line of our own, never torch's advice to drop weights_only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avvp.cli import main
from avvp.errors import DataError
from avvp.torch_io import read_torch_file


def test_garbage_pt_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "official.pt"
    garbage.write_bytes(b"\x00 this is not a torch file " * 20)
    status = main(["convert", "--arch", "han_mmil", str(garbage), str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == (
        f"avvp: error: {garbage}: cannot read as a torch checkpoint "
        "(not a torch file, or a corrupt one)"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("text", "not a torch file, or a corrupt one"),
        ("truncated", "damaged torch archive (truncated or corrupt)"),
        ("object", "it holds a Python object (numpy."),
    ],
)
def test_reasons(content: str, reason: str, tmp_path: Path) -> None:
    path = tmp_path / "file.pt"
    if content == "text":
        path.write_text("hello, world\n")
    elif content == "truncated":
        torch.save({"w": torch.zeros(64)}, path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        torch.save({"w": np.zeros(3)}, path)
    with pytest.raises(DataError) as info:
        read_torch_file(path, what="weights")
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read weights ({reason}")
    assert "weights_only" not in message and "\n" not in message


def test_a_state_dict_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.pt"
    torch.save({"w": torch.arange(4.0)}, path)
    assert torch.equal(read_torch_file(path, what="weights")["w"], torch.arange(4.0))
