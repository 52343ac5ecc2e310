"""The one place that maps config names to builders.

``build_model(config)`` takes the ``model:`` section of a preset (plain dict or OmegaConf
``DictConfig``)::

    inputs:  {name: llp, ...build_llp_inputs kwargs}
    encoder: {name: han | mmpyramid, ...build_han_encoder / build_mmpyramid_encoder kwargs}
    decoder: {name: mmil | leap, ...build_mmil_decoder / build_leap_decoder kwargs,
              label_embeddings: {source: release | glove | sentence | learnable | stored,
                                 path: ..., dim: ...}}   # leap only

MM-CSE fits the same mould: ``inputs: {name: mmcse, audio_input, visual_input, d_model}``,
``encoder: {name: mmcse, ...}`` (CAFD + FGSE), ``decoder: {name: mmcse, class_dim, gate}``
(docs/mmcse.md). The old whole-model form ``{name: mmcse, ...}`` is translated by
:func:`avvp.models.legacy.upgrade_legacy_model`.

Keys are checked against the builders' keyword-only signatures: an unknown name, an unexpected
key or a value of the wrong type is a ``ConfigError`` naming the key path
(e.g. ``model.encoder.heads: unexpected key``).
"""

from __future__ import annotations

import inspect
import itertools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import nn

from avvp.errors import ConfigError
from avvp.models.decoders.leap import build_leap_decoder
from avvp.models.decoders.mmil import build_mmil_decoder
from avvp.models.encoders.han import build_han_encoder
from avvp.models.encoders.mmpyramid import build_mmpyramid_encoder
from avvp.models.inputs import build_llp_inputs, build_mmcse_inputs
from avvp.models.label_embeddings import build_label_embeddings
from avvp.models.legacy import upgrade_legacy_model
from avvp.models.model import ParsingModel
from avvp.registry import Registry

Builder = Callable[..., nn.Module]

INPUTS: Registry[Builder] = Registry("model.inputs.name")
INPUTS.add("llp", build_llp_inputs)
INPUTS.add("mmcse", build_mmcse_inputs)
ENCODERS: Registry[Builder] = Registry("model.encoder.name")
ENCODERS.add("han", build_han_encoder)
ENCODERS.add("mmpyramid", build_mmpyramid_encoder)
# Lazy: the MM-CSE modules are imported only when a config names them.
ENCODERS.add("mmcse", "avvp.models.encoders.mmcse:build_mmcse_encoder")
DECODERS: Registry[Builder] = Registry("model.decoder.name")
DECODERS.add("mmil", build_mmil_decoder)
DECODERS.add("leap", build_leap_decoder)
DECODERS.add("mmcse", "avvp.models.decoders.mmcse:build_mmcse_decoder")
# Builder arguments that the factory supplies itself (not config keys).
_INTERNAL = {"label_embeddings", "class_names"}


def _plain(config: Any, where: str) -> dict[str, Any]:
    """A DictConfig or mapping -> a plain dict (interpolations resolved)."""
    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=True)
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(config).__name__}")
    return {str(k): v for k, v in config.items()}


def _check_value(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, choices))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_value(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _kwargs(builder: Callable[..., Any], config: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate ``config`` (without ``name``) against ``builder``'s keyword-only parameters."""
    params = inspect.signature(builder).parameters
    hints = typing.get_type_hints(builder)
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key == "name":
            continue
        if key not in params or key in _INTERNAL:
            allowed = sorted(k for k in params if k not in _INTERNAL)
            raise ConfigError(f"{where}.{key}: unexpected key (allowed: {', '.join(allowed)})")
        out[key] = _check_value(value, hints.get(key), f"{where}.{key}")
    return out


def _select(table: Registry[Builder], config: Mapping[str, Any], where: str) -> Builder:
    name = config.get("name")
    if name is None:
        raise ConfigError(f"{where}.name: missing (one of {', '.join(table)})")
    return table.get(name, where=f"{where}.name")


def _call(builder: Callable[..., nn.Module], kwargs: dict[str, Any], where: str) -> nn.Module:
    try:
        return builder(**kwargs)
    except ValueError as exc:  # builders reject inconsistent values with ValueError
        raise ConfigError(f"{where}: {exc}") from None


# Widths handed from one stage to the next: ``d_model`` (HAN, MM-Pyramid, MMIL, LEAP; MM-CSE's
# holistic width), ``class_dim`` (MM-CSE's class-wise features, encoder -> decoder).
_WIDTH_KEYS = ("d_model", "class_dim")


def _check_widths(parts: list[tuple[str, Callable[..., nn.Module], dict[str, Any]]]) -> None:
    """Each stage reads the previous one's features: a width that consecutive stages both take
    (``d_model``, ``class_dim``) must agree.

    Checked before anything is built, so a mismatch is a config error naming both keys instead
    of a shape error in the first forward pass.
    """
    for key in _WIDTH_KEYS:
        widths: list[tuple[str, int, bool]] = []
        for where, builder, kwargs in parts:
            param = inspect.signature(builder).parameters.get(key)
            if param is None:
                continue
            given = key in kwargs
            widths.append((where, int(kwargs[key] if given else param.default), given))
        for (prev, prev_width, prev_given), (where, width, given) in itertools.pairwise(widths):
            if width != prev_width:
                first = f"{prev}.{key}={prev_width}" + ("" if prev_given else " (default)")
                second = f"{where}.{key}={width}" + ("" if given else " (default)")
                raise ConfigError(f"{second} does not match {first}: the widths must be equal")


def _inputs_part(cfg: Mapping[str, Any]) -> tuple[Builder, dict[str, Any]]:
    inputs_cfg = _plain(cfg.get("inputs") or {"name": "llp"}, "model.inputs")
    inputs_cfg.setdefault("name", "llp")
    builder = _select(INPUTS, inputs_cfg, "model.inputs")
    return builder, _kwargs(builder, inputs_cfg, "model.inputs")


def input_feature_keys(config: Mapping[str, Any]) -> list[str]:
    """The batch feature keys the model of ``config`` reads (its inputs part's ``batch_keys``);
    only the inputs part is built."""
    cfg, _ = upgrade_legacy_model(_plain(config, "model"))
    builder, kwargs = _inputs_part(cfg)
    keys = getattr(_call(builder, kwargs, "model.inputs"), "batch_keys", None)
    if keys is None:  # a part written without it, not a user error
        raise TypeError(f"{builder.__name__}: the inputs module has no batch_keys")
    return [str(k) for k in keys]


def build_model(config: Mapping[str, Any]) -> nn.Module:
    """Build a ``ParsingModel`` from the ``model:`` section of a preset."""
    cfg, _ = upgrade_legacy_model(_plain(config, "model"))
    if "name" in cfg:
        raise ConfigError(
            f"model.name: unknown {cfg['name']!r} (give model.inputs, model.encoder and "
            "model.decoder; the only whole-model name is the old layout 'mmcse')"
        )
    for key in cfg:
        if key not in ("inputs", "encoder", "decoder"):
            raise ConfigError(f"model.{key}: unexpected key (allowed: inputs, encoder, decoder)")
    for key in ("encoder", "decoder"):
        if key not in cfg:
            raise ConfigError(f"model.{key}: missing")

    in_builder, in_kwargs = _inputs_part(cfg)
    enc_cfg = _plain(cfg["encoder"], "model.encoder")
    enc_builder = _select(ENCODERS, enc_cfg, "model.encoder")
    enc_kwargs = _kwargs(enc_builder, enc_cfg, "model.encoder")
    dec_cfg = _plain(cfg["decoder"], "model.decoder")
    builder = _select(DECODERS, dec_cfg, "model.decoder")
    label_cfg = dec_cfg.pop("label_embeddings", None)
    kwargs = _kwargs(builder, dec_cfg, "model.decoder")
    _check_widths(
        [
            ("model.inputs", in_builder, in_kwargs),
            ("model.encoder", enc_builder, enc_kwargs),
            ("model.decoder", builder, kwargs),
        ]
    )
    inputs = _call(in_builder, in_kwargs, "model.inputs")
    encoder = _call(enc_builder, enc_kwargs, "model.encoder")

    if "label_embeddings" in inspect.signature(builder).parameters:
        where = "model.decoder.label_embeddings"
        if label_cfg is None:
            raise ConfigError(f"{where}: missing (e.g. {{source: release, path: FILE}})")
        lcfg = _plain(label_cfg, where)
        lkwargs = _kwargs(build_label_embeddings, lcfg, where)
        try:
            kwargs["label_embeddings"] = build_label_embeddings(**lkwargs)
        except ConfigError as exc:
            message = str(exc)
            if message.startswith("label_embeddings"):
                message = "model.decoder." + message
            raise ConfigError(message) from None
    elif label_cfg is not None:
        raise ConfigError(f"model.decoder.label_embeddings: unexpected key for {dec_cfg['name']!r}")
    decoder = _call(builder, kwargs, "model.decoder")
    return ParsingModel(inputs, encoder, decoder)


def checkpoint_model_config(config: Mapping[str, Any], model: nn.Module) -> dict[str, Any]:
    """The ``model:`` config to store beside a checkpoint of ``model``: label embeddings read
    from a file travel in the weights, so their config becomes ``{source: stored, dim: d_l}``
    (``label_embeddings.stored_config``)."""
    from avvp.models.label_embeddings import stored_config

    cfg, _ = upgrade_legacy_model(_plain(config, "model"))
    decoder = cfg.get("decoder")
    if not isinstance(decoder, Mapping) and decoder is not None:
        return cfg
    dec = _plain(decoder, "model.decoder")
    label_cfg = dec.get("label_embeddings")
    if label_cfg is None:
        return cfg
    embeddings = getattr(getattr(model, "decoder", None), "label_embeddings", None)
    try:
        dec["label_embeddings"] = stored_config(
            _plain(label_cfg, "model.decoder.label_embeddings"), embeddings
        )
    except ConfigError as exc:
        raise ConfigError(f"model.decoder.{exc}") from None
    cfg["decoder"] = dec
    return cfg
