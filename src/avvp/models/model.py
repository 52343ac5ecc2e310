"""``ParsingModel``: input projections -> encoder -> decoder (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from avvp.models.outputs import EncoderOutput, ParsingOutput


class ParsingModel(nn.Module):
    """``forward(batch) -> ParsingOutput``.

    ``inputs`` maps the batch dict to ``(x_a, x_v)`` (B, T, d); ``encoder`` maps
    ``(x_a, x_v) -> (f_a, f_v)`` or to an :class:`EncoderOutput` (features plus side outputs,
    which end up in the result's ``extras`` after the decoder's own); ``decoder`` maps
    ``(f_a, f_v)`` to a ``ParsingOutput``.
    """

    def __init__(self, inputs: nn.Module, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.inputs = inputs
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, batch: Mapping[str, Tensor]) -> ParsingOutput:
        x_a, x_v = self.inputs(batch)
        encoded = self.encoder(x_a, x_v)
        side: dict[str, Tensor] = {}
        if isinstance(encoded, EncoderOutput):
            f_a, f_v, side = encoded.audio, encoded.visual, encoded.extras
        else:
            f_a, f_v = encoded
        output: ParsingOutput = self.decoder(f_a, f_v)
        for key, value in side.items():
            if key in output.extras:  # a bug in a part pairing, not a user error
                raise RuntimeError(f"encoder and decoder both write extras[{key!r}]")
            output.extras[key] = value
        return output
