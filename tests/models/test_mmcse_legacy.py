"""Configs and checkpoints of the old whole-model MM-CSE layout (``model: {name: mmcse, ...}``,
parameters ``cafd_*`` / ``heads.*`` at the top) load into the inputs / encoder / decoder
composition and compute exactly the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import Tensor

from avvp.errors import ConfigError
from avvp.models.complexity import count_parameters
from avvp.models.factory import build_model
from avvp.models.legacy import MMCSE_STATE_PREFIXES, upgrade_legacy_model
from avvp.models.mmcse import build_mmcse
from avvp.models.outputs import ParsingOutput
from avvp.training.checkpoint import load_checkpoint, save_checkpoint

OLD_KEYS = Path(__file__).resolve().parent / "fixtures" / "mmcse_legacy_state_keys.txt"
SMALL = {"hidden": 64, "class_dim": 32, "heads": 4, "layers": 2, "ff": 64}


def to_old_layout(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """New parameter names -> the old ones, by inverting the compat map."""
    out = {}
    for key, value in state.items():
        for old, new in MMCSE_STATE_PREFIXES:
            if key.startswith(new):
                key = old + key[len(new) :]
                break
        out[key] = value
    return out


def batch(seed: int = 0, b: int = 2) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "clap": torch.randn(b, 64, 768, generator=gen),
        "clip": torch.randn(b, 10, 768, generator=gen),
        "clips": torch.randn(b, 10, 512, generator=gen),
    }


def assert_same(a: ParsingOutput, b: ParsingOutput) -> None:
    for name in ("segment_audio", "segment_visual", "video_audio", "video_visual", "video"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), atol=0.0, rtol=0.0)
    assert a.gate == b.gate
    assert list(a.extras) == list(b.extras)
    for key in a.extras:
        torch.testing.assert_close(a.extras[key], b.extras[key], atol=0.0, rtol=0.0)


def test_compat_map_reproduces_the_recorded_old_key_names() -> None:
    recorded = [
        line for line in OLD_KEYS.read_text().splitlines() if line and not line.startswith("#")
    ]
    new_state = build_mmcse().state_dict()
    assert list(to_old_layout(dict(new_state))) == recorded
    _, upgraded = upgrade_legacy_model({"name": "mmcse"}, dict.fromkeys(recorded, torch.zeros(1)))
    assert upgraded is not None and list(upgraded) == list(new_state)


def test_old_flat_config_translates_to_the_composition() -> None:
    old = {"name": "mmcse", "audio_input": "vggish", "hidden": 64, "class_dim": 32, "gate": "mmcse"}
    config, state = upgrade_legacy_model(old)
    assert state is None
    assert config == {
        "inputs": {"name": "mmcse", "audio_input": "vggish", "d_model": 64},
        "encoder": {"name": "mmcse", "d_model": 64, "class_dim": 32},
        "decoder": {"name": "mmcse", "class_dim": 32, "gate": "mmcse"},
    }
    # Same seed, same weights and parameter count in both forms.
    torch.manual_seed(3)
    from_old = build_model(old)
    torch.manual_seed(3)
    from_new = build_model(config)
    assert count_parameters(from_old)["total"] == count_parameters(from_new)["total"]
    for (k1, v1), (k2, v2) in zip(
        from_old.state_dict().items(), from_new.state_dict().items(), strict=True
    ):
        assert k1 == k2 and torch.equal(v1, v2)
    # The current layout and other models pass through unchanged.
    assert upgrade_legacy_model(config)[0] == config
    mmil = {"encoder": {"name": "han"}, "decoder": {"name": "mmil"}}
    kept = upgrade_legacy_model(mmil, {"heads.x": torch.zeros(1)})
    assert kept[0] == mmil and kept[1] is not None and list(kept[1]) == ["heads.x"]
    with pytest.raises(ConfigError, match=r"^model\.hiden: unexpected key"):
        upgrade_legacy_model({"name": "mmcse", "hiden": 64})


def test_old_checkpoint_loads_and_computes_the_same(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_mmcse(**SMALL, gate="mmcse").eval()
    old_config = {"name": "mmcse", **SMALL, "gate": "mmcse"}
    weights, _ = save_checkpoint(tmp_path / "old", model=model, config={"model": old_config})
    old_state = to_old_layout({k: v.contiguous() for k, v in model.state_dict().items()})
    assert any(k.startswith("heads.") for k in old_state)
    save_file(old_state, str(weights), metadata={"format": "avvp-checkpoint"})

    loaded, sidecar = load_checkpoint(tmp_path / "old")
    assert sidecar["config"]["model"] == old_config
    with torch.no_grad():
        assert_same(loaded(batch()), model(batch()))
    # Loading the old names into a fresh model of the new layout, directly, is the same again.
    fresh = build_model(old_config).eval()
    _, upgraded = upgrade_legacy_model(old_config, old_state)
    assert upgraded is not None
    fresh.load_state_dict(upgraded, strict=True)
    with torch.no_grad():
        assert_same(fresh(batch(1)), model(batch(1)))


def test_mismatched_class_dim_is_a_config_error() -> None:
    config = {
        "inputs": {"name": "mmcse"},
        "encoder": {"name": "mmcse", "class_dim": 64},
        "decoder": {"name": "mmcse"},
    }
    with pytest.raises(ConfigError, match=r"model\.decoder\.class_dim=128 \(default\) does not"):
        build_model(config)
