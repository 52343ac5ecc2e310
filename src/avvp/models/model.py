"""``ParsingModel``: input projections -> encoder -> decoder (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from avvp.models.outputs import ParsingOutput


class ParsingModel(nn.Module):
    """``forward(batch) -> ParsingOutput``.

    ``inputs`` maps the batch dict to ``(x_a, x_v)`` (B, T, d); ``encoder`` maps
    ``(x_a, x_v) -> (f_a, f_v)``; ``decoder`` maps ``(f_a, f_v)`` to a ``ParsingOutput``.
    """

    def __init__(self, inputs: nn.Module, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.inputs = inputs
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, batch: Mapping[str, Tensor]) -> ParsingOutput:
        x_a, x_v = self.inputs(batch)
        f_a, f_v = self.encoder(x_a, x_v)
        output: ParsingOutput = self.decoder(f_a, f_v)
        return output
