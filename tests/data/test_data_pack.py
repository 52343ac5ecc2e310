"""Packing: manifest contents, atomic writes, resume, verify, CLI."""

from __future__ import annotations

import hashlib
import json
import os
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
    stat = victim.stat()
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    pack_dataset(ds.root, verify=False)
    assert calls == ["val/audio"]  # the mtime fingerprint catches an edit even without verify
    calls.clear()
    victim.write_bytes(bytes(data))
    # Damage that keeps size and mtime (bit rot) is only caught by re-hashing.
    manifest = json.loads((ds.root / "packed" / "manifest.json").read_text())
    recorded = manifest["splits"]["val"]["keys"]["audio"]["packed_mtime_ns"]
    os.utime(victim, ns=(stat.st_atime_ns, recorded))
    pack_dataset(ds.root, verify=False)
    assert calls == []
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


def _rewrite_source(path: Path, array: np.ndarray) -> None:
    """Save ``array`` over a source file and move its mtime 1 s on (coarse clocks could
    otherwise give a rewrite within the same tick the old mtime)."""
    old = path.stat().st_mtime_ns
    np.save(path, array)
    os.utime(path, ns=(old + 10**9, old + 10**9))


def test_stale_pack_is_refused_reported_and_repacked(
    ds, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from avvp.data.check import check_dataset
    from avvp.data.features import PackedFeatureStore

    pack_dataset(ds.root)
    manifest = json.loads((ds.root / "packed" / "manifest.json").read_text())
    info = manifest["splits"]["train"]["keys"]["audio"]
    first = ds.feature_path("audio", ds.ids("train")[0])
    assert info["source_size"][0] == first.stat().st_size
    assert info["source_mtime_ns"][0] == first.stat().st_mtime_ns
    assert info["packed_size"] == (ds.root / "packed" / "train" / "audio.npy").stat().st_size
    ids = ds.ids("train")
    for video_id in (ids[1], ids[3]):
        path = ds.feature_path("audio", video_id)
        _rewrite_source(path, np.load(path) + 1.0)
    store = PackedFeatureStore(ds.root, "val", ds.ids("val"), ["audio"])  # other splits load
    with pytest.raises(DataError) as raised:
        PackedFeatureStore(ds.root, "train", ids, ["audio"])
    message = str(raised.value)
    assert message.startswith(f"{ds.feature_path('audio', ids[1])}: source changed after packing")
    assert "2 file(s) in all" in message and f"avvp data pack {ds.root} --force" in message
    assert "\n" not in message
    # `data check` reports it once per split/key, and exits 1.
    problems = check_dataset(ds.root)
    assert [(p.path, "train/audio is stale" in p.message) for p in problems] == [
        (ds.feature_path("audio", ids[1]), True)
    ]
    assert cli_main(["data", "check", str(ds.root)]) == 1
    assert "1 problem(s)" in capsys.readouterr().out
    # Without --force only the stale split/key is rebuilt; then the pack is current again.
    calls = _count_writes(monkeypatch)
    pack_dataset(ds.root)
    assert calls == ["train/audio"]
    store = PackedFeatureStore(ds.root, "train", ids, ["audio"])
    np.testing.assert_array_equal(
        store.read("audio", np.array([3]))[0], np.load(ds.feature_path("audio", ids[3]))
    )
    assert check_dataset(ds.root) == []


def test_edited_packed_array_is_refused(ds) -> None:
    from avvp.data.features import PackedFeatureStore

    pack_dataset(ds.root, keys=["audio"], splits=["test"])
    victim = ds.root / "packed" / "test" / "audio.npy"
    array = np.load(victim, mmap_mode="r+")
    array[0, 0, 0] += 1.0
    array.flush()
    del array
    old = victim.stat().st_mtime_ns
    os.utime(victim, ns=(old + 10**9, old + 10**9))
    with pytest.raises(DataError, match=r"test/audio\.npy: packed file changed after packing"):
        PackedFeatureStore(ds.root, "test", ds.ids("test"), ["audio"])


def test_force_rebuilds_everything(ds, monkeypatch: pytest.MonkeyPatch) -> None:
    pack_dataset(ds.root, splits=["val", "test"])
    calls = _count_writes(monkeypatch)
    pack_dataset(ds.root, splits=["val", "test"])
    assert calls == []
    assert cli_main(["data", "pack", str(ds.root), "--splits", "val", "test", "--force"]) == 0
    assert sorted(calls) == ["test/audio", "test/pseudo_visual", "val/audio", "val/pseudo_visual"]


def test_manifest_without_fingerprints_is_accepted_with_a_warning(
    ds, monkeypatch: pytest.MonkeyPatch
) -> None:
    from avvp.data.check import check_dataset
    from avvp.data.features import PackedFeatureStore, UnverifiedPackWarning

    pack_dataset(ds.root, keys=["audio"], splits=["val"])
    path = ds.root / "packed" / "manifest.json"
    manifest = json.loads(path.read_text())
    info = manifest["splits"]["val"]["keys"]["audio"]
    for name in ("packed_size", "packed_mtime_ns", "source_size", "source_mtime_ns"):
        del info[name]
    path.write_text(json.dumps(manifest, indent=1))
    with pytest.warns(UnverifiedPackWarning, match=r"val/audio.*--force"):
        store = PackedFeatureStore(ds.root, "val", ds.ids("val"), ["audio"])
    assert store.read("audio", np.array([0])).shape == (1, 10, 128)
    with pytest.warns(UnverifiedPackWarning):
        assert check_dataset(ds.root, keys=[]) == []
    # Packing (without --force) rebuilds the entry to record its fingerprints.
    calls = _count_writes(monkeypatch)
    pack_dataset(ds.root, keys=["audio"], splits=["val"])
    assert calls == ["val/audio"]
    assert "source_mtime_ns" in json.loads(path.read_text())["splits"]["val"]["keys"]["audio"]
