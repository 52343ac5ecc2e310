"""Encoders x decoders, parameter counts (docs/methods.md section 10), frame pooling, LEAP variants,
the factory's config checks, determinism and FLOPs."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avvp.errors import ConfigError, DataError
from avvp.models.complexity import count_parameters, estimate_flops
from avvp.models.factory import build_model
from avvp.models.outputs import ParsingOutput, predict_events

B, T, C = 2, 10, 25
STORED = {"source": "stored", "dim": 300}


def make_batch(seed: int = 0, *, frames: int = 80) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "audio": torch.randn(B, T, 128, generator=g),
        "frames": torch.randn(B, frames, 2048, generator=g),
        "clips": torch.randn(B, T, 512, generator=g),
    }


def config(encoder: str, decoder: str, **decoder_kwargs: Any) -> dict[str, Any]:
    dec: dict[str, Any] = {"name": decoder, **decoder_kwargs}
    if decoder == "leap":
        dec.setdefault("label_embeddings", {"source": "learnable", "dim": 300, "seed": 0})
    return {"inputs": {"name": "llp"}, "encoder": {"name": encoder}, "decoder": dec}


def small(encoder: str, decoder: str, **decoder_kwargs: Any) -> dict[str, Any]:
    """The same architecture at width 64 (fast to build): for behaviour, not counts."""
    cfg = config(encoder, decoder, **decoder_kwargs)
    cfg["inputs"]["d_model"] = 64
    cfg["encoder"].update(d_model=64, ff_dim=64)
    cfg["decoder"]["d_model"] = 64
    if decoder == "leap":
        cfg["decoder"].setdefault("ff_dim", 64)
    return cfg


SMALL_BLOCK = 4 * (64 * 64 + 64) + 2 * (64 * 64 + 64) + 2 * 2 * 64  # attn + FF + 2 LayerNorms


def seeded(cfg: dict[str, Any], seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(cfg)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """One intra-op thread: on a busy 2-core machine two threads spin and run ~5x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    """One model per encoder x decoder (MM-Pyramid is 40M parameters: build each once)."""
    built = {
        f"{enc}+{dec}": seeded(
            config(enc, dec, **({"label_embeddings": STORED} if dec == "leap" else {}))
        )
        for enc in ("han", "mmpyramid")
        for dec in ("mmil", "leap")
    }
    for name in ("han+leap", "mmpyramid+leap"):
        emb = built[name].decoder.label_embeddings.embeddings
        emb.copy_(torch.randn(emb.shape, generator=torch.Generator().manual_seed(9)))
    return built


def check_output(out: ParsingOutput, *, gate: str) -> None:
    assert out.segment_audio.shape == out.segment_visual.shape == (B, T, C)
    assert out.video_audio.shape == out.video_visual.shape == (B, C)
    assert out.audio_features.shape[:2] == out.visual_features.shape[:2] == (B, T)
    assert out.gate == gate
    for t in (out.segment_audio, out.segment_visual, out.video_audio, out.video_visual):
        assert torch.isfinite(t).all() and (t >= 0).all() and (t <= 1).all()
    audio, visual = predict_events(out)
    assert audio.shape == visual.shape == (B, C, T)


@pytest.mark.parametrize("name", ["han+mmil", "han+leap", "mmpyramid+mmil", "mmpyramid+leap"])
def test_forward_backward(models: dict[str, nn.Module], name: str) -> None:
    model = models[name].train()
    out = model(make_batch())
    if name.endswith("mmil"):
        check_output(out, gate="pooled")
        assert out.video is not None and out.video.shape == (B, C)
    else:
        check_output(out, gate="or")
        assert out.video is None
        for key in ("attention_audio", "attention_visual"):
            assert out.extras[key].shape == (B, C, T)
            torch.testing.assert_close(out.extras[key].sum(-1), torch.ones(B, C))
        for key in ("segment_logits_audio", "segment_logits_visual"):
            assert out.extras[key].shape == (B, T, C)
        torch.testing.assert_close(
            torch.sigmoid(out.extras["segment_logits_audio"]), out.segment_audio
        )
    loss = out.segment_audio.mean() + out.video_visual.mean() + out.audio_features.pow(2).mean()
    model.zero_grad()
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    model.zero_grad()


@pytest.mark.parametrize(
    ("encoder", "decoder", "expected"),
    [("han", "mmil", 4_569_675), ("mmpyramid", "mmil", 40_827_469)],
)
def test_mmil_parameter_counts(
    models: dict[str, nn.Module], encoder: str, decoder: str, expected: int
) -> None:
    model = models[f"{encoder}+{decoder}"]
    counts = count_parameters(model, make_batch())
    assert counts["total"] == counts["registered"] == counts["trainable"] == expected
    assert counts["inputs"] + counts["encoder"] + counts["decoder"] == expected
    assert count_parameters(model) == counts


def test_mmpyr_leap_parameter_counts(models: dict[str, nn.Module]) -> None:
    # GloVe 300-d fixed embeddings (a buffer: not a parameter), 2+2 blocks.
    model = models["mmpyramid+leap"]
    counts = count_parameters(model, make_batch())
    assert counts["total"] == 47_256_068
    assert counts["leap_blocks"] == 6_311_936
    assert counts["registered"] == counts["trainable"] == 47_256_068
    assert "decoder.label_embeddings.embeddings" in dict(model.named_buffers())


def test_frame_pooling_equivalence(models: dict[str, nn.Module]) -> None:
    model = seeded(small("han", "leap")).eval()
    full = make_batch(3)
    pooled = dict(full, frames=full["frames"].view(B, T, 8, 2048).mean(2))
    with torch.no_grad():
        a, b = model(full), model(pooled)
    torch.testing.assert_close(a.segment_audio, b.segment_audio, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.segment_visual, b.segment_visual, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.visual_features, b.visual_features, atol=1e-5, rtol=0)
    # ... and pooling first equals the reference's project-then-pool
    inputs = model.inputs
    with torch.no_grad():
        ref = inputs.fc_v(full["frames"]).view(B, T, 8, 64).mean(2)
        ours = inputs.fc_v(inputs.pool_frames(full["frames"], T))
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    with pytest.raises(DataError, match="frames"):
        model(dict(full, frames=full["frames"][:, :79]))


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("readout", ["first", "last", "average"])
@pytest.mark.parametrize("num_blocks", [1, 2, 4])
def test_leap_variants(norm: str, readout: str, num_blocks: int) -> None:
    cfg = small("han", "leap", norm=norm, readout=readout, num_blocks=num_blocks)
    model = seeded(cfg).eval()
    batch = make_batch(1)
    with torch.no_grad():
        out = model(batch)
    check_output(out, gate="or")
    counts = count_parameters(model, batch)
    used_blocks = 1 if readout == "first" else num_blocks
    assert counts["leap_blocks"] == 2 * used_blocks * SMALL_BLOCK
    assert counts["registered"] - counts["total"] == 2 * (num_blocks - used_blocks) * SMALL_BLOCK


def test_leap_readouts_and_logits_differ_as_specified() -> None:
    batch = make_batch(2)
    outs = {}
    for readout in ("first", "last", "average"):
        model = seeded(small("han", "leap", readout=readout)).eval()
        with torch.no_grad():
            outs[readout] = model(batch)
    # with the same weights: average of two blocks' head-averaged scores = mean of first and last
    first = outs["first"].extras["segment_logits_audio"]
    last = outs["last"].extras["segment_logits_audio"]
    torch.testing.assert_close(
        outs["average"].extras["segment_logits_audio"], (first + last) / 2, atol=1e-5, rtol=0
    )
    assert not torch.allclose(first, last)
    attention = seeded(small("han", "leap", logits="attention")).eval()
    with torch.no_grad():
        alt = attention(batch)
    assert not torch.allclose(alt.extras["segment_logits_audio"], last)
    # the attention maps do not depend on where the logits are read
    torch.testing.assert_close(
        alt.extras["attention_audio"], outs["last"].extras["attention_audio"]
    )


def test_swap_modalities_reproduces_reference_quirk(models: dict[str, nn.Module]) -> None:
    plain = seeded(small("han", "mmil")).eval()
    swapped = seeded(small("han", "mmil", swap_modalities=True)).eval()
    swapped.load_state_dict(plain.state_dict())
    batch = make_batch(4)
    with torch.no_grad():
        a, b = plain(batch), swapped(batch)
    torch.testing.assert_close(b.segment_audio, a.segment_visual)
    torch.testing.assert_close(b.video_audio, a.video_visual)
    assert a.video is not None and b.video is not None
    torch.testing.assert_close(b.video, a.video, atol=1e-6, rtol=0)


def test_han_variants_run() -> None:
    cfg = small("han", "mmil")
    cfg["encoder"].update(heads=8, ff_dim=128, norm="pre", update="sequential", num_layers=2)
    model = seeded(cfg).eval()
    with torch.no_grad():
        check_output(model(make_batch()), gate="pooled")


def test_determinism_with_seed() -> None:
    batch = make_batch(5)
    outs = []
    for _ in range(2):
        model = seeded(small("han", "leap"), seed=7).train()
        torch.manual_seed(11)
        outs.append(model(batch))
    torch.testing.assert_close(outs[0].segment_audio, outs[1].segment_audio, atol=0, rtol=0)
    torch.testing.assert_close(outs[0].video_visual, outs[1].video_visual, atol=0, rtol=0)


def test_factory_accepts_dictconfig() -> None:
    from omegaconf import OmegaConf

    model = build_model(OmegaConf.create(config("han", "mmil")))
    assert count_parameters(model)["total"] == 4_569_675


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["encoder"].update(name="transformer"), r"model\.encoder\.name: unknown"),
        (lambda c: c["encoder"].update(bogus=1), r"model\.encoder\.bogus: unexpected key"),
        (
            lambda c: c["encoder"].update(heads="eight"),
            r"model\.encoder\.heads: expected an integer",
        ),
        (
            lambda c: c["encoder"].update(norm="middle"),
            r"model\.encoder\.norm: 'middle' is not one",
        ),
        (lambda c: c.update(extra={}), r"model\.extra: unexpected key"),
        (lambda c: c["decoder"].update(readout="best"), r"model\.decoder\.readout"),
        (
            lambda c: c["decoder"].pop("label_embeddings"),
            r"model\.decoder\.label_embeddings: missing",
        ),
        (
            lambda c: c["decoder"].update(
                label_embeddings={"source": "release", "path": "nope.pt"}
            ),
            r"model\.decoder\.label_embeddings\.path: file not found: nope\.pt",
        ),
        (
            lambda c: c["decoder"].update(label_embeddings={"source": "glove"}),
            r"model\.decoder\.label_embeddings\.path is required",
        ),
        (lambda c: c["decoder"].update(num_blocks=0), r"model\.decoder: num_blocks must be >= 1"),
    ],
)
def test_factory_errors_name_the_key(mutate: Any, message: str) -> None:
    cfg = small("han", "leap")
    mutate(cfg)
    with pytest.raises(ConfigError, match=message):
        build_model(cfg)


def test_mmil_rejects_label_embeddings() -> None:
    cfg = small("han", "mmil", label_embeddings=STORED)
    with pytest.raises(ConfigError, match=r"model\.decoder\.label_embeddings: unexpected"):
        build_model(cfg)


def test_estimate_flops(models: dict[str, nn.Module]) -> None:
    flops = estimate_flops(models["han+leap"], make_batch())
    assert set(flops) >= {"total", "inputs", "encoder", "decoder", "leap_blocks"}
    assert flops["total"] == pytest.approx(flops["inputs"] + flops["encoder"] + flops["decoder"])
    # fc_a + fc_v (pooled) + fc_st + fc_fusion, 2 FLOPs per multiply-add, per video
    assert flops["inputs"] == 2 * T * (128 * 512 + 2048 * 512 + 512 * 512 + 1024 * 512)
    assert 0 < flops["leap_blocks"] < flops["decoder"]


def valor_han_reference(
    sd: dict[str, Tensor], a: Tensor, v: Tensor, *, heads: int, norm: str
) -> tuple[Tensor, Tensor]:
    """VALOR's ``Encoder``/``HANLayer`` (one layer), written out with the functional MHA on
    sequence-first tensors: audio is updated first and the new audio feeds the visual pass."""
    p = "encoder.layers.0."
    d = a.shape[-1]

    def mha(name: str, q: Tensor, kv: Tensor) -> Tensor:
        return F.multi_head_attention_forward(
            q, kv, kv, d, heads,
            sd[p + name + ".in_proj_weight"], sd[p + name + ".in_proj_bias"],
            None, None, False, 0.0,
            sd[p + name + ".out_proj.weight"], sd[p + name + ".out_proj.bias"],
            training=False, need_weights=False,
        )[0]  # fmt: skip

    def ln(name: str, x: Tensor) -> Tensor:
        return F.layer_norm(x, (d,), sd[name + ".weight"], sd[name + ".bias"])

    def ff(x: Tensor) -> Tensor:
        hidden = F.relu(F.linear(x, sd[p + "ff.linear1.weight"], sd[p + "ff.linear1.bias"]))
        return F.linear(hidden, sd[p + "ff.linear2.weight"], sd[p + "ff.linear2.bias"])

    def layer(src_q: Tensor, src_v: Tensor) -> Tensor:
        q, kv = src_q.permute(1, 0, 2), src_v.permute(1, 0, 2)
        if norm == "post":
            q = ln(p + "norm1", q + mha("cm_attn", q, kv) + mha("self_attn", q, q))
            q = ln(p + "norm2", q + ff(q))
        else:
            qn = ln(p + "norm1", q)
            q = q + mha("cm_attn", qn, kv) + mha("self_attn", qn, qn)
            q = q + ff(ln(p + "norm2", q))
        return q.permute(1, 0, 2)

    a = layer(a, v)
    v = layer(v, a)
    if norm == "pre":
        a, v = ln("encoder.final_norm_a", a), ln("encoder.final_norm_v", v)
    return a, v


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_han_valor_variant_matches_functional_reference(norm: str) -> None:
    cfg = small("han", "mmil")
    cfg["encoder"].update(heads=8, ff_dim=128, norm=norm, update="sequential")
    model = seeded(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():  # non-trivial LayerNorm affine parameters
            if "norm" in name:
                p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.1)
        x_a, x_v = model.inputs(make_batch(6))
        f_a, f_v = model.encoder(x_a, x_v)
        sd = model.state_dict()
        r_a, r_v = valor_han_reference(sd, x_a, x_v, heads=8, norm=norm)
    torch.testing.assert_close(f_a, r_a, atol=1e-5, rtol=0)
    torch.testing.assert_close(f_v, r_v, atol=1e-5, rtol=0)


def test_count_parameters_parts_of_any_module() -> None:
    from torch import nn

    model = nn.Module()
    model.encoder = nn.Linear(3, 4)  # 16
    model.head = nn.Linear(4, 2, bias=False)  # 8
    model.head.weight.requires_grad_(False)
    counts = count_parameters(model, parts=("encoder", "head", "absent"))
    assert counts == {
        "total": 24,
        "encoder": 16,
        "head": 8,
        "absent": 0,
        "trainable": 16,
        "registered": 24,
    }
    assert list(count_parameters(model)) == [
        "total",
        "inputs",
        "encoder",
        "decoder",
        "trainable",
        "registered",
    ]
