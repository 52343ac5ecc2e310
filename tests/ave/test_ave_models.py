"""AVE / PSP / CMBS encoders with their default heads and with LEAP: shapes, losses, and the
parameter counts of the reference architectures (derived here layer by layer)."""

from __future__ import annotations

import pytest
import torch

from avvp.ave.encoders import PSPEncoder
from avvp.ave.models import ENCODERS, HEADS, AVEEncoderEntry, build_ave_model, describe
from avvp.errors import ConfigError
from avvp.models.complexity import count_parameters
from avvp.models.decoders.leap import LeapDecoder
from avvp.registry import Registry


def lin(i: int, o: int, bias: bool = True) -> int:
    return i * o + (o if bias else 0)


def lstm_bi(i: int, h: int) -> int:
    return 2 * (4 * h * (i + h) + 8 * h)


def mha(d: int) -> int:
    return 3 * d * d + 3 * d + lin(d, d)


def ln(d: int) -> int:
    return 2 * d


AVGA = lin(128, 512) + lin(512, 512) + 2 * lin(512, 49, False) + lin(49, 1, False)
# Live parameters of each reference encoder (those its forward pass uses).
AVE_ENC = AVGA + lstm_bi(128, 128) + lstm_bi(512, 128)
PSP_ENC = (
    lin(128, 256, False)
    + lin(256, 128, False)
    + lin(512, 256, False)
    + lin(256, 128, False)
    + AVGA
    + 2 * lstm_bi(128, 128)
    + 6 * lin(256, 256, False)
    + ln(256)
)
SCA = (  # CMBS spatial-channel attention (ave_bottleneck is never used)
    lin(512, 512)
    + lin(128, 512)
    + lin(512, 256)
    + lin(256, 512)
    + lin(512, 256)
    + lin(128, 256)
    + lin(256, 1)
    + 2 * lin(512, 128)
    + lin(512, 512)
    + 2 * lin(512, 256)
    + lin(256, 1)
    + ln(512)
)
ENC_LAYER = mha(256) + lin(256, 1024) + lin(1024, 256) + 2 * ln(256)
CMBS_ENC = (
    lin(512, 512)
    + SCA
    + lstm_bi(128, 128)
    + lstm_bi(512, 256)
    + lin(512, 256)
    + 2 * ENC_LAYER
    + lin(256, 256)
    + 2 * ENC_LAYER  # temporal encoders
    + lin(256, 256)
    + ENC_LAYER
    + lin(512, 256)
    + ENC_LAYER  # cross-modal decoders
    + 2 * lin(256, 1)
    + 2 * (mha(256) + ln(256))  # gates, AV interaction
)
DCH = {
    "ave": lin(512, 64) + lin(64, 29),
    "psp": lin(256, 64, False) + lin(64, 29, False),
    "cmbs": lin(256, 1) + 3 * lin(256, 28),
}
LEAP_BLOCK = mha(256) + lin(256, 512) + lin(512, 256) + 2 * ln(256)
LEAP = 28 * 300 + lin(300, 256) + 4 * LEAP_BLOCK + 2 * lin(256, 1)
ENC = {"ave": AVE_ENC, "psp": PSP_ENC, "cmbs": CMBS_ENC}
# The numbers docs/ave.md reports.
DOCUMENTED = {
    ("ave", "dch"): 1_335_246,
    ("ave", "leap"): 3_494_915,
    ("psp", "dch"): 1_548_657,
    ("psp", "leap"): 3_724_803,
    ("cmbs", "dch"): 9_200_473,
    ("cmbs", "leap"): 11_373_014,
}


@pytest.mark.parametrize(("encoder", "head"), list(DOCUMENTED))
def test_parameter_counts(encoder: str, head: str) -> None:
    model = build_ave_model({"encoder": encoder, "head": head})
    expected_head = DCH[encoder] if head == "dch" else LEAP
    assert count_parameters(model.encoder)["total"] == ENC[encoder]
    assert count_parameters(model.head)["total"] == expected_head
    total = DOCUMENTED[(encoder, head)]
    assert describe(model) == {
        "total": total,
        "trainable": total,
        "encoder": ENC[encoder],
        "head": expected_head,
    }


def small_batch(b: int = 3, c: int = 16) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    label = torch.full((b, 10), 28)
    label[0, 2:6] = 4
    label[1] = 7
    return {
        "audio": torch.randn(b, 10, 128, generator=g),
        "visual": torch.rand(b, 10, 7, 7, c, generator=g),
        "label": label,
        "category": torch.tensor([4, 7, 0]),
    }


@pytest.mark.parametrize("encoder", ["ave", "psp", "cmbs"])
@pytest.mark.parametrize("head", ["dch", "leap"])
def test_forward_loss_backward(encoder: str, head: str) -> None:
    torch.manual_seed(0)
    model = build_ave_model({"encoder": encoder, "head": head, "encoder_args": {"visual_dim": 16}})
    batch = small_batch()
    out = model(batch)
    assert out.prediction.shape == (3, 10) and out.prediction.dtype == torch.int64
    assert out.scores.shape == (3, 10, 29)
    assert torch.equal(out.scores.argmax(-1), out.prediction)
    assert int(out.prediction.min()) >= 0 and int(out.prediction.max()) <= 28
    loss, terms = model.loss(out, batch)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    if encoder == "psp":
        assert "avps" in terms
    if encoder == "cmbs":
        assert "gate" in terms
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)


def test_leap_head_reuses_the_shared_decoder_and_prediction_rule() -> None:
    model = build_ave_model({"encoder": "psp", "head": "leap", "encoder_args": {"visual_dim": 16}})
    assert isinstance(model.head.decoder, LeapDecoder)
    assert model.head.decoder.label_embeddings.num_classes == 28
    model.eval()
    out = model(small_batch())
    lg = out.logits
    video = (torch.softmax(lg["video_audio"], -1) + torch.softmax(lg["video_visual"], -1)) / 2
    segment = (torch.sigmoid(lg["segment_audio"]) + torch.sigmoid(lg["segment_visual"])) / 2
    cat = video.argmax(-1)
    rel = segment[torch.arange(3), :, cat]
    expected = torch.where(rel >= 0.5, cat[:, None].expand(-1, 10), torch.full_like(rel, 28).long())
    assert torch.equal(out.prediction, expected)


def test_config_errors() -> None:
    with pytest.raises(
        ConfigError, match=r"^model\.encoder: unknown 'han' \(one of ave, psp, cmbs\)$"
    ):
        build_ave_model({"encoder": "han"})
    with pytest.raises(ConfigError, match=r"^model\.head: unknown 'mlp' \(one of dch, leap\)$"):
        build_ave_model({"encoder": "psp", "head": "mlp"})
    with pytest.raises(ConfigError, match=r"^model\.label_embeddings: only used with model\.head"):
        build_ave_model({"encoder": "psp", "label_embeddings": {"source": "learnable"}})
    with pytest.raises(ConfigError, match=r"model.encoder_args.width: unknown option"):
        build_ave_model({"encoder": "psp", "encoder_args": {"width": 3}})
    with pytest.raises(ConfigError, match=r"model.aux_weights.gate"):
        build_ave_model({"encoder": "psp", "aux_weights": {"gate": 1.0}})
    with pytest.raises(ConfigError, match="release"):
        build_ave_model(
            {
                "encoder": "psp",
                "head": "leap",
                "label_embeddings": {"source": "release", "path": "x"},
            }
        )


def test_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    import avvp.ave.models as ave_models

    assert ENCODERS.names() == ("ave", "psp", "cmbs") and HEADS.names() == ("dch", "leap")
    assert {n: dict(ENCODERS.get(n).aux_weights) for n in ENCODERS} == {
        "ave": {},
        "psp": {"avps": 100.0},
        "cmbs": {"gate": 1.0},
    }
    # An encoder in an uninstalled module: a one-line error naming the config key when chosen.
    encoders: Registry[AVEEncoderEntry] = Registry("AVE encoder")
    encoders.add("psp", ENCODERS.get("psp"))
    encoders.add("ghost", "avvp_no_such_module:ENTRY")
    monkeypatch.setattr(ave_models, "ENCODERS", encoders)
    assert isinstance(build_ave_model({"encoder": "psp"}).encoder, PSPEncoder)
    with pytest.raises(ConfigError, match=r"^model\.encoder='ghost' is not available"):
        build_ave_model({"encoder": "ghost"})


@pytest.mark.parametrize(
    ("video_loss", "segment_loss"), [("bce", "multilabel"), ("ce", "relevance")]
)
def test_leap_loss_options(video_loss: str, segment_loss: str) -> None:
    torch.manual_seed(0)
    model = build_ave_model(
        {
            "encoder": "ave",
            "head": "leap",
            "encoder_args": {"visual_dim": 16},
            "head_args": {"video_loss": video_loss, "segment_loss": segment_loss},
        }
    )
    batch = small_batch()
    out = model(batch)
    loss, terms = model.loss(out, batch)
    lg = out.logits
    if video_loss == "ce":
        expected = sum(
            torch.nn.functional.cross_entropy(lg[f"video_{m}"], batch["category"])
            for m in ("audio", "visual")
        )
    else:
        y = torch.nn.functional.one_hot(batch["category"], 28).float()
        expected = sum(
            torch.nn.functional.binary_cross_entropy_with_logits(lg[f"video_{m}"], y)
            for m in ("audio", "visual")
        )
    assert torch.allclose(terms["video"], expected.detach())
    assert torch.isclose(loss, terms["video"] + terms["segment"])
    with pytest.raises(ConfigError, match="video_loss"):
        build_ave_model({"encoder": "ave", "head": "leap", "head_args": {"video_loss": "mse"}})
