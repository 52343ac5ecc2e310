"""Resumable training state (optimizer, scheduler, RNG, epoch) in safetensors + JSON.

Tensors (optimizer moments, RNG states) go to ``<prefix>.safetensors``; everything else to
``<prefix>.json``. Nothing is pickled, so resuming never unpickles a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from avvp.errors import DataError


def _split_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested structure by a reference, collecting the tensors."""
    if isinstance(obj, torch.Tensor):
        key = prefix.lstrip(".")
        tensors[key] = obj.detach().to("cpu").contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {
            "__dict__": [[k, _split_tensors(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]
        }
    if isinstance(obj, list | tuple):
        items = [_split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    return obj


def _join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: _join_tensors(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_join_tensors(v, tensors) for v in obj["__tuple__"])
        return {k: _join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_tensors(v, tensors) for v in obj]
    return obj


def save_state(prefix: Path, state: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split_tensors(state, "", tensors)
    weights, sidecar = prefix.with_suffix(".safetensors"), prefix.with_suffix(".json")
    tmp_w, tmp_s = (
        weights.with_name(weights.name + ".tmp"),
        sidecar.with_name(sidecar.name + ".tmp"),
    )
    save_file(tensors, str(tmp_w))
    tmp_s.write_text(json.dumps(skeleton))
    os.replace(tmp_w, weights)
    os.replace(tmp_s, sidecar)


def load_state(prefix: Path) -> dict[str, Any]:
    weights, sidecar = prefix.with_suffix(".safetensors"), prefix.with_suffix(".json")
    for path in (weights, sidecar):
        if not path.is_file():
            raise DataError(f"{path}: training state not found (cannot resume)")
    try:
        skeleton = json.loads(sidecar.read_text())
        tensors = load_file(str(weights))
    except (json.JSONDecodeError, OSError, SafetensorError) as exc:
        raise DataError(f"{prefix}: cannot read training state ({exc})") from None
    state = _join_tensors(skeleton, tensors)
    assert isinstance(state, dict)
    return state
