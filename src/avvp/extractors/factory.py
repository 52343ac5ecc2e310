"""The one place that maps extractor names (CLI ``--extractors``) to their builders:
:data:`EXTRACTORS`, a :class:`~avvp.registry.Registry`. Each builder imports its extractor's module
when called, so naming an extractor costs nothing until it is built."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from avvp.errors import ConfigError
from avvp.extractors.base import FeatureExtractor
from avvp.registry import Registry

# builder(weights of this extractor or None, every --weights file by name) -> extractor
ExtractorBuilder = Callable[[Path | None, Mapping[str, Path]], FeatureExtractor]

BENCHMARK_EXTRACTORS: tuple[str, ...] = ("vggish", "res152", "r2plus1d_18")
OFFLINE_EXTRACTORS: tuple[str, ...] = ("yamnet", "efficientnet")
# Feature key (batches, configs, sidecars) -> extractor name.
KEY_TO_EXTRACTOR: dict[str, str] = {"audio": "vggish", "frames": "res152", "clips": "r2plus1d_18"}


def _vggish(weights: Path | None, extra: Mapping[str, Path]) -> FeatureExtractor:
    from avvp.extractors.vggish import build_vggish_extractor

    return build_vggish_extractor(weights=weights, pca_params=extra.get("vggish_pca"))


def _res152(weights: Path | None, extra: Mapping[str, Path]) -> FeatureExtractor:
    from avvp.extractors.resnet import build_resnet152_extractor

    return build_resnet152_extractor(weights=weights)


def _r2plus1d(weights: Path | None, extra: Mapping[str, Path]) -> FeatureExtractor:
    from avvp.extractors.r2plus1d import build_r2plus1d_18_extractor

    return build_r2plus1d_18_extractor(weights=weights)


def _yamnet(weights: Path | None, extra: Mapping[str, Path]) -> FeatureExtractor:
    from avvp.extractors.yamnet import build_yamnet_extractor

    if weights is None:
        raise ConfigError("extractor 'yamnet' needs its TFLite file: --weights yamnet=PATH")
    return build_yamnet_extractor(weights=weights)


def _efficientnet(weights: Path | None, extra: Mapping[str, Path]) -> FeatureExtractor:
    from avvp.extractors.efficientnet import build_efficientnet_extractor

    return build_efficientnet_extractor(weights=weights)


EXTRACTORS: Registry[ExtractorBuilder] = Registry("extractor")
# Append new extractors at the end: an extractor's position seeds its random-weight builds.
EXTRACTORS.add("vggish", _vggish)
EXTRACTORS.add("res152", _res152)
EXTRACTORS.add("r2plus1d_18", _r2plus1d)
EXTRACTORS.add("yamnet", _yamnet)
EXTRACTORS.add("efficientnet", _efficientnet)
EXTRACTOR_NAMES: tuple[str, ...] = EXTRACTORS.names()


def parse_names(text: str) -> list[str]:
    """``"vggish,res152"`` -> checked list of extractor names."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        EXTRACTORS.get(name, where="--extractors")
    if not names:
        raise ConfigError("no extractor named")
    return names


def parse_weights(items: Sequence[str] | None) -> dict[str, Path]:
    """``["vggish=/w/vggish.pth", ...]`` -> ``{"vggish": Path(...)}`` (``vggish_pca`` allowed)."""
    weights: dict[str, Path] = {}
    for item in items or ():
        name, sep, path = item.partition("=")
        if not sep or not path:
            raise ConfigError(f"--weights {item!r}: expected NAME=PATH")
        if name not in EXTRACTORS and name != "vggish_pca":
            raise ConfigError(
                f"--weights {item!r}: unknown name {name!r}; known: "
                f"{', '.join((*EXTRACTOR_NAMES, 'vggish_pca'))}"
            )
        weights[name] = Path(path)
    return weights


def create_extractor(
    name: str,
    *,
    weights: Mapping[str, Path] | None = None,
    allow_random: bool = False,
    seed: int = 0,
) -> FeatureExtractor:
    """Build extractor ``name`` with its weights from ``weights[name]``.

    The benchmark extractors (vggish, res152, r2plus1d_18) need published weights; only with
    ``allow_random`` do they run with random ones (tests, timing). EfficientNet-Lite0 uses its
    packaged weights when none are given. Every build draws its random initialisation from
    ``seed`` (mixed with the extractor's position in :data:`EXTRACTOR_NAMES`) inside a forked
    torch RNG, so random-weight features are the same in every run and the caller's global RNG
    state is left untouched.
    """
    builder = EXTRACTORS.get(name, where="extractor")
    weights = weights or {}
    path = weights.get(name)
    if path is None and name in BENCHMARK_EXTRACTORS and not allow_random:
        raise ConfigError(
            f"extractor {name!r} needs its published weights: --weights {name}=PATH "
            "(see docs/parse.md)"
        )
    with torch.random.fork_rng(devices=[]):
        # A distinct stream per extractor: two extractors never share initial weights.
        torch.manual_seed(seed * len(EXTRACTOR_NAMES) + EXTRACTOR_NAMES.index(name))
        return builder(path, weights)
