"""Parameter counts and forward FLOPs of a config's model, without data (``avvp info``)."""

from __future__ import annotations

from typing import Any

import torch


def example_batch(feature_keys: list[str], batch_size: int = 1) -> dict[str, torch.Tensor]:
    """Random inputs of the official shapes for ``feature_keys`` (and labels)."""
    from avvp.classes import NUM_CLASSES, NUM_SEGMENTS
    from avvp.data.features import resolve_specs

    generator = torch.Generator().manual_seed(0)
    batch = {
        spec.key: torch.rand((batch_size, *spec.shape), generator=generator)
        for spec in resolve_specs(feature_keys)
    }
    batch["label"] = (torch.rand(batch_size, NUM_CLASSES, generator=generator) > 0.8).float()
    for key in ("pseudo_audio", "pseudo_visual"):
        batch[key] = (
            torch.rand(batch_size, NUM_SEGMENTS, NUM_CLASSES, generator=generator) > 0.8
        ).float()
    return batch


def shape_only_config(cfg: Any) -> Any:
    """A copy of ``cfg`` whose label embeddings build without their file or text encoder (zeros
    of the same shape): they are a fixed buffer, so counts and FLOPs are unchanged, and ``info``
    works from a fresh checkout that lacks the LEAP release file."""
    import copy

    from omegaconf import OmegaConf

    from avvp.models.label_embeddings import CONFIG_KEYS, placeholder_config

    shaped = copy.deepcopy(cfg)
    for key in CONFIG_KEYS:
        section = OmegaConf.select(shaped, key)
        if section is not None and OmegaConf.is_dict(section):
            plain = OmegaConf.to_container(section)
            assert isinstance(plain, dict)
            fields = {str(k): v for k, v in plain.items()}
            OmegaConf.update(shaped, key, placeholder_config(fields), merge=False)
    return shaped


def describe(cfg: Any, *, flops: bool = True) -> dict[str, Any]:
    """``name``, ``params`` (live counts, by part), the resolved ``model`` config and, with
    ``flops``, ``flops_per_video`` of ``cfg``'s model on random inputs of the official shapes."""
    from avvp.config import to_container
    from avvp.models.complexity import estimate_flops
    from avvp.tasks import build_task

    task = build_task(shape_only_config(cfg), data_root=None)
    torch.manual_seed(int(cfg.seed))
    model = task.build_model()
    batch = task.example_batch()
    params = task.parameter_counts(model, batch)
    info: dict[str, Any] = {
        "name": cfg.name,
        "params": params,
        "model": to_container(cfg)["model"],
    }
    if flops:
        info["flops_per_video"] = estimate_flops(model, batch)
    return info
