"""One trainer for every method: seeded, resumable, data-parallel, with run folders.

A run folder holds ``config.yaml`` (resolved), ``provenance.json`` (git commit, package versions,
command), ``metrics.jsonl`` (one line per epoch, then the test line), ``checkpoints/`` with the
``best`` and ``last`` models (safetensors + JSON sidecar) and the resumable training state, and
``test/`` (report and predictions of the best model).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from avvp.config import save_config, to_container
from avvp.data.sampling import check_global_batch, train_batches
from avvp.errors import ConfigError, DataError
from avvp.registry import Registry
from avvp.tasks import build_task
from avvp.training.batching import BatchDataset, to_device
from avvp.training.checkpoint import load_weights, save_checkpoint
from avvp.training.distributed import (
    DistEnv,
    all_gather_object,
    all_reduce_sum,
    barrier,
    process_group,
    rank_seed,
)
from avvp.training.provenance import provenance
from avvp.training.state import load_state, save_state


class Evaluation(Protocol):
    """What the trainer and the CLI read from any task's evaluation of a split."""

    scores: dict[str, float]  # metric name -> value; ``train.select`` names one of them

    def to_json(self) -> dict[str, Any]: ...


class Task(Protocol):
    """What the trainer needs from a task (LLP parsing, AVE localization).

    ``write_report`` and ``summary`` take the evaluation the same task's ``evaluate`` returned.
    """

    name: str

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names of the model's classes in output order (stored in checkpoint sidecars)."""
        ...

    def build_model(self) -> nn.Module: ...

    def dataset(self, split: str, *, train: bool) -> BatchDataset: ...

    def example_batch(self, batch_size: int = 1) -> dict[str, Tensor]:
        """Random inputs of the official shapes (``avvp info`` counts and FLOPs)."""
        ...

    def parameter_counts(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, int]:
        """``total``, ``trainable`` and per-part parameter counts of the task's model."""
        ...

    def checkpoint_model_config(self, config: dict[str, Any], model: nn.Module) -> dict[str, Any]:
        """The ``model`` config to store beside a checkpoint of ``model``: one that rebuilds it
        from the checkpoint alone (e.g. label embeddings read from a file become stored ones)."""
        ...

    def require_ground_truth(self, dataset: BatchDataset) -> None:
        """A one-line error when ``dataset`` cannot be scored (fit checks the validation split
        at set-up, not after the first epoch)."""
        ...

    def loss(
        self, model: nn.Module, batch: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]: ...

    def evaluate(
        self,
        model: nn.Module,
        dataset: BatchDataset,
        *,
        device: torch.device,
        env: DistEnv | None,
        keep_predictions: bool = False,
        desc: str = "eval",
    ) -> Evaluation: ...

    def write_report(
        self, evaluation: Evaluation, dataset: BatchDataset, out_dir: Path, split: str
    ) -> dict[str, Any]: ...

    def summary(self, evaluation: Evaluation) -> str: ...


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state(device: torch.device) -> dict[str, Tensor]:
    """This process's torch RNG state: the CPU generator, and the device's when on CUDA."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda" and torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(saved: Any, env: DistEnv, seed: int) -> None:
    """Restore this rank's RNG from a saved state (one entry per rank, or an older single one)."""
    if isinstance(saved, Tensor):  # states before per-rank RNG: one CPU state for every rank
        torch.set_rng_state(saved)
        return
    if env.rank >= len(saved):  # resumed on more processes than saved: a fresh per-rank seed
        torch.manual_seed(rank_seed(seed, env.rank))
        return
    mine = saved[env.rank]
    torch.set_rng_state(mine["cpu"])
    if "cuda" in mine and env.device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.set_rng_state(mine["cuda"], env.device)


OptimizerBuilder = Callable[[list[nn.Parameter], Any], torch.optim.Optimizer]
SchedulerBuilder = Callable[[torch.optim.Optimizer, Any, int], torch.optim.lr_scheduler.LRScheduler]

OPTIMIZERS: Registry[OptimizerBuilder] = Registry("optimizer")
SCHEDULERS: Registry[SchedulerBuilder] = Registry("scheduler")


def _betas(optim_cfg: Any) -> tuple[float, float]:
    return float(optim_cfg.betas[0]), float(optim_cfg.betas[1])


def _fused(
    factory: Callable[..., torch.optim.Optimizer],
    params: list[nn.Parameter],
    optim_cfg: Any,
    **kwargs: Any,
) -> torch.optim.Optimizer:
    """``factory`` as one fused kernel where torch has it for the device (several times faster
    than the per-tensor loop on a CPU; same update rule), else the plain loop."""
    kwargs.update(lr=optim_cfg.lr, weight_decay=optim_cfg.weight_decay)
    try:
        return factory(params, fused=True, **kwargs)
    except (RuntimeError, TypeError):  # no fused kernel for this device or dtype
        return factory(params, **kwargs)


@OPTIMIZERS.register("adam")
def _adam(params: list[nn.Parameter], optim_cfg: Any) -> torch.optim.Optimizer:
    return _fused(torch.optim.Adam, params, optim_cfg, betas=_betas(optim_cfg))


@OPTIMIZERS.register("adamw")
def _adamw(params: list[nn.Parameter], optim_cfg: Any) -> torch.optim.Optimizer:
    return _fused(torch.optim.AdamW, params, optim_cfg, betas=_betas(optim_cfg))


@OPTIMIZERS.register("sgd")
def _sgd(params: list[nn.Parameter], optim_cfg: Any) -> torch.optim.Optimizer:
    # SGD's momentum is the first beta, so one ``optim.betas`` serves every optimizer.
    return _fused(torch.optim.SGD, params, optim_cfg, momentum=_betas(optim_cfg)[0])


def make_optimizer(model: nn.Module, optim_cfg: Any) -> torch.optim.Optimizer:
    """The optimizer ``optim.optimizer`` names, over the model's trainable parameters."""
    builder = OPTIMIZERS.get(optim_cfg.optimizer, where="optim.optimizer")
    return builder([p for p in model.parameters() if p.requires_grad], optim_cfg)


@SCHEDULERS.register("step")
def _step(
    optimizer: torch.optim.Optimizer, optim_cfg: Any, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=optim_cfg.step_size, gamma=optim_cfg.gamma
    )


@SCHEDULERS.register("multistep")
def _multistep(
    optimizer: torch.optim.Optimizer, optim_cfg: Any, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    if not optim_cfg.milestones:
        raise ConfigError("optim.scheduler=multistep needs optim.milestones (a list of epochs)")
    return torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=[int(m) for m in optim_cfg.milestones], gamma=optim_cfg.gamma
    )


@SCHEDULERS.register("warmup_cosine")
def _warmup_cosine(
    optimizer: torch.optim.Optimizer, optim_cfg: Any, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    warmup, base, floor = (
        int(optim_cfg.warmup_epochs),
        float(optim_cfg.lr),
        float(optim_cfg.lr_min),
    )

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / warmup
        progress = (epoch - warmup) / max(1, epochs - warmup)
        return (floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * progress))) / base

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@SCHEDULERS.register("none")
def _constant(
    optimizer: torch.optim.Optimizer, optim_cfg: Any, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def make_scheduler(
    optimizer: torch.optim.Optimizer, optim_cfg: Any, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The scheduler ``optim.scheduler`` names; stepped once per epoch, as every reference
    implementation does."""
    return SCHEDULERS.get(optim_cfg.scheduler, where="optim.scheduler")(
        optimizer, optim_cfg, epochs
    )


class EpochBatches:
    """This rank's shuffled batches of each epoch (:func:`avvp.data.sampling.train_batches`:
    deterministic in (seed, epoch), so a resumed run sees the batches it would have seen; the
    ranks' k-th batches together are the k-th global batch of a single process)."""

    def __init__(
        self, n: int, *, global_batch: int, seed: int, env: DistEnv, drop_last: bool = False
    ):
        self.n, self.global_batch, self.seed, self.env, self.drop_last = (
            n,
            global_batch,
            seed,
            env,
            drop_last,
        )
        # A batch size that does not divide over the ranks fails here, at set-up.
        check_global_batch(global_batch, rank=env.rank, world_size=env.world_size)

    def epoch(self, epoch: int) -> list[np.ndarray]:
        return train_batches(
            self.n,
            global_batch=self.global_batch,
            seed=self.seed,
            epoch=epoch,
            rank=self.env.rank,
            world_size=self.env.world_size,
            drop_last=self.drop_last,
        )


@dataclass
class RunResult:
    run_dir: Path
    best_epoch: int
    best_score: float
    test: dict[str, Any] | None
    is_main: bool = True


def output_folder(out: Path) -> Path:
    """``out``, created if needed; a one-line error when it is a file or cannot be created."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: not writable")
    return out


def new_run_dir(out: Path, name: str) -> Path:
    """Create and return a fresh ``out/<name>-<YYYYmmdd-HHMMSS>[-N]`` folder.

    The folder is claimed with an exclusive ``mkdir``: two runs started in the same second (or
    two processes racing) never share a folder, the later one takes the next free suffix.
    """
    output_folder(out)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = 1
    while True:
        run_dir = out / (f"{name}-{stamp}" if suffix == 1 else f"{name}-{stamp}-{suffix}")
        try:
            run_dir.mkdir()
        except FileExistsError:
            suffix += 1
            continue
        except OSError as exc:
            raise ConfigError(f"--out {out}: cannot create a run folder ({exc.strerror})") from None
        return run_dir


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def write_metrics(run_dir: Path, records: list[dict[str, Any]]) -> None:
    """Replace ``metrics.jsonl`` by ``records`` atomically."""
    path = run_dir / "metrics.jsonl"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(m) + "\n" for m in records))
    os.replace(tmp, path)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


@contextmanager
def torch_global_state() -> Iterator[None]:
    """Restore torch's intra-op thread count and deterministic-algorithms mode on exit.

    :func:`fit` sets both for its run (``train.threads``, deterministic kernels); a library call
    must not leave them changed for the rest of the caller's process, also when it raises.
    """
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def fit(
    cfg: DictConfig,
    *,
    data_root: Path,
    out: Path | None = None,
    resume: Path | None = None,
    run_dir: Path | None = None,
    progress: bool = True,
) -> RunResult:
    """Train ``cfg`` on ``data_root``; write a run folder in ``out`` (or continue ``resume``).

    The process is left as it was found: torch's thread count and deterministic mode are
    restored, and a process group that ``fit`` joins under ``torchrun`` is destroyed on return
    (one the caller had already initialised is used and kept).
    """
    with torch_global_state(), process_group(cfg.train.device) as env:
        return _fit(
            cfg,
            env=env,
            data_root=data_root,
            out=out,
            resume=resume,
            run_dir=run_dir,
            progress=progress,
        )


def _fit(
    cfg: DictConfig,
    *,
    env: DistEnv,
    data_root: Path,
    out: Path | None,
    resume: Path | None,
    run_dir: Path | None,
    progress: bool,
) -> RunResult:
    if cfg.train.threads:
        torch.set_num_threads(int(cfg.train.threads))
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / "config.yaml").is_file():
            raise DataError(f"{run_dir}: not a run folder (no config.yaml)")
    elif run_dir is None:
        if out is None:
            raise ConfigError("give an output folder (--out) or a run to resume (--resume)")
        if env.is_main:  # fail on a bad --out before the (slow) data and model set-up
            output_folder(Path(out))

    seed_everything(int(cfg.seed))
    # Deterministic CPU kernels; on CUDA some kernels have no deterministic variant (warn only).
    torch.use_deterministic_algorithms(True, warn_only=True)
    task = build_task(cfg, data_root)
    train_set = task.dataset("train", train=True)
    val_set = task.dataset("val", train=False)
    task.require_ground_truth(val_set)  # a missing eval CSV fails here, before any training
    model = task.build_model().to(env.device)
    if env.rank:  # the same initial weights everywhere, then a dropout stream of its own
        seed_everything(rank_seed(int(cfg.seed), env.rank))
    optimizer = make_optimizer(model, cfg.optim)
    epochs = int(cfg.train.epochs)
    scheduler = make_scheduler(optimizer, cfg.optim, epochs)
    batches = EpochBatches(
        len(train_set), global_batch=int(cfg.train.batch_size), seed=int(cfg.seed), env=env
    )

    if run_dir is None:
        # Claimed only now, so a config or data error leaves no empty run folder behind.
        assert out is not None
        run_dir = new_run_dir(Path(out), str(cfg.name)) if env.is_main else Path(out)
        if env.distributed:  # every rank must agree on the folder rank 0 chose
            import torch.distributed as dist

            shared = [str(run_dir)]
            dist.broadcast_object_list(shared, src=0)
            run_dir = Path(shared[0])
    ckpt_dir = run_dir / "checkpoints"
    start_epoch, best_score, best_epoch = 1, -math.inf, 0
    history: list[dict[str, Any]] = []
    if resume is not None:
        state = load_state(ckpt_dir / "last_state")
        load_weights(
            model,
            state["model"],
            model_config=to_container(cfg)["model"],
            source=f"{ckpt_dir / 'last_state.safetensors'} (config: config.yaml)",
        )
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"], env, int(cfg.seed))
        start_epoch = int(state["epoch"]) + 1
        best_score, best_epoch = float(state["best_score"]), int(state["best_epoch"])
        if "history" in state:
            # The state carries the epoch lines it has seen: metrics.jsonl is rebuilt from it,
            # so a kill between saving the state and appending the line loses nothing.
            history = list(state["history"])
        else:  # a state written before the lines were part of it
            history = [
                m
                for m in read_metrics(run_dir)
                if "split" not in m and int(m.get("epoch", 0)) <= int(state["epoch"])
            ]
        if env.is_main:  # the resolved config now includes the overrides given when resuming
            save_config(cfg, run_dir / "config.yaml")
    elif env.is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
        info = {
            **provenance(),
            "command": sys.argv,
            "world_size": env.world_size,
            "device": str(env.device),
        }
        (run_dir / "provenance.json").write_text(json.dumps(info, indent=2) + "\n")
    if env.is_main:
        write_metrics(run_dir, history)

    train_model: nn.Module = model
    if env.distributed:
        train_model = DistributedDataParallel(
            model, device_ids=[env.device.index] if env.device.type == "cuda" else None
        )
    select = str(cfg.train.select)
    clip = cfg.optim.grad_clip
    config_dict = to_container(cfg)
    # Label embeddings read from a file travel inside the weights: the checkpoint's config says
    # so, and the checkpoint reloads on a machine without that file.
    config_dict["model"] = task.checkpoint_model_config(config_dict["model"], model)
    show = progress and env.is_main

    for epoch in range(start_epoch, epochs + 1):
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]  # the rate of this epoch (logged, not the next one)
        train_model.train()
        sums: dict[str, Tensor] = {}
        steps = 0
        epoch_batches = batches.epoch(epoch)
        bar = tqdm(
            epoch_batches,
            desc=f"epoch {epoch}/{epochs}",
            leave=False,
            disable=None if show else True,
        )
        for indices in bar:
            batch = to_device(train_set.get_batch(indices), env.device)
            optimizer.zero_grad(set_to_none=True)
            loss, terms = task.loss(train_model, batch)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), float(clip))
            optimizer.step()
            # Accumulate on the device; one host sync per epoch, not per step.
            for key, value in {"loss": loss, **terms}.items():
                sums[key] = (
                    sums.get(key, torch.zeros((), device=env.device)) + value.detach().float()
                )
            steps += 1
        scheduler.step()
        keys = sorted(sums)
        packed = torch.stack(
            [sums[k] for k in keys] + [torch.tensor(float(steps), device=env.device)]
        )
        packed = all_reduce_sum(packed)
        train_logs = {f"train/{k}": float(packed[i] / packed[-1]) for i, k in enumerate(keys)}

        evaluation = task.evaluate(model, val_set, device=env.device, env=env, desc=f"val {epoch}")
        scores = {f"val/{k}": v for k, v in evaluation.scores.items()}
        if select not in evaluation.scores:
            raise ConfigError(
                f"train.select={select!r} is not a validation metric "
                f"({', '.join(evaluation.scores)})"
            )
        score = float(evaluation.scores[select])
        improved = score >= best_score  # ties go to the later epoch, as the reference code does
        if improved:
            best_score, best_epoch = score, epoch
        record = {
            "epoch": epoch,
            **train_logs,
            **scores,
            "lr": lr,
            "seconds": round(time.perf_counter() - started, 3),
            "best_epoch": best_epoch,
        }
        history.append(record)
        rng = all_gather_object(rng_state(env.device))  # every rank's, for --resume
        if env.is_main:
            meta = {"epoch": epoch, "val": evaluation.scores}
            for name in ("best", "last") if improved else ("last",):
                save_checkpoint(
                    ckpt_dir / name,
                    model=model,
                    config=config_dict,
                    metrics=meta,
                    class_names=task.class_names,
                )
            save_state(
                ckpt_dir / "last_state",
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": rng,
                    "epoch": epoch,
                    "best_score": best_score,
                    "best_epoch": best_epoch,
                    "history": history,
                },
            )
            append_metrics(run_dir, record)
            if show:
                tqdm.write(
                    f"epoch {epoch}: loss {train_logs['train/loss']:.4f}  "
                    f"{select} {100 * score:.1f}"
                    f"  (best {100 * best_score:.1f} @ {best_epoch})"
                )
        barrier()

    test_report = None
    if cfg.train.eval_test and env.is_main:
        from avvp.training.checkpoint import read_weights

        model.load_state_dict(read_weights(ckpt_dir / "best", device=env.device))
        test_set = task.dataset("test", train=False)
        evaluation = task.evaluate(
            model, test_set, device=env.device, env=None, keep_predictions=True, desc="test"
        )
        test_report = task.write_report(evaluation, test_set, run_dir / "test", "test")
        append_metrics(
            run_dir,
            {
                "split": "test",
                "epoch": best_epoch,
                **{f"test/{k}": v for k, v in evaluation.scores.items()},
            },
        )
    barrier()
    return RunResult(
        run_dir=run_dir,
        best_epoch=best_epoch,
        best_score=best_score,
        test=test_report,
        is_main=env.is_main,
    )
