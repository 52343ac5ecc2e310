"""ResNet-152 frame features (2048-d per 8 fps frame), as used for LLP's ``feats/res152``.

The network follows torchvision's ``resnet152`` (Bottleneck blocks [3, 8, 36, 3], key names
``conv1``, ``bn1``, ``layerN.i.{conv,bn}{1,2,3}``, ``layerN.0.downsample.{0,1}``, ``fc``),
60,192,808 parameters. The LLP extraction used Cadene's ``pretrainedmodels`` port of the same
weights (its classifier is ``last_linear``; accepted and renamed on load) with that library's
transform: resize the shorter side to 256 (= 224 / 0.875), centre-crop 224, ImageNet
normalisation; the classifier replaced by identity so the output is the 2048-d average-pooled
feature. All 8 frames of every second are encoded: (8 T, 2048).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from avvp.extractors.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    frames_to_tensor,
    load_state_dict_file,
    load_weights,
    normalize,
    resize_short_side_center_crop,
)
from avvp.video.decode import DecodedVideo


class Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck (stride on the 3x3 conv)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, *, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity)


class ResNet(nn.Module):
    """A torchvision-compatible bottleneck ResNet; ``forward`` returns pooled features."""

    def __init__(self, *, layers: tuple[int, int, int, int], num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            stride = 1 if index == 0 else 2
            stage = [Bottleneck(inplanes, planes, stride=stride)]
            inplanes = planes * Bottleneck.expansion
            stage += [Bottleneck(inplanes, planes) for _ in range(blocks - 1)]
            setattr(self, f"layer{index + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)
        self.feature_dim = 512 * Bottleneck.expansion

    def features(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, 2048) average-pooled features (the LLP ``res152`` vector)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)

    def classify(self, x: Tensor) -> Tensor:
        """ImageNet logits (N, num_classes)."""
        return self.fc(self.features(x))


def build_resnet152() -> ResNet:
    """ResNet-152 with torchvision's layout (random initialisation)."""
    return ResNet(layers=(3, 8, 36, 3))


class ResNetFrameExtractor:
    """(fps T, 2048) per-frame ResNet features of a decoded video."""

    name = "res152"
    key = "frames"
    folder = "feats/res152"

    def __init__(
        self, *, model: ResNet, image_size: int = 224, resize: int = 256, batch_size: int = 16
    ) -> None:
        self.model = model.eval()
        self.image_size = image_size
        self.resize = resize
        self.batch_size = batch_size

    def preprocess(self, frames: np.ndarray) -> Tensor:
        """(N, H, W, 3) uint8 -> (N, 3, S, S) normalised network input."""
        images = resize_short_side_center_crop(
            frames_to_tensor(frames), short_side=self.resize, crop=self.image_size
        )
        return normalize(images, IMAGENET_MEAN, IMAGENET_STD)

    def extract(self, video: DecodedVideo) -> np.ndarray:
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(video.frames), self.batch_size):
                batch = self.preprocess(video.frames[start : start + self.batch_size])
                outputs.append(self.model.features(batch))
        return torch.cat(outputs).numpy().astype(np.float32)


def build_resnet152_extractor(
    *, weights: str | Path | None = None, image_size: int = 224, resize: int = 256
) -> ResNetFrameExtractor:
    """ResNet-152 extractor; random weights when ``weights`` is None (for tests and timing).

    Accepts torchvision (``fc.*``) and pretrainedmodels (``last_linear.*``) state dicts.
    """
    model = build_resnet152()
    if weights is not None:
        state = load_state_dict_file(weights)
        load_weights(model, state, source=weights, rename={"last_linear.": "fc."})
    return ResNetFrameExtractor(model=model, image_size=image_size, resize=resize)
