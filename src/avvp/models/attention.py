"""Attention building blocks shared by the HAN, MM-Pyramid and LEAP modules.

Every attention here takes its keys and values from the same tensor (true of all the reference
models), so the key and value projections are one fused matmul, and a self-attention whose query
is that same tensor is one fused matmul for all three projections. The projection weights are
packed as ``in_proj_weight`` (3d, d) in q, k, v order, the layout of ``nn.MultiheadAttention``;
reference checkpoints whose projections are separate ``Linear`` layers are concatenated on
conversion.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avvp.models.dropout import Dropout


class MultiHeadAttention(nn.Module):
    """Multi-head attention with packed input projections and an output projection.

    ``forward`` uses ``F.scaled_dot_product_attention`` (fused kernels, no weights kept);
    ``project_*`` and ``scores`` expose the pieces for callers that need the attention scores
    (LEAP).
    """

    def __init__(
        self, d_model: int, heads: int, *, dropout: float = 0.0, init: str = "linear"
    ) -> None:
        super().__init__()
        if d_model % heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by heads={heads}")
        self.d_model = d_model
        self.heads = heads
        self.head_dim = d_model // heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "linear") -> None:
        """Initialise as the reference did: ``"mha"`` is ``nn.MultiheadAttention``'s scheme
        (HAN: xavier on the packed projection, zero biases); ``"linear"`` is three separate
        ``nn.Linear`` defaults (MM-Pyramid and LEAP build q, k, v from ``nn.Linear``)."""
        d = self.d_model
        if init == "mha":
            nn.init.xavier_uniform_(self.in_proj_weight)
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)
        elif init == "linear":
            bound = 1.0 / math.sqrt(d)
            with torch.no_grad():
                for i in range(3):
                    nn.init.kaiming_uniform_(
                        self.in_proj_weight[i * d : (i + 1) * d], a=math.sqrt(5)
                    )
                nn.init.uniform_(self.in_proj_bias, -bound, bound)
        else:
            raise ValueError(f"unknown init {init!r} (expected 'mha' or 'linear')")

    def _split_heads(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def project_query(self, query: Tensor) -> Tensor:
        """(B, Lq, d) -> (B, h, Lq, d_k)."""
        d = self.d_model
        return self._split_heads(F.linear(query, self.in_proj_weight[:d], self.in_proj_bias[:d]))

    def project_key_value(self, key_value: Tensor) -> tuple[Tensor, Tensor]:
        """(B, Lk, d) -> keys and values, each (B, h, Lk, d_k)."""
        d = self.d_model
        kv = F.linear(key_value, self.in_proj_weight[d:], self.in_proj_bias[d:])
        k, v = kv.chunk(2, dim=-1)
        return self._split_heads(k), self._split_heads(v)

    def _project(self, query: Tensor, key_value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if query is key_value:
            q, k, v = F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
            return self._split_heads(q), self._split_heads(k), self._split_heads(v)
        k, v = self.project_key_value(key_value)
        return self.project_query(query), k, v

    def merge(self, context: Tensor) -> Tensor:
        """(B, h, Lq, d_k) attention context -> (B, Lq, d) through the output projection."""
        b, _, n, _ = context.shape
        return self.out_proj(context.transpose(1, 2).reshape(b, n, self.d_model))

    def scores(self, q: Tensor, k: Tensor) -> Tensor:
        """Scaled scores ``q k^T / sqrt(d_k)``, (B, h, Lq, Lk)."""
        return torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))

    def forward(self, query: Tensor, key_value: Tensor, *, mask: Tensor | None = None) -> Tensor:
        """Attend from ``query`` (B, Lq, d) to ``key_value`` (B, Lk, d) -> (B, Lq, d).

        ``mask``: optional bool (Lq, Lk), True where attention is allowed.
        """
        q, k, v = self._project(query, key_value)
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.merge(context)


class FeedForward(nn.Module):
    """Linear - ReLU - Dropout - Linear (the position-wise feed-forward of all three models)."""

    def __init__(self, d_model: int, ff_dim: int, *, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, ff_dim)
        self.linear2 = nn.Linear(ff_dim, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))


class PreNormAttentionLayer(nn.Module):
    """The MM-Pyramid ``TransformerLayer``: pre-LN on the query only, then a pre-LN feed-forward.

    ``x <- x + Drop(Attn(LN1(x), kv)); x <- x + Drop(FF(LN2(x)))``. Keys and values are NOT
    normalised, as in the reference; for self-attention ``kv`` is the raw ``x``.
    """

    def __init__(
        self, d_model: int, heads: int, ff_dim: int, *, dropout: float, attn_dropout: float
    ) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(d_model, heads, dropout=attn_dropout)
        self.ff = FeedForward(d_model, ff_dim, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, kv: Tensor | None = None, *, mask: Tensor | None = None) -> Tensor:
        kv = x if kv is None else kv
        x = x + self.dropout(self.attn(self.norm1(x), kv, mask=mask))
        return x + self.dropout(self.ff(self.norm2(x)))


def band_mask(length: int, radius: int, *, device: torch.device | None = None) -> Tensor:
    """Bool (length, length) mask, True where ``|i - j| <= radius`` (banded local attention)."""
    idx = torch.arange(length, device=device)
    return (idx[:, None] - idx[None, :]).abs() <= radius
