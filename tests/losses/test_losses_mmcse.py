"""MM-CSE losses: finite terms, weights, co-occurrence targets, error cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from avvp.errors import ConfigError, DataError
from avvp.losses.mmcse import cooccurrence_targets, mmcse_loss
from avvp.models.mmcse import build_mmcse
from avvp.models.outputs import ParsingOutput

B, T, C = 2, 10, 25
SMALL = {"hidden": 64, "class_dim": 32, "heads": 4, "layers": 2, "ff": 64}


def make_batch(seed: int = 0) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    pa = (torch.rand(B, T, C, generator=gen) < 0.2).float()
    pv = (torch.rand(B, T, C, generator=gen) < 0.2).float()
    return {
        "clap": torch.randn(B, 64, 768, generator=gen),
        "clip": torch.randn(B, T, 768, generator=gen),
        "clips": torch.randn(B, T, 512, generator=gen),
        "pseudo_audio": pa,
        "pseudo_visual": pv,
        "label": torch.maximum(pa.amax(dim=1), pv.amax(dim=1)),
    }


def floats(logs: dict[str, Tensor]) -> dict[str, float]:
    return {k: v.item() for k, v in logs.items()}


@pytest.fixture(scope="module")
def model_output() -> tuple[ParsingOutput, dict[str, Tensor]]:
    torch.manual_seed(0)
    model = build_mmcse(**SMALL).eval()
    batch = make_batch()
    return model(batch), batch


def test_terms_finite_and_total_is_weighted_sum(
    model_output: tuple[ParsingOutput, dict[str, Tensor]],
) -> None:
    out, batch = model_output
    total, terms = mmcse_loss(out, batch, rec_weight=0.7, ort_weight=0.3, ec_weight=0.2)
    keys = {"bce_audio", "bce_visual", "bce_video", "rec", "ort", "ec", "total"}
    assert set(terms) == keys
    # Logged as detached 0-dim tensors (no host copy per step), like the other losses.
    assert all(v.dim() == 0 and not v.requires_grad for v in terms.values())
    logs = floats(terms)
    assert all(math.isfinite(v) for v in logs.values())
    assert all(logs[k] > 0 for k in keys - {"total"})
    expected = (
        logs["bce_audio"]
        + logs["bce_visual"]
        + logs["bce_video"]
        + 0.7 * logs["rec"]
        + 0.3 * logs["ort"]
        + 0.2 * logs["ec"]
    )
    assert logs["total"] == pytest.approx(expected, rel=1e-5)
    assert total.item() == pytest.approx(logs["total"], rel=1e-6)


@pytest.mark.parametrize("term", ["rec", "ort", "ec"])
def test_zero_weight_removes_term(
    model_output: tuple[ParsingOutput, dict[str, Tensor]], term: str
) -> None:
    out, batch = model_output
    weights = {"rec_weight": 1.0, "ort_weight": 0.1, "ec_weight": 0.1}
    full, terms = mmcse_loss(out, batch, **weights)
    without, terms0 = mmcse_loss(out, batch, **{**weights, f"{term}_weight": 0.0})
    logs, logs0 = floats(terms), floats(terms0)
    assert logs0[term] == 0.0
    assert logs[term] > 0
    expected = full.item() - weights[f"{term}_weight"] * logs[term]
    assert without.item() == pytest.approx(expected, rel=1e-5)


def test_gradients_reach_training_heads() -> None:
    torch.manual_seed(1)
    model = build_mmcse(**SMALL)
    batch = make_batch(1)
    total, _ = mmcse_loss(model(batch), batch)
    total.backward()
    for name in ("encoder.cafd_audio.recon.fc1.weight", "encoder.cafd_visual.alpha.fc2.weight"):
        grad = model.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_cooccurrence_targets_match_pairwise_definition() -> None:
    gen = torch.Generator().manual_seed(3)
    pa = (torch.rand(1, 3, 5, generator=gen) < 0.5).float()
    pv = (torch.rand(1, 3, 5, generator=gen) < 0.5).float()
    maps = cooccurrence_targets(pa, pv)
    for t in range(3):
        for i in range(5):
            for j in range(5):
                a_i, a_j, v_i, v_j = pa[0, t, i], pa[0, t, j], pv[0, t, i], pv[0, t, j]
                assert maps["aa"][0, t, i, j] == float(a_i == 1 and a_j == 1)
                assert maps["vv"][0, t, i, j] == float(v_i == 1 and v_j == 1)
                assert maps["av"][0, t, i, j] == float(a_i == 1 and v_j == 1)
                assert maps["va"][0, t, i, j] == float(v_i == 1 and a_j == 1)


def test_video_modality_target_uses_video_level_pseudo_labels(
    model_output: tuple[ParsingOutput, dict[str, Tensor]],
) -> None:
    out, batch = model_output
    logs = floats(mmcse_loss(out, batch, modality_target="video")[1])
    target = batch["pseudo_audio"].amax(dim=1)
    p = out.video_audio.clamp(1e-7, 1 - 1e-7)
    expected = -(target * p.log() + (1 - target) * (1 - p).log()).mean()
    assert logs["bce_audio"] == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ConfigError, match="modality_target"):
        mmcse_loss(out, batch, modality_target="frame")  # type: ignore[arg-type]


def test_missing_inputs_raise() -> None:
    torch.manual_seed(0)
    batch = make_batch()
    out = build_mmcse(**SMALL, reconstruction_heads=False, use_secm=False).eval()(batch)
    with pytest.raises(ConfigError, match="rec_weight"):
        mmcse_loss(out, batch)
    with pytest.raises(ConfigError, match="ec_weight"):
        mmcse_loss(out, batch, rec_weight=0.0)
    logs = floats(mmcse_loss(out, batch, rec_weight=0.0, ec_weight=0.0)[1])
    assert logs["rec"] == logs["ec"] == 0.0 and logs["ort"] > 0
    partial = {k: v for k, v in batch.items() if k != "pseudo_visual"}
    with pytest.raises(DataError, match="pseudo_visual"):
        mmcse_loss(out, partial, rec_weight=0.0, ec_weight=0.0)
