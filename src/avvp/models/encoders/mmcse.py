"""MM-CSE encoder: class-aware feature decoupling (CAFD) + fine-grained semantic enhancement
(FGSE) (docs/mmcse.md, docs/methods.md section 8).

Zhao, Zhou et al., "Multimodal Class-aware Semantic Enhancement Network for Audio-Visual Video
Parsing", AAAI 2025 (arXiv 2412.11248). The module layout follows the public reference code
(``code/main_network.py``, ``MMCSE_Net``) so reference checkpoints convert key by key
(:mod:`avvp.convert.mmcse`), but the implementation is our own: the 26 per-class branches of
CAFD are stored as one stacked parameter and evaluated with one ``einsum`` (same parameters, same
function, one kernel instead of 26).

``(x_a, x_v)`` (B, T, d_model) -> :class:`~avvp.models.outputs.EncoderOutput` with class-wise
features ``(f_a, f_v)`` (B, T, C, class_dim) for :mod:`avvp.models.decoders.mmcse`, and as
extras what the MM-CSE losses and figures read (``docs/mmcse.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avvp.classes import NUM_CLASSES
from avvp.models.dropout import Dropout
from avvp.models.outputs import EncoderOutput


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


class MMCSEEncoder(nn.Module):
    """CAFD per modality, then a stack of FGSE layers, each shared between the two modalities.

    ``forward(x_a, x_v) -> EncoderOutput``: ``audio`` / ``visual`` are the FGSE outputs
    (B, T, C, D); ``extras`` hold the FGSE outputs again as ``enhanced_*``, the CAFD side outputs
    (``class_features_*``, ``background_*``, ``alpha_*``, ``recon_*`` with ``recon_*_target`` =
    the encoder input, not detached, as the reference) and the last layer's head-averaged SECM
    maps ``cooccurrence_{aa,av,vv,va}``.
    """

    def __init__(self, *, cafd_audio: CAFD, cafd_visual: CAFD, layers: list[FGSELayer]) -> None:
        super().__init__()
        self.cafd_audio = cafd_audio
        self.cafd_visual = cafd_visual
        self.layers = nn.ModuleList(layers)

    def forward(self, x_a: Tensor, x_v: Tensor) -> EncoderOutput:
        dec_a = self.cafd_audio(x_a)
        dec_v = self.cafd_visual(x_v)
        a, v = dec_a.fused, dec_v.fused
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

        extras: dict[str, Tensor] = {"enhanced_audio": a, "enhanced_visual": v}
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
        return EncoderOutput(audio=a, visual=v, extras=extras)


def _positive(key: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{key}: expected a positive integer, got {value!r}")


def build_mmcse_encoder(
    *,
    d_model: int = 256,
    class_dim: int = 128,
    heads: int = 8,
    layers: int = 4,
    ff: int = 512,
    dropout: float = 0.1,
    use_cafd: bool = True,
    use_secm: bool = True,
    use_lgsf: bool = True,
    reconstruction_heads: bool = True,
    num_classes: int = NUM_CLASSES,
) -> MMCSEEncoder:
    """MM-CSE's CAFD + FGSE.

    Args:
        d_model: width of the holistic input features (the paper's ``hidden``, 256).
        class_dim: width of each class-wise feature (128); the decoder's ``class_dim``.
        heads, layers, ff: SECM heads, FGSE layers, FGSE feed-forward width.
        dropout: dropout of the visual CAFD branches, the alpha nets, SECM attention and FF.
        use_cafd, use_secm, use_lgsf: ablation switches (see docs/mmcse.md).
        reconstruction_heads: build the CAFD reconstruction heads (needed for L_rec only;
            inference checkpoints can drop them: ``avvp.models.mmcse.strip_training_heads``).
        num_classes: number of event classes (25 on LLP).
    """
    for key, value in (
        ("d_model", d_model),
        ("class_dim", class_dim),
        ("heads", heads),
        ("layers", layers),
        ("ff", ff),
        ("num_classes", num_classes),
    ):
        _positive(key, value)
    if class_dim % heads:
        raise ValueError(f"heads: class_dim {class_dim} is not divisible by {heads} heads")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: expected a value in [0, 1), got {dropout!r}")

    def cafd(two_layer_branches: bool) -> CAFD:
        return CAFD(
            hidden=d_model,
            class_dim=class_dim,
            classes=num_classes,
            two_layer_branches=two_layer_branches,
            dropout=dropout,
            enabled=use_cafd,
            reconstruction_head=reconstruction_heads,
        )

    return MMCSEEncoder(
        # The reference's audio branches are one layer deep, the visual ones two.
        cafd_audio=cafd(False),
        cafd_visual=cafd(True),
        layers=[
            FGSELayer(
                dim=class_dim,
                heads=heads,
                ff=ff,
                dropout=dropout,
                use_secm=use_secm,
                use_lgsf=use_lgsf,
            )
            for _ in range(layers)
        ],
    )
