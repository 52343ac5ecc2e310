"""Extractor outputs on a decoded synthetic video (random weights, small inputs)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from avvp.errors import AvvpError, ConfigError
from avvp.extractors.factory import (
    EXTRACTOR_NAMES,
    EXTRACTORS,
    create_extractor,
    parse_names,
    parse_weights,
)
from avvp.extractors.r2plus1d import R2Plus1D18, R2Plus1DExtractor
from avvp.extractors.resnet import ResNet, ResNetFrameExtractor
from avvp.extractors.vggish import VGGish, VGGishExtractor
from avvp.video import DecodedVideo, decode_video
from avvp.video.synth import write_test_video

HAS_EFFICIENTNET = importlib.util.find_spec("efficientnet_lite_pytorch") is not None
HAS_LITERT = importlib.util.find_spec("ai_edge_litert") is not None


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> DecodedVideo:
    path = write_test_video(tmp_path_factory.mktemp("ex") / "clip.mp4", seconds=2.3)
    return decode_video(path)


def test_vggish_shape_and_determinism(video: DecodedVideo) -> None:
    torch.manual_seed(0)
    extractor = VGGishExtractor(model=VGGish())
    first = extractor.extract(video)
    assert first.shape == (2, 128) and first.dtype == np.float32
    assert np.array_equal(first, extractor.extract(video))
    assert (first >= 0).all()  # the port's final ReLU


def test_resnet_frame_features(video: DecodedVideo) -> None:
    torch.manual_seed(0)
    # ResNet-50-sized layout at 64 px keeps the test fast; ResNet-152 shares the code path.
    extractor = ResNetFrameExtractor(model=ResNet(layers=(1, 1, 1, 1)), image_size=64, resize=72)
    features = extractor.extract(video)
    assert features.shape == (16, 2048) and features.dtype == np.float32
    batch = extractor.preprocess(video.frames[:2])
    assert batch.shape == (2, 3, 64, 64)


def test_resnet_preprocess_is_imagenet_normalised() -> None:
    extractor = ResNetFrameExtractor(model=ResNet(layers=(1, 1, 1, 1)))
    grey = np.full((1, 240, 320, 3), 128, dtype=np.uint8)
    x = extractor.preprocess(grey)
    assert x.shape == (1, 3, 224, 224)
    expected = (128 / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x[0, :, 100, 100].numpy(), expected, rtol=1e-5)


def test_r2plus1d_clip_features(video: DecodedVideo) -> None:
    torch.manual_seed(0)
    extractor = R2Plus1DExtractor(model=R2Plus1D18(), size=32)
    features = extractor.extract(video)
    assert features.shape == (2, 512) and features.dtype == np.float32
    clips = extractor.preprocess(video.frames[:16], clip_length=8)
    assert clips.shape == (2, 3, 8, 32, 32)


def test_factory_names_and_weights() -> None:
    assert parse_names("vggish, res152") == ["vggish", "res152"]
    choices = "vggish, res152, r2plus1d_18, yamnet, efficientnet"
    with pytest.raises(ConfigError, match=rf"^--extractors: unknown 'nope' \(one of {choices}\)$"):
        parse_names("vggish,nope")
    with pytest.raises(ConfigError, match=rf"^extractor: unknown 'vgg' \(one of {choices}\)$"):
        create_extractor("vgg", allow_random=True)
    assert parse_weights(["vggish=/w/v.pth", "vggish_pca=/w/p.pth"]) == {
        "vggish": Path("/w/v.pth"),
        "vggish_pca": Path("/w/p.pth"),
    }
    with pytest.raises(ConfigError, match="NAME=PATH"):
        parse_weights(["vggish"])
    with pytest.raises(ConfigError, match="needs its published weights"):
        create_extractor("res152")
    with pytest.raises(ConfigError, match="yamnet=PATH"):
        create_extractor("yamnet")


def test_registry_order_fixes_the_seeds() -> None:
    # An extractor's position in the registry seeds its random-weight build: the order is fixed.
    assert EXTRACTORS.names() == EXTRACTOR_NAMES
    assert EXTRACTOR_NAMES == ("vggish", "res152", "r2plus1d_18", "yamnet", "efficientnet")


def test_extractor_modules_are_imported_only_when_built() -> None:
    code = (
        "import sys\n"
        "import avvp.extractors\n"
        "mods = ('vggish', 'resnet', 'r2plus1d', 'yamnet', 'efficientnet')\n"
        "loaded = lambda: [m for m in mods if 'avvp.extractors.' + m in sys.modules]\n"
        "print(loaded())\n"
        "avvp.extractors.create_extractor('r2plus1d_18', allow_random=True)\n"
        "print(loaded())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["[]", "['r2plus1d']"]


@pytest.mark.skipif(not HAS_EFFICIENTNET, reason="optional teachers extra not installed")
def test_efficientnet_features(video: DecodedVideo) -> None:
    from avvp.extractors.efficientnet import build_efficientnet_extractor

    torch.manual_seed(0)
    extractor = build_efficientnet_extractor(pretrained=False)
    features = extractor.extract(video)
    assert features.shape == (16, 1280) and features.dtype == np.float32


@pytest.mark.skipif(not HAS_LITERT, reason="optional teachers extra not installed")
def test_yamnet_embeddings_on_real_clip(shared_data: Path) -> None:
    from avvp.extractors.yamnet import YAMNet, build_yamnet_extractor

    model_path = shared_data / "models" / "yamnet" / "yamnet.tflite"
    video = decode_video(shared_data / "llp" / "video" / "BjCEufrlXm4.mp4")
    features = build_yamnet_extractor(weights=model_path).extract(video)
    assert features.shape == (10, 1024) and np.isfinite(features).all()
    scores, embedding = YAMNet(model_path).run(np.zeros(15600, dtype=np.float32))
    assert scores.shape == (521,) and embedding is not None and embedding.shape == (1024,)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_missing_optional_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith(("ai_edge_litert", "efficientnet_lite")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    from avvp.extractors.efficientnet import build_efficientnet_lite0
    from avvp.extractors.yamnet import YAMNet

    with pytest.raises(AvvpError, match=r'pip install "avvp\[teachers\]"'):
        build_efficientnet_lite0()
    with warnings.catch_warnings(), pytest.raises(AvvpError, match=r"avvp\[teachers\]"):
        YAMNet(__file__)  # an existing file, so the import is what fails
