"""Inverted dropout with masks drawn from uniform samples (a drop-in for ``nn.Dropout``).

Same mathematics as ``nn.Dropout``: each element is kept independently with probability
``1 - p`` and scaled by ``1 / (1 - p)``. Only the way the Bernoulli draws are made differs: on
the CPU ``Tensor.bernoulli_`` costs ~2.7x more per element than ``torch.rand`` followed by a
comparison, and dropout masks were ~11% of an MM-Pyr+LEAP training step (docs/benchmarks.md).
The backward keeps a one-byte mask per element instead of a float one.

The draws come from the default generator of the tensor's device, so seeding and the trainer's
RNG checkpointing cover them exactly as they cover ``nn.Dropout``; the masks themselves differ
from ``nn.Dropout``'s for the same seed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class _UniformMaskDropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, p: float) -> Tensor:
        # float32 samples whatever x's dtype: bf16 samples would quantise p to 1/256.
        keep = torch.rand(x.shape, device=x.device, dtype=torch.float32) >= p
        scale = 1.0 / (1.0 - p)
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return torch.mul(x, keep).mul_(scale)

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Tensor) -> tuple[Tensor, None]:
        (keep,) = ctx.saved_tensors
        return torch.mul(grad_outputs[0], keep).mul_(ctx.scale), None


def _check_probability(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout(x, p, training)`` with uniform-sample masks (see the module docstring)."""
    _check_probability(p)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    out: Tensor = _UniformMaskDropout.apply(x, p)
    return out


class Dropout(nn.Module):
    """``nn.Dropout`` with uniform-sample masks; no parameters, so state dicts are unchanged."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        _check_probability(p)  # at construction, not at the first training step
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
