"""MM-CSE model: shapes, gradients, parameter counts, ablation switches, input errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from avvp.errors import ConfigError, DataError
from avvp.models.complexity import count_parameters
from avvp.models.factory import build_model
from avvp.models.mmcse import (
    EXTRAS_DOC,
    build_mmcse,
    clap_resampling_matrix,
    strip_training_heads,
)

B, T, C = 2, 10, 25
# A narrow model for the tests that do not depend on the published widths (faster).
SMALL = {"hidden": 64, "class_dim": 32, "heads": 4, "layers": 2, "ff": 64}


def batch_for(audio_input: str, visual_input: str, seed: int = 0) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    batch = {"clips": torch.randn(B, T, 512, generator=gen)}
    if audio_input == "clap":
        batch["clap"] = torch.randn(B, 64, 768, generator=gen)
    else:
        batch["audio"] = torch.randn(B, T, 128, generator=gen)
    if visual_input == "clip":
        batch["clip"] = torch.randn(B, T, 768, generator=gen)
    else:
        batch["frames"] = torch.randn(B, 80, 2048, generator=gen)
    return batch


@pytest.mark.parametrize(
    ("audio_input", "visual_input", "widths"),
    [("clap", "clip", {}), ("vggish", "res152", SMALL)],
)
def test_forward_backward_shapes(
    audio_input: str, visual_input: str, widths: dict[str, int]
) -> None:
    torch.manual_seed(0)
    model = build_mmcse(audio_input=audio_input, visual_input=visual_input, **widths)  # type: ignore[arg-type]
    hidden, d = widths.get("hidden", 256), widths.get("class_dim", 128)
    out = model(batch_for(audio_input, visual_input))
    assert out.gate == "pooled"
    for t in (out.segment_audio, out.segment_visual):
        assert t.shape == (B, T, C)
        assert bool(((t >= 0) & (t <= 1)).all())
    assert out.video is not None
    for t in (out.video, out.video_audio, out.video_visual):
        assert t.shape == (B, C)
        assert bool(((t >= 0) & (t <= 1 + 1e-6)).all())
    assert out.audio_features.shape == out.visual_features.shape == (B, T, d)
    assert set(out.extras) == set(EXTRAS_DOC)
    expect = {
        "logits_audio": (B, T, C),
        "class_features_visual": (B, T, C, d),
        "background_audio": (B, T, d),
        "alpha_visual": (B, T),
        "recon_audio": (B, T, hidden),
        "recon_visual_target": (B, T, hidden),
        "enhanced_audio": (B, T, C, d),
        "cooccurrence_va": (B, T, C, C),
    }
    for key, shape in expect.items():
        assert tuple(out.extras[key].shape) == shape, key

    # Every registered parameter is live: the full objective reaches all of them.
    loss = out.video.sum() + out.extras["logits_visual"].sum() + out.extras["logits_audio"].sum()
    loss = loss + sum(out.extras[f"cooccurrence_{p}"].pow(2).sum() for p in ("aa", "vv"))
    loss = loss + F.mse_loss(out.extras["recon_audio"], out.extras["recon_audio_target"])
    loss = loss + F.mse_loss(out.extras["recon_visual"], out.extras["recon_visual_target"])
    loss.backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert dead == []

    # Head-averaged attention rows are distributions (eval mode: no attention dropout).
    model.eval()
    with torch.no_grad():
        maps = model(batch_for(audio_input, visual_input)).extras["cooccurrence_aa"]
    torch.testing.assert_close(maps.sum(-1), torch.ones(B, T, C))


def test_parameter_counts_match_reference_live_counts() -> None:
    assert count_parameters(build_mmcse())["total"] == 6_160_333
    assert count_parameters(build_mmcse(reconstruction_heads=False))["total"] == 4_324_301
    assert sum(p.numel() for p in build_mmcse().parameters()) == 6_160_333


def test_clap_resampling_is_an_average() -> None:
    r = clap_resampling_matrix()
    assert r.shape == (64, 10)
    # Each output step is a weighted average of the 64 map steps (so it commutes with fc_a).
    torch.testing.assert_close(r.sum(dim=0), torch.ones(10))
    # Same as the explicit reshape / bicubic / mean / pool chain on a random map.
    x = torch.randn(3, 64, 768)
    up = F.interpolate(
        x.permute(0, 2, 1).reshape(3, 768, 2, 32), size=(2, 1024), mode="bicubic"
    ).mean(dim=2)
    direct = F.adaptive_avg_pool1d(up, 10).permute(0, 2, 1)
    torch.testing.assert_close(torch.einsum("sn,bsc->bnc", r, x), direct, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("switch", "absent", "params_drop"),
    [
        (
            "use_cafd",
            ("class_features_audio", "background_audio", "alpha_audio", "recon_audio"),
            True,
        ),
        (
            "use_secm",
            ("cooccurrence_aa", "cooccurrence_av", "cooccurrence_vv", "cooccurrence_va"),
            True,
        ),
        ("use_lgsf", (), True),
        ("reconstruction_heads", ("recon_audio", "recon_visual_target"), True),
    ],
)
def test_ablation_switches(switch: str, absent: tuple[str, ...], params_drop: bool) -> None:
    torch.manual_seed(0)
    full = build_mmcse(**SMALL)
    model = build_mmcse(**SMALL, **{switch: False})  # type: ignore[arg-type]
    assert (count_parameters(model)["total"] < count_parameters(full)["total"]) is params_drop
    out = model(batch_for("clap", "clip"))
    assert out.segment_audio.shape == (B, T, C)
    assert out.extras["enhanced_visual"].shape == (B, T, C, 32)
    for key in absent:
        assert key not in out.extras
    assert torch.isfinite(out.video).all()  # type: ignore[union-attr]
    out.video.sum().backward()  # type: ignore[union-attr]
    assert all(p.grad is not None for p in model.decoder.parameters())


def test_all_fgse_blocks_off_still_runs() -> None:
    model = build_mmcse(**SMALL, use_secm=False, use_lgsf=False, use_cafd=False)
    out = model(batch_for("clap", "clip"))
    assert out.segment_visual.shape == (B, T, C)
    # Without CAFD every class token of a segment starts equal; the heads still differ per class.
    assert out.segment_audio.std(dim=-1).min().item() > 0


def test_modality_gate_and_determinism() -> None:
    torch.manual_seed(0)
    model = build_mmcse(**SMALL, gate="modality").eval()
    batch = batch_for("clap", "clip")
    with torch.no_grad():
        a, b = model(batch), model(batch)
    assert a.gate == "modality"
    torch.testing.assert_close(a.video, b.video, atol=0.0, rtol=0.0)


def test_strip_training_heads() -> None:
    full = build_mmcse()
    state = {f"model.{k}": v for k, v in full.state_dict().items()}
    stripped = strip_training_heads(state)
    assert not any(".recon." in k for k in stripped)
    assert len(state) - len(stripped) == 8
    small = build_mmcse(reconstruction_heads=False)
    small.load_state_dict({k[len("model.") :]: v for k, v in stripped.items()}, strict=True)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"audio_input": "wav"}, "audio_input"),
        ({"visual_input": "vit"}, "visual_input"),
        ({"heads": 5}, "heads"),
        ({"layers": 0}, "layers"),
        ({"dropout": 1.5}, "dropout"),
        ({"gate": "max"}, "gate"),
    ],
)
def test_config_errors(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        build_mmcse(**kwargs)  # type: ignore[arg-type]


def test_batch_errors_name_the_key() -> None:
    model = build_mmcse()
    batch = batch_for("clap", "clip")
    del batch["clips"]
    with pytest.raises(DataError, match="'clips'"):
        model(batch)
    batch = batch_for("clap", "clip")
    batch["clap"] = torch.randn(B, 10, 768)
    with pytest.raises(DataError, match=r"'clap'.*\(2, 10, 768\)"):
        model(batch)


@pytest.mark.parametrize(
    ("preset", "params", "features"),
    [("mmcse", 6_160_333, ["clap", "clip", "clips"]), ("mmcse_vggish", 6_324_173, None)],
)
def test_presets_build(preset: str, params: int, features: list[str] | None) -> None:
    from avvp.config import load_config, to_container

    config = to_container(load_config(preset))
    model_cfg = config["model"]
    assert {model_cfg[p]["name"] for p in ("inputs", "encoder", "decoder")} == {"mmcse"}
    assert count_parameters(build_model(model_cfg))["total"] == params
    assert config["seed"] == 87 and config["loss"]["recipe"] == "mmcse"
    assert config["optim"]["betas"] == [0.5, 0.999]
    assert config["data"]["features"] == (features or ["audio", "frames", "clips"])


def test_res152_accepts_prepooled_frames() -> None:
    torch.manual_seed(0)
    model = build_mmcse(audio_input="vggish", visual_input="res152", **SMALL).eval()
    batch = batch_for("vggish", "res152")
    pooled = dict(batch, frames=batch["frames"].view(B, T, 8, 2048).mean(dim=2))
    with torch.no_grad():
        torch.testing.assert_close(model(pooled).video, model(batch).video, atol=1e-6, rtol=0)
    with pytest.raises(DataError, match=r"\(B, 80, 2048\) or \(B, 10, 2048\)"):
        model(dict(batch, frames=batch["frames"][:, :40]))


def test_mmcse_parts_are_imported_only_when_named() -> None:
    """The factory registers the MM-CSE encoder/decoder lazily ("module:attribute")."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from avvp.models.factory import build_model\n"
        "build_model({'encoder': {'name': 'han'}, 'decoder': {'name': 'mmil'}})\n"
        "assert 'avvp.models.encoders.mmcse' not in sys.modules\n"
        "assert 'avvp.models.decoders.mmcse' not in sys.modules\n"
        "build_model({'inputs': {'name': 'mmcse'}, 'encoder': {'name': 'mmcse', 'layers': 1},"
        " 'decoder': {'name': 'mmcse'}})\n"
        "assert 'avvp.models.encoders.mmcse' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
