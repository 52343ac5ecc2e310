"""Old model layouts -> the current ``inputs / encoder / decoder`` composition.

Until the composition could carry encoder side outputs, MM-CSE was a whole model with a flat
config ``{name: mmcse, audio_input, hidden, class_dim, ...}`` and top-level parameter names
``cafd_audio.*``, ``cafd_visual.*``, ``encoder.layers.*``, ``heads.*``. Configs and checkpoints of
that layout still load: :func:`upgrade_legacy_model` translates both, once, where they are read
(``build_model`` for configs, ``load_checkpoint`` / resume for weights). Light on purpose (no
torch module imports), since it runs for every checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from avvp.errors import ConfigError

#: old flat MM-CSE key -> (part, key in that part's builder); a key may feed several parts.
MMCSE_CONFIG_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "audio_input": (("inputs", "audio_input"),),
    "visual_input": (("inputs", "visual_input"),),
    "hidden": (("inputs", "d_model"), ("encoder", "d_model")),
    "class_dim": (("encoder", "class_dim"), ("decoder", "class_dim")),
    "heads": (("encoder", "heads"),),
    "layers": (("encoder", "layers"),),
    "ff": (("encoder", "ff"),),
    "dropout": (("encoder", "dropout"),),
    "use_cafd": (("encoder", "use_cafd"),),
    "use_secm": (("encoder", "use_secm"),),
    "use_lgsf": (("encoder", "use_lgsf"),),
    "reconstruction_heads": (("encoder", "reconstruction_heads"),),
    "num_classes": (("encoder", "num_classes"), ("decoder", "num_classes")),
    "gate": (("decoder", "gate"),),
}
#: old parameter-name prefix -> new (``inputs.`` and ``encoder.layers.`` kept their names).
MMCSE_STATE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("cafd_audio.", "encoder.cafd_audio."),
    ("cafd_visual.", "encoder.cafd_visual."),
    ("heads.", "decoder."),
)


def _rename(key: str) -> str:
    for old, new in MMCSE_STATE_PREFIXES:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def upgrade_legacy_model(
    config: Mapping[str, Any], state_dict: Mapping[str, Tensor] | None = None
) -> tuple[dict[str, Any], dict[str, Tensor] | None]:
    """``(model config, state dict)`` in the current layout.

    A config of the old whole-model MM-CSE layout (``name: mmcse``) becomes
    ``{inputs: {name: mmcse, ...}, encoder: {name: mmcse, ...}, decoder: {name: mmcse, ...}}``
    with the same values (keys left out stay left out: the builders' defaults are the old ones),
    and its state dict's parameter names are renamed. Anything else is returned unchanged.
    """
    cfg = {str(k): v for k, v in config.items()}
    state = None if state_dict is None else dict(state_dict)
    if cfg.get("name") != "mmcse":
        return cfg, state
    parts: dict[str, dict[str, Any]] = {
        p: {"name": "mmcse"} for p in ("inputs", "encoder", "decoder")
    }
    for key, value in cfg.items():
        if key == "name":
            continue
        if key not in MMCSE_CONFIG_KEYS:
            allowed = ", ".join(["name", *MMCSE_CONFIG_KEYS])
            raise ConfigError(f"model.{key}: unexpected key (allowed: {allowed})")
        for part, new_key in MMCSE_CONFIG_KEYS[key]:
            parts[part][new_key] = value
    if state is not None:
        state = {_rename(k): v for k, v in state.items()}
    return dict(parts), state
