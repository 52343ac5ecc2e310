"""fit() leaves the process as it found it: threads, deterministic mode, process group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist

from avvp.config import load_config
from avvp.errors import ConfigError
from avvp.training import distributed, trainer
from avvp.training.distributed import DistEnv, process_group
from avvp.training.trainer import fit, torch_global_state

FAST = ["train.eval_test=false", "train.epochs=1"]


@pytest.fixture
def torch_state() -> Iterator[None]:
    """Whatever a test does to torch's global state, the next test starts from the same one."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.set_num_threads(threads)


def other_thread_count() -> int:
    return 1 if torch.get_num_threads() != 1 else 2


def snapshot() -> tuple[int, bool, bool]:
    return (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )


@pytest.mark.parametrize("deterministic", [False, True])
def test_fit_restores_threads_and_deterministic_mode(
    tiny_llp: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    torch_state: None,
    deterministic: bool,
) -> None:
    torch.use_deterministic_algorithms(deterministic)  # warn_only off: fit turns it on
    threads = other_thread_count()
    before = snapshot()
    seen: list[tuple[int, bool, bool]] = []
    save = trainer.save_checkpoint

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(snapshot())
        return save(*args, **kwargs)

    monkeypatch.setattr(trainer, "save_checkpoint", spy)
    cfg = load_config("smoke", [*FAST, f"train.threads={threads}"])
    fit(cfg, data_root=tiny_llp, out=tmp_path, progress=False)
    assert seen and seen[0] == (threads, True, True)  # what the run trained with
    assert snapshot() == before


def test_fit_restores_them_when_training_fails(
    tiny_llp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, torch_state: None
) -> None:
    threads = other_thread_count()
    before = snapshot()
    seen: list[tuple[int, bool, bool]] = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        seen.append(snapshot())
        raise OSError("disk full")

    monkeypatch.setattr(trainer, "save_checkpoint", broken)
    cfg = load_config("smoke", [*FAST, f"train.threads={threads}"])
    with pytest.raises(OSError, match="disk full"):
        fit(cfg, data_root=tiny_llp, out=tmp_path, progress=False)
    assert seen == [(threads, True, True)]
    assert snapshot() == before


def test_fit_restores_them_after_a_config_error(
    tiny_llp: Path, tmp_path: Path, torch_state: None
) -> None:
    # train.select is checked against the validation metrics after the first epoch: long after
    # the threads and the deterministic mode were set.
    before = snapshot()
    cfg = load_config("smoke", [*FAST, f"train.threads={other_thread_count()}", "train.select=x"])
    with pytest.raises(ConfigError, match=r"train\.select='x'"):
        fit(cfg, data_root=tiny_llp, out=tmp_path, progress=False)
    assert snapshot() == before


def test_torch_global_state_restores_on_exception(torch_state: None) -> None:
    before = snapshot()
    with pytest.raises(KeyError), torch_global_state():
        torch.set_num_threads(other_thread_count())
        torch.use_deterministic_algorithms(not before[1], warn_only=not before[2])
        raise KeyError("x")
    assert snapshot() == before


@pytest.fixture
def one_process_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[DistEnv]]:
    """init_distributed replaced by a real one-process gloo group (a torchrun launch of one)."""
    created: list[DistEnv] = []

    def init(device_name: str = "auto") -> DistEnv:
        if not dist.is_initialized():
            store = dist.FileStore(str(tmp_path / "store"), 1)
            dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        env = DistEnv(0, 1, 0, torch.device("cpu"))
        created.append(env)
        return env

    monkeypatch.setattr(distributed, "init_distributed", init)
    yield created
    if dist.is_initialized():
        dist.destroy_process_group()


def test_process_group_destroys_the_group_it_created(one_process_group: list[DistEnv]) -> None:
    assert not dist.is_initialized()
    with process_group("cpu") as env:
        assert dist.is_initialized() and env is one_process_group[0]
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="boom"), process_group("cpu"):
        assert dist.is_initialized()
        raise RuntimeError("boom")
    assert not dist.is_initialized()


def test_process_group_keeps_the_callers_group(one_process_group: list[DistEnv]) -> None:
    distributed.init_distributed("cpu")  # the caller's own group
    with process_group("cpu"):
        pass
    with pytest.raises(RuntimeError, match="boom"), process_group("cpu"):
        raise RuntimeError("boom")
    assert dist.is_initialized()


def test_fit_owns_the_group_it_joins(
    tiny_llp: Path, tmp_path: Path, one_process_group: list[DistEnv]
) -> None:
    fit(load_config("smoke", FAST), data_root=tiny_llp, out=tmp_path / "a", progress=False)
    assert one_process_group and not dist.is_initialized()
    distributed.init_distributed("cpu")  # now the caller's group: fit uses it and keeps it
    fit(load_config("smoke", FAST), data_root=tiny_llp, out=tmp_path / "b", progress=False)
    assert dist.is_initialized()
