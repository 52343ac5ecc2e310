"""Resumable training state (optimizer, scheduler, RNG, epoch, metrics) in ONE safetensors file.

Tensors (weights, optimizer moments, RNG states) are the file's tensors; everything else is a JSON
skeleton in the file's metadata, with references to the tensors. One file written to a temporary
name and renamed is one atomic unit: a run killed at any moment resumes either from the previous
epoch's complete state or from the new one, never from a mix. Nothing is pickled, so resuming
never unpickles a file. (Versions before this one wrote the skeleton to ``<prefix>.json``; such
states are still read.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from avvp.errors import DataError

FORMAT = "avvp-train-state"


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
    """Write ``<prefix>.safetensors`` atomically (temporary file, fsync, rename)."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split_tensors(state, "", tensors)
    weights = prefix.with_suffix(".safetensors")
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": FORMAT, "state": json.dumps(skeleton)})
    # Flush the bytes before the rename: after a crash the name points at a complete file.
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, weights)
    # A skeleton left by an older version would describe another epoch: drop it.
    prefix.with_suffix(".json").unlink(missing_ok=True)


def load_state(prefix: Path) -> dict[str, Any]:
    weights, legacy = prefix.with_suffix(".safetensors"), prefix.with_suffix(".json")
    if not weights.is_file():
        raise DataError(f"{weights}: training state not found (cannot resume)")
    try:
        with safe_open(str(weights), "pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(weights))
        if "state" in metadata:
            skeleton = json.loads(metadata["state"])
        elif legacy.is_file():
            skeleton = json.loads(legacy.read_text())
        else:
            raise DataError(f"{weights}: not an avvp training state (no state metadata)")
    except (json.JSONDecodeError, OSError, SafetensorError) as exc:
        raise DataError(f"{weights}: cannot read training state ({exc})") from None
    state = _join_tensors(skeleton, tensors)
    if not isinstance(state, dict):
        raise DataError(f"{weights}: not an avvp training state")
    return state
