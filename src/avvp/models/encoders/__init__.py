"""Encoders: ``forward(x_a, x_v) -> (f_a, f_v)`` on (B, T, d), or an ``EncoderOutput`` with extras
(MM-CSE, ``encoders/mmcse.py``, imported only when a config names it)."""

from __future__ import annotations

from avvp.models.encoders.han import HANEncoder, build_han_encoder
from avvp.models.encoders.mmpyramid import MMPyramidEncoder, build_mmpyramid_encoder

__all__ = ["HANEncoder", "MMPyramidEncoder", "build_han_encoder", "build_mmpyramid_encoder"]
