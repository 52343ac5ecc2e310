"""AVEL encoders: AVE baseline, PSP and CMBS (docs/methods.md section 11), our own code after the
public reference implementations' architectures.

Each encoder maps VGGish audio (B, T, 128) and VGG-19 pool5 maps (B, T, H, W, 512) to an
:class:`AVEEncoding`: per-modality segment features (what LEAP decodes), the fused features the
default classification head reads, and encoder-side tensors for auxiliary losses. Only LIVE
parameters are registered (the reference modules also hold layers their forward never uses;
``docs/ave.md`` lists both counts).

* :class:`AVEBaselineEncoder` (Tian et al., ECCV 2018, "A+V-att"): audio-guided visual attention
  over the 7x7 map, then one bidirectional LSTM per modality (hidden 128).
* :class:`PSPEncoder` (Zhou et al., CVPR 2021): audio MLP, audio-guided visual attention, visual
  MLP, Bi-LSTMs, then positive sample propagation (pruned, row-normalised cross-modal affinities).
* :class:`CMBSEncoder` (Xia & Zhao, CVPR 2022): audio-guided spatial-channel attention, Bi-LSTMs,
  transformer encoders / cross-modal decoders, background-suppression gates, audio-visual
  interaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avvp.models.dropout import Dropout

__all__ = [
    "AVEBaselineEncoder",
    "AVEEncoding",
    "AudioGuidedVisualAttention",
    "CMBSEncoder",
    "PSPEncoder",
    "PositiveSamplePropagation",
    "SpatialChannelAttention",
]


@dataclass
class AVEEncoding:
    """Encoder output for B videos, T segments.

    Attributes:
        audio: (B, T, d) audio segment features (LEAP's audio input).
        visual: (B, T, d) visual segment features (LEAP's visual input).
        fused: (B, T, d_f) what the default classification head classifies.
        extras: encoder-specific tensors (auxiliary-loss inputs, intermediate features).
    """

    audio: Tensor
    visual: Tensor
    fused: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


def _xavier(*layers: nn.Linear, zero_bias: bool = False) -> None:
    for layer in layers:
        nn.init.xavier_uniform_(layer.weight)
        if zero_bias and layer.bias is not None:
            nn.init.zeros_(layer.bias)


class AudioGuidedVisualAttention(nn.Module):
    """AVGA: per segment, a softmax over the P = H*W map positions driven by the audio.

    As in the reference, the position scores are ``w_h^T tanh(W_v relu(U_v v_p)_j +
    W_g relu(U_a a))``, where the projections map to ``map_size`` = P units; the reference adds
    the (P, map_size) visual term and the (map_size, 1) audio term by broadcasting, so the audio
    term is indexed by the POSITION axis and ``map_size`` must equal P (49 for 7x7 maps).
    """

    def __init__(
        self,
        *,
        audio_dim: int = 128,
        visual_dim: int = 512,
        hidden_size: int = 512,
        map_size: int = 49,
    ) -> None:
        super().__init__()
        self.map_size = map_size
        self.affine_audio = nn.Linear(audio_dim, hidden_size)
        self.affine_video = nn.Linear(visual_dim, hidden_size)
        self.affine_v = nn.Linear(hidden_size, map_size, bias=False)
        self.affine_g = nn.Linear(hidden_size, map_size, bias=False)
        self.affine_h = nn.Linear(map_size, 1, bias=False)
        _xavier(self.affine_v, self.affine_g, self.affine_h, self.affine_audio, self.affine_video)

    def forward(self, audio: Tensor, visual: Tensor) -> Tensor:
        """audio (B, T, a), visual (B, T, H, W, C) -> attended visual (B, T, C)."""
        b, t = visual.shape[:2]
        c = visual.shape[-1]
        v = visual.reshape(b * t, -1, c)  # (BT, P, C)
        if v.shape[1] != self.map_size:
            raise ValueError(
                f"visual maps have {v.shape[1]} positions; this attention was built "
                f"for map_size={self.map_size}"
            )
        v_h = F.relu(self.affine_video(v))
        a_h = F.relu(self.affine_audio(audio.reshape(b * t, -1)))
        content = self.affine_v(v_h) + self.affine_g(a_h).unsqueeze(2)  # (BT, P, P)
        z = self.affine_h(torch.tanh(content)).squeeze(2)  # (BT, P)
        alpha = torch.softmax(z, dim=-1).unsqueeze(1)  # (BT, 1, P)
        return torch.bmm(alpha, v).reshape(b, t, c)


class AVEBaselineEncoder(nn.Module):
    """AVE baseline (A+V-att): AVGA then Bi-LSTM per modality; fused = concat (B, T, 4h)."""

    def __init__(
        self,
        *,
        audio_dim: int = 128,
        visual_dim: int = 512,
        hidden_size: int = 512,
        lstm_hidden: int = 128,
        map_size: int = 49,
    ) -> None:
        super().__init__()
        self.out_dim = 2 * lstm_hidden
        self.fused_dim = 4 * lstm_hidden
        self.attention = AudioGuidedVisualAttention(
            audio_dim=audio_dim,
            visual_dim=visual_dim,
            hidden_size=hidden_size,
            map_size=map_size,
        )
        self.lstm_audio = nn.LSTM(audio_dim, lstm_hidden, 1, batch_first=True, bidirectional=True)
        self.lstm_video = nn.LSTM(visual_dim, lstm_hidden, 1, batch_first=True, bidirectional=True)

    def forward(self, audio: Tensor, visual: Tensor) -> AVEEncoding:
        attended = self.attention(audio, visual)
        f_a, _ = self.lstm_audio(audio)
        f_v, _ = self.lstm_video(attended)
        return AVEEncoding(audio=f_a, visual=f_v, fused=torch.cat([f_a, f_v], dim=-1))


class PositiveSamplePropagation(nn.Module):
    """PSP: cross-modal affinities, pruned below ``threshold`` and re-normalised, propagate the
    other modality's features; then Linear-ReLU-Dropout and a shared LayerNorm (eps 1e-6)."""

    def __init__(
        self,
        *,
        audio_dim: int = 256,
        visual_dim: int = 256,
        hidden_dim: int = 256,
        out_dim: int = 256,
        dropout: float = 0.1,
        threshold: float = 0.099,
    ) -> None:
        super().__init__()
        self.threshold = threshold
        self.v_L1 = nn.Linear(visual_dim, hidden_dim, bias=False)
        self.v_L2 = nn.Linear(visual_dim, hidden_dim, bias=False)
        self.v_fc = nn.Linear(visual_dim, out_dim, bias=False)
        self.a_L1 = nn.Linear(audio_dim, hidden_dim, bias=False)
        self.a_L2 = nn.Linear(audio_dim, hidden_dim, bias=False)
        self.a_fc = nn.Linear(audio_dim, out_dim, bias=False)
        self.dropout = Dropout(dropout)
        self.layer_norm = nn.LayerNorm(out_dim, eps=1e-6)
        _xavier(self.v_L1, self.v_L2, self.a_L1, self.a_L2, self.a_fc, self.v_fc)

    def _prune(self, affinity: Tensor) -> Tensor:
        affinity = affinity / (affinity.sum(dim=-1, keepdim=True) + 1e-8)
        affinity = (affinity > self.threshold).to(affinity.dtype) * affinity
        return affinity / (affinity.sum(dim=-1, keepdim=True) + 1e-8)

    def forward(self, f_a: Tensor, f_v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """-> (fused, visual, audio), each (B, T, out_dim)."""
        v1 = self.dropout(F.relu(self.v_L1(f_v)))
        v2 = self.dropout(F.relu(self.v_L2(f_v)))
        a1 = self.dropout(F.relu(self.a_L1(f_a)))
        a2 = self.dropout(F.relu(self.a_L2(f_a)))
        v_to_a = F.relu(torch.bmm(v2, a1.transpose(1, 2)) / math.sqrt(v2.shape[-1]))
        a_to_v = v_to_a.transpose(1, 2)
        v_to_a, a_to_v = self._prune(v_to_a), self._prune(a_to_v)
        v_psp = f_v + torch.bmm(v_to_a, a2)
        a_psp = f_a + torch.bmm(a_to_v, v1)
        v_psp = self.layer_norm(self.dropout(F.relu(self.v_fc(v_psp))))
        a_psp = self.layer_norm(self.dropout(F.relu(self.a_fc(a_psp))))
        return (v_psp + a_psp) * 0.5, v_psp, a_psp


class PSPEncoder(nn.Module):
    """PSP (fully supervised): ``extras["av_similarity"]`` (B, T) is the per-segment cosine of the
    PSP audio and visual features, the input of the AVPS loss."""

    def __init__(
        self,
        *,
        audio_dim: int = 128,
        visual_dim: int = 512,
        hidden_size: int = 512,
        lstm_hidden: int = 128,
        map_size: int = 49,
        psp_dim: int = 256,
        dropout: float = 0.1,
        threshold: float = 0.099,
    ) -> None:
        super().__init__()
        self.out_dim = psp_dim
        self.fused_dim = psp_dim
        # The reference's audio/visual MLPs are two stacked bias-free Linears (no activation).
        self.fa = nn.Sequential(
            nn.Linear(audio_dim, 256, bias=False), nn.Linear(256, audio_dim, bias=False)
        )
        self.fv = nn.Sequential(
            nn.Linear(visual_dim, 256, bias=False), nn.Linear(256, lstm_hidden, bias=False)
        )
        self.attention = AudioGuidedVisualAttention(
            audio_dim=audio_dim,
            visual_dim=visual_dim,
            hidden_size=hidden_size,
            map_size=map_size,
        )
        self.lstm_audio = nn.LSTM(audio_dim, lstm_hidden, 1, batch_first=True, bidirectional=True)
        self.lstm_video = nn.LSTM(lstm_hidden, lstm_hidden, 1, batch_first=True, bidirectional=True)
        self.psp = PositiveSamplePropagation(
            audio_dim=2 * lstm_hidden,
            visual_dim=2 * lstm_hidden,
            hidden_dim=psp_dim,
            out_dim=psp_dim,
            dropout=dropout,
            threshold=threshold,
        )

    def forward(self, audio: Tensor, visual: Tensor) -> AVEEncoding:
        a = self.fa(audio)
        v = self.fv(self.attention(a, visual))
        f_a, _ = self.lstm_audio(a)
        f_v, _ = self.lstm_video(v)
        fused, v_psp, a_psp = self.psp(f_a, f_v)
        similarity = (F.normalize(v_psp, dim=-1) * F.normalize(a_psp, dim=-1)).sum(dim=-1)
        return AVEEncoding(
            audio=a_psp, visual=v_psp, fused=fused, extras={"av_similarity": similarity}
        )


class SpatialChannelAttention(nn.Module):
    """CMBS's audio-guided spatial-channel attention (the reference's "new" variant).

    Visual self-attention over the map positions (query/key width C/4, residual + LayerNorm),
    a self spatial attention pooled by the mean feature, an audio-guided channel attention
    (``v * (1 + sigmoid(.))``) and an audio-guided spatial attention over the channel-attended
    map; output ``s + beta * sigmoid(self_pooled) * s`` (B, T, C).
    """

    def __init__(
        self,
        *,
        audio_dim: int = 128,
        visual_dim: int = 512,
        hidden_dim: int = 256,
        latent_ratio: int = 4,
        beta: float = 0.4,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.beta = beta
        c = visual_dim
        self.affine_video_1 = nn.Linear(c, c)
        self.affine_audio_1 = nn.Linear(audio_dim, c)
        self.affine_bottleneck = nn.Linear(c, hidden_dim)
        self.affine_v_c_att = nn.Linear(hidden_dim, c)
        self.affine_video_2 = nn.Linear(c, hidden_dim)
        self.affine_audio_2 = nn.Linear(audio_dim, hidden_dim)
        self.affine_v_s_att = nn.Linear(hidden_dim, 1)
        self.video_query = nn.Linear(c, c // latent_ratio)
        self.video_key = nn.Linear(c, c // latent_ratio)
        self.video_value = nn.Linear(c, c)
        self.affine_video_ave = nn.Linear(c, hidden_dim)
        self.affine_video_3 = nn.Linear(c, hidden_dim)
        self.ave_v_att = nn.Linear(hidden_dim, 1)
        self.dropout = Dropout(dropout)
        self.norm = nn.LayerNorm(c)

    def forward(self, visual: Tensor, audio: Tensor) -> Tensor:
        """visual (B, T, H, W, C), audio (B, T, a) -> (B, T, C)."""
        b, t = visual.shape[:2]
        c = visual.shape[-1]
        raw = visual.reshape(b * t, -1, c)  # (BT, P, C)
        a = audio.reshape(b * t, -1)
        # Self-attention over positions (unscaled scores, as in the reference).
        q, k = self.video_query(raw), self.video_key(raw)
        attention = torch.softmax(torch.bmm(q, k.transpose(1, 2)), dim=-1)
        x = self.norm(raw + self.dropout(torch.bmm(attention, self.video_value(raw))))
        # Self spatial attention, guided by the mean position feature.
        mean = F.relu(self.affine_video_ave(x.mean(dim=1))).unsqueeze(1)
        self_query = F.relu(self.affine_video_3(x)) * mean
        self_maps = torch.softmax(torch.tanh(self.ave_v_att(self_query)).transpose(1, 2), dim=-1)
        self_feat = torch.bmm(self_maps, x).reshape(b, t, c)
        # Audio-guided channel attention (on the self-attended map, applied to the raw map).
        a1 = F.relu(self.affine_audio_1(a)).unsqueeze(1)
        v1 = F.relu(self.affine_video_1(x))
        joint = F.relu(self.affine_bottleneck((a1 * v1).mean(dim=1)))
        channel = torch.sigmoid(self.affine_v_c_att(joint)).unsqueeze(1)  # (BT, 1, C)
        c_att = raw * (channel + 1)
        # Audio-guided spatial attention over the channel-attended map.
        v2 = F.relu(self.affine_video_2(c_att))
        a2 = F.relu(self.affine_audio_2(a)).unsqueeze(1)
        maps = torch.softmax(torch.tanh(self.affine_v_s_att(v2 * a2)).transpose(1, 2), dim=-1)
        out = torch.bmm(maps, c_att).reshape(b, t, c)
        return out + self.beta * torch.sigmoid(self_feat) * out


class _PostNormEncoderLayer(nn.Module):
    """Self-attention + feed-forward, post-LayerNorm (CMRAN/CMBS ``EncoderLayer``)."""

    def __init__(self, d_model: int, heads: int, ff_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, ff_dim)
        self.linear2 = nn.Linear(ff_dim, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)

    def feed_forward(self, x: Tensor) -> Tensor:
        x = self.norm1(x)
        return self.norm2(x + self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(x))))))

    def forward(self, x: Tensor) -> Tensor:
        return self.feed_forward(x + self.dropout1(self.attn(x, x, x, need_weights=False)[0]))


class _CrossDecoderLayer(_PostNormEncoderLayer):
    """CMBS ``DecoderLayer``: the query attends to ``[memory; query]`` (its registered
    self-attention is never used by the reference forward, so it is not built here)."""

    def forward(self, x: Tensor, memory: Tensor) -> Tensor:  # type: ignore[override]
        kv = torch.cat([memory, x], dim=1)
        return self.feed_forward(x + self.dropout1(self.attn(x, kv, kv, need_weights=False)[0]))


class _AudioVideoInteraction(nn.Module):
    """``LN(g + Drop(MHA(g, [a; v], [a; v])))`` with ``g = v * a`` (CMBS ``AudioVideoInter``)."""

    def __init__(self, d_model: int, heads: int, attn_dropout: float = 0.2) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, heads, dropout=attn_dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d_model)
        self.dropout = Dropout(0.1)

    def forward(self, x: Tensor, other: Tensor) -> Tensor:
        g = x * other
        memory = torch.cat([other, x], dim=1)
        return self.norm1(g + self.dropout(self.attn(g, memory, memory, need_weights=False)[0]))


class CMBSEncoder(nn.Module):
    """CMBS (supervised): ``extras``: ``av_gate`` (B, T) the product of the two background
    gates (trained with BCE against the event mask), ``audio_query`` / ``visual_query`` the gated
    cross-modal features before the audio-visual interaction (the inputs of the default head's
    class activation sequences)."""

    def __init__(
        self,
        *,
        audio_dim: int = 128,
        visual_dim: int = 512,
        d_model: int = 256,
        heads: int = 4,
        ff_dim: int = 1024,
        encoder_layers: int = 2,
        alpha: float = 0.1,
        beta: float = 0.4,
        dropout: float = 0.2,
        attention_hidden: int = 256,
    ) -> None:
        super().__init__()
        self.out_dim = d_model
        self.fused_dim = d_model
        self.alpha = alpha
        self.v_fc = nn.Linear(visual_dim, visual_dim)
        self.dropout = Dropout(dropout)
        self.spatial_channel_att = SpatialChannelAttention(
            audio_dim=audio_dim, visual_dim=visual_dim, hidden_dim=attention_hidden, beta=beta
        )
        # Bi-LSTMs: audio to d_model (d/2 per direction), visual to 2 * d_model.
        self.audio_rnn = nn.LSTM(audio_dim, d_model // 2, 1, batch_first=True, bidirectional=True)
        self.visual_rnn = nn.LSTM(visual_dim, d_model, 1, batch_first=True, bidirectional=True)
        self.video_affine = nn.Linear(2 * d_model, d_model)
        self.video_encoder = nn.ModuleList(
            _PostNormEncoderLayer(d_model, heads, ff_dim) for _ in range(encoder_layers)
        )
        self.audio_affine = nn.Linear(d_model, d_model)
        self.audio_encoder = nn.ModuleList(
            _PostNormEncoderLayer(d_model, heads, ff_dim) for _ in range(encoder_layers)
        )
        self.audio_decoder_affine = nn.Linear(d_model, d_model)
        self.audio_decoder = _CrossDecoderLayer(d_model, heads, ff_dim)
        self.video_decoder_affine = nn.Linear(2 * d_model, d_model)
        self.video_decoder = _CrossDecoderLayer(d_model, heads, ff_dim)
        self.audio_gated = nn.Linear(d_model, 1)
        self.video_gated = nn.Linear(d_model, 1)
        self.av_inter = _AudioVideoInteraction(d_model, heads)
        self.va_inter = _AudioVideoInteraction(d_model, heads)

    @staticmethod
    def _encode(affine: nn.Linear, layers: nn.ModuleList, x: Tensor) -> Tensor:
        x = affine(x)
        for layer in layers:
            x = layer(x)
        return x

    def forward(self, audio: Tensor, visual: Tensor) -> AVEEncoding:
        v = self.dropout(F.relu(self.v_fc(visual)))
        v = self.spatial_channel_att(v, audio)
        rnn_a, _ = self.audio_rnn(audio)  # (B, T, d)
        rnn_v, _ = self.visual_rnn(v)  # (B, T, 2d)
        video_kv = self._encode(self.video_affine, self.video_encoder, rnn_v)
        audio_query = self.audio_decoder(self.audio_decoder_affine(rnn_a), video_kv)
        audio_kv = self._encode(self.audio_affine, self.audio_encoder, rnn_a)
        video_query = self.video_decoder(self.video_decoder_affine(rnn_v), audio_kv)
        audio_gate = torch.sigmoid(self.audio_gated(audio_kv))
        video_gate = torch.sigmoid(self.video_gated(video_kv))
        video_query = video_query + audio_gate * video_query * self.alpha
        audio_query = audio_query + video_gate * audio_query * self.alpha
        visual_out = self.av_inter(video_query, audio_query)
        audio_out = self.va_inter(audio_query, visual_out)
        return AVEEncoding(
            audio=audio_out,
            visual=visual_out,
            fused=(visual_out + audio_out) / 2,
            extras={
                "av_gate": (audio_gate * video_gate).squeeze(-1),
                "audio_query": audio_query,
                "visual_query": video_query,
            },
        )
