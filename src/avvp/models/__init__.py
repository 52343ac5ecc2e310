"""Parsing models: input projections, encoders (HAN, MM-Pyramid, MM-CSE), decoders (MMIL, LEAP,
MM-CSE)."""

from __future__ import annotations

from avvp.models.model import ParsingModel
from avvp.models.outputs import ParsingOutput, predict_events

__all__ = ["ParsingModel", "ParsingOutput", "build_model", "predict_events"]


def __getattr__(name: str) -> object:
    # The factory imports every builder; load it lazily so `import avvp.models.outputs`
    # (used by data/metrics code) stays light.
    if name == "build_model":
        from avvp.models.factory import build_model

        return build_model
    raise AttributeError(name)
