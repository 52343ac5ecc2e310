"""LEAP ``AVVPNet`` (MM-Pyramid encoder + LEAP decoder) -> avvp.

Reference dead entries: those of MM-Pyramid (see ``mmpyr_mmil``) plus ``AVL.multiheadattn`` /
``AVL.feedforward`` (templates) and each block's ``self_attn.layer_norm``.
The reference feeds the label embeddings as an input (read from the release ``.pt`` file), so
they are not in its state dict: the caller passes them, and they are stored in the avvp weights
(config ``label_embeddings: {source: stored, dim: d_l}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from avvp.classes import NUM_CLASSES
from avvp.convert.han_mmil import input_rules
from avvp.convert.mmpyr_mmil import DEAD as MMPYR_DEAD
from avvp.convert.mmpyr_mmil import (
    attention_layer_rules,
    encoder_config,
    encoder_levels,
    encoder_rules,
)
from avvp.convert.reference import apply_rules, count_indices, linear_rules, target_shapes_of
from avvp.errors import DataError

ARCH = "mmpyr_leap"
DEAD = (
    *MMPYR_DEAD,
    r"AVL\.multiheadattn\.",
    r"AVL\.feedforward\.",
    r"AVL\.l[av]_cma_network\.\d+\.self_attn\.layer_norm\.",
)


def convert(
    state_dict: Mapping[str, Tensor],
    *,
    label_embeddings: Tensor | None = None,
    heads: int = 8,
    decoder_heads: int = 8,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """``heads``: the MM-Pyramid encoder's (reference ``--mmp_head``); ``decoder_heads``: the
    LEAP blocks' (reference ``--avl_head``)."""
    levels = encoder_levels(state_dict, ARCH)
    blocks_a = count_indices(state_dict, "AVL.la_cma_network.")
    blocks_v = count_indices(state_dict, "AVL.lv_cma_network.")
    if blocks_a == 0 or blocks_v == 0:
        raise DataError(f"{ARCH}: missing key 'AVL.la_cma_network.0.*' / 'AVL.lv_cma_network.0.*'")
    if blocks_a != blocks_v:
        raise DataError(
            f"{ARCH}: {blocks_a} audio but {blocks_v} visual LEAP blocks; avvp needs "
            "the same number"
        )
    if "fc_l.weight" not in state_dict:
        raise DataError(f"{ARCH}: missing key 'fc_l.weight' in the reference state dict")
    label_dim = int(state_dict["fc_l.weight"].shape[-1])
    if label_embeddings is None:
        raise DataError(
            f"{ARCH}: the reference checkpoint holds no label embeddings; pass the "
            "file they were trained with (--label-embeddings)"
        )
    if tuple(label_embeddings.shape) != (NUM_CLASSES, label_dim):
        raise DataError(
            f"{ARCH}: label embeddings have shape {tuple(label_embeddings.shape)}, "
            f"the checkpoint's fc_l expects ({NUM_CLASSES}, {label_dim})"
        )
    config = {
        "inputs": {"name": "llp"},
        "encoder": encoder_config(levels, heads=heads),
        "decoder": {
            "name": "leap",
            "heads": decoder_heads,
            "ff_dim": 512,
            "num_blocks": blocks_a,
            "norm": "pre",
            "readout": "last",
            "logits": "recomputed",
            "label_embeddings": {"source": "stored", "dim": label_dim},
        },
    }
    rules = input_rules() + encoder_rules(levels)
    rules += linear_rules("decoder.fc_l", "fc_l")
    for j in range(blocks_a):
        rules += attention_layer_rules(f"decoder.blocks_audio.{j}", f"AVL.la_cma_network.{j}")
        rules += attention_layer_rules(f"decoder.blocks_visual.{j}", f"AVL.lv_cma_network.{j}")
    rules += linear_rules("decoder.head_audio", "fc_la")
    rules += linear_rules("decoder.head_visual", "fc_lv")
    shapes = target_shapes_of(config)
    out = apply_rules(ARCH, state_dict, rules, shapes, DEAD)
    out["decoder.label_embeddings.embeddings"] = label_embeddings.detach().to(torch.float32).clone()
    return config, out
