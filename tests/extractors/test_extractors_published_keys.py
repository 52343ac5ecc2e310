"""State-dict compatibility with the published weights (layouts from the public definitions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from avvp.errors import DataError
from avvp.extractors.base import load_state_dict_file, load_weights
from avvp.extractors.r2plus1d import R2Plus1D18
from avvp.extractors.resnet import build_resnet152
from avvp.extractors.vggish import VGGish

EXPECTED = json.loads((Path(__file__).parent / "data" / "published_state_dicts.json").read_text())
BUILDERS = {"res152": build_resnet152, "r2plus1d_18": R2Plus1D18, "vggish": VGGish}


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    # Building ResNet-152 and VGGish takes seconds (random init of 130M parameters): once.
    return {name: build() for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def state_dicts(models: dict[str, nn.Module]) -> dict[str, dict[str, torch.Tensor]]:
    return {name: {k: v.clone() for k, v in m.state_dict().items()} for name, m in models.items()}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_key_count_sample_shapes_and_params(
    name: str, state_dicts: dict[str, dict[str, torch.Tensor]]
) -> None:
    expected = EXPECTED[name]
    state = state_dicts[name]
    assert len(state) == expected["num_keys"]
    plain = [k for k in state if not k.endswith("num_batches_tracked")]
    assert len(plain) == expected["num_keys_without_num_batches_tracked"]
    for key, shape in expected["sample"].items():
        assert key in state, key
        assert list(state[key].shape) == shape, key
    for key in expected["absent"]:
        assert key not in state
    params = sum(
        v.numel() for k, v in state.items() if "running_" not in k and "num_batches" not in k
    )
    assert params == expected["params"]


def test_pretrainedmodels_and_old_torchvision_resnet_state_dicts_load(
    models: dict[str, nn.Module], state_dicts: dict[str, dict[str, torch.Tensor]]
) -> None:
    # Cadene's pretrainedmodels names the classifier last_linear; pre-0.4.1 files lack
    # num_batches_tracked. Both are what the LLP extraction used.
    torch.manual_seed(0)
    state = {
        k.replace("fc.", "last_linear."): v.clone()
        for k, v in state_dicts["res152"].items()
        if not k.endswith("num_batches_tracked")
    }
    state["last_linear.weight"] = torch.randn(1000, 2048)
    state["layer3.35.conv3.weight"] = torch.randn(1024, 256, 1, 1)
    model = models["res152"]
    load_weights(model, state, source="resnet152.pth", rename={"last_linear.": "fc."})
    loaded = model.state_dict()
    assert torch.equal(loaded["fc.weight"], state["last_linear.weight"])
    assert torch.equal(loaded["layer3.35.conv3.weight"], state["layer3.35.conv3.weight"])


def test_dataparallel_prefix_and_pca_keys_are_handled(
    models: dict[str, nn.Module], state_dicts: dict[str, dict[str, torch.Tensor]]
) -> None:
    state = {f"module.{k}": v.clone() for k, v in state_dicts["vggish"].items()}
    state["module.embeddings.4.weight"] = torch.randn(128, 4096)
    state["pproc.pca_matrix"] = torch.eye(128)
    model = models["vggish"]
    load_weights(model, state, source="vggish.pth", ignore_prefixes=("pproc.",))
    assert torch.equal(
        model.state_dict()["embeddings.4.weight"], state["module.embeddings.4.weight"]
    )


def test_weight_files_load_from_torch_and_safetensors(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    torch.manual_seed(2)
    layer = nn.Linear(3, 2)
    torch.save(layer.state_dict(), tmp_path / "w.pt")
    save_file(layer.state_dict(), str(tmp_path / "w.safetensors"))
    for name in ("w.pt", "w.safetensors"):
        loaded = load_state_dict_file(tmp_path / name)
        assert torch.equal(loaded["weight"], layer.weight.detach())


def test_mismatched_weights_are_data_errors(
    tmp_path: Path, models: dict[str, nn.Module], state_dicts: dict[str, dict[str, torch.Tensor]]
) -> None:
    state = dict(state_dicts["r2plus1d_18"])
    state["fc.weight"] = torch.zeros(10, 512)
    with pytest.raises(DataError, match=r"r2\.pth.*shape mismatches.*fc\.weight"):
        load_weights(models["r2plus1d_18"], state, source="r2.pth")
    del state["fc.weight"]
    with pytest.raises(DataError, match="missing 1 keys"):
        load_weights(models["r2plus1d_18"], state, source="x.pth")
    with pytest.raises(DataError, match="not found"):
        load_state_dict_file(tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"junk\.pth"):
        load_state_dict_file(tmp_path / "junk.pth")
    torch.save({"a": 1}, tmp_path / "notstate.pth")
    with pytest.raises(DataError, match="not a state dict"):
        load_state_dict_file(tmp_path / "notstate.pth")


def test_wrapped_state_dict_is_unwrapped(tmp_path: Path) -> None:
    layer = nn.Linear(2, 2)
    torch.save({"state_dict": layer.state_dict()}, tmp_path / "wrapped.pt")
    assert set(load_state_dict_file(tmp_path / "wrapped.pt")) == {"weight", "bias"}
