"""Reference MM-CSE checkpoints (``code/main_network.py`` ``MMCSE_Net``) -> avvp MM-CSE
(the ``inputs / encoder / decoder`` composition with the ``mmcse`` parts).

Every reference key maps onto one avvp parameter, or onto one row of a stacked avvp parameter
(the 26 CAFD branches per modality and the 3 x 25 class-specific heads are stacked in avvp).
The reference's ``av_enhance.final_norm_{a,v}`` LayerNorms are registered but never used; they
are ignored. Anything else missing, unexpected or of the wrong shape is a
:class:`~avvp.errors.DataError` that names the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from avvp.convert.reference import read_reference_state_dict, unwrap_state_dict
from avvp.errors import DataError
from avvp.models.factory import build_model

#: registered in the reference but unused by its forward pass (the TSV's "dead" rows).
DEAD_KEYS = re.compile(r"^av_enhance\.final_norm_[av]\.(weight|bias)$")

_AUDIO_BY_WIDTH = {768: "clap", 128: "vggish"}
_VISUAL_BY_WIDTH = {768: "clip", 2048: "res152"}


@dataclass(frozen=True)
class _Slot:
    """Where one reference tensor goes: ``target[row]`` (or all of ``target``), and its shape."""

    target: str
    row: int | None
    shape: tuple[int, ...]


def _require(state: Mapping[str, Tensor], key: str) -> Tensor:
    if key not in state:
        raise DataError(f"MM-CSE reference state dict: missing key {key!r}")
    return state[key]


def _count_indexed(state: Mapping[str, Tensor], pattern: str) -> int:
    regex = re.compile(pattern)
    indices = {int(m.group(1)) for k in state if (m := regex.match(k))}
    if not indices:
        return 0
    if indices != set(range(max(indices) + 1)):
        missing = sorted(set(range(max(indices) + 1)) - indices)
        raise DataError(
            f"MM-CSE reference state dict: indices {missing} missing among keys matching "
            f"{pattern!r}"
        )
    return max(indices) + 1


def infer_config(state: Mapping[str, Tensor], *, heads: int = 8) -> dict[str, Any]:
    """The avvp ``model:`` config of the model a reference state dict was trained with.

    The number of attention heads is not recorded in the weights; the reference default is 8.
    The gate is the reference evaluation's (``mmcse``: visual gated by the visual-only video
    probability), so a converted model is evaluated the way the checkpoint's authors did.
    """
    fc_a = _require(state, "fc_a.weight")
    fc_v = _require(state, "fc_v.weight")
    if fc_a.dim() != 2 or fc_a.shape[1] not in _AUDIO_BY_WIDTH:
        raise DataError(
            f"MM-CSE reference state dict: key 'fc_a.weight' has shape {tuple(fc_a.shape)}; "
            f"expected (hidden, 768) for CLAP or (hidden, 128) for VGGish"
        )
    if fc_v.dim() != 2 or fc_v.shape[1] not in _VISUAL_BY_WIDTH:
        raise DataError(
            f"MM-CSE reference state dict: key 'fc_v.weight' has shape {tuple(fc_v.shape)}; "
            f"expected (hidden, 768) for CLIP or (hidden, 2048) for ResNet-152"
        )
    unmix = _require(state, "a_unmix.0.1.weight")
    ff = _require(state, "av_enhance.layers.0.linear1.weight")
    layers = _count_indexed(state, r"^av_enhance\.layers\.(\d+)\.")
    classes = _count_indexed(state, r"^fc_prob\.fc\.(\d+)\.weight$")
    if classes == 0:
        raise DataError("MM-CSE reference state dict: missing key 'fc_prob.fc.0.weight'")
    recon = any(k.startswith(("a_recon.", "v_recon.")) for k in state)
    hidden, class_dim = int(fc_a.shape[0]), int(unmix.shape[0])
    return {
        "inputs": {
            "name": "mmcse",
            "audio_input": _AUDIO_BY_WIDTH[int(fc_a.shape[1])],
            "visual_input": _VISUAL_BY_WIDTH[int(fc_v.shape[1])],
            "d_model": hidden,
        },
        "encoder": {
            "name": "mmcse",
            "d_model": hidden,
            "class_dim": class_dim,
            "heads": heads,
            "layers": layers,
            "ff": int(ff.shape[0]),
            "reconstruction_heads": recon,
            "num_classes": classes,
        },
        "decoder": {
            "name": "mmcse",
            "class_dim": class_dim,
            "num_classes": classes,
            "gate": "mmcse",
        },
    }


def _layout(
    avvp_shapes: Mapping[str, tuple[int, ...]], config: Mapping[str, Any]
) -> dict[str, _Slot]:
    """Reference key -> slot in the avvp state dict, for a model built from ``config``."""
    slots: dict[str, _Slot] = {}

    def whole(ref: str, target: str) -> None:
        for p in ("weight", "bias"):
            slots[f"{ref}.{p}"] = _Slot(f"{target}.{p}", None, avvp_shapes[f"{target}.{p}"])

    for name in ("fc_a", "fc_v", "fc_st", "fc_fusion"):
        whole(name, f"inputs.{name}")

    encoder = config["encoder"]
    classes = int(encoder["num_classes"])
    for mod, ref, layer_ids in (("audio", "a_unmix", (1,)), ("visual", "v_unmix", (1, 4))):
        for k in range(classes + 1):
            for n, layer in enumerate(layer_ids, start=1):
                for p in ("weight", "bias"):
                    target = f"encoder.cafd_{mod}.branches.{p}{n}"
                    slots[f"{ref}.{k}.{layer}.{p}"] = _Slot(target, k, avvp_shapes[target][1:])
    for mod, short in (("audio", "a"), ("visual", "v")):
        whole(f"alpha_{short}.model.1", f"encoder.cafd_{mod}.alpha.fc1")
        whole(f"alpha_{short}.model.4", f"encoder.cafd_{mod}.alpha.fc2")
        whole(f"reduce_{short}.0", f"encoder.cafd_{mod}.reduce")
    if encoder["reconstruction_heads"]:
        whole("a_recon.0", "encoder.cafd_audio.recon.fc1")
        whole("a_recon.2", "encoder.cafd_audio.recon.fc2")
        whole("v_recon.model.1", "encoder.cafd_visual.recon.fc1")
        whole("v_recon.model.3", "encoder.cafd_visual.recon.fc2")

    for i in range(int(encoder["layers"])):
        ref, dst = f"av_enhance.layers.{i}", f"encoder.layers.{i}"
        for a, b in (
            ("linear1", "ff_in"),
            ("linear2", "ff_out"),
            ("norm1", "norm"),
            ("fc1", "fc_intra"),
            ("fc2", "fc_cross"),
            ("LGSF_1.glob1", "lgsf_intra.local_proj"),
            ("LGSF_1.glob2", "lgsf_intra.global_proj"),
            ("LGSF_2.glob", "lgsf_cross.proj"),
            ("SECM_1.attn.out_proj", "secm_intra.attn.out_proj"),
            ("SECM_2.attn.out_proj", "secm_cross.attn.out_proj"),
        ):
            whole(f"{ref}.{a}", f"{dst}.{b}")
        for a, b in (("SECM_1", "secm_intra"), ("SECM_2", "secm_cross")):
            for p in ("in_proj_weight", "in_proj_bias"):
                target = f"{dst}.{b}.attn.{p}"
                slots[f"{ref}.{a}.attn.{p}"] = _Slot(target, None, avvp_shapes[target])

    for ref, dst in (("fc_prob", "prob"), ("fc_frame_att", "temporal"), ("fc_av_att", "modality")):
        dim = avvp_shapes[f"decoder.{dst}.weight"][1]
        for k in range(classes):
            slots[f"{ref}.fc.{k}.weight"] = _Slot(f"decoder.{dst}.weight", k, (1, dim))
            slots[f"{ref}.fc.{k}.bias"] = _Slot(f"decoder.{dst}.bias", k, (1,))
    return slots


def convert_mmcse(
    state_dict: Mapping[str, Tensor], *, heads: int = 8
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Convert a reference ``MMCSE_Net`` state dict.

    Returns the ``model:`` config (``build_model(config)`` builds the matching model) and the state
    dict (``model.load_state_dict(state, strict=True)`` works). Checkpoint wrappers and
    ``module.`` prefixes (``nn.DataParallel``) are removed. ``heads`` is the reference
    ``--nhead`` (default 8); it is not recorded in the weights.
    """
    state = unwrap_state_dict(state_dict, source="MM-CSE reference state dict")
    config = infer_config(state, heads=heads)
    model = build_model(config)
    target = {k: torch.empty_like(v) for k, v in model.state_dict().items()}
    slots = _layout({k: tuple(v.shape) for k, v in target.items()}, config)

    unexpected = [k for k in state if k not in slots and not DEAD_KEYS.match(k)]
    if unexpected:
        raise DataError(
            f"MM-CSE reference state dict: unexpected key {unexpected[0]!r}"
            + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
        )
    filled: dict[str, int] = {}
    for key, slot in slots.items():
        value = _require(state, key)
        if tuple(value.shape) != slot.shape:
            raise DataError(
                f"MM-CSE reference state dict: key {key!r} has shape {tuple(value.shape)}, "
                f"expected {slot.shape}"
            )
        dst = target[slot.target]
        value = value.detach().to(dtype=dst.dtype, device="cpu")
        if slot.row is None:
            dst.copy_(value)
        else:
            dst[slot.row].copy_(value.reshape(dst[slot.row].shape))
        filled[slot.target] = filled.get(slot.target, 0) + 1
    # Every avvp tensor must have been written (guards the layout against drifting from the model).
    empty = [k for k in target if k not in filled]
    if empty:  # pragma: no cover - a bug in _layout, not a user error
        raise RuntimeError(f"MM-CSE conversion left avvp keys unset: {empty}")
    return config, target


def convert_mmcse_file(
    path: str | Path, *, heads: int = 8
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Load a reference checkpoint (``torch.save(model.state_dict())``) and convert it."""
    state = read_reference_state_dict(Path(path))
    try:
        return convert_mmcse(state, heads=heads)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
