"""R(2+1)D-18 clip features (512-d per second), as used for LLP's ``feats/r2plus1d_18``.

The network follows torchvision's ``r2plus1d_18`` (``VideoResNet`` with the (2+1)D stem
``stem.{0,1,3,4}``, BasicBlocks whose ``conv1`` / ``conv2`` are ``Sequential(Conv2Plus1D, BN[,
ReLU])`` and ``Conv2Plus1D = Sequential(spatial conv, BN, ReLU, temporal conv)``, ``fc`` 512 ->
400), 31,505,325 parameters. The LLP extraction fed the 8 frames of each second (8 fps) as one
clip, each frame resized to 112 x 112 (no crop) and normalised with the Kinetics statistics; the
output is the average-pooled 512-d vector (the network without ``fc``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from avvp.extractors.base import (
    KINETICS_MEAN,
    KINETICS_STD,
    frames_to_tensor,
    load_state_dict_file,
    load_weights,
    normalize,
    resize_exact,
)
from avvp.video.decode import DecodedVideo


def conv2plus1d(inplanes: int, planes: int, midplanes: int, *, stride: int = 1) -> nn.Sequential:
    """A (2+1)D factorised 3x3x3 convolution: spatial 1x3x3, BN, ReLU, temporal 3x1x1."""
    return nn.Sequential(
        nn.Conv3d(
            inplanes,
            midplanes,
            (1, 3, 3),
            stride=(1, stride, stride),
            padding=(0, 1, 1),
            bias=False,
        ),
        nn.BatchNorm3d(midplanes),
        nn.ReLU(inplace=True),
        nn.Conv3d(
            midplanes, planes, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False
        ),
    )


class BasicBlock3d(nn.Module):
    """torchvision's video BasicBlock with (2+1)D convolutions."""

    def __init__(self, inplanes: int, planes: int, *, stride: int = 1) -> None:
        super().__init__()
        # Parameter-matched to a full 3x3x3 conv (the R(2+1)D paper's rule, as torchvision).
        midplanes = (inplanes * planes * 27) // (inplanes * 9 + 3 * planes)
        self.conv1 = nn.Sequential(
            conv2plus1d(inplanes, planes, midplanes, stride=stride),
            nn.BatchNorm3d(planes),
            nn.ReLU(inplace=True),
        )
        self.conv2 = nn.Sequential(conv2plus1d(planes, planes, midplanes), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv3d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm3d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + identity)


class R2Plus1D18(nn.Module):
    """R(2+1)D-18 with torchvision's layout; ``forward`` returns the pooled 512-d feature."""

    def __init__(self, *, num_classes: int = 400) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(3, 45, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(45),
            nn.ReLU(inplace=True),
            nn.Conv3d(45, 64, (3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
        )
        inplanes = 64
        for index, planes in enumerate((64, 128, 256, 512)):
            stride = 1 if index == 0 else 2
            stage = nn.Sequential(
                BasicBlock3d(inplanes, planes, stride=stride), BasicBlock3d(planes, planes)
            )
            setattr(self, f"layer{index + 1}", stage)
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(512, num_classes)
        self.feature_dim = 512

    def features(self, clips: Tensor) -> Tensor:
        """(N, 3, T, H, W) -> (N, 512)."""
        x = self.stem(clips)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, clips: Tensor) -> Tensor:
        return self.features(clips)


class R2Plus1DExtractor:
    """(T, 512) features: one clip of the ``fps`` frames of every segment."""

    name = "r2plus1d_18"
    key = "clips"
    folder = "feats/r2plus1d_18"

    def __init__(self, *, model: R2Plus1D18, size: int = 112, batch_size: int = 4) -> None:
        self.model = model.eval()
        self.size = size
        self.batch_size = batch_size

    def preprocess(self, frames: np.ndarray, *, clip_length: int) -> Tensor:
        """(N*L, H, W, 3) uint8 -> (N, 3, L, size, size) normalised clips."""
        images = resize_exact(frames_to_tensor(frames), size=(self.size, self.size))
        images = normalize(images, KINETICS_MEAN, KINETICS_STD)
        clips = images.reshape(-1, clip_length, 3, self.size, self.size)
        return clips.permute(0, 2, 1, 3, 4).contiguous()

    def extract(self, video: DecodedVideo) -> np.ndarray:
        outputs = []
        step = self.batch_size * video.fps
        with torch.inference_mode():
            for start in range(0, video.num_segments * video.fps, step):
                clips = self.preprocess(video.frames[start : start + step], clip_length=video.fps)
                outputs.append(self.model.features(clips))
        return torch.cat(outputs).numpy().astype(np.float32)


def build_r2plus1d_18_extractor(
    *, weights: str | Path | None = None, size: int = 112
) -> R2Plus1DExtractor:
    """R(2+1)D-18 extractor; random weights when ``weights`` is None (for tests and timing)."""
    model = R2Plus1D18()
    if weights is not None:
        load_weights(model, load_state_dict_file(weights), source=weights)
    return R2Plus1DExtractor(model=model, size=size)
