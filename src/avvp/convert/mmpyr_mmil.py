"""MM_Pyramid ``AVVPNet`` (MM-Pyramid encoder + MMIL decoder) -> avvp.

Reference dead entries: ``MMP.capture.multiheadattn`` / ``feedforward`` and
``MMP.fusion.multiheadattn`` / ``feedforward`` (templates deep-copied into the layers, never
called) and every ``MultiHeadAttention.layer_norm`` (registered, unused). Aliases:
``MMP.capture.{v,a}network.<i>.net.{0,2}`` are the same tensors as ``conv1`` / ``conv2``
(``TemporalBlock.net`` is an ``nn.Sequential`` of those modules).

The reference reads the visual stream as "audio" in its MMIL (it stacks ``[visual, audio]``), so
the converted config sets ``swap_modalities: true`` to compute exactly what the checkpoint did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from avvp.convert.han_mmil import input_rules, mmil_rules
from avvp.convert.reference import (
    Rule,
    apply_rules,
    count_indices,
    linear_rules,
    packed_rules,
    target_shapes_of,
)
from avvp.errors import DataError

ARCH = "mmpyr_mmil"
DEAD = (
    r"MMP\.capture\.multiheadattn\.",
    r"MMP\.capture\.feedforward\.",
    r"MMP\.fusion\.multiheadattn\.",
    r"MMP\.fusion\.feedforward\.",
    r"MMP\..*\.self_attn\.layer_norm\.",
    r"MMP\.capture\.[va]network\.\d+\.net\.[02]\.",
)


def attention_layer_rules(dst: str, src: str) -> list[Rule]:
    """Reference ``TransformerLayer`` (linears.0-3, feed_forward, sublayer.{0,1}.norm) ->
    avvp ``PreNormAttentionLayer`` / ``LeapBlock`` (attn, ff, norm1, norm2)."""
    lin = f"{src}.self_attn.linears"
    rules = [
        Rule(f"{dst}.attn.in_proj_weight", tuple(f"{lin}.{i}.weight" for i in range(3))),
        Rule(f"{dst}.attn.in_proj_bias", tuple(f"{lin}.{i}.bias" for i in range(3))),
    ]
    rules += linear_rules(f"{dst}.attn.out_proj", f"{lin}.3")
    rules += linear_rules(f"{dst}.ff.linear1", f"{src}.feed_forward.w_1")
    rules += linear_rules(f"{dst}.ff.linear2", f"{src}.feed_forward.w_2")
    rules += linear_rules(f"{dst}.norm1", f"{src}.sublayer.0.norm")
    rules += linear_rules(f"{dst}.norm2", f"{src}.sublayer.1.norm")
    return rules


def encoder_levels(state_dict: Mapping[str, Tensor], arch: str) -> int:
    levels = count_indices(state_dict, "MMP.capture.msa.")
    if levels == 0:
        raise DataError(f"{arch}: missing key 'MMP.capture.msa.0.*' (not an MM-Pyramid checkpoint)")
    return levels


def encoder_rules(levels: int) -> list[Rule]:
    rules: list[Rule] = []
    for i in range(levels):
        dst, msa = f"encoder.levels.{i}", f"MMP.capture.msa.{i}"
        rules += attention_layer_rules(f"{dst}.self_attn_v", f"{msa}.vsablock.layer")
        rules += attention_layer_rules(f"{dst}.self_attn_a", f"{msa}.asablock.layer")
        rules += attention_layer_rules(f"{dst}.cross_attn", f"{msa}.cmablock.layer")
        rules += packed_rules(f"{dst}.gate_v", (f"{msa}.lv1", f"{msa}.lv2"))
        rules += packed_rules(f"{dst}.gate_a", (f"{msa}.la1", f"{msa}.la2"))
        for mod, net in (("v", "vnetwork"), ("a", "anetwork")):
            for conv in ("conv1", "conv2"):
                rules += linear_rules(f"{dst}.conv_{mod}.{conv}", f"MMP.capture.{net}.{i}.{conv}")
    rules += attention_layer_rules("encoder.fusion.attn_v", "MMP.fusion.vadaptiveinteraction")
    rules += attention_layer_rules("encoder.fusion.attn_a", "MMP.fusion.aadaptiveinteraction")
    rules += linear_rules("encoder.fusion.score_v", "MMP.fusion.vselectfusion")
    rules += linear_rules("encoder.fusion.score_a", "MMP.fusion.aselectfusion")
    return rules


def encoder_config(levels: int, *, heads: int = 8) -> dict[str, Any]:
    return {"name": "mmpyramid", "heads": heads, "ff_dim": 512, "levels": levels}


def convert(
    state_dict: Mapping[str, Tensor], *, heads: int = 8
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    levels = encoder_levels(state_dict, ARCH)
    config = {
        "inputs": {"name": "llp"},
        "encoder": encoder_config(levels, heads=heads),
        "decoder": {"name": "mmil", "swap_modalities": True},
    }
    rules = input_rules() + encoder_rules(levels) + mmil_rules()
    return config, apply_rules(ARCH, state_dict, rules, target_shapes_of(config), DEAD)
