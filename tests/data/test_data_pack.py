"""Packing: manifest contents, atomic writes, resume, verify, CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import avvp_tests_data_toy as toy  # registered by tests/data/conftest.py
import numpy as np
import pytest

from avvp.cli import main as cli_main
from avvp.data import pack as pack_module
from avvp.data.features import MANIFEST_FORMAT, MANIFEST_VERSION
from avvp.data.llp import load_split
from avvp.data.pack import pack_dataset
from avvp.errors import DataError

pytestmark = pytest.mark.filterwarnings("ignore::avvp.data.llp.DataDefectWarning")

KEYS = ["audio", "pseudo_visual"]


@pytest.fixture
def ds(tmp_path: Path):
    return toy.write_toy_dataset(tmp_path, keys=KEYS, sizes={"train": 5, "val": 2, "test": 3})


def _count_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = pack_module._write_packed

    def spy(target: Path, *args, **kwargs):
        calls.append(f"{target.parent.name}/{target.stem}")
        return original(target, *args, **kwargs)

    monkeypatch.setattr(pack_module, "_write_packed", spy)
    return calls


def test_manifest_and_files(ds) -> None:
    out = pack_dataset(ds.root)
    assert out == ds.root / "packed"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == MANIFEST_FORMAT and manifest["version"] == MANIFEST_VERSION
    assert set(manifest["splits"]) == {"train", "val", "test"}
    for split, entry in manifest["splits"].items():
        assert entry["ids"] == ds.ids(split)
        assert set(entry["keys"]) == set(KEYS)
        for key, info in entry["keys"].items():
            file = out / info["file"]
            assert file == out / split / f"{key}.npy"
            assert info["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
            array = np.load(file)
            assert list(array.shape) == info["shape"] and str(array.dtype) == info["dtype"]
            for row, video_id in enumerate(ds.ids(split)):
                np.testing.assert_array_equal(array[row], np.load(ds.feature_path(key, video_id)))
    pseudo = manifest["splits"]["train"]["keys"]["pseudo_visual"]
    assert pseudo["dtype"] == "uint8" and pseudo["source"] == "CLIP/segment_pseudo_labels"
    assert not list(out.rglob("*.tmp-*"))


def test_resume_skips_current_and_repacks_changed(ds, monkeypatch: pytest.MonkeyPatch) -> None:
    pack_dataset(ds.root, keys=["audio"])
    calls = _count_writes(monkeypatch)
    pack_dataset(ds.root, keys=["audio"])
    assert calls == []
    pack_dataset(ds.root)  # adds pseudo_visual only
    assert sorted(calls) == ["test/pseudo_visual", "train/pseudo_visual", "val/pseudo_visual"]
    calls.clear()
    victim = ds.root / "packed" / "val" / "audio.npy"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    pack_dataset(ds.root, verify=False)
    assert calls == []  # without verify a same-shape change goes unnoticed
    pack_dataset(ds.root)
    assert calls == ["val/audio"]
    split = load_split(ds.root, "val")
    np.testing.assert_array_equal(
        np.load(victim)[-1], np.load(ds.feature_path("audio", split.video_ids[-1]))
    )


def test_changed_ids_repack_split(ds, monkeypatch: pytest.MonkeyPatch) -> None:
    pack_dataset(ds.root, keys=["audio"])
    csv = ds.annotations / "AVVP_train.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0], *lines[1:][::-1]]) + "\n")
    calls = _count_writes(monkeypatch)
    pack_dataset(ds.root, keys=["audio"])
    assert calls == ["train/audio"]
    manifest = json.loads((ds.root / "packed" / "manifest.json").read_text())
    assert manifest["splits"]["train"]["ids"] == ds.ids("train")[::-1]


def test_missing_source_fails_cleanly(ds) -> None:
    pack_dataset(ds.root, keys=["audio"], splits=["val"])
    before = (ds.root / "packed" / "manifest.json").read_text()
    ds.feature_path("audio", ds.ids("train")[2]).unlink()
    with pytest.raises(DataError, match=rf"{ds.ids('train')[2]}\.npy: missing audio"):
        pack_dataset(ds.root, keys=["audio"])
    assert not (ds.root / "packed" / "train" / "audio.npy").exists()
    assert not list((ds.root / "packed").rglob("*.tmp-*"))
    manifest = json.loads((ds.root / "packed" / "manifest.json").read_text())
    assert "audio" in manifest["splits"]["val"]["keys"]
    assert json.loads(before)["splits"]["val"] == manifest["splits"]["val"]


def test_bad_pseudo_label_values_refused(ds) -> None:
    path = ds.feature_path("pseudo_visual", ds.ids("test")[0])
    np.save(path, np.full((10, 25), 2, dtype=np.int64))
    with pytest.raises(DataError, match="must hold only 0/1"):
        pack_dataset(ds.root, keys=["pseudo_visual"], splits=["test"])


def test_cli_pack(ds, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["data", "pack", str(ds.root), "--keys", "audio", "--splits", "val"]) == 0
    assert "packed into" in capsys.readouterr().out
    manifest = json.loads((ds.root / "packed" / "manifest.json").read_text())
    assert list(manifest["splits"]) == ["val"]
    assert cli_main(["data", "pack", str(ds.root / "nowhere")]) == 2
    assert "no LLP annotations" in capsys.readouterr().err
