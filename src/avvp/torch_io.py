"""Reading ``torch.save`` files (reference checkpoints, extractor weights, label embeddings).

Always ``weights_only=True``: avvp never unpickles arbitrary objects. torch's own error for a file
it refuses is several paragraphs long and advises retrying with ``weights_only=False``, which is
exactly what a user handed an untrusted or corrupt file must not do; :func:`read_torch_file`
turns it into one line of our own.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from avvp.errors import DataError

_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def torch_load_reason(exc: BaseException) -> str:
    """A short, advice-free reason for a failed ``torch.load(..., weights_only=True)``."""
    message = str(exc)
    found = _GLOBAL.search(message)
    if found:
        return (
            f"it holds a Python object ({found.group(1)}), not only tensors and plain "
            "containers; avvp does not unpickle objects"
        )
    if "PytorchStreamReader" in message or "zip archive" in message:
        return "damaged torch archive (truncated or corrupt)"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, pickle.UnpicklingError | KeyError | EOFError) or "weights_only" in message:
        return "not a torch file, or a corrupt one"
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return first


def read_torch_file(path: Path, *, what: str) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; a one-line ``DataError`` on failure.

    ``what`` completes "cannot read ...", e.g. ``"as a torch checkpoint"``.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many exception types for unreadable files
        raise DataError(f"{path}: cannot read {what} ({torch_load_reason(exc)})") from None
