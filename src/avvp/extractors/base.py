"""What every feature extractor provides, weight loading, and the image transforms they share."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avvp.errors import AvvpError, DataError
from avvp.torch_io import read_torch_file
from avvp.video.decode import DecodedVideo

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
# Kinetics-400 statistics used by torchvision's video models and the LLP R(2+1)D extraction.
KINETICS_MEAN: tuple[float, float, float] = (0.43216, 0.394666, 0.37645)
KINETICS_STD: tuple[float, float, float] = (0.22803, 0.22145, 0.216989)

TEACHERS_HINT = 'install the optional teachers with: pip install "avvp[teachers]"'


@runtime_checkable
class FeatureExtractor(Protocol):
    """Turns a decoded video into one feature array.

    Attributes:
        name: the extractor's CLI name (``vggish``, ``res152``, ...).
        key: the feature key in batches and configs (``audio``, ``frames``, ``clips``, ...).
        folder: where its files go under a dataset root (``feats/vggish``).
    """

    name: str
    key: str
    folder: str

    def extract(self, video: DecodedVideo) -> np.ndarray:
        """Features of ``video`` (first axis: segments or frames), float32."""
        ...


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """Read a state dict from ``.safetensors`` or a torch file (``weights_only=True``).

    A torch file holding ``{"state_dict": ...}`` or ``{"model": ...}`` is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: weights file not found")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except (SafetensorError, OSError) as exc:
            raise DataError(f"{path}: cannot read safetensors file ({exc})") from None
    obj = read_torch_file(path, what="torch weights")
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise DataError(f"{path}: not a state dict (a mapping of names to tensors)")
    return {str(k): v for k, v in obj.items()}


def load_weights(
    module: nn.Module,
    state: Mapping[str, Tensor],
    *,
    source: str | Path,
    rename: Mapping[str, str] | None = None,
    ignore_prefixes: tuple[str, ...] = (),
) -> None:
    """Load ``state`` into ``module`` strictly, with a clear error naming ``source``.

    ``rename`` maps key prefixes of the file to the module's (e.g. ``last_linear.`` -> ``fc.``);
    keys starting with one of ``ignore_prefixes`` are dropped (a ``module.`` DataParallel prefix
    is always removed).
    """
    fixed: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.startswith("module."):
            key = key[len("module.") :]
        if any(key.startswith(p) for p in ignore_prefixes):
            continue
        for old, new in (rename or {}).items():
            if key.startswith(old):
                key = new + key[len(old) :]
        fixed[key] = value
    own = module.state_dict()
    for key, value in own.items():
        # Weight files saved before PyTorch 0.4.1 lack BatchNorm's step counter; it is unused
        # in eval mode, so a zero is as good as any.
        if key.endswith("num_batches_tracked") and key not in fixed:
            fixed[key] = torch.zeros_like(value)
    missing = [k for k in own if k not in fixed]
    unexpected = [k for k in fixed if k not in own]
    wrong = [k for k in own if k in fixed and tuple(fixed[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {len(missing)} keys, e.g. {missing[:3]}")
        if unexpected:
            details.append(f"unexpected {len(unexpected)} keys, e.g. {unexpected[:3]}")
        if wrong:
            k = wrong[0]
            details.append(
                f"{len(wrong)} shape mismatches, e.g. {k}: file {tuple(fixed[k].shape)} "
                f"vs model {tuple(own[k].shape)}"
            )
        raise DataError(
            f"{source}: weights do not fit {type(module).__name__} ({'; '.join(details)})"
        )
    module.load_state_dict(fixed, strict=True)


def download_weights(url: str, *, sha256: str, dest: str | Path) -> Path:
    """Download ``url`` to ``dest`` (atomically) and check its sha256; reuse a verified file.

    Only for machines that are online; nothing in avvp calls it implicitly.
    """
    dest = Path(dest)
    if dest.is_file() and file_sha256(dest) == sha256.lower():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        digest = file_sha256(Path(tmp_name))
        if digest != sha256.lower():
            raise AvvpError(f"{url}: sha256 mismatch (got {digest}, expected {sha256})")
        os.replace(tmp_name, dest)
    except OSError as exc:
        raise AvvpError(f"{url}: download failed ({exc})") from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return dest


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def frames_to_tensor(frames: np.ndarray) -> Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def resize_short_side_center_crop(images: Tensor, *, short_side: int, crop: int) -> Tensor:
    """Resize so the shorter side is ``short_side`` (bilinear, antialiased, as PIL) then crop.

    (N, 3, H, W) -> (N, 3, crop, crop).
    """
    height, width = images.shape[-2:]
    scale = short_side / min(height, width)
    # PIL's Resize(int) computes the long side with int() truncation.
    new_h = short_side if height <= width else int(height * scale)
    new_w = short_side if width <= height else int(width * scale)
    if (new_h, new_w) != (height, width):
        images = F.interpolate(
            images, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        )
    top = round((new_h - crop) / 2.0)
    left = round((new_w - crop) / 2.0)
    return images[..., top : top + crop, left : left + crop]


def resize_exact(images: Tensor, *, size: tuple[int, int]) -> Tensor:
    """Resize (N, 3, H, W) to ``size`` = (h, w), bilinear with antialiasing (as PIL)."""
    if tuple(images.shape[-2:]) == size:
        return images
    return F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)


def normalize(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """Channel-wise ``(x - mean) / std`` on (N, 3, ...) tensors."""
    shape = (1, len(mean)) + (1,) * (images.dim() - 2)
    m = torch.tensor(mean, dtype=images.dtype).view(shape)
    s = torch.tensor(std, dtype=images.dtype).view(shape)
    return (images - m) / s


def batched(module: nn.Module, inputs: Tensor, *, batch_size: int) -> Tensor:
    """Run ``module`` over ``inputs`` in chunks under ``torch.inference_mode``."""
    outputs = []
    with torch.inference_mode():
        for start in range(0, inputs.shape[0], batch_size):
            outputs.append(module(inputs[start : start + batch_size]))
    return torch.cat(outputs, dim=0)


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` via a temporary file and rename (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
