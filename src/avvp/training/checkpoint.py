"""Checkpoints: weights in safetensors, everything else in a JSON sidecar.

``save_checkpoint(prefix, ...)`` writes ``<prefix>.safetensors`` and ``<prefix>.json``. The sidecar
holds the resolved config (whose ``model`` section rebuilds the module), the class names, metrics
and provenance (git commit, package versions). Nothing is ever unpickled on load.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from avvp.classes import LLP_CLASSES
from avvp.errors import DataError
from avvp.models.legacy import upgrade_legacy_model
from avvp.tasks import TASKS
from avvp.training.provenance import provenance

FORMAT = "avvp-checkpoint"
FORMAT_VERSION = 1


def _paths(prefix: Path) -> tuple[Path, Path]:
    prefix = Path(prefix)
    if prefix.suffix in (".safetensors", ".json"):
        prefix = prefix.with_suffix("")
    return prefix.with_suffix(".safetensors"), prefix.with_suffix(".json")


def save_checkpoint(
    prefix: Path,
    *,
    model: nn.Module,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any] | None = None,
    class_names: tuple[str, ...] | list[str] = LLP_CLASSES,
    extra: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``<prefix>.safetensors`` (the model's state dict) and ``<prefix>.json`` (sidecar).

    Both files are written to a temporary name first and renamed, so an interrupted save never
    leaves a half-written checkpoint behind.
    """
    weights_path, sidecar_path = _paths(prefix)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": dict(config),
        "class_names": list(class_names),
        "metrics": dict(metrics or {}),
        **provenance(),
        **dict(extra or {}),
    }
    tmp_weights = weights_path.with_name(weights_path.name + ".tmp")
    tmp_sidecar = sidecar_path.with_name(sidecar_path.name + ".tmp")
    save_file(tensors, str(tmp_weights), metadata={"format": FORMAT})
    tmp_sidecar.write_text(json.dumps(sidecar, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp_weights, weights_path)
    os.replace(tmp_sidecar, sidecar_path)
    return weights_path, sidecar_path


def read_sidecar(prefix: Path) -> dict[str, Any]:
    _, sidecar_path = _paths(prefix)
    if not sidecar_path.is_file():
        raise DataError(f"{sidecar_path}: checkpoint sidecar not found")
    try:
        sidecar = json.loads(sidecar_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{sidecar_path}: not valid JSON ({exc})") from None
    if sidecar.get("format") != FORMAT:
        raise DataError(
            f"{sidecar_path}: not an avvp checkpoint sidecar (format={sidecar.get('format')!r})"
        )
    return dict(sidecar)


def read_weights(prefix: Path, *, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    weights_path, _ = _paths(prefix)
    if not weights_path.is_file():
        raise DataError(f"{weights_path}: checkpoint weights not found")
    try:
        return load_file(str(weights_path), device=str(device))
    except (SafetensorError, OSError) as exc:
        raise DataError(f"{weights_path}: cannot read safetensors file ({exc})") from None


def check_weights_fit(model: nn.Module, weights: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise a one-line ``DataError`` unless ``weights`` load into ``model`` exactly.

    ``load_state_dict`` would raise a multi-line size-mismatch traceback for a checkpoint of
    another width than the config; this names the file, the first tensor and both shapes.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    if missing or unexpected:
        raise DataError(
            f"{source}: weights do not match the model of the config "
            f"(missing: {missing[:5]}, unexpected: {unexpected[:5]})"
        )
    for key, tensor in weights.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise DataError(
                f"{source}: {key} has shape {tuple(tensor.shape)}, the model of the config "
                f"expects {tuple(expected[key].shape)} (weights of another model width?)"
            )


def load_weights(
    model: nn.Module,
    weights: Mapping[str, torch.Tensor],
    *,
    model_config: Mapping[str, Any],
    source: str,
) -> None:
    """Load ``weights`` into ``model`` (built from ``model_config``), or raise the one-line
    ``DataError`` of :func:`check_weights_fit` naming ``source``. Weights of the old whole-model
    MM-CSE layout are renamed to the current composition first (a no-op for any other layout)."""
    _, upgraded = upgrade_legacy_model(model_config, weights)
    assert upgraded is not None  # given weights, the upgrade returns weights
    check_weights_fit(model, upgraded, source)
    model.load_state_dict(upgraded)


def load_checkpoint(
    prefix: Path, *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from the sidecar's ``config["model"]`` and load its weights (eval mode)."""
    weights_path, sidecar_path = _paths(prefix)
    sidecar = read_sidecar(prefix)
    config = sidecar.get("config", {})
    if "model" not in config:
        raise DataError(f"{sidecar_path}: the sidecar has no model config")
    # The task that trained the model rebuilds it (checkpoints without a task are LLP ones).
    task_class = TASKS.get(config.get("task", "llp"), where=f"{sidecar_path}: task")
    model = task_class.build_model_from_config(config["model"])
    load_weights(
        model,
        read_weights(prefix, device="cpu"),
        model_config=config["model"],
        source=f"{weights_path} (config: {sidecar_path.name})",
    )
    model.to(device).eval()
    return model, sidecar
