"""MM-Pyramid encoder (Yu et al., ACM MM 2022; docs/methods.md section 6), structured as the
reference (JustinYuu/MM_Pyramid ``nets/MPAM.py``).

Each of ``levels`` pyramid levels (dilation 2^l) runs: banded self-attention per modality (segment
i sees j only if |i - j| <= 2^l), ONE banded cross-attention layer shared by both directions,
a gated fusion ``sigmoid(W1 [sa; ca]) * sa + sigmoid(W2 [sa; ca]) * ca`` per modality and a
temporal conv block per modality (Conv1d k=3 dilation 2^l, ReLU, 1x1 conv, residual, ReLU; the
reference block has no dropout). The level outputs are fused per time step: pre-LN
self-attention across the levels, a sigmoid score per level, a weighted (unnormalised) sum.

Attention layers are pre-LN on the query only (keys and values are the raw features), with
dropout 0.2 on the sublayers and 0.1 on the attention weights, as in the reference.
Speed: both cross-attention directions share weights and run as one batch of 2B; the band masks
are built by one vectorised comparison (the reference loops over rows for every call).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avvp.models.attention import PreNormAttentionLayer, band_mask


class TemporalBlock(nn.Module):
    """``ReLU(conv2(ReLU(conv1(x))) + x)`` on (B, d, T); conv1 has kernel 3 and dilation 2^l."""

    def __init__(self, channels: int, *, dilation: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(
            channels,
            channels,
            kernel_size,
            padding=dilation * (kernel_size - 1) // 2,
            dilation=dilation,
        )
        self.conv2 = nn.Conv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


class PyramidLevel(nn.Module):
    """One pyramid level: windowed self/cross attention, gated fusion, temporal conv blocks."""

    def __init__(
        self,
        d_model: int,
        heads: int,
        ff_dim: int,
        *,
        radius: int,
        dropout: float,
        attn_dropout: float,
    ) -> None:
        super().__init__()
        self.radius = radius

        def layer() -> PreNormAttentionLayer:
            return PreNormAttentionLayer(
                d_model, heads, ff_dim, dropout=dropout, attn_dropout=attn_dropout
            )

        self.self_attn_v = layer()
        self.self_attn_a = layer()
        self.cross_attn = layer()
        # [W1; W2] of the gated fusion as one Linear(2d, 2d) per modality (one matmul).
        self.gate_v = nn.Linear(2 * d_model, 2 * d_model)
        self.gate_a = nn.Linear(2 * d_model, 2 * d_model)
        self.conv_v = TemporalBlock(d_model, dilation=radius)
        self.conv_a = TemporalBlock(d_model, dilation=radius)

    @staticmethod
    def _gated(gate: nn.Linear, sa: Tensor, ca: Tensor) -> Tensor:
        e1, e2 = torch.sigmoid(gate(torch.cat((sa, ca), dim=-1))).chunk(2, dim=-1)
        return e1 * sa + e2 * ca

    def forward(self, v: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        b, t, _ = v.shape
        mask = band_mask(t, self.radius, device=v.device)
        v_sa = self.self_attn_v(v, mask=mask)
        a_sa = self.self_attn_a(a, mask=mask)
        cross = self.cross_attn(torch.cat((v, a)), torch.cat((a, v)), mask=mask)
        v_ca, a_ca = cross[:b], cross[b:]
        v_out = self._gated(self.gate_v, v_sa, v_ca)
        a_out = self._gated(self.gate_a, a_sa, a_ca)
        v_out = self.conv_v(v_out.transpose(1, 2)).transpose(1, 2)
        a_out = self.conv_a(a_out.transpose(1, 2)).transpose(1, 2)
        return v_out, a_out


class LevelFusion(nn.Module):
    """Per time step: self-attention across the levels, sigmoid score per level, weighted sum."""

    def __init__(
        self, d_model: int, heads: int, ff_dim: int, *, dropout: float, attn_dropout: float
    ) -> None:
        super().__init__()
        self.attn_v = PreNormAttentionLayer(
            d_model, heads, ff_dim, dropout=dropout, attn_dropout=attn_dropout
        )
        self.attn_a = PreNormAttentionLayer(
            d_model, heads, ff_dim, dropout=dropout, attn_dropout=attn_dropout
        )
        self.score_v = nn.Linear(d_model, 1)
        self.score_a = nn.Linear(d_model, 1)

    @staticmethod
    def _fuse(attn: PreNormAttentionLayer, score: nn.Linear, stages: Tensor) -> Tensor:
        b, t, n, d = stages.shape
        x = attn(stages.reshape(b * t, n, d))
        weights = torch.sigmoid(score(x))  # (B*T, levels, 1), not normalised (as the reference)
        return (x * weights).sum(dim=1).view(b, t, d)

    def forward(self, v_stages: Tensor, a_stages: Tensor) -> tuple[Tensor, Tensor]:
        """Stages (B, T, levels, d) -> fused (B, T, d) per modality."""
        return self._fuse(self.attn_v, self.score_v, v_stages), self._fuse(
            self.attn_a, self.score_a, a_stages
        )


class MMPyramidEncoder(nn.Module):
    """``forward(x_a, x_v) -> (f_a, f_v)`` on (B, T, d)."""

    def __init__(
        self,
        *,
        d_model: int = 512,
        heads: int = 8,
        ff_dim: int = 512,
        levels: int = 4,
        dropout: float = 0.2,
        attn_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.levels = nn.ModuleList(
            PyramidLevel(
                d_model, heads, ff_dim, radius=2**i, dropout=dropout, attn_dropout=attn_dropout
            )
            for i in range(levels)
        )
        self.fusion = LevelFusion(
            d_model, heads, ff_dim, dropout=dropout, attn_dropout=attn_dropout
        )

    def forward(self, x_a: Tensor, x_v: Tensor) -> tuple[Tensor, Tensor]:
        v, a = x_v, x_a
        v_stages: list[Tensor] = []
        a_stages: list[Tensor] = []
        for level in self.levels:
            v, a = level(v, a)
            v_stages.append(v)
            a_stages.append(a)
        f_v, f_a = self.fusion(torch.stack(v_stages, dim=2), torch.stack(a_stages, dim=2))
        return f_a, f_v


def build_mmpyramid_encoder(
    *,
    d_model: int = 512,
    heads: int = 8,
    ff_dim: int = 512,
    levels: int = 4,
    dropout: float = 0.2,
    attn_dropout: float = 0.1,
) -> MMPyramidEncoder:
    """MM-Pyramid encoder; defaults are the reference's (8 heads, FF 512, 4 levels)."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    return MMPyramidEncoder(
        d_model=d_model,
        heads=heads,
        ff_dim=ff_dim,
        levels=levels,
        dropout=dropout,
        attn_dropout=attn_dropout,
    )
