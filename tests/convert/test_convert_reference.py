"""Reference checkpoint conversion: a state dict synthesised from each official TSV table (live,
dead and alias keys, random values) converts into an avvp model that computes exactly what the
reference model computes. The reference forward passes below are independent plain re-writes of
the reference code (functional style, reference key names, reference structure: 80 frames
projected then pooled, masks built row by row, scores recomputed by a full attention call)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from avvp.cli import main as cli_main
from avvp.convert import convert_reference, read_reference_state_dict
from avvp.errors import DataError
from avvp.models.factory import build_model
from avvp.models.outputs import ParsingOutput
from avvp.training.checkpoint import load_checkpoint

# Every key, shape and live/dead status of the reference state dicts (fixtures/README.md).
TABLES = Path(__file__).resolve().parent / "fixtures"
B = 3


def read_table(arch: str) -> list[tuple[str, tuple[int, ...], str]]:
    path = TABLES / f"{arch}.tsv"
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, shape, status = line.split("\t")
        rows.append((key, tuple(int(x) for x in re.findall(r"\d+", shape)), status))
    return rows


def synth_state_dict(arch: str, seed: int = 0) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape, _ in read_table(arch):
        # small weights (fan-in scaled) keep activations O(1) through the residual stacks
        scale = 0.5 / math.sqrt(math.prod(shape[1:])) if len(shape) > 1 else 0.1
        value = torch.randn(shape, generator=g) * scale
        if key.endswith("norm.weight") or re.search(r"norm\d?\.weight$", key):
            value = value + 1.0
        sd[key] = value
    # TemporalBlock.net.{0,2} are aliases of conv1 / conv2 in a real checkpoint.
    for key in list(sd):
        m = re.match(r"(MMP\.capture\.[va]network\.\d+)\.net\.([02])\.(weight|bias)$", key)
        if m:
            sd[key] = sd[f"{m.group(1)}.conv{1 if m.group(2) == '0' else 2}.{m.group(3)}"]
    return sd


@pytest.mark.parametrize(
    ("table", "live", "registered"),
    [
        ("han_mmil", 4_569_675, 9_307_723),
        ("mmpyr_mmil", 40_827_469, 43_995_725),
        ("mmpyr_leap", 47_256_068, 52_005_380),
        ("mmcse_clap_clip", 6_160_333, 6_160_845),
    ],
)
def test_fixture_tables_sum_to_the_documented_parameter_counts(
    table: str, live: int, registered: int
) -> None:
    """The committed tables agree with docs/methods.md section 10 (live and all registered
    parameters; buffers are not parameters), so a damaged fixture cannot pass unnoticed."""
    sizes: dict[str, int] = {}
    for _, shape, status in read_table(table):
        assert status in ("live", "dead", "buffer")
        sizes[status] = sizes.get(status, 0) + math.prod(shape)
    assert sizes["live"] == live
    assert sizes["live"] + sizes["dead"] == registered


def make_batch(seed: int = 1) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "audio": torch.randn(B, 10, 128, generator=g),
        "frames": torch.randn(B, 80, 2048, generator=g),
        "clips": torch.randn(B, 10, 512, generator=g),
    }


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """One intra-op thread: on a busy 2-core machine two threads spin and run ~5x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------- reference forward passes


def lin(sd: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    return F.linear(x, sd[f"{name}.weight"], sd[f"{name}.bias"])


def ln(sd: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    return F.layer_norm(x, (x.shape[-1],), sd[f"{name}.weight"], sd[f"{name}.bias"])


def ref_inputs(sd: dict[str, Tensor], batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    f_a = lin(sd, "fc_a", batch["audio"])
    vid_s = lin(sd, "fc_v", batch["frames"]).permute(0, 2, 1).unsqueeze(-1)
    vid_s = F.avg_pool2d(vid_s, (8, 1)).squeeze(-1).permute(0, 2, 1)
    vid_st = lin(sd, "fc_st", batch["clips"])
    f_v = lin(sd, "fc_fusion", torch.cat((vid_s, vid_st), dim=-1))
    return f_a, f_v


def ref_mmil(sd: dict[str, Tensor], first: Tensor, second: Tensor) -> tuple[Tensor, ...]:
    x = torch.cat([first.unsqueeze(-2), second.unsqueeze(-2)], dim=-2)
    frame_prob = torch.sigmoid(lin(sd, "fc_prob", x))
    frame_att = torch.softmax(lin(sd, "fc_frame_att", x), dim=1)
    av_att = torch.softmax(lin(sd, "fc_av_att", x), dim=2)
    temporal_prob = frame_att * frame_prob
    global_prob = (temporal_prob * av_att).sum(dim=2).sum(dim=1)
    a_prob = temporal_prob[:, :, 0, :].sum(dim=1)
    v_prob = temporal_prob[:, :, 1, :].sum(dim=1)
    return global_prob, a_prob, v_prob, frame_prob


def ref_han_layer(sd: dict[str, Tensor], src_q: Tensor, src_v: Tensor, heads: int = 1) -> Tensor:
    p = "hat_encoder.layers.0."
    q = src_q.permute(1, 0, 2)
    v = src_v.permute(1, 0, 2)

    def mha(name: str, query: Tensor, kv: Tensor) -> Tensor:
        return F.multi_head_attention_forward(
            query,
            kv,
            kv,
            512,
            heads,
            sd[p + name + ".in_proj_weight"],
            sd[p + name + ".in_proj_bias"],
            None,
            None,
            False,
            0.0,
            sd[p + name + ".out_proj.weight"],
            sd[p + name + ".out_proj.bias"],
            training=False,
            need_weights=False,
        )[0]

    src1 = mha("cm_attn", q, v)
    src2 = mha("self_attn", q, q)
    q = ln(sd, p + "norm1", q + src1 + src2)
    src2 = lin(sd, p + "linear2", F.relu(lin(sd, p + "linear1", q)))
    q = ln(sd, p + "norm2", q + src2)
    return q.permute(1, 0, 2)


def ref_han_mmil(
    sd: dict[str, Tensor], batch: dict[str, Tensor], heads: int = 1
) -> tuple[Tensor, ...]:
    x1, x2 = ref_inputs(sd, batch)
    a, v = ref_han_layer(sd, x1, x2, heads), ref_han_layer(sd, x2, x1, heads)
    return ref_mmil(sd, a, v)


def ref_mha(
    sd: dict[str, Tensor],
    p: str,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    masksize: int,
    heads: int = 8,
) -> tuple[Tensor, Tensor, Tensor]:
    """-> (output, softmax weights, raw scaled scores)."""
    h, d_k = heads, 512 // heads
    nb = query.size(0)
    q, k, v = (
        lin(sd, f"{p}.linears.{i}", x).view(nb, -1, h, d_k).transpose(1, 2)
        for i, x in enumerate((query, key, value))
    )
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d_k)
    if masksize != 1:
        m = int(masksize / 2)
        mask = torch.ones(scores.size())
        for i in range(mask.shape[2]):
            if i - m > 0:
                mask[:, :, i, : i - m] = 0
            if i + m + 1 < mask.shape[3]:
                mask[:, :, i, m + i + 1 :] = 0
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = F.softmax(scores, dim=-1)
    x = torch.matmul(p_attn, v).transpose(1, 2).contiguous().view(nb, -1, h * d_k)
    return lin(sd, f"{p}.linears.3", x), p_attn, scores


def ref_ff(sd: dict[str, Tensor], p: str, x: Tensor) -> Tensor:
    return lin(sd, f"{p}.w_2", F.relu(lin(sd, f"{p}.w_1", x)))


def ref_transformer_layer(
    sd: dict[str, Tensor],
    p: str,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    masksize: int = 1,
    heads: int = 8,
) -> Tensor:
    normed = ln(sd, f"{p}.sublayer.0.norm", q)
    q = q + ref_mha(sd, f"{p}.self_attn", normed, k, v, masksize, heads)[0]
    return q + ref_ff(sd, f"{p}.feed_forward", ln(sd, f"{p}.sublayer.1.norm", q))


def ref_temporal_block(sd: dict[str, Tensor], p: str, x: Tensor, dilation: int) -> Tensor:
    out = F.conv1d(
        x, sd[f"{p}.conv1.weight"], sd[f"{p}.conv1.bias"], padding=dilation, dilation=dilation
    )
    out = F.conv1d(F.relu(out), sd[f"{p}.conv2.weight"], sd[f"{p}.conv2.bias"])
    return F.relu(out + x)


def ref_mmp(sd: dict[str, Tensor], v: Tensor, a: Tensor, heads: int = 8) -> tuple[Tensor, Tensor]:
    v_list, a_list = [], []
    for i in range(4):
        ms = 2**i * 2
        p = f"MMP.capture.msa.{i}"
        v_sa = ref_transformer_layer(sd, f"{p}.vsablock.layer", v, v, v, ms, heads)
        a_sa = ref_transformer_layer(sd, f"{p}.asablock.layer", a, a, a, ms, heads)
        v_cma = ref_transformer_layer(sd, f"{p}.cmablock.layer", v, a, a, ms, heads)
        a_cma = ref_transformer_layer(sd, f"{p}.cmablock.layer", a, v, v, ms, heads)
        v_sq = torch.cat((v_sa, v_cma), -1)
        v_out = (
            torch.sigmoid(lin(sd, f"{p}.lv1", v_sq)) * v_sa
            + torch.sigmoid(lin(sd, f"{p}.lv2", v_sq)) * v_cma
        )
        a_sq = torch.cat((a_sa, a_cma), -1)
        a_out = (
            torch.sigmoid(lin(sd, f"{p}.la1", a_sq)) * a_sa
            + torch.sigmoid(lin(sd, f"{p}.la2", a_sq)) * a_cma
        )
        v = ref_temporal_block(sd, f"MMP.capture.vnetwork.{i}", v_out.permute(0, 2, 1), 2**i)
        a = ref_temporal_block(sd, f"MMP.capture.anetwork.{i}", a_out.permute(0, 2, 1), 2**i)
        v, a = v.permute(0, 2, 1), a.permute(0, 2, 1)
        v_list.append(v)
        a_list.append(a)
    v_st = torch.stack(v_list, dim=2)
    a_st = torch.stack(a_list, dim=2)
    v_st = v_st.view(-1, v_st.size(2), v_st.size(3))
    a_st = a_st.view(-1, a_st.size(2), a_st.size(3))
    v_i = ref_transformer_layer(sd, "MMP.fusion.vadaptiveinteraction", v_st, v_st, v_st, 1, heads)
    a_i = ref_transformer_layer(sd, "MMP.fusion.aadaptiveinteraction", a_st, a_st, a_st, 1, heads)
    v_w = torch.sigmoid(lin(sd, "MMP.fusion.vselectfusion", v_i))
    a_w = torch.sigmoid(lin(sd, "MMP.fusion.aselectfusion", a_i))
    v_o = torch.bmm(v_i.permute(0, 2, 1).contiguous(), v_w).view(-1, 10, 512)
    a_o = torch.bmm(a_i.permute(0, 2, 1).contiguous(), a_w).view(-1, 10, 512)
    return v_o, a_o


def ref_mmpyr_mmil(sd: dict[str, Tensor], batch: dict[str, Tensor]) -> tuple[Tensor, ...]:
    f_a, f_v = ref_inputs(sd, batch)
    v_o, a_o = ref_mmp(sd, f_v, f_a)
    return ref_mmil(sd, v_o, a_o)  # the reference's [visual, audio] stacking


def ref_vanilla_layer(
    sd: dict[str, Tensor], p: str, q: Tensor, kv: Tensor, heads: int = 8
) -> tuple[Tensor, ...]:
    q = q + ref_mha(sd, f"{p}.self_attn", ln(sd, f"{p}.sublayer.0.norm", q), kv, kv, 1, heads)[0]
    _, _, scores = ref_mha(sd, f"{p}.self_attn", q, kv, kv, 1, heads)
    return q + ref_ff(sd, f"{p}.feed_forward", ln(sd, f"{p}.sublayer.1.norm", q)), scores


def ref_mmpyr_leap(
    sd: dict[str, Tensor],
    batch: dict[str, Tensor],
    label: Tensor,
    mmp_head: int = 8,
    avl_head: int = 8,
) -> tuple[Tensor, ...]:
    f_l = lin(sd, "fc_l", label.unsqueeze(0).expand(B, -1, -1))
    f_a, f_v = ref_inputs(sd, batch)
    v_o, a_o = ref_mmp(sd, f_v, f_a, mmp_head)
    lv, la = f_l, f_l
    for i in range(2):
        lv, lv_attn = ref_vanilla_layer(sd, f"AVL.lv_cma_network.{i}", lv, v_o, avl_head)
        la, la_attn = ref_vanilla_layer(sd, f"AVL.la_cma_network.{i}", la, a_o, avl_head)
    lv_tmp = lv_attn.mean(dim=1).permute(0, 2, 1)
    la_tmp = la_attn.mean(dim=1).permute(0, 2, 1)
    v_prob = torch.sigmoid(lin(sd, "fc_lv", lv).squeeze(-1))
    a_prob = torch.sigmoid(lin(sd, "fc_la", la).squeeze(-1))
    return a_prob, v_prob, torch.sigmoid(la_tmp), torch.sigmoid(lv_tmp), a_o, v_o


# ----------------------------------------------------------------------------- the tests


def converted_model(
    arch: str, sd: dict[str, Tensor], label: Tensor | None = None
) -> torch.nn.Module:
    config, state = convert_reference(arch, sd, label_embeddings=label)
    model = build_model(config)
    model.load_state_dict(state, strict=True)
    return model.eval()


def assert_mmil_matches(
    out: ParsingOutput, global_prob: Tensor, a_prob: Tensor, v_prob: Tensor, frame_prob: Tensor
) -> None:
    """An MMIL model's outputs equal the reference's (global, audio, visual, frame probs)."""
    assert out.video is not None
    torch.testing.assert_close(out.video, global_prob, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.video_audio, a_prob, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.video_visual, v_prob, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.segment_audio, frame_prob[:, :, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.segment_visual, frame_prob[:, :, 1], atol=1e-5, rtol=0)


@torch.no_grad()
def test_han_mmil_matches_reference() -> None:
    sd = synth_state_dict("han_mmil")
    batch = make_batch()
    out = converted_model("han_mmil", sd)(batch)
    assert_mmil_matches(out, *ref_han_mmil(sd, batch))


@torch.no_grad()
def test_han_mmil_heads_are_used_and_stored() -> None:
    """The HAN head count is not in the weights: --heads 4 builds (and records) a 4-head HAN
    that computes what the reference does with nhead 4, which differs from the 1-head result."""
    sd = synth_state_dict("han_mmil")
    batch = make_batch()
    config, state = convert_reference("han_mmil", sd, heads=4)
    assert config["encoder"]["heads"] == 4
    model = build_model(config)
    model.load_state_dict(state, strict=True)
    out = model.eval()(batch)
    assert_mmil_matches(out, *ref_han_mmil(sd, batch, heads=4))
    one_head = ref_han_mmil(sd, batch, heads=1)[3]
    assert (out.segment_audio - one_head[:, :, 0]).abs().max().item() > 1e-4


def test_mmpyr_mmil_heads_stored_in_config(mmpyr_sd: dict[str, Tensor]) -> None:
    assert convert_reference("mmpyr_mmil", mmpyr_sd)[0]["encoder"]["heads"] == 8
    assert convert_reference("mmpyr_mmil", mmpyr_sd, heads=16)[0]["encoder"]["heads"] == 16


@pytest.fixture(scope="module")
def mmpyr_sd() -> dict[str, Tensor]:
    return synth_state_dict("mmpyr_mmil", seed=2)


@torch.no_grad()
def test_mmpyr_mmil_matches_reference(mmpyr_sd: dict[str, Tensor]) -> None:
    batch = make_batch()
    out = converted_model("mmpyr_mmil", mmpyr_sd)(batch)
    # The reference's "audio" is its visual stream; conversion keeps that (swap_modalities).
    assert_mmil_matches(out, *ref_mmpyr_mmil(mmpyr_sd, batch))


@torch.no_grad()
@pytest.mark.parametrize(("mmp_head", "avl_head"), [(None, None), (4, 2)])
def test_mmpyr_leap_matches_reference_through_cli(
    tmp_path: Path, mmp_head: int | None, avl_head: int | None
) -> None:
    """Default heads are the reference's (8 and 8); --heads / --decoder-heads are its
    --mmp_head / --avl_head, stored in the sidecar so the reloaded model uses them."""
    sd = synth_state_dict("mmpyr_leap", seed=3)
    label = torch.randn(25, 300, generator=torch.Generator().manual_seed(4))
    torch.save({"model": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "leap.pt")
    emb = tmp_path / "labels.pt"
    from avvp.classes import LLP_CLASSES

    torch.save(dict(zip(LLP_CLASSES, label, strict=True)), emb)
    rc = cli_main(
        [
            "convert",
            "--arch",
            "mmpyr_leap",
            str(tmp_path / "leap.pt"),
            str(tmp_path / "out"),
            "--label-embeddings",
            str(emb),
            *(["--heads", str(mmp_head)] if mmp_head else []),
            *(["--decoder-heads", str(avl_head)] if avl_head else []),
        ]
    )
    assert rc == 0
    model, sidecar = load_checkpoint(tmp_path / "out" / "model")
    enc_heads, dec_heads = mmp_head or 8, avl_head or 8
    assert sidecar["config"]["model"]["decoder"]["name"] == "leap"
    assert sidecar["config"]["model"]["encoder"]["heads"] == enc_heads
    assert sidecar["config"]["model"]["decoder"]["heads"] == dec_heads
    assert model.encoder.fusion.attn_v.attn.heads == enc_heads
    assert model.decoder.blocks_audio[0].attn.heads == dec_heads
    batch = make_batch()
    out = model(batch)
    a_prob, v_prob, a_frame, v_frame, a_o, v_o = ref_mmpyr_leap(
        sd, batch, label, enc_heads, dec_heads
    )
    assert out.video is None and out.gate == "or"
    torch.testing.assert_close(out.video_audio, a_prob, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.video_visual, v_prob, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.segment_audio, a_frame, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.segment_visual, v_frame, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.audio_features, a_o, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.visual_features, v_o, atol=1e-5, rtol=0)


def test_read_reference_state_dict_unwraps(tmp_path: Path) -> None:
    sd = {"fc_a.weight": torch.ones(2, 2), "fc_a.bias": torch.zeros(2)}
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "x.pt")
    loaded = read_reference_state_dict(tmp_path / "x.pt")
    assert set(loaded) == set(sd)
    torch.testing.assert_close(loaded["fc_a.weight"], sd["fc_a.weight"])
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match=r"bad\.pt"):
        read_reference_state_dict(tmp_path / "bad.pt")


def test_missing_unexpected_and_misshaped_keys_name_the_key() -> None:
    sd = synth_state_dict("han_mmil")
    missing = dict(sd)
    del missing["hat_encoder.layers.0.cm_attn.in_proj_bias"]
    with pytest.raises(
        DataError, match=r"missing key 'hat_encoder\.layers\.0\.cm_attn\.in_proj_bias'"
    ):
        convert_reference("han_mmil", missing)
    extra = dict(sd, **{"fc_extra.weight": torch.zeros(3)})
    with pytest.raises(DataError, match=r"unexpected key 'fc_extra\.weight'"):
        convert_reference("han_mmil", extra)
    bad = dict(sd, **{"fc_prob.weight": torch.zeros(24, 512)})
    with pytest.raises(DataError, match=r"'fc_prob\.weight' has shape \(24, 512\)"):
        convert_reference("han_mmil", bad)
    # dead keys may be absent
    live = {k: v for k, v in sd.items() if not k.startswith(("audio_encoder", "cmt_encoder"))}
    config, state = convert_reference("han_mmil", live)
    assert config["encoder"]["name"] == "han" and "encoder.layers.0.norm1.weight" in state


def test_leap_needs_label_embeddings(mmpyr_sd: dict[str, Tensor]) -> None:
    leap = synth_state_dict("mmpyr_leap", seed=5)
    with pytest.raises(DataError, match="label embeddings"):
        convert_reference("mmpyr_leap", leap)
    with pytest.raises(DataError, match=r"label embeddings have shape \(25, 768\)"):
        convert_reference("mmpyr_leap", leap, label_embeddings=torch.zeros(25, 768))
    # an MMIL head in a LEAP checkpoint is not dead: it is an unexpected key
    mixed = dict(leap, **{k: v for k, v in mmpyr_sd.items() if k.startswith("fc_prob")})
    with pytest.raises(DataError, match=r"unexpected key 'fc_prob\.(weight|bias)'"):
        convert_reference("mmpyr_leap", mixed, label_embeddings=torch.zeros(25, 300))


def test_cli_convert_han_and_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sd = synth_state_dict("han_mmil")
    torch.save(sd, tmp_path / "han.pt")
    assert (
        cli_main(["convert", "--arch", "han_mmil", str(tmp_path / "han.pt"), str(tmp_path / "o")])
        == 0
    )
    assert (tmp_path / "o" / "model.safetensors").is_file()
    model, sidecar = load_checkpoint(tmp_path / "o" / "model")
    assert sidecar["config"]["name"] == "han_mmil_reference"
    with torch.no_grad():
        out = model(make_batch())
    assert out.video is not None
    torch.testing.assert_close(out.video, ref_han_mmil(sd, make_batch())[0], atol=1e-5, rtol=0)

    broken = dict(sd)
    del broken["fc_av_att.bias"]
    torch.save(broken, tmp_path / "broken.pt")
    capsys.readouterr()
    assert (
        cli_main(
            ["convert", "--arch", "han_mmil", str(tmp_path / "broken.pt"), str(tmp_path / "p")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "broken.pt" in err and "missing key 'fc_av_att.bias'" in err
    assert (
        cli_main(
            ["convert", "--arch", "mmpyr_leap", str(tmp_path / "absent.pt"), str(tmp_path / "q")]
        )
        == 2
    )
    assert "absent.pt: checkpoint not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arch", "options", "message"),
    [
        (
            "han_mmil",
            ["--heads", "3"],
            "--heads 3: HAN encoder d_model width 512 is not divisible by 3",
        ),
        ("han_mmil", ["--heads", "0"], "--heads 0: expected a positive integer"),
        ("mmpyr_mmil", ["--heads", "7"], "--heads 7: MM-Pyramid encoder d_model width 512"),
        (
            "han_mmil",
            ["--decoder-heads", "8"],
            "--decoder-heads: han_mmil has no attention decoder",
        ),
        (
            "mmpyr_leap",
            ["--decoder-heads", "5"],
            "--decoder-heads 5: LEAP decoder d_model width 512 is not divisible by 5",
        ),
    ],
)
def test_cli_convert_bad_head_counts(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arch: str,
    options: list[str],
    message: str,
) -> None:
    """A head count that does not divide the width is one line on stderr and exit status 2
    (checked before any conversion work, so the key tables need not match)."""
    torch.save({"fc_a.weight": torch.zeros(512, 128)}, tmp_path / "x.pt")
    capsys.readouterr()
    rc = cli_main(
        ["convert", "--arch", arch, str(tmp_path / "x.pt"), str(tmp_path / "o"), *options]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
