"""Model complexity: live parameter counts and forward FLOPs (docs/methods.md section 10).

A parameter is LIVE when the forward pass uses it. avvp registers no dead modules, so for the
presets every registered parameter is live; with an example batch ``count_parameters`` checks it
by differentiating all outputs with respect to every parameter (``allow_unused``: an unused
parameter gets no gradient at all), which also catches variants that skip modules (LEAP
``readout: first`` with several blocks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import fields

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from avvp.models.outputs import ParsingOutput

_LEAP_BLOCK_PREFIXES = ("decoder.blocks_audio.", "decoder.blocks_visual.")
#: The top-level parts of an LLP parsing model (``avvp.models.factory``).
PARSING_PARTS: tuple[str, ...] = ("inputs", "encoder", "decoder")


def _output_tensors(output: object) -> list[Tensor]:
    if isinstance(output, ParsingOutput):
        values: list[object] = [getattr(output, f.name) for f in fields(output)]
        values.extend(output.extras.values())
    elif isinstance(output, tuple | list):
        values = list(output)
    else:
        values = [output]
    return [v for v in values if isinstance(v, Tensor) and v.requires_grad]


def live_parameter_names(model: nn.Module, example_batch: Mapping[str, Tensor]) -> set[str]:
    """Names of the parameters that receive a gradient from some output on ``example_batch``."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            outputs = _output_tensors(model(example_batch))
            total = torch.stack([t.float().sum() for t in outputs]).sum()
            grads = torch.autograd.grad(total, [p for _, p in named], allow_unused=True)
    finally:
        model.train(was_training)
    return {n for (n, _), g in zip(named, grads, strict=True) if g is not None}


def count_parameters(
    model: nn.Module,
    example_batch: Mapping[str, Tensor] | None = None,
    *,
    parts: Sequence[str] = PARSING_PARTS,
) -> dict[str, int]:
    """Parameter counts: ``total`` (live), one per name in ``parts`` (the live parameters of the
    top-level submodule of that name, 0 if there is none; default ``inputs``, ``encoder``,
    ``decoder``), ``trainable``, ``registered`` and, for LEAP, ``leap_blocks`` (the audio and
    visual block stacks).

    Without ``example_batch`` every registered parameter is counted as live (true of all
    avvp modules built by the factory with the default readout, of MM-CSE and of the AVE
    models), so ``count_parameters(module)["total"]`` is the plain parameter count.
    """
    named = dict(model.named_parameters())
    live = set(named) if example_batch is None else live_parameter_names(model, example_batch)
    if example_batch is not None:
        # Frozen parameters cannot show a gradient; count them as live when their module is.
        live |= {n for n, p in named.items() if not p.requires_grad}

    def total(prefixes: tuple[str, ...] | None = None) -> int:
        return sum(named[n].numel() for n in live if prefixes is None or n.startswith(prefixes))

    counts = {
        "total": total(),
        **{part: total((f"{part}.",)) for part in parts},
        "trainable": sum(named[n].numel() for n in live if named[n].requires_grad),
        "registered": sum(p.numel() for p in named.values()),
    }
    if any(n.startswith(_LEAP_BLOCK_PREFIXES) for n in named):
        counts["leap_blocks"] = total(_LEAP_BLOCK_PREFIXES)
    return counts


def estimate_flops(model: nn.Module, example_batch: Mapping[str, Tensor]) -> dict[str, float]:
    """Forward FLOPs per video (eval mode), in total and per top-level part.

    Counted by ``torch.utils.flop_counter.FlopCounterMode``: matmuls, convolutions and attention
    kernels at 2 FLOPs per multiply-add; element-wise ops (softmax, LayerNorm, activations) are not
    counted. Keys: ``total`` and one per top-level child module (``inputs``, ``encoder``,
    ``decoder``), plus ``leap_blocks`` for LEAP.
    """
    batch_size = int(next(iter(example_batch.values())).shape[0])
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False, depth=64)
    try:
        with torch.no_grad(), counter:
            model(example_batch)
    finally:
        model.train(was_training)
    counts = counter.get_flop_counts()
    root = model.__class__.__name__

    def module_flops(name: str) -> float:
        return float(sum(counts.get(name, {}).values()))

    result = {"total": float(sum(counts.get("Global", {}).values())) / batch_size}
    for child, _ in model.named_children():
        result[child] = module_flops(f"{root}.{child}") / batch_size
    # ModuleLists are never called, so the counter knows only their items.
    block = re.compile(rf"{re.escape(root)}\.decoder\.blocks_(audio|visual)\.\d+")
    leap = sum(module_flops(name) for name in counts if block.fullmatch(name))
    if leap:
        result["leap_blocks"] = leap / batch_size
    return result
