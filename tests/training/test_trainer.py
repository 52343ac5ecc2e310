"""The trainer: run folders, determinism, resume, data parallelism, and the CLI around it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from avvp.cli import main
from avvp.config import load_config
from avvp.errors import ConfigError
from avvp.training.distributed import DistEnv
from avvp.training.trainer import EpochBatches, fit, read_metrics

FAST = ["train.eval_test=false"]


def weights(run_dir: Path, which: str = "last") -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoints" / f"{which}.safetensors"))


def test_run_folder_has_everything(tiny_llp: Path, tmp_path: Path) -> None:
    result = fit(load_config("smoke"), data_root=tiny_llp, out=tmp_path, progress=False)
    run = result.run_dir
    assert run.parent == tmp_path and run.name.startswith("smoke-")
    assert load_config(run / "config.yaml").train.epochs == 2
    provenance = json.loads((run / "provenance.json").read_text())
    assert {"git_commit", "packages", "command"} <= set(provenance)
    assert "torch" in provenance["packages"]
    lines = read_metrics(run)
    assert [m.get("epoch") for m in lines if "split" not in m] == [1, 2]
    assert 0.0 <= lines[0]["val/segment/type@av"] <= 1.0
    assert lines[-1]["split"] == "test" and "test/event/event@av" in lines[-1]
    for name in ("best", "last"):
        sidecar = json.loads((run / "checkpoints" / f"{name}.json").read_text())
        assert sidecar["config"]["name"] == "smoke"
        assert len(sidecar["class_names"]) == 25
        assert "git_commit" in sidecar
        assert set(weights(run, name)) == set(weights(run, "last"))
    text = (run / "test" / "report.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON
    report = json.loads(text)
    assert report["counts"]["all"] == 24
    assert report["counts"]["overlap"] + report["counts"]["non_overlap"] == 24
    header = (run / "test" / "predictions.tsv").read_text().splitlines()[0].split("\t")
    assert header[:4] == ["filename", "onset", "offset", "event_labels"]
    assert result.test is not None and result.test["scores"] == report["scores"]


def test_same_seed_same_weights(tiny_llp: Path, tmp_path: Path) -> None:
    cfg = load_config("smoke", [*FAST, "train.epochs=1"])
    a = fit(cfg, data_root=tiny_llp, out=tmp_path / "a", progress=False).run_dir
    b = fit(cfg, data_root=tiny_llp, out=tmp_path / "b", progress=False).run_dir
    wa, wb = weights(a), weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = fit(
        load_config("smoke", [*FAST, "train.epochs=1", "seed=2"]),
        data_root=tiny_llp,
        out=tmp_path / "c",
        progress=False,
    ).run_dir
    assert not all(torch.equal(wa[k], weights(c)[k]) for k in wa)


def test_resume_reaches_the_uninterrupted_weights(tiny_llp: Path, tmp_path: Path) -> None:
    # LEAP with dropout and L_avss: resuming must restore the RNG, optimizer and scheduler state.
    overrides = [
        *FAST,
        "model.inputs.d_model=32",
        "model.encoder.d_model=32",
        "model.encoder.ff_dim=32",
        "model.decoder.d_model=32",
        "model.decoder.ff_dim=32",
        "model.decoder.heads=4",
        "optim.step_size=1",
        "train.batch_size=16",
    ]
    full = fit(
        load_config("demo/llp_leap", [*overrides, "train.epochs=3"]),
        data_root=tiny_llp,
        out=tmp_path / "full",
        progress=False,
    )
    part = fit(
        load_config("demo/llp_leap", [*overrides, "train.epochs=1"]),
        data_root=tiny_llp,
        out=tmp_path / "part",
        progress=False,
    )
    # Continue through the CLI, as a user would, extending the schedule to 3 epochs.
    status = main(
        [
            "train",
            "--resume",
            str(part.run_dir),
            "train.epochs=3",
            "--data",
            str(tiny_llp),
            "--no-progress",
        ]
    )
    assert status == 0
    wf, wp = weights(full.run_dir), weights(part.run_dir)
    assert set(wf) == set(wp)
    assert all(torch.equal(wf[k], wp[k]) for k in wf)
    metrics_full = [m for m in read_metrics(full.run_dir) if "split" not in m]
    metrics_part = [m for m in read_metrics(part.run_dir) if "split" not in m]
    assert [m["epoch"] for m in metrics_part] == [1, 2, 3]
    for a, b in zip(metrics_full, metrics_part, strict=True):
        assert a["train/loss"] == b["train/loss"] and a["lr"] == b["lr"]
    assert load_config(part.run_dir / "config.yaml").train.epochs == 3


def test_epoch_batches_shard_the_global_batch() -> None:
    single = EpochBatches(50, global_batch=8, seed=5, env=DistEnv(0, 1, 0, torch.device("cpu")))
    ranks = [
        EpochBatches(50, global_batch=8, seed=5, env=DistEnv(r, 2, r, torch.device("cpu")))
        for r in range(2)
    ]
    for epoch in (1, 2):
        whole = single.epoch(epoch)
        parts = [r.epoch(epoch) for r in ranks]
        assert len(parts[0]) == len(parts[1]) == len(whole) == 7
        for step, batch in enumerate(whole[:-1]):
            union = sorted(list(parts[0][step]) + list(parts[1][step]))
            assert union == sorted(batch)
        # The last global batch is padded by wrapping so both ranks take the same steps.
        assert len(parts[0][-1]) == len(parts[1][-1]) == 4
    assert [list(b) for b in single.epoch(1)] != [list(b) for b in single.epoch(2)]
    with pytest.raises(ConfigError, match="divisible"):
        EpochBatches(50, global_batch=7, seed=0, env=DistEnv(0, 2, 0, torch.device("cpu")))


def torchrun_train(*args: str) -> str:
    """``avvp train ARGS --no-progress`` under torchrun with 2 CPU processes; its stdout."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    done = subprocess.run(
        [*command, "-m", "avvp", "train", *args, "--no-progress"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_torchrun_two_processes_match_one(tiny_llp: Path, tmp_path: Path) -> None:
    """gloo DDP with 2 processes x 8 videos == 1 process x 16 videos (same global batch)."""
    overrides = [*FAST, "model.encoder.dropout=0.0", "optim.optimizer=sgd", "optim.lr=0.05"]
    stdout = torchrun_train(
        "smoke", *overrides, "--data", str(tiny_llp), "--out", str(tmp_path / "ddp")
    )
    assert stdout.count("run folder:") == 1  # only rank 0 reports
    (ddp_run,) = (tmp_path / "ddp").iterdir()
    single = fit(
        load_config("smoke", overrides), data_root=tiny_llp, out=tmp_path / "one", progress=False
    ).run_dir
    wd, ws = weights(ddp_run), weights(single)
    for key in ws:
        torch.testing.assert_close(wd[key], ws[key], rtol=1e-4, atol=1e-5)
    md = [m for m in read_metrics(ddp_run) if "split" not in m]
    ms = [m for m in read_metrics(single) if "split" not in m]
    for a, b in zip(md, ms, strict=True):
        assert a["train/loss"] == pytest.approx(b["train/loss"], rel=1e-5)
        # Validation is sharded across the ranks and the statistics summed: same numbers.
        assert a["val/segment/type@av"] == pytest.approx(b["val/segment/type@av"], abs=1e-9)


@pytest.mark.slow
def test_torchrun_resume_restores_every_ranks_rng(tiny_llp: Path, tmp_path: Path) -> None:
    """With dropout, each rank draws its own masks, and --resume restores each rank's stream."""
    from avvp.training.state import load_state

    def run(*args: str) -> None:
        torchrun_train(*args, "--data", str(tiny_llp))

    run("smoke", *FAST, "train.epochs=2", "--out", str(tmp_path / "full"))
    run("smoke", *FAST, "train.epochs=1", "--out", str(tmp_path / "part"))
    (part,) = (tmp_path / "part").iterdir()
    rng = load_state(part / "checkpoints" / "last_state")["rng"]
    assert len(rng) == 2 and not torch.equal(rng[0]["cpu"], rng[1]["cpu"])  # own streams
    run("--resume", str(part), "train.epochs=2")
    (full,) = (tmp_path / "full").iterdir()
    wf, wp = weights(full), weights(part)
    assert all(torch.equal(wf[k], wp[k]) for k in wf)
