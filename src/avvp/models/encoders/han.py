"""HAN: the hybrid attention network encoder (Tian et al., ECCV 2020; docs/methods.md section 4).

One layer with self-attention and cross-modal attention whose outputs are added in one residual,
then a feed-forward sublayer. The SAME layer weights serve both modalities. The reference
(AVVP-ECCV20 ``HANLayer``) is post-norm and computes both modalities from the original inputs
(``update="parallel"``), which lets us run both modalities as one batch of 2B; VALOR's variant
updates audio first and feeds the new audio to the visual pass (``update="sequential"``) and
offers pre-norm with a final LayerNorm per modality.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from avvp.models.attention import FeedForward, MultiHeadAttention
from avvp.models.dropout import Dropout

Norm = Literal["pre", "post"]
Update = Literal["parallel", "sequential"]


class HANLayer(nn.Module):
    """``x' = LN1(x + Drop(CrossAttn(x, y)) + Drop(SelfAttn(x)))``; ``x'' = LN2(x' + Drop(FF(x')))``
    (post-norm), or the pre-norm arrangement of VALOR."""

    def __init__(
        self, d_model: int, heads: int, ff_dim: int, *, dropout: float, norm: Norm
    ) -> None:
        super().__init__()
        self.norm_position = norm
        self.self_attn = MultiHeadAttention(d_model, heads, dropout=dropout, init="mha")
        self.cm_attn = MultiHeadAttention(d_model, heads, dropout=dropout, init="mha")
        self.ff = FeedForward(d_model, ff_dim, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, other: Tensor) -> Tensor:
        """``x`` (B, T, d) attends to itself and to ``other`` (B, T', d)."""
        if self.norm_position == "post":
            x = x + self.dropout(self.cm_attn(x, other)) + self.dropout(self.self_attn(x, x))
            x = self.norm1(x)
            return self.norm2(x + self.dropout(self.ff(x)))
        q = self.norm1(x)
        x = x + self.dropout(self.cm_attn(q, other)) + self.dropout(self.self_attn(q, q))
        return x + self.dropout(self.ff(self.norm2(x)))


class HANEncoder(nn.Module):
    """``forward(x_a, x_v) -> (f_a, f_v)`` on (B, T, d)."""

    def __init__(
        self,
        *,
        d_model: int = 512,
        heads: int = 1,
        ff_dim: int = 512,
        dropout: float = 0.1,
        num_layers: int = 1,
        norm: Norm = "post",
        update: Update = "parallel",
    ) -> None:
        super().__init__()
        self.update = update
        self.layers = nn.ModuleList(
            HANLayer(d_model, heads, ff_dim, dropout=dropout, norm=norm) for _ in range(num_layers)
        )
        # Pre-norm needs a final LayerNorm per modality (VALOR's Encoder); post-norm registers
        # none (the reference's Encoder.norm1/norm2 are never used).
        self.final_norm_a: nn.Module | None = nn.LayerNorm(d_model) if norm == "pre" else None
        self.final_norm_v: nn.Module | None = nn.LayerNorm(d_model) if norm == "pre" else None

    def forward(self, x_a: Tensor, x_v: Tensor) -> tuple[Tensor, Tensor]:
        for layer in self.layers:
            if self.update == "parallel":
                b = x_a.shape[0]
                out = layer(torch.cat((x_a, x_v)), torch.cat((x_v, x_a)))
                x_a, x_v = out[:b], out[b:]
            else:
                x_a = layer(x_a, x_v)
                x_v = layer(x_v, x_a)
        if self.final_norm_a is not None and self.final_norm_v is not None:
            x_a, x_v = self.final_norm_a(x_a), self.final_norm_v(x_v)
        return x_a, x_v


def build_han_encoder(
    *,
    d_model: int = 512,
    heads: int = 1,
    ff_dim: int = 512,
    dropout: float = 0.1,
    num_layers: int = 1,
    norm: Norm = "post",
    update: Update = "parallel",
) -> HANEncoder:
    """HAN encoder; defaults are the AVVP-ECCV20 reference (1 head, FF 512, post-norm)."""
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    return HANEncoder(
        d_model=d_model,
        heads=heads,
        ff_dim=ff_dim,
        dropout=dropout,
        num_layers=num_layers,
        norm=norm,
        update=update,
    )
