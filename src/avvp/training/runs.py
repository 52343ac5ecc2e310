"""Run folders and checkpoints as users name them: the library behind ``avvp train / eval /
explain / parse``.

A user names a model by its run folder (``runs/smoke-20250101-120000``: the best checkpoint) or by
a checkpoint prefix (``runs/.../checkpoints/last``, with or without ``.json`` / ``.safetensors``).
:func:`resolve_checkpoint` turns either into the prefix of the file pair;
:func:`config_from_checkpoint` rebuilds the full config a checkpoint was trained with, on this
avvp version's defaults; :func:`open_checkpoint` does both and loads the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import nn

from avvp.config import drop_retired_keys, load_config
from avvp.errors import ConfigError, DataError

if TYPE_CHECKING:
    from avvp.extractors.base import FeatureExtractor

#: Where a run folder may hold its model, in order of preference: the trainer's best checkpoint,
#: then ``avvp convert``'s ``model`` pair, then a bare ``best`` pair.
RUN_CHECKPOINTS = (Path("checkpoints") / "best", Path("model"), Path("best"))


def resolve_checkpoint(path: Path) -> Path:
    """The checkpoint prefix (``<prefix>.json`` + ``<prefix>.safetensors``) that ``path`` names.

    ``path`` is a run folder (its best model, see :data:`RUN_CHECKPOINTS`), or a checkpoint
    prefix, or either file of the pair. A one-line :class:`DataError` when there is none.
    """
    path = Path(path)
    if path.is_dir():
        for candidate in RUN_CHECKPOINTS:
            if (path / candidate).with_suffix(".json").is_file():
                return path / candidate
        raise DataError(
            f"{path}: no checkpoint found (expected checkpoints/best.json or model.json)"
        )
    prefix = path.with_suffix("") if path.suffix in (".json", ".safetensors") else path
    if not prefix.with_suffix(".json").is_file():
        raise DataError(
            f"{path}: not a checkpoint (no {prefix.with_suffix('.json').name} beside it)"
        )
    return prefix


def config_from_checkpoint(
    sidecar: Mapping[str, Any], *, prefix: Path, overrides: Sequence[str] = ()
) -> DictConfig:
    """The config a checkpoint was trained with: this version's defaults, then the sidecar's
    ``config`` (keys retired since dropped silently: nothing for the user to fix), then the
    ``key=value`` ``overrides``. A :class:`ConfigError` naming ``<prefix>.json`` when the saved
    config does not fit this avvp version."""
    try:
        cfg = OmegaConf.merge(
            load_config(None),
            drop_retired_keys(OmegaConf.create(dict(sidecar["config"])), source=None),
            OmegaConf.from_dotlist(list(overrides)),
        )
    except OmegaConfBaseException as exc:
        raise ConfigError(
            f"{prefix}.json: its config does not fit this avvp version ({exc})"
        ) from None
    assert isinstance(cfg, DictConfig)
    return cfg


@dataclass
class OpenedCheckpoint:
    prefix: Path
    model: nn.Module  # on the requested device, in eval mode
    sidecar: dict[str, Any]
    config: DictConfig
    device: torch.device


def open_checkpoint(
    path: Path, *, device: str = "auto", overrides: Sequence[str] = ()
) -> OpenedCheckpoint:
    """Resolve ``path`` (run folder or checkpoint), load its model on ``device`` (``auto``: CUDA
    when available) and rebuild its config with ``overrides``."""
    from avvp.training.checkpoint import load_checkpoint
    from avvp.training.distributed import resolve_device

    prefix = resolve_checkpoint(path)
    torch_device = resolve_device(device)
    model, sidecar = load_checkpoint(prefix, device=torch_device)
    cfg = config_from_checkpoint(sidecar, prefix=prefix, overrides=overrides)
    return OpenedCheckpoint(
        prefix=prefix, model=model, sidecar=sidecar, config=cfg, device=torch_device
    )


def eval_overrides(*, gate: str | None = None, batch_size: int | None = None) -> list[str]:
    """The config overrides of ``avvp eval``'s ``--gate`` and ``--batch-size``."""
    overrides = []
    if gate:
        overrides.append(f"eval.gate={gate}")
    if batch_size:
        overrides.append(f"train.eval_batch_size={batch_size}")
    return overrides


def default_eval_dir(path: Path, prefix: Path, split: str) -> Path:
    """Where an evaluation of ``path`` goes by default: ``eval-<split>`` in the run folder, or
    beside the checkpoint files."""
    return Path(path) / f"eval-{split}" if Path(path).is_dir() else prefix.parent / f"eval-{split}"


@dataclass
class CheckpointEvaluation:
    prefix: Path
    split: str
    out: Path  # holds report.json and the task's predictions
    report: dict[str, Any]
    summary: str  # the task's text summary of the scores
    num_videos: int


def evaluate_checkpoint(
    path: Path,
    *,
    data_root: Path,
    split: str = "test",
    device: str = "auto",
    gate: str | None = None,
    batch_size: int | None = None,
    out: Path | None = None,
) -> CheckpointEvaluation:
    """Evaluate a run folder or checkpoint on ``split`` of ``data_root`` with its task's protocol;
    write ``report.json`` and the predictions into ``out`` (default: :func:`default_eval_dir`)."""
    from avvp.jsonio import write_json_strict
    from avvp.tasks import build_task

    opened = open_checkpoint(
        path, device=device, overrides=eval_overrides(gate=gate, batch_size=batch_size)
    )
    task = build_task(opened.config, data_root=data_root)
    dataset = task.dataset(split, train=False)
    evaluation = task.evaluate(
        opened.model, dataset, device=opened.device, env=None, keep_predictions=True
    )
    out = out or default_eval_dir(path, opened.prefix, split)
    report: dict[str, Any] = task.write_report(evaluation, dataset, out, split)
    report["checkpoint"] = str(opened.prefix)
    write_json_strict(out / "report.json", report)
    return CheckpointEvaluation(
        prefix=opened.prefix,
        split=split,
        out=out,
        report=report,
        summary=task.summary(evaluation),
        num_videos=len(dataset),
    )


def training_config(
    config: str | Path | None, overrides: Sequence[str] = (), *, resume: Path | None = None
) -> DictConfig:
    """The config of ``avvp train``: the preset or YAML ``config`` with ``overrides``, or, to
    resume, the run folder's own ``config.yaml`` with ``overrides`` (then ``config`` must be
    None)."""
    if resume is not None:
        if config is not None:
            raise ConfigError("--resume continues a run with its own config.yaml: give no CONFIG")
        return load_config(Path(resume) / "config.yaml", overrides)
    if config is None:
        raise ConfigError("give a CONFIG preset or path (or --resume RUN)")
    return load_config(config, overrides)


def set_label_embeddings_path(cfg: DictConfig, path: Path) -> None:
    """Point the config's file-based label embeddings (LLP decoder or AVE head) at ``path``."""
    from avvp.models.label_embeddings import CONFIG_KEYS

    for key in CONFIG_KEYS:
        section = OmegaConf.select(cfg, key)
        if section is not None and section.get("source", "release") in ("release", "glove"):
            OmegaConf.update(cfg, f"{key}.path", str(path), merge=True)
            return
    raise ConfigError(
        f"--label-embeddings: config {cfg.name!r} reads no label-embedding file (its "
        "label_embeddings source is not release or glove)"
    )


def checkpoint_feature_keys(sidecar: Mapping[str, Any], *, source: Path) -> list[str]:
    """The feature keys (``config.data.features``) a checkpoint's model reads."""
    try:
        return list(sidecar["config"]["data"]["features"])
    except (KeyError, TypeError):
        raise ConfigError(
            f"{source}: sidecar has no config.data.features (the model's feature keys)"
        ) from None


def feature_extractors(
    keys: Sequence[str], *, weights: Mapping[str, Path] | None = None
) -> dict[str, FeatureExtractor]:
    """An extractor for each of ``keys`` that has one (see ``KEY_TO_EXTRACTOR``), by key."""
    from avvp.extractors.factory import KEY_TO_EXTRACTOR, create_extractor

    return {
        key: create_extractor(KEY_TO_EXTRACTOR[key], weights=weights)
        for key in keys
        if key in KEY_TO_EXTRACTOR
    }
