"""MM-CSE: class-aware feature decoupling + fine-grained semantic enhancement (docs/methods.md
section 8).

Zhao, Zhou et al., "Multimodal Class-aware Semantic Enhancement Network for Audio-Visual Video
Parsing", AAAI 2025 (arXiv 2412.11248). The module layout follows the public reference code
(``code/main_network.py``, ``MMCSE_Net``) so reference checkpoints convert key by key
(:mod:`avvp.convert.mmcse`), but the implementation is our own:

* the 26 per-class branches of CAFD and the 3 x 25 class-specific ``Linear(128, 1)`` heads are
  each stored as one stacked parameter and evaluated with one ``einsum`` (same parameters, same
  function, one kernel instead of 26 or 25);
* the CLAP feature-map resampling (reshape, bicubic interpolation, row mean, adaptive pooling) is
  linear, so it is precomputed once as a fixed (64, 10) matrix applied *before* ``fc_a``
  (``fc_a`` is affine and every resampling weight row sums to one, so the order can be swapped):
  about 200x less compute than projecting 2 x 1024 interpolated steps;
* ResNet-152 frames are averaged in groups of 8 before ``fc_v`` for the same reason.

Pipeline (B videos, T = 10 segments, C = 25 classes, D = ``class_dim``):

1. inputs -> holistic audio ``x_a`` and visual ``x_v``, (B, T, hidden);
2. CAFD: 26 branches per modality (25 events + background) -> (B, T, 26, D); dynamic background
   fusion ``f'_k = ReLU(W [alpha f_k ; (1 - alpha) f_bg])`` -> (B, T, C, D);
3. FGSE: ``layers`` shared layers, each applied to (audio, visual) and (visual, audio);
4. class-specific heads + MMIL pooling -> :class:`~avvp.models.outputs.ParsingOutput`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avvp.classes import NUM_CLASSES, NUM_SEGMENTS
from avvp.errors import ConfigError, DataError
from avvp.models.dropout import Dropout
from avvp.models.outputs import GATES, Gate, ParsingOutput

AudioInput = Literal["clap", "vggish"]
VisualInput = Literal["clip", "res152"]

#: batch key, feature width and expected per-video shape of each input variant.
AUDIO_INPUTS: dict[str, tuple[str, tuple[int, int]]] = {
    "clap": ("clap", (64, 768)),
    "vggish": ("audio", (NUM_SEGMENTS, 128)),
}
VISUAL_INPUTS: dict[str, tuple[str, tuple[int, int]]] = {
    "clip": ("clip", (NUM_SEGMENTS, 768)),
    "res152": ("frames", (8 * NUM_SEGMENTS, 2048)),
}
CLIPS_KEY = "clips"
CLIPS_SHAPE = (NUM_SEGMENTS, 512)

#: keys of ``ParsingOutput.extras`` written by :class:`MMCSEModel` (see docs/mmcse.md).
EXTRAS_DOC = {
    "logits_audio": "(B, T, C) segment logits, audio",
    "logits_visual": "(B, T, C) segment logits, visual",
    "class_features_audio": "(B, T, C, D) CAFD event-specific features (before background fusion)",
    "class_features_visual": "(B, T, C, D)",
    "background_audio": "(B, T, D) CAFD background feature",
    "background_visual": "(B, T, D)",
    "alpha_audio": "(B, T) dynamic background fusion weight of the event features",
    "alpha_visual": "(B, T)",
    "recon_audio": "(B, T, hidden) reconstruction of the holistic feature (training heads only)",
    "recon_audio_target": "(B, T, hidden) holistic projected input (not detached, as reference)",
    "recon_visual": "(B, T, hidden)",
    "recon_visual_target": "(B, T, hidden)",
    "enhanced_audio": "(B, T, C, D) FGSE output per class (what the heads read)",
    "enhanced_visual": "(B, T, C, D)",
    "cooccurrence_aa": "(B, T, C, C) last-layer head-averaged SECM attention, audio -> audio",
    "cooccurrence_vv": "(B, T, C, C) visual -> visual",
    "cooccurrence_av": "(B, T, C, C) audio queries over visual keys",
    "cooccurrence_va": "(B, T, C, C) visual queries over audio keys",
}


def clap_resampling_matrix(
    *, length: int = 64, rows: int = 2, width: int = 1024, steps: int = NUM_SEGMENTS
) -> Tensor:
    """The reference CLAP feature-map resampling as a fixed (length, steps) matrix.

    The reference reshapes the (length, 768) map to (768, rows, length // rows), interpolates
    bicubically to (rows, width), projects, averages the rows and adaptive-average-pools the
    ``width`` steps to ``steps``. Everything but the projection is linear and acts on each channel
    alike, so it is the matrix obtained by pushing the unit vectors through it (in float64).
    """
    if length % rows:
        raise ConfigError(f"CLAP map length {length} is not divisible by {rows} rows")
    basis = torch.eye(length, dtype=torch.float64).view(length, 1, rows, length // rows)
    up = F.interpolate(basis, size=(rows, width), mode="bicubic", align_corners=False)
    pooled = F.adaptive_avg_pool1d(up.mean(dim=2), steps)  # (length, 1, steps)
    return pooled.squeeze(1).to(torch.float32)


class MMCSEInputs(nn.Module):
    """Input projections: audio ``fc_a``; visual ``fc_fusion([fc_v(2D) ; fc_st(R(2+1)D)])``."""

    def __init__(self, *, audio_input: AudioInput, visual_input: VisualInput, hidden: int) -> None:
        super().__init__()
        self.audio_input = audio_input
        self.visual_input = visual_input
        self.audio_key, self.audio_shape = AUDIO_INPUTS[audio_input]
        self.visual_key, self.visual_shape = VISUAL_INPUTS[visual_input]
        self.fc_a = nn.Linear(self.audio_shape[1], hidden)
        self.fc_v = nn.Linear(self.visual_shape[1], hidden)
        self.fc_st = nn.Linear(CLIPS_SHAPE[1], hidden)
        self.fc_fusion = nn.Linear(2 * hidden, hidden)
        if audio_input == "clap":
            self.register_buffer(
                "clap_resample",
                clap_resampling_matrix(length=self.audio_shape[0]),
                persistent=False,
            )

    def _feature(self, batch: Mapping[str, Tensor], key: str, *shapes: tuple[int, int]) -> Tensor:
        expected = " or ".join(f"(B, {s[0]}, {s[1]})" for s in shapes)
        if key not in batch:
            raise DataError(f"MM-CSE input: batch has no key {key!r} (expected {expected})")
        x = batch[key]
        if x.dim() != 3 or tuple(x.shape[1:]) not in shapes:
            raise DataError(
                f"MM-CSE input: batch[{key!r}] has shape {tuple(x.shape)}, expected {expected}"
            )
        return x

    def forward(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Holistic audio and visual features, each (B, T, hidden)."""
        audio = self._feature(batch, self.audio_key, self.audio_shape)
        if self.audio_input == "clap":
            resample = self.get_buffer("clap_resample")
            audio = torch.einsum("sn,bsc->bnc", resample.to(audio.dtype), audio)
        x_a = self.fc_a(audio)

        if self.visual_input == "res152":
            # Frames may come already averaged per segment (packed datasets store them so).
            frames = self._feature(
                batch, self.visual_key, self.visual_shape, (NUM_SEGMENTS, self.visual_shape[1])
            )
            b, n, c = frames.shape
            if n != NUM_SEGMENTS:
                frames = frames.reshape(b, NUM_SEGMENTS, n // NUM_SEGMENTS, c).mean(dim=2)
        else:
            frames = self._feature(batch, self.visual_key, self.visual_shape)
        clips = self._feature(batch, CLIPS_KEY, CLIPS_SHAPE)
        x_v = self.fc_fusion(torch.cat((self.fc_v(frames), self.fc_st(clips)), dim=-1))
        return x_a, x_v


class ClassBranches(nn.Module):
    """K independent MLPs ``ReLU-Linear(in, out)-ReLU [-Dropout-Linear(out, out)-ReLU]``.

    Stored stacked: ``weight1`` (K, out, in), ``bias1`` (K, out), and for two-layer branches
    ``weight2`` (K, out, out), ``bias2`` (K, out). Output (..., K, out).
    """

    def __init__(
        self, *, branches: int, in_dim: int, out_dim: int, two_layers: bool, dropout: float
    ) -> None:
        super().__init__()
        self.weight1 = nn.Parameter(torch.empty(branches, out_dim, in_dim))
        self.bias1 = nn.Parameter(torch.empty(branches, out_dim))
        self.weight2: nn.Parameter | None = None
        self.bias2: nn.Parameter | None = None
        if two_layers:
            self.weight2 = nn.Parameter(torch.empty(branches, out_dim, out_dim))
            self.bias2 = nn.Parameter(torch.empty(branches, out_dim))
        self.dropout = Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Same initialisation as K separate ``nn.Linear`` layers."""
        pairs = [(self.weight1, self.bias1)]
        if self.weight2 is not None and self.bias2 is not None:
            pairs.append((self.weight2, self.bias2))
        for weight, bias in pairs:
            bound = 1.0 / math.sqrt(weight.shape[-1])
            for k in range(weight.shape[0]):
                nn.init.kaiming_uniform_(weight[k], a=math.sqrt(5))
            nn.init.uniform_(bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(torch.einsum("...i,koi->...ko", F.relu(x), self.weight1) + self.bias1)
        if self.weight2 is not None and self.bias2 is not None:
            h = self.dropout(h)
            h = F.relu(torch.einsum("...ki,koi->...ko", h, self.weight2) + self.bias2)
        return h


class ClassLinear(nn.Module):
    """C class-specific ``Linear(D, 1)`` maps, stacked: (..., C, D) -> (..., C)."""

    def __init__(self, *, classes: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(classes, dim))
        self.bias = nn.Parameter(torch.empty(classes))
        bound = 1.0 / math.sqrt(dim)
        for k in range(classes):
            nn.init.kaiming_uniform_(self.weight[k : k + 1], a=math.sqrt(5))
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return (x * self.weight).sum(dim=-1) + self.bias


class AlphaNet(nn.Module):
    """Per-segment background-fusion weight: ``sigmoid(MLP(x))``, (B, T, hidden) -> (B, T)."""

    def __init__(self, *, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(hidden, hidden // 2)
        self.fc2 = nn.Linear(hidden // 2, 1)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.dropout(F.relu(self.fc1(F.relu(x))))
        return torch.sigmoid(self.fc2(h)).squeeze(-1)


class ReconHead(nn.Module):
    """Reconstruction of the holistic feature from the flattened 26 x D decoupled features.

    ``Linear -> ReLU -> Linear -> ReLU`` (the reference's visual head starts with one more ReLU,
    a no-op on the non-negative branch outputs).
    """

    def __init__(self, *, in_dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.fc2(F.relu(self.fc1(x))))


@dataclass
class DecoupledFeatures:
    """CAFD result for one modality."""

    fused: Tensor  # (B, T, C, D) after dynamic background fusion (FGSE input)
    events: Tensor | None  # (B, T, C, D) event-specific branch outputs
    background: Tensor | None  # (B, T, D)
    alpha: Tensor | None  # (B, T)
    recon: Tensor | None  # (B, T, hidden)


class CAFD(nn.Module):
    """Class-aware feature decoupling for one modality, with dynamic background fusion.

    ``enabled=False`` is the "w/o CAFD" ablation: one shared ``ReLU -> Linear -> ReLU``
    projection of the holistic feature is copied to every class token (no event-specific
    branches, no background, no reconstruction).
    """

    def __init__(
        self,
        *,
        hidden: int,
        class_dim: int,
        classes: int,
        two_layer_branches: bool,
        dropout: float,
        enabled: bool,
        reconstruction_head: bool,
    ) -> None:
        super().__init__()
        self.classes = classes
        self.enabled = enabled
        self.branches: ClassBranches | None = None
        self.alpha: AlphaNet | None = None
        self.reduce: nn.Linear | None = None
        self.recon: ReconHead | None = None
        self.shared: nn.Linear | None = None
        if enabled:
            self.branches = ClassBranches(
                branches=classes + 1,
                in_dim=hidden,
                out_dim=class_dim,
                two_layers=two_layer_branches,
                dropout=dropout,
            )
            self.alpha = AlphaNet(hidden=hidden, dropout=dropout)
            self.reduce = nn.Linear(2 * class_dim, class_dim)
            if reconstruction_head:
                self.recon = ReconHead(in_dim=(classes + 1) * class_dim, hidden=hidden)
        else:
            self.shared = nn.Linear(hidden, class_dim)

    def forward(self, x: Tensor) -> DecoupledFeatures:
        if self.shared is not None:
            token = F.relu(self.shared(F.relu(x)))
            fused = token.unsqueeze(-2).expand(*token.shape[:-1], self.classes, token.shape[-1])
            return DecoupledFeatures(fused, None, None, None, None)
        assert self.branches is not None and self.alpha is not None and self.reduce is not None
        feats = self.branches(x)  # (B, T, C + 1, D)
        events, background = feats[..., :-1, :], feats[..., -1, :]
        alpha = self.alpha(x)
        a = alpha[..., None, None]
        bg = ((1.0 - a) * background.unsqueeze(-2)).expand_as(events)
        fused = F.relu(self.reduce(torch.cat((a * events, bg), dim=-1)))
        recon = None
        if self.recon is not None:
            recon = self.recon(feats.flatten(-2))
        return DecoupledFeatures(fused, events, background, alpha, recon)


class SECM(nn.Module):
    """Segment-wise event co-occurrence modelling: attention across class tokens of one segment."""

    def __init__(self, *, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def forward(self, x: Tensor, y: Tensor, *, need_weights: bool) -> tuple[Tensor, Tensor | None]:
        """(B, T, C, D) queries ``x`` over keys/values ``y`` -> output and head-averaged map."""
        b, t, c, d = x.shape
        out, weights = self.attn(
            x.reshape(b * t, c, d),
            y.reshape(b * t, c, d),
            y.reshape(b * t, c, d),
            need_weights=need_weights,
        )
        maps = None if weights is None else weights.view(b, t, c, c)
        return out.view(b, t, c, d), maps


class LGSF(nn.Module):
    """Local-global semantic fusion per class over time.

    ``g = mean_t ReLU(W_g y_t)``, ``r_t = sigmoid(cos(ReLU(W_l x_t), g))``, output ``r_t g``.
    Intra-modal (``cross=False``): ``y = x`` with separate ``W_l`` (``local_proj``) and ``W_g``
    (``global_proj``); cross-modal: ``y`` the other modality, one shared ``proj`` for both.
    """

    def __init__(self, *, dim: int, cross: bool) -> None:
        super().__init__()
        self.cross = cross
        if cross:
            self.proj = nn.Linear(dim, dim)
        else:
            self.local_proj = nn.Linear(dim, dim)
            self.global_proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """``x``, ``y`` (B, T, C, D) -> (B, T, C, D)."""
        local_layer = self.proj if self.cross else self.local_proj
        global_layer = self.proj if self.cross else self.global_proj
        local = F.relu(local_layer(x))
        glob = F.relu(global_layer(y)).mean(dim=1, keepdim=True)  # (B, 1, C, D)
        relevance = torch.sigmoid(F.cosine_similarity(local, glob, dim=-1)).unsqueeze(-1)
        return relevance * glob


class FGSELayer(nn.Module):
    """One fine-grained semantic enhancement layer (applied to (q, kv) = (a, v) and (v, a)).

    ``intra = x + LGSF(x + SECM(x, x))``, ``cross = x + LGSF_x(x + SECM(x, y), y)``;
    ``out = FF(LN(fc_intra(intra) + fc_cross(cross)))`` with ``FF = Linear-ReLU-Drop-Linear`` and
    no residual around it (as the reference). ``use_secm`` / ``use_lgsf`` drop those blocks
    (their residual branches become identities).
    """

    def __init__(
        self, *, dim: int, heads: int, ff: int, dropout: float, use_secm: bool, use_lgsf: bool
    ) -> None:
        super().__init__()
        self.use_secm = use_secm
        self.use_lgsf = use_lgsf
        if use_secm:
            self.secm_intra = SECM(dim=dim, heads=heads, dropout=dropout)
            self.secm_cross = SECM(dim=dim, heads=heads, dropout=dropout)
        if use_lgsf:
            self.lgsf_intra = LGSF(dim=dim, cross=False)
            self.lgsf_cross = LGSF(dim=dim, cross=True)
        self.fc_intra = nn.Linear(dim, dim)
        self.fc_cross = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.ff_in = nn.Linear(dim, ff)
        self.ff_out = nn.Linear(ff, dim)
        self.dropout = Dropout(dropout)

    def forward(
        self, x: Tensor, y: Tensor, *, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Query modality ``x``, other ``y`` (B, T, C, D) -> new ``x``, intra and cross maps."""
        map_intra = map_cross = None
        intra = cross = x
        if self.use_secm:
            s_intra, map_intra = self.secm_intra(x, x, need_weights=need_weights)
            s_cross, map_cross = self.secm_cross(x, y, need_weights=need_weights)
            intra = x + s_intra
            cross = x + s_cross
        if self.use_lgsf:
            intra = x + self.lgsf_intra(intra, intra)
            cross = x + self.lgsf_cross(cross, y)
        h = self.norm(self.fc_intra(intra) + self.fc_cross(cross))
        return self.ff_out(self.dropout(F.relu(self.ff_in(h)))), map_intra, map_cross


class FGSE(nn.Module):
    """A stack of FGSE layers, each shared between the two modalities."""

    def __init__(self, layers: list[FGSELayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, a: Tensor, v: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        maps: dict[str, Tensor] = {}
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            # Attention maps are only read from the last layer; skipping them elsewhere lets
            # the attention use the fused kernel.
            need = i == last
            new_a, aa, av = layer(a, v, need_weights=need)
            new_v, vv, va = layer(v, a, need_weights=need)
            a, v = new_a, new_v
            if need:
                for name, m in (("aa", aa), ("av", av), ("vv", vv), ("va", va)):
                    if m is not None:
                        maps[name] = m
        return a, v, maps


class ClassHeads(nn.Module):
    """Class-specific heads and attentive MMIL pooling over time and modality."""

    def __init__(self, *, classes: int, dim: int) -> None:
        super().__init__()
        self.prob = ClassLinear(classes=classes, dim=dim)
        self.temporal = ClassLinear(classes=classes, dim=dim)
        self.modality = ClassLinear(classes=classes, dim=dim)

    def forward(self, a: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """-> segment logits (B, T, 2, C), segment probs, video, video_audio, video_visual."""
        x = torch.stack((a, v), dim=2)  # (B, T, 2, C, D)
        logits = self.prob(x)
        prob = torch.sigmoid(logits)
        w_t = torch.softmax(self.temporal(x), dim=1)
        w_m = torch.softmax(self.modality(x), dim=2)
        temporal = w_t * prob
        video = (temporal * w_m).sum(dim=(1, 2))
        return logits, prob, video, temporal[:, :, 0].sum(dim=1), temporal[:, :, 1].sum(dim=1)


class MMCSEModel(nn.Module):
    """MM-CSE: ``model(batch) -> ParsingOutput`` (see :func:`build_mmcse` for the options)."""

    def __init__(
        self,
        *,
        inputs: MMCSEInputs,
        cafd_audio: CAFD,
        cafd_visual: CAFD,
        encoder: FGSE,
        heads: ClassHeads,
        gate: Gate = "pooled",
    ) -> None:
        super().__init__()
        self.inputs = inputs
        self.cafd_audio = cafd_audio
        self.cafd_visual = cafd_visual
        self.encoder = encoder
        self.heads = heads
        self.gate: Gate = gate

    def forward(self, batch: Mapping[str, Tensor]) -> ParsingOutput:
        x_a, x_v = self.inputs(batch)
        dec_a = self.cafd_audio(x_a)
        dec_v = self.cafd_visual(x_v)
        f_a, f_v, maps = self.encoder(dec_a.fused, dec_v.fused)
        logits, prob, video, video_a, video_v = self.heads(f_a, f_v)

        extras: dict[str, Tensor] = {
            "logits_audio": logits[:, :, 0],
            "logits_visual": logits[:, :, 1],
            "enhanced_audio": f_a,
            "enhanced_visual": f_v,
        }
        for suffix, dec, x in (("audio", dec_a, x_a), ("visual", dec_v, x_v)):
            if dec.events is not None:
                extras[f"class_features_{suffix}"] = dec.events
            if dec.background is not None:
                extras[f"background_{suffix}"] = dec.background
            if dec.alpha is not None:
                extras[f"alpha_{suffix}"] = dec.alpha
            if dec.recon is not None:
                extras[f"recon_{suffix}"] = dec.recon
                extras[f"recon_{suffix}_target"] = x
        for name, m in maps.items():
            extras[f"cooccurrence_{name}"] = m

        return ParsingOutput(
            segment_audio=prob[:, :, 0],
            segment_visual=prob[:, :, 1],
            video_audio=video_a,
            video_visual=video_v,
            video=video,
            audio_features=f_a.mean(dim=2),
            visual_features=f_v.mean(dim=2),
            gate=self.gate,
            extras=extras,
        )


def _check_choice(key: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"model.{key}: {value!r} is not one of {', '.join(choices)}")


def _check_positive(key: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"model.{key}: expected a positive integer, got {value!r}")


def build_mmcse(
    *,
    audio_input: AudioInput = "clap",
    visual_input: VisualInput = "clip",
    hidden: int = 256,
    class_dim: int = 128,
    heads: int = 8,
    layers: int = 4,
    ff: int = 512,
    dropout: float = 0.1,
    use_cafd: bool = True,
    use_secm: bool = True,
    use_lgsf: bool = True,
    reconstruction_heads: bool = True,
    gate: Gate = "pooled",
    num_classes: int = NUM_CLASSES,
) -> MMCSEModel:
    """Build MM-CSE.

    Args:
        audio_input: ``"clap"`` (VALOR++ CLAP maps, batch key ``clap`` (B, 64, 768)) or
            ``"vggish"`` (batch key ``audio`` (B, 10, 128)).
        visual_input: ``"clip"`` (batch key ``clip`` (B, 10, 768)) or ``"res152"`` (batch key
            ``frames`` (B, 80, 2048), averaged per 8 frames). R(2+1)D ``clips`` (B, 10, 512) are
            always fused in, as the reference does.
        hidden: width of the projected holistic features (256).
        class_dim: width of each class-wise feature (128).
        heads, layers, ff: SECM heads, FGSE layers, FGSE feed-forward width.
        dropout: dropout of the visual CAFD branches, the alpha nets, SECM attention and FF.
        use_cafd, use_secm, use_lgsf: ablation switches (see docs/mmcse.md).
        reconstruction_heads: build the CAFD reconstruction heads (needed for L_rec only;
            inference checkpoints can drop them, see :func:`strip_training_heads`).
        gate: video-level gate of the inference rule: ``"pooled"`` (benchmark MMIL rule,
            default), ``"mmcse"`` (the reference code: visual gated by the visual-only
            probability) or ``"modality"`` (per-modality video probabilities).
        num_classes: number of event classes (25 on LLP).
    """
    _check_choice("audio_input", audio_input, tuple(AUDIO_INPUTS))
    _check_choice("visual_input", visual_input, tuple(VISUAL_INPUTS))
    _check_choice("gate", gate, GATES)
    for key, value in (
        ("hidden", hidden),
        ("class_dim", class_dim),
        ("heads", heads),
        ("layers", layers),
        ("ff", ff),
        ("num_classes", num_classes),
    ):
        _check_positive(key, value)
    if class_dim % heads:
        raise ConfigError(f"model.heads: class_dim {class_dim} is not divisible by {heads} heads")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"model.dropout: expected a value in [0, 1), got {dropout!r}")

    def cafd(two_layer_branches: bool) -> CAFD:
        return CAFD(
            hidden=hidden,
            class_dim=class_dim,
            classes=num_classes,
            two_layer_branches=two_layer_branches,
            dropout=dropout,
            enabled=use_cafd,
            reconstruction_head=reconstruction_heads,
        )

    return MMCSEModel(
        inputs=MMCSEInputs(audio_input=audio_input, visual_input=visual_input, hidden=hidden),
        # The reference's audio branches are one layer deep, the visual ones two.
        cafd_audio=cafd(False),
        cafd_visual=cafd(True),
        encoder=FGSE(
            [
                FGSELayer(
                    dim=class_dim,
                    heads=heads,
                    ff=ff,
                    dropout=dropout,
                    use_secm=use_secm,
                    use_lgsf=use_lgsf,
                )
                for _ in range(layers)
            ]
        ),
        heads=ClassHeads(classes=num_classes, dim=class_dim),
        gate=gate,
    )


TRAINING_HEAD_PREFIXES: tuple[str, ...] = ("cafd_audio.recon.", "cafd_visual.recon.")


def strip_training_heads(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Drop the reconstruction heads (training-only) from an avvp MM-CSE state dict.

    The result loads into ``build_mmcse(..., reconstruction_heads=False)``. Keys may carry a
    common prefix (e.g. ``model.``); any key containing a training-head path is dropped.
    """
    return {
        k: v
        for k, v in state_dict.items()
        if not any(k.startswith(p) or f".{p}" in k for p in TRAINING_HEAD_PREFIXES)
    }
