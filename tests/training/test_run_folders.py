"""Run folders: claimed atomically, a bad --out is a one-line error."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from avvp.cli import main
from avvp.errors import ConfigError
from avvp.training import trainer
from avvp.training.trainer import new_run_dir


def test_concurrent_runs_in_the_same_second_get_distinct_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Freeze the clock: every call sees the same second, the worst case for name clashes.
    monkeypatch.setattr(trainer.time, "strftime", lambda fmt: "20260101-000000")
    start = threading.Barrier(8)
    found: list[Path] = []
    lock = threading.Lock()

    def claim() -> None:
        start.wait()
        run_dir = new_run_dir(tmp_path / "runs", "smoke")
        with lock:
            found.append(run_dir)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and len(set(found)) == 8
    assert all(path.is_dir() for path in found)
    names = sorted(path.name for path in found)
    assert names[0] == "smoke-20260101-000000"
    assert set(names[1:]) == {f"smoke-20260101-000000-{i}" for i in range(2, 9)}


def test_out_pointing_at_a_file_is_one_line_error(
    tiny_llp: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "runs"
    target.write_text("not a folder\n")
    status = main(
        ["train", "smoke", "--data", str(tiny_llp), "--out", str(target), "--no-progress"]
    )
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == f"avvp: error: --out {target}: not a folder"


def test_out_that_cannot_be_created_is_one_line_error(
    tiny_llp: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A parent that is a file: no user (root included) can create a folder below it.
    (tmp_path / "file").write_text("x\n")
    target = tmp_path / "file" / "runs"
    status = main(
        ["train", "smoke", "--data", str(tiny_llp), "--out", str(target), "--no-progress"]
    )
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith(f"avvp: error: --out {target}: cannot create the folder")
    assert "\n" not in err


def test_read_only_out_is_one_line_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root may write into any folder")
    target = tmp_path / "runs"
    target.mkdir(mode=0o500)
    with pytest.raises(ConfigError, match="not writable"):
        new_run_dir(target, "smoke")
