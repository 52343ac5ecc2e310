"""Reference MM-CSE state dict -> avvp: key/shape checks and exact functional equivalence.

The reference forward below is an independent, functional re-implementation of
``MMCSE_Net.forward`` (eval mode) and of its training losses, written against the reference key
names: it shares no code with :mod:`avvp.models.mmcse` (the CLAP resampling goes through the
explicit interpolate / project / mean / pool chain, attention is written out by hand, the heads
are 25 separate linear maps).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from avvp.convert.mmcse import convert_mmcse, convert_mmcse_file
from avvp.errors import DataError
from avvp.losses.mmcse import mmcse_loss
from avvp.models.factory import build_model
from avvp.models.mmcse import strip_training_heads

# Every key, shape and live/dead status of the reference state dict (fixtures/README.md).
TSV = Path(__file__).resolve().parent / "fixtures" / "mmcse_clap_clip.tsv"
HEADS = 8


def read_tsv() -> list[tuple[str, tuple[int, ...], str]]:
    rows = []
    for line in TSV.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, shape, status = line.split("\t")
        rows.append((key, tuple(int(d) for d in re.findall(r"\d+", shape)), status))
    return rows


def synth_reference(variant: str = "clap", seed: int = 0) -> dict[str, Tensor]:
    """A random reference state dict with exactly the TSV's keys and shapes (dead ones too)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, _status in read_tsv():
        if variant == "vggish" and key == "fc_a.weight":
            shape = (256, 128)
        if variant == "vggish" and key == "fc_v.weight":
            shape = (256, 2048)
        fan_in = shape[-1] if len(shape) > 1 else 1
        scale = 1.0 / math.sqrt(fan_in) if len(shape) > 1 else 0.1
        value = torch.randn(shape, generator=gen) * scale
        if key.endswith("norm1.weight"):
            value = value + 1.0
        if key.endswith("in_proj_weight"):
            value = value * 4.0  # peaky attention, so the map comparison is informative
        state[key] = value
    return state


def make_batch(variant: str, seed: int = 1, b: int = 2) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    batch = {"clips": torch.randn(b, 10, 512, generator=gen)}
    if variant == "clap":
        batch["clap"] = torch.randn(b, 64, 768, generator=gen)
        batch["clip"] = F.normalize(torch.randn(b, 10, 768, generator=gen), dim=-1)
    else:
        batch["audio"] = torch.randn(b, 10, 128, generator=gen)
        batch["frames"] = torch.randn(b, 80, 2048, generator=gen).relu()
    batch["pseudo_audio"] = (torch.rand(b, 10, 25, generator=gen) < 0.15).float()
    batch["pseudo_visual"] = (torch.rand(b, 10, 25, generator=gen) < 0.15).float()
    batch["label"] = torch.maximum(
        batch["pseudo_audio"].amax(dim=1), batch["pseudo_visual"].amax(dim=1)
    )
    return batch


# --------------------------------------------------------------------------------------------
# Independent functional reference (eval mode: no dropout).


def lin(sd: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    return x @ sd[f"{name}.weight"].T + sd[f"{name}.bias"]


def ref_attention(
    sd: dict[str, Tensor], name: str, q: Tensor, kv: Tensor, heads: int = HEADS
) -> tuple[Tensor, Tensor]:
    """nn.MultiheadAttention semantics on (N, K, D) batches; returns output, head-mean weights."""
    n, k, d = q.shape
    w, bias = sd[f"{name}.in_proj_weight"], sd[f"{name}.in_proj_bias"]
    qq = q @ w[:d].T + bias[:d]
    kk = kv @ w[d : 2 * d].T + bias[d : 2 * d]
    vv = kv @ w[2 * d :].T + bias[2 * d :]
    dh = d // heads

    def split(x: Tensor) -> Tensor:
        return x.view(n, k, heads, dh).transpose(1, 2)

    att = torch.softmax(split(qq) @ split(kk).transpose(-1, -2) / math.sqrt(dh), dim=-1)
    out = (att @ split(vv)).transpose(1, 2).reshape(n, k, d)
    return lin(sd, f"{name}.out_proj", out), att.mean(dim=1)


def ref_lgsf(sd: dict[str, Tensor], name: str, x: Tensor, y: Tensor | None) -> Tensor:
    b, t, k, d = x.shape
    xs = x.permute(0, 2, 1, 3).reshape(b * k, t, d)
    if y is None:
        local = F.relu(lin(sd, f"{name}.glob1", xs))
        glob = F.relu(lin(sd, f"{name}.glob2", xs)).mean(-2, keepdim=True)
    else:
        ys = y.permute(0, 2, 1, 3).reshape(b * k, t, d)
        local = F.relu(lin(sd, f"{name}.glob", xs))
        glob = F.relu(lin(sd, f"{name}.glob", ys)).mean(-2, keepdim=True)
    rel = torch.sigmoid(F.cosine_similarity(local, glob, dim=-1)).unsqueeze(-1)
    return (rel * glob).view(b, k, t, d).permute(0, 2, 1, 3)


def ref_fgse(sd: dict[str, Tensor], i: int, q: Tensor, kv: Tensor, heads: int = HEADS):
    p = f"av_enhance.layers.{i}"
    b, t, k, d = q.shape
    q0 = q.reshape(b * t, k, d)
    s1, m_intra = ref_attention(sd, f"{p}.SECM_1.attn", q0, q0, heads)
    s1 = (q0 + s1).view(b, t, k, d)
    igf1 = q + ref_lgsf(sd, f"{p}.LGSF_1", s1, None)
    s2, m_cross = ref_attention(sd, f"{p}.SECM_2.attn", q0, kv.reshape(b * t, k, d), heads)
    s2 = (q0 + s2).view(b, t, k, d)
    igf2 = q + ref_lgsf(sd, f"{p}.LGSF_2", s2, kv)
    h = lin(sd, f"{p}.fc1", igf1) + lin(sd, f"{p}.fc2", igf2)
    h = F.layer_norm(h, (d,), sd[f"{p}.norm1.weight"], sd[f"{p}.norm1.bias"])
    out = lin(sd, f"{p}.linear2", F.relu(lin(sd, f"{p}.linear1", h)))
    return out, m_intra.view(b, t, k, k), m_cross.view(b, t, k, k)


def ref_forward(
    sd: dict[str, Tensor], batch: dict[str, Tensor], heads: int = HEADS
) -> dict[str, Tensor]:
    if "clap" in batch:
        audio = batch["clap"]
        x = audio.permute(0, 2, 1).contiguous().view(-1, 768, 2, 32)
        up = F.interpolate(x, size=(2, 1024), mode="bicubic")
        up = lin(sd, "fc_a", up.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).mean(dim=2)
        x1 = F.adaptive_avg_pool1d(up, 10).permute(0, 2, 1)
        vid_s = lin(sd, "fc_v", batch["clip"])
    else:
        x1 = lin(sd, "fc_a", batch["audio"])
        vid_s = lin(sd, "fc_v", batch["frames"]).permute(0, 2, 1).unsqueeze(-1)
        vid_s = F.avg_pool2d(vid_s, (8, 1)).squeeze(-1).permute(0, 2, 1)
    x2 = lin(sd, "fc_fusion", torch.cat((vid_s, lin(sd, "fc_st", batch["clips"])), dim=-1))

    fa = torch.stack([F.relu(lin(sd, f"a_unmix.{i}.1", F.relu(x1))) for i in range(26)], dim=2)
    fv = torch.stack(
        [
            F.relu(lin(sd, f"v_unmix.{i}.4", F.relu(lin(sd, f"v_unmix.{i}.1", F.relu(x2)))))
            for i in range(26)
        ],
        dim=2,
    )

    def alpha(name: str, x: Tensor) -> Tensor:
        h = F.relu(lin(sd, f"{name}.model.1", F.relu(x)))
        return torch.sigmoid(lin(sd, f"{name}.model.4", h)).unsqueeze(-1)

    al_a, al_v = alpha("alpha_a", x1), alpha("alpha_v", x2)
    bg_a = fa[:, :, -1:].repeat(1, 1, 25, 1)
    bg_v = fv[:, :, -1:].repeat(1, 1, 25, 1)
    xa = F.relu(lin(sd, "reduce_a.0", torch.cat([al_a * fa[:, :, :-1], (1 - al_a) * bg_a], -1)))
    xv = F.relu(lin(sd, "reduce_v.0", torch.cat([al_v * fv[:, :, :-1], (1 - al_v) * bg_v], -1)))

    b, t = x1.shape[:2]
    rec_a = F.relu(lin(sd, "a_recon.2", F.relu(lin(sd, "a_recon.0", fa.reshape(b, t, -1)))))
    rec_v = F.relu(lin(sd, "v_recon.model.1", F.relu(fv.reshape(b, t, -1))))
    rec_v = F.relu(lin(sd, "v_recon.model.3", rec_v))
    loss_rec = 0.5 * (F.mse_loss(x1, rec_a) + F.mse_loss(x2, rec_v))
    loss_ort = (
        F.cosine_similarity(fa[:, :, :-1], bg_a, dim=-1).mean()
        + F.cosine_similarity(fv[:, :, :-1].mean(-2), fv[:, :, -1], dim=-1).mean()
    )

    layers = len({k.split(".")[2] for k in sd if k.startswith("av_enhance.layers.")})
    for i in range(layers):
        new_a, m_aa, m_av = ref_fgse(sd, i, xa, xv, heads)
        new_v, m_vv, m_va = ref_fgse(sd, i, xv, xa, heads)
        xa, xv = new_a, new_v

    x = torch.cat([xa.unsqueeze(2), xv.unsqueeze(2)], dim=2)  # (B, T, 2, K, D)

    def heads(name: str) -> Tensor:
        return torch.stack([lin(sd, f"{name}.fc.{k}", x[:, :, :, k]) for k in range(25)], -2)[
            ..., 0
        ]

    logits = heads("fc_prob")
    prob = torch.sigmoid(logits)
    w_t = torch.softmax(heads("fc_frame_att"), dim=1)
    w_m = torch.softmax(heads("fc_av_att"), dim=2)
    temporal = w_t * prob
    return {
        "video": (temporal * w_m).sum(dim=2).sum(dim=1),
        "video_audio": temporal[:, :, 0].sum(dim=1),
        "video_visual": temporal[:, :, 1].sum(dim=1),
        "prob": prob,
        "logits": logits,
        "aa": m_aa,
        "av": m_av,
        "vv": m_vv,
        "va": m_va,
        "loss_rec": loss_rec,
        "loss_ort": loss_ort,
    }


def ref_total_loss(ref: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
    pa, pv = batch["pseudo_audio"], batch["pseudo_visual"]
    out = ref["video"].clamp(1e-7, 1 - 1e-7)
    loss = F.binary_cross_entropy(out, batch["label"])
    loss = loss + F.binary_cross_entropy_with_logits(ref["logits"][:, :, 0], pa)
    loss = loss + F.binary_cross_entropy_with_logits(ref["logits"][:, :, 1], pv)
    maps = {
        "aa": torch.einsum("bti,btj->btij", pa, pa),
        "vv": torch.einsum("bti,btj->btij", pv, pv),
        "av": torch.einsum("bti,btj->btij", pa, pv),
    }
    maps["va"] = maps["av"].transpose(-1, -2)
    ec = sum(F.mse_loss(ref[k], maps[k]) for k in ("aa", "vv", "av", "va"))
    return loss + ref["loss_rec"] + 0.1 * ref["loss_ort"] + 0.1 * ec


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["clap", "vggish"])
def test_convert_matches_reference_forward(variant: str) -> None:
    torch.manual_seed(0)
    sd = synth_reference(variant)
    config, state = convert_mmcse(sd)
    inputs, encoder = config["inputs"], config["encoder"]
    assert inputs["audio_input"] == ("clap" if variant == "clap" else "vggish")
    assert inputs["visual_input"] == ("clip" if variant == "clap" else "res152")
    assert (encoder["d_model"], encoder["class_dim"], encoder["layers"], encoder["ff"]) == (
        256,
        128,
        4,
        512,
    )
    assert encoder["reconstruction_heads"] is True
    model = build_model(config)
    model.load_state_dict(state, strict=True)
    model.eval()
    batch = make_batch(variant)
    with torch.no_grad():
        out = model(batch)
        ref = ref_forward(sd, batch)
    tol = {"atol": 1e-5, "rtol": 0.0}
    torch.testing.assert_close(out.video, ref["video"], **tol)
    torch.testing.assert_close(out.video_audio, ref["video_audio"], **tol)
    torch.testing.assert_close(out.video_visual, ref["video_visual"], **tol)
    torch.testing.assert_close(out.segment_audio, ref["prob"][:, :, 0], **tol)
    torch.testing.assert_close(out.segment_visual, ref["prob"][:, :, 1], **tol)
    torch.testing.assert_close(out.extras["logits_audio"], ref["logits"][:, :, 0], **tol)
    torch.testing.assert_close(out.extras["logits_visual"], ref["logits"][:, :, 1], **tol)
    for pair in ("aa", "av", "vv", "va"):
        torch.testing.assert_close(out.extras[f"cooccurrence_{pair}"], ref[pair], **tol)
    # The outputs must not be trivially saturated for the comparison to mean something.
    assert out.segment_audio.std().item() > 0.05
    assert out.extras["cooccurrence_av"].std().item() > 0.005

    with torch.no_grad():
        total, logs = mmcse_loss(out, batch)
        expected = ref_total_loss(ref, batch)
    assert logs["rec"].item() == pytest.approx(ref["loss_rec"].item(), abs=1e-5)
    assert logs["ort"].item() == pytest.approx(ref["loss_ort"].item(), abs=1e-5)
    torch.testing.assert_close(total, expected, atol=1e-5, rtol=0.0)


def test_inference_model_loads_stripped_state() -> None:
    sd = synth_reference("clap")
    config, state = convert_mmcse(sd)
    model = build_model({**config, "encoder": {**config["encoder"], "reconstruction_heads": False}})
    with pytest.raises(RuntimeError):
        model.load_state_dict(state, strict=True)
    model.load_state_dict(strip_training_heads(state), strict=True)
    model.eval()
    full = build_model(config)
    full.load_state_dict(state)
    full.eval()
    batch = make_batch("clap")
    with torch.no_grad():
        torch.testing.assert_close(model(batch).video, full(batch).video, atol=0.0, rtol=0.0)


def test_converts_without_reconstruction_heads_and_module_prefix() -> None:
    sd = synth_reference("clap")
    sd = {f"module.{k}": v for k, v in sd.items() if not k.startswith(("a_recon.", "v_recon."))}
    config, state = convert_mmcse(sd)
    assert config["encoder"]["reconstruction_heads"] is False
    model = build_model(config)
    model.load_state_dict(state, strict=True)


def test_dead_keys_ignored_but_optional() -> None:
    sd = synth_reference("clap")
    dead = [k for k, _, status in read_tsv() if status == "dead"]
    assert dead
    for k in dead:
        sd.pop(k)
    convert_mmcse(sd)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ("missing", "av_enhance.layers.2.SECM_1.attn.in_proj_bias"),
        ("unexpected", "extra.weight"),
        ("shape", "fc_prob.fc.3.weight"),
        ("missing", "fc_a.weight"),
        ("shape", "fc_a.weight"),
    ],
)
def test_bad_state_dict_names_the_key(edit: str, needle: str) -> None:
    sd = synth_reference("clap")
    if edit == "missing":
        sd.pop(needle)
    elif edit == "unexpected":
        sd[needle] = torch.zeros(3)
    else:
        sd[needle] = torch.zeros(7, 3)
    with pytest.raises(DataError, match=re.escape(needle)):
        convert_mmcse(sd)


def test_convert_file(tmp_path: Path) -> None:
    sd = synth_reference("clap")
    path = tmp_path / "checkpoint_best.pth"
    torch.save(sd, path)
    config, state = convert_mmcse_file(path)
    assert set(state) == set(build_model(config).state_dict())
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match=r"bad\.pth"):
        convert_mmcse_file(bad)
    with pytest.raises(DataError, match=r"missing\.pth"):
        convert_mmcse_file(tmp_path / "missing.pth")


def test_cli_convert_mmcse_then_reload(tmp_path: Path) -> None:
    """`avvp convert --arch mmcse` writes a checkpoint that rebuilds and computes the same."""
    from avvp.cli import main
    from avvp.training.checkpoint import load_checkpoint

    sd = synth_reference("clap")
    torch.save(sd, tmp_path / "official.pt")
    args = ["convert", "--arch", "mmcse", str(tmp_path / "official.pt"), str(tmp_path / "out")]
    assert main(args) == 0
    model, sidecar = load_checkpoint(tmp_path / "out" / "model")
    model_cfg = sidecar["config"]["model"]
    assert {model_cfg[p]["name"] for p in ("inputs", "encoder", "decoder")} == {"mmcse"}
    assert model_cfg["encoder"]["heads"] == HEADS
    assert sidecar["config"]["data"]["features"] == ["clap", "clip", "clips"]
    batch = make_batch("clap")
    with torch.no_grad():
        ref = ref_forward(sd, batch)
        out = model(batch)
    torch.testing.assert_close(out.video, ref["video"], atol=1e-5, rtol=0.0)
    # The reference evaluation's gate travels with the checkpoint: `avvp eval` uses it.
    assert model_cfg["decoder"]["gate"] == "mmcse" and out.gate == "mmcse"


def test_cli_convert_mmcse_heads_rebuild_with_those_heads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--heads is MM-CSE's nhead: stored in the sidecar, the reloaded model uses it."""
    from avvp.cli import main
    from avvp.training.checkpoint import load_checkpoint

    sd = synth_reference("clap")
    torch.save(sd, tmp_path / "official.pt")
    args = ["convert", "--arch", "mmcse", str(tmp_path / "official.pt"), str(tmp_path / "out")]
    assert main([*args, "--heads", "4"]) == 0
    model, sidecar = load_checkpoint(tmp_path / "out" / "model")
    assert sidecar["config"]["model"]["encoder"]["heads"] == 4
    batch = make_batch("clap")
    with torch.no_grad():
        out = model(batch)
        ref4, ref8 = ref_forward(sd, batch, heads=4), ref_forward(sd, batch, heads=8)
    torch.testing.assert_close(out.video, ref4["video"], atol=1e-5, rtol=0.0)
    torch.testing.assert_close(out.extras["cooccurrence_av"], ref4["av"], atol=1e-5, rtol=0.0)
    # The head count changes the function (else this test would not tell 4 from 8).
    assert (ref4["av"] - ref8["av"]).abs().max().item() > 1e-3

    capsys.readouterr()
    assert main([*args, "--heads", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--heads 3" in err and "128 is not divisible by 3" in err and "\n" not in err
    assert main([*args, "--decoder-heads", "2"]) == 2
    assert "--decoder-heads: mmcse has no attention decoder" in capsys.readouterr().err
