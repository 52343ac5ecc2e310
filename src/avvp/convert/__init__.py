"""Reference (official) checkpoints -> avvp models.

``convert_reference(arch, state_dict)`` returns the avvp ``model:`` config and the avvp state
dict for ``arch`` in ``han_mmil`` (AVVP-ECCV20), ``mmpyr_mmil`` (MM_Pyramid), ``mmpyr_leap``
(LEAP) and ``mmcse`` (MM-CSE). ``read_reference_state_dict(path)`` loads a reference ``.pt``
file safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from avvp.convert import han_mmil, mmpyr_leap, mmpyr_mmil
from avvp.convert.reference import read_reference_state_dict, target_shapes_of, unwrap_state_dict
from avvp.errors import DataError

ARCHES: tuple[str, ...] = ("han_mmil", "mmpyr_mmil", "mmpyr_leap", "mmcse")

__all__ = [
    "ARCHES",
    "convert_reference",
    "feature_keys",
    "read_reference_state_dict",
    "unwrap_state_dict",
]


def feature_keys(model_config: Mapping[str, Any]) -> list[str]:
    """The batch feature keys a converted model reads (for the checkpoint's ``data`` section)."""
    if model_config.get("name") == "mmcse":
        audio = "clap" if model_config.get("audio_input", "clap") == "clap" else "audio"
        visual = "clip" if model_config.get("visual_input", "clip") == "clip" else "frames"
        return [audio, visual, "clips"]
    return ["audio", "frames", "clips"]


def convert_reference(
    arch: str, state_dict: Mapping[str, Tensor], *, label_embeddings: Tensor | None = None
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Convert a reference state dict; ``label_embeddings`` (C, d_l) is required for LEAP (the
    reference keeps them outside its weights)."""
    state = unwrap_state_dict(state_dict, source=arch)
    if arch == "han_mmil":
        config, out = han_mmil.convert(state)
    elif arch == "mmpyr_mmil":
        config, out = mmpyr_mmil.convert(state)
    elif arch == "mmpyr_leap":
        config, out = mmpyr_leap.convert(state, label_embeddings=label_embeddings)
    elif arch == "mmcse":
        from avvp.convert.mmcse import convert_mmcse

        kwargs, out = convert_mmcse(state)
        config = {"name": "mmcse", **kwargs}
    else:
        raise DataError(f"unknown reference architecture {arch!r} (one of {', '.join(ARCHES)})")
    if arch != "mmpyr_leap" and label_embeddings is not None:
        raise DataError(f"{arch}: has no label embeddings (--label-embeddings is for mmpyr_leap)")
    expected = set(target_shapes_of(config))
    if set(out) != expected:  # a bug in a rule table, not a user error
        raise AssertionError(
            f"{arch}: conversion covers {sorted(set(out) ^ expected)[:5]} incorrectly"
        )
    return config, out
