"""The resume state is one atomic unit, and metrics.jsonl always agrees with it.

A kill is simulated by raising a BaseException (nothing in the trainer catches it) at each point
of the end-of-epoch sequence: between the two checkpoints, inside the state's rename, after the
state and before the metrics line. Resuming must then reach the weights and the metrics lines of
an uninterrupted run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from avvp.config import load_config
from avvp.training import state as state_module
from avvp.training import trainer
from avvp.training.state import load_state, save_state
from avvp.training.trainer import fit, read_metrics

# The smoke config has dropout, so an unrestored RNG would change the weights.
OVERRIDES = ["train.eval_test=false", "optim.step_size=1", "optim.gamma=0.5"]


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so no handler in the trainer swallows it."""


@pytest.fixture(scope="module")
def uninterrupted(tiny_llp: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = load_config("smoke", [*OVERRIDES, "train.epochs=3"])
    out = tmp_path_factory.mktemp("uninterrupted")
    return fit(cfg, data_root=tiny_llp, out=out, progress=False).run_dir


def kill_in_epoch_2(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    epochs_saved: list[int] = []
    real_save_state = trainer.save_state
    real_save_checkpoint = trainer.save_checkpoint
    real_replace = os.replace

    def save_state(prefix: Path, state: dict[str, Any]) -> None:
        epochs_saved.append(int(state["epoch"]))
        real_save_state(prefix, state)
        if point == "after_state" and state["epoch"] == 2:
            raise Killed

    def save_checkpoint(prefix: Path, **kwargs: Any) -> Any:
        if point == "between_checkpoints" and prefix.name == "last" and len(epochs_saved) == 1:
            raise Killed
        return real_save_checkpoint(prefix, **kwargs)

    def replace(src: Any, dst: Any) -> None:
        renaming_state = Path(dst).name == "last_state.safetensors"
        if point == "state_rename" and renaming_state and epochs_saved == [1, 2]:
            raise Killed
        real_replace(src, dst)

    monkeypatch.setattr(trainer, "save_state", save_state)
    monkeypatch.setattr(trainer, "save_checkpoint", save_checkpoint)
    monkeypatch.setattr(state_module.os, "replace", replace)


@pytest.mark.parametrize("point", ["between_checkpoints", "state_rename", "after_state"])
def test_kill_then_resume_matches_the_uninterrupted_run(
    point: str,
    uninterrupted: Path,
    tiny_llp: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = load_config("smoke", [*OVERRIDES, "train.epochs=3"])
    with monkeypatch.context() as patch:
        kill_in_epoch_2(patch, point)
        with pytest.raises(Killed):
            fit(cfg, data_root=tiny_llp, out=tmp_path, progress=False)
    (run_dir,) = tmp_path.iterdir()
    saved = load_state(run_dir / "checkpoints" / "last_state")
    expected_epoch = 2 if point == "after_state" else 1
    assert saved["epoch"] == expected_epoch
    assert [m["epoch"] for m in saved["history"]] == list(range(1, expected_epoch + 1))
    if point == "after_state":  # the killed run never wrote epoch 2's line
        assert [m["epoch"] for m in read_metrics(run_dir)] == [1]

    fit(cfg, data_root=tiny_llp, resume=run_dir, progress=False)
    ours = load_file(str(run_dir / "checkpoints" / "last.safetensors"))
    reference = load_file(str(uninterrupted / "checkpoints" / "last.safetensors"))
    assert all(torch.equal(ours[k], reference[k]) for k in reference)
    lines, ref_lines = read_metrics(run_dir), read_metrics(uninterrupted)
    assert [m["epoch"] for m in lines] == [1, 2, 3]
    for a, b in zip(lines, ref_lines, strict=True):
        assert a["train/loss"] == b["train/loss"] and a["lr"] == b["lr"]
        assert a["val/segment/type@av"] == b["val/segment/type@av"]
    assert not list((run_dir / "checkpoints").glob("last_state.json"))


def test_metrics_log_the_lr_used_in_each_epoch(uninterrupted: Path) -> None:
    # optim.lr=1e-3 halved after every epoch: epoch k trains with 1e-3 / 2^(k-1).
    assert [m["lr"] for m in read_metrics(uninterrupted)] == pytest.approx([1e-3, 5e-4, 2.5e-4])


def test_state_is_one_file_and_a_failed_rename_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = tmp_path / "last_state"
    save_state(prefix, {"epoch": 1, "w": torch.ones(3), "history": [{"epoch": 1}]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_state.safetensors"]

    def replace(src: Any, dst: Any) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(state_module.os, "replace", replace)
        with pytest.raises(Killed):
            save_state(prefix, {"epoch": 2, "w": torch.zeros(3), "history": []})
    state = load_state(prefix)
    assert state["epoch"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert state["history"] == [{"epoch": 1}]


def test_state_of_the_two_file_layout_still_loads(tmp_path: Path) -> None:
    # Older versions: tensors in last_state.safetensors, the skeleton in last_state.json.
    prefix = tmp_path / "last_state"
    save_file({"w": torch.arange(3.0)}, str(prefix.with_suffix(".safetensors")))
    prefix.with_suffix(".json").write_text(json.dumps({"epoch": 4, "w": {"__tensor__": "w"}}))
    state = load_state(prefix)
    assert state["epoch"] == 4 and torch.equal(state["w"], torch.arange(3.0))
    save_state(prefix, {"epoch": 5, "w": torch.zeros(3)})  # the stale skeleton goes away
    assert not prefix.with_suffix(".json").exists()
    assert load_state(prefix)["epoch"] == 5
