"""Decoders: ``forward(f_a, f_v) -> ParsingOutput``."""

from __future__ import annotations

from avvp.models.decoders.leap import LeapDecoder, build_leap_decoder
from avvp.models.decoders.mmil import MMILDecoder, build_mmil_decoder

__all__ = ["LeapDecoder", "MMILDecoder", "build_leap_decoder", "build_mmil_decoder"]
