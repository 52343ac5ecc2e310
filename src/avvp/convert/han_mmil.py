"""AVVP-ECCV20 ``MMIL_Net`` (HAN encoder + MMIL decoder) -> avvp.

Reference dead entries (registered, never used by ``forward``): ``audio_encoder``,
``visual_encoder`` (two ``nn.TransformerEncoder``), ``cmt_encoder`` (a cross-modal encoder) and
the HAN ``Encoder``'s own ``norm1``/``norm2`` (its ``norm`` argument is None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from avvp.convert.reference import Rule, apply_rules, linear_rules, target_shapes_of
from avvp.errors import DataError

ARCH = "han_mmil"
DEAD = (
    r"audio_encoder\.",
    r"visual_encoder\.",
    r"cmt_encoder\.",
    r"hat_encoder\.norm[12]\.",
)


def input_rules() -> list[Rule]:
    rules: list[Rule] = []
    for name in ("fc_a", "fc_v", "fc_st", "fc_fusion"):
        rules += linear_rules(f"inputs.{name}", name)
    return rules


def mmil_rules() -> list[Rule]:
    rules: list[Rule] = []
    for name in ("fc_prob", "fc_frame_att", "fc_av_att"):
        rules += linear_rules(f"decoder.{name}", name)
    return rules


def model_config(*, heads: int = 1) -> dict[str, Any]:
    return {
        "inputs": {"name": "llp"},
        "encoder": {
            "name": "han",
            "heads": heads,
            "ff_dim": 512,
            "num_layers": 1,
            "norm": "post",
            "update": "parallel",
        },
        "decoder": {"name": "mmil"},
    }


def convert(
    state_dict: Mapping[str, Tensor], *, heads: int = 1
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    if any(k.startswith("hat_encoder.layers.1.") for k in state_dict):
        raise DataError(
            f"{ARCH}: unexpected key 'hat_encoder.layers.1.*': only 1 HAN layer is "
            "supported (the reference Encoder ignores further layers)"
        )
    rules = input_rules() + mmil_rules()
    src, dst = "hat_encoder.layers.0", "encoder.layers.0"
    for attn in ("self_attn", "cm_attn"):
        rules += [
            Rule(f"{dst}.{attn}.in_proj_weight", (f"{src}.{attn}.in_proj_weight",)),
            Rule(f"{dst}.{attn}.in_proj_bias", (f"{src}.{attn}.in_proj_bias",)),
        ]
        rules += linear_rules(f"{dst}.{attn}.out_proj", f"{src}.{attn}.out_proj")
    rules += linear_rules(f"{dst}.ff.linear1", f"{src}.linear1")
    rules += linear_rules(f"{dst}.ff.linear2", f"{src}.linear2")
    rules += linear_rules(f"{dst}.norm1", f"{src}.norm1")
    rules += linear_rules(f"{dst}.norm2", f"{src}.norm2")
    config = model_config(heads=heads)
    return config, apply_rules(ARCH, state_dict, rules, target_shapes_of(config), DEAD)
