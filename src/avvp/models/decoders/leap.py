"""LEAP: label-anticipated event disentanglement decoder (Zhou et al., ECCV 2024; docs/methods.md
section 7), structured as the reference (jasongief/LEAP ``main_network_temporal_add_label.py``).

Label embeddings F^l (C, d_l) are projected by ONE ``Linear(d_l, d)`` shared by both modalities
and refined by two independent stacks of blocks (audio, visual). A block is cross-attention from
the label queries to the segment features, then a feed-forward; no self-attention between labels.

* ``norm="pre"`` (reference, default):
  ``F <- F + Drop(Attn(LN1(F), F^m)); F <- F + Drop(FF(LN2(F)))``.
  ``norm="post"`` (paper equations):
  ``F <- LN1(F + Drop(Attn(F, F^m))); F <- LN2(F + Drop(FF(F)))``.
* Segment logits are the raw scaled scores ``Q K^T / sqrt(d_k)`` of the block that feeds the
  predictions, averaged over heads and transposed to (T, C). ``logits="recomputed"`` (reference,
  default): the scores are recomputed with the query state after the attention residual (before
  the feed-forward, without the LayerNorm); ``logits="attention"``: the scores the attention itself
  used.
* ``readout``: which block feeds the predictions -- ``last`` (default), ``first`` (later blocks are
  not run) or ``average`` (label features, scores and attention maps averaged over blocks), the
  paper's ablation.
* Video level: ``p^m = sigmoid(Linear(d, 1)(F^l))`` per class and modality; the video gate is
  ``OR(p^a >= 0.5, p^v >= 0.5)`` (gate ``"or"``).

The attention weights are needed (for the maps in ``extras``), so attention here is explicit
(softmax of scores); it is a (C x T) = 25 x 10 map per head, cheap.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from avvp.models.attention import FeedForward, MultiHeadAttention
from avvp.models.dropout import Dropout, dropout
from avvp.models.label_embeddings import LabelEmbeddings
from avvp.models.outputs import ParsingOutput

Norm = Literal["pre", "post"]
Readout = Literal["first", "last", "average"]
Logits = Literal["recomputed", "attention"]


class LeapBlock(nn.Module):
    """One label-to-segment cross-attention block (attention + feed-forward sublayers)."""

    def __init__(
        self,
        d_model: int,
        heads: int,
        ff_dim: int,
        *,
        dropout: float,
        attn_dropout: float,
        norm: Norm,
        logits: Logits,
    ) -> None:
        super().__init__()
        self.norm_position = norm
        self.logits = logits
        self.attn_dropout = attn_dropout
        self.attn = MultiHeadAttention(d_model, heads, dropout=attn_dropout, init="linear")
        self.ff = FeedForward(d_model, ff_dim, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(
        self, labels: Tensor, segments: Tensor, *, logits_needed: bool = True
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        """``labels`` (B, C, d), or (C, d) when they are the same for every video (the first
        block), ``segments`` (B, T, d) -> (labels' (B, C, d), logit scores (B, h, C, T),
        attention weights (B, h, C, T)). ``logits_needed=False`` skips the recomputed logit
        scores (None) of a block whose scores the readout does not read."""
        k, v = self.attn.project_key_value(segments)
        pre = self.norm_position == "pre"
        query_in = self.norm1(labels) if pre else labels
        # Unbatched labels: normalise and project the C queries once, broadcast over the batch.
        queries = query_in.unsqueeze(0) if query_in.dim() == 2 else query_in
        scores = self.attn.scores(self.attn.project_query(queries), k)
        weights = torch.softmax(scores, dim=-1)
        dropped = dropout(weights, self.attn_dropout, self.training)
        x = labels + self.dropout(self.attn.merge(torch.matmul(dropped, v)))
        if not pre:
            x = self.norm1(x)
        logit_scores: Tensor | None = scores
        if self.logits == "recomputed":
            logit_scores = (
                self.attn.scores(self.attn.project_query(x), k) if logits_needed else None
            )
        if pre:
            x = x + self.dropout(self.ff(self.norm2(x)))
        else:
            x = self.norm2(x + self.dropout(self.ff(x)))
        return x, logit_scores, weights


class LeapDecoder(nn.Module):
    """``forward(f_a, f_v) -> ParsingOutput`` with gate ``"or"``."""

    def __init__(
        self,
        *,
        label_embeddings: LabelEmbeddings,
        d_model: int = 512,
        heads: int = 8,
        ff_dim: int = 512,
        num_blocks: int = 2,
        dropout: float = 0.2,
        attn_dropout: float = 0.1,
        norm: Norm = "pre",
        readout: Readout = "last",
        logits: Logits = "recomputed",
    ) -> None:
        super().__init__()
        self.readout = readout
        self.label_embeddings = label_embeddings
        self.fc_l = nn.Linear(label_embeddings.dim, d_model)

        def stack() -> nn.ModuleList:
            return nn.ModuleList(
                LeapBlock(
                    d_model,
                    heads,
                    ff_dim,
                    dropout=dropout,
                    attn_dropout=attn_dropout,
                    norm=norm,
                    logits=logits,
                )
                for _ in range(num_blocks)
            )

        self.blocks_audio = stack()
        self.blocks_visual = stack()
        self.head_audio = nn.Linear(d_model, 1)
        self.head_visual = nn.Linear(d_model, 1)

    def _run(
        self, blocks: nn.ModuleList, queries: Tensor, segments: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """-> label features (B, C, d), logits (B, T, C), attention maps (B, C, T)."""
        used = blocks[:1] if self.readout == "first" else blocks
        feats, scores, maps = [], [], []
        x = queries
        for i, block in enumerate(used):
            # "last" reads the last block's logits only: the others' recomputed scores are dead.
            needed = self.readout != "last" or i == len(used) - 1
            x, s, w = block(x, segments, logits_needed=needed)
            feats.append(x)
            if s is not None:
                scores.append(s.mean(dim=1))
            maps.append(w.mean(dim=1))
        if self.readout == "average" and len(feats) > 1:
            feat = torch.stack(feats).mean(dim=0)
            score = torch.stack(scores).mean(dim=0)
            amap = torch.stack(maps).mean(dim=0)
        else:
            feat, score, amap = feats[-1], scores[-1], maps[-1]
        return feat, score.transpose(1, 2), amap

    def forward(self, f_a: Tensor, f_v: Tensor) -> ParsingOutput:
        # (C, d): the first block broadcasts it over the batch.
        labels = self.fc_l(self.label_embeddings())
        feat_a, logits_a, map_a = self._run(self.blocks_audio, labels, f_a)
        feat_v, logits_v, map_v = self._run(self.blocks_visual, labels, f_v)
        video_logits_a = self.head_audio(feat_a).squeeze(-1)
        video_logits_v = self.head_visual(feat_v).squeeze(-1)
        return ParsingOutput(
            segment_audio=torch.sigmoid(logits_a),
            segment_visual=torch.sigmoid(logits_v),
            video_audio=torch.sigmoid(video_logits_a),
            video_visual=torch.sigmoid(video_logits_v),
            video=None,
            audio_features=f_a,
            visual_features=f_v,
            gate="or",
            extras={
                "attention_audio": map_a,
                "attention_visual": map_v,
                "segment_logits_audio": logits_a,
                "segment_logits_visual": logits_v,
                "video_logits_audio": video_logits_a,
                "video_logits_visual": video_logits_v,
            },
        )


def build_leap_decoder(
    *,
    label_embeddings: LabelEmbeddings,
    d_model: int = 512,
    heads: int = 8,
    ff_dim: int = 512,
    num_blocks: int = 2,
    dropout: float = 0.2,
    attn_dropout: float = 0.1,
    norm: Norm = "pre",
    readout: Readout = "last",
    logits: Logits = "recomputed",
) -> LeapDecoder:
    """LEAP decoder; defaults are the reference's (2+2 blocks, 8 heads, FF 512, pre-LN)."""
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
    return LeapDecoder(
        label_embeddings=label_embeddings,
        d_model=d_model,
        heads=heads,
        ff_dim=ff_dim,
        num_blocks=num_blocks,
        dropout=dropout,
        attn_dropout=attn_dropout,
        norm=norm,
        readout=readout,
        logits=logits,
    )
