"""Reference (official) checkpoints -> avvp models.

``convert_reference(arch, state_dict)`` returns the avvp ``model:`` config and the avvp state
dict for ``arch`` in ``han_mmil`` (AVVP-ECCV20), ``mmpyr_mmil`` (MM_Pyramid), ``mmpyr_leap``
(LEAP) and ``mmcse`` (MM-CSE). ``read_reference_state_dict(path)`` loads a reference ``.pt``
file safely.

Attention head counts are hyper-parameters of the reference training scripts that leave no trace
in the weights (they only decide how the projected width is split), so the caller supplies them;
the defaults are the reference defaults (``REFERENCE_HEADS``, ``REFERENCE_DECODER_HEADS``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor

from avvp.convert.reference import read_reference_state_dict, target_shapes_of, unwrap_state_dict
from avvp.errors import ConfigError, DataError
from avvp.registry import Registry

#: ``convert(state_dict, *, heads, [decoder_heads, label_embeddings]) -> (model config, state)``
Converter = Callable[..., tuple[dict[str, Any], dict[str, Tensor]]]
#: ``--arch`` -> converter of that reference layout (imported when chosen).
CONVERTERS: Registry[Converter] = Registry("--arch")
CONVERTERS.add("han_mmil", "avvp.convert.han_mmil:convert")
CONVERTERS.add("mmpyr_mmil", "avvp.convert.mmpyr_mmil:convert")
CONVERTERS.add("mmpyr_leap", "avvp.convert.mmpyr_leap:convert")
CONVERTERS.add("mmcse", "avvp.convert.mmcse:convert_mmcse")
ARCHES: tuple[str, ...] = CONVERTERS.names()

#: default ``heads`` per architecture: the encoder's attention heads (HAN: ``nn.MultiheadAttention``
#: with nhead 1; MM-Pyramid: ``--mmp_head`` 8) or MM-CSE's SECM heads (``--nhead`` 8).
REFERENCE_HEADS: dict[str, int] = {"han_mmil": 1, "mmpyr_mmil": 8, "mmpyr_leap": 8, "mmcse": 8}
#: default ``decoder_heads`` (LEAP's ``--avl_head``); only LEAP has a decoder with attention.
REFERENCE_DECODER_HEADS: dict[str, int] = {"mmpyr_leap": 8}

__all__ = [
    "ARCHES",
    "CONVERTERS",
    "REFERENCE_DECODER_HEADS",
    "REFERENCE_HEADS",
    "convert_reference",
    "feature_keys",
    "read_reference_state_dict",
    "resolve_heads",
    "unwrap_state_dict",
]


def feature_keys(model_config: Mapping[str, Any]) -> list[str]:
    """The batch feature keys a converted model reads (for the checkpoint's ``data`` section)."""
    from avvp.models.factory import input_feature_keys

    return input_feature_keys(model_config)


def _check_heads(option: str, heads: int, width: int, what: str) -> None:
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise ConfigError(f"{option} {heads!r}: expected a positive integer")
    if width % heads:
        raise ConfigError(f"{option} {heads}: {what} width {width} is not divisible by {heads}")


def resolve_heads(
    arch: str,
    state_dict: Mapping[str, Tensor],
    *,
    heads: int | None = None,
    decoder_heads: int | None = None,
) -> tuple[int, int | None]:
    """``(heads, decoder_heads)`` for ``arch``: the reference defaults where None, checked
    against the widths in ``state_dict``. A bad count is a one-line ``ConfigError`` naming the
    ``avvp convert`` option."""
    if arch not in ARCHES:
        raise DataError(f"unknown reference architecture {arch!r} (one of {', '.join(ARCHES)})")
    if decoder_heads is not None and arch not in REFERENCE_DECODER_HEADS:
        raise ConfigError(
            f"--decoder-heads: {arch} has no attention decoder (only mmpyr_leap: LEAP's avl_head)"
        )
    enc = REFERENCE_HEADS[arch] if heads is None else heads
    dec = REFERENCE_DECODER_HEADS.get(arch) if decoder_heads is None else decoder_heads
    if arch == "mmcse":
        # SECM attends over the class-wise features: their width is the rows of a CAFD branch.
        branch = state_dict.get("a_unmix.0.1.weight")
        width = int(branch.shape[0]) if branch is not None and branch.dim() == 2 else 128
        _check_heads("--heads", enc, width, "MM-CSE class-feature (SECM)")
        return enc, None
    # The converted HAN / MM-Pyramid / LEAP configs build d_model 512 (the reference hidden size;
    # other widths fail the key shape checks anyway).
    encoder = "HAN" if arch == "han_mmil" else "MM-Pyramid"
    _check_heads("--heads", enc, 512, f"{encoder} encoder d_model")
    if dec is not None:
        _check_heads("--decoder-heads", dec, 512, "LEAP decoder d_model")
    return enc, dec


def convert_reference(
    arch: str,
    state_dict: Mapping[str, Tensor],
    *,
    label_embeddings: Tensor | None = None,
    heads: int | None = None,
    decoder_heads: int | None = None,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Convert a reference state dict; ``label_embeddings`` (C, d_l) is required for LEAP (the
    reference keeps them outside its weights). ``heads`` / ``decoder_heads``: see
    :func:`resolve_heads`; they are written into the returned config, so a checkpoint saved with
    it rebuilds with the same heads."""
    state = unwrap_state_dict(state_dict, source=arch)
    enc_heads, dec_heads = resolve_heads(arch, state, heads=heads, decoder_heads=decoder_heads)
    convert = CONVERTERS.get(arch)
    accepts = inspect.signature(convert).parameters
    kwargs: dict[str, Any] = {"heads": enc_heads}
    if "decoder_heads" in accepts:
        kwargs["decoder_heads"] = dec_heads
    if "label_embeddings" in accepts:
        kwargs["label_embeddings"] = label_embeddings
    config, out = convert(state, **kwargs)
    if "label_embeddings" not in accepts and label_embeddings is not None:
        raise DataError(f"{arch}: has no label embeddings (--label-embeddings is for mmpyr_leap)")
    expected = set(target_shapes_of(config))
    if set(out) != expected:  # a bug in a rule table, not a user error
        raise AssertionError(
            f"{arch}: conversion covers {sorted(set(out) ^ expected)[:5]} incorrectly"
        )
    return config, out
