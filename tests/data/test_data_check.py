"""check_dataset: every kind of problem is reported with its file; CLI exit status."""

from __future__ import annotations

from pathlib import Path

import avvp_tests_data_toy as toy  # registered by tests/data/conftest.py
import numpy as np
import pytest

from avvp.cli import main as cli_main
from avvp.data.check import Problem, check_dataset
from avvp.data.pack import pack_dataset

pytestmark = pytest.mark.filterwarnings("ignore::avvp.data.llp.DataDefectWarning")

KEYS = ["audio", "clips", "pseudo_audio"]


@pytest.fixture
def ds(tmp_path: Path):
    return toy.write_toy_dataset(tmp_path, keys=KEYS, sizes={"train": 5, "val": 3, "test": 3})


def test_clean_dataset(ds) -> None:
    assert check_dataset(ds.root) == []
    pack_dataset(ds.root, keys=["audio"])
    assert check_dataset(ds.root) == []


def test_every_problem_is_reported(ds) -> None:
    train, val = ds.ids("train"), ds.ids("val")
    ds.feature_path("audio", train[0]).unlink()  # missing
    np.save(ds.feature_path("audio", "zzzzzzzzzzz"), np.zeros((10, 128), np.float32))  # no split
    np.save(ds.feature_path("audio", train[1]), np.zeros((10, 127), np.float32))  # shape
    np.save(ds.feature_path("clips", train[2]), np.zeros((10, 512), np.int32))  # dtype
    bad = np.zeros((10, 512), np.float32)
    bad[3, 4] = np.nan
    bad[5, 6] = np.inf
    np.save(ds.feature_path("clips", val[0]), bad)  # non-finite
    np.save(ds.feature_path("pseudo_audio", val[1]), np.full((10, 25), 3, np.int64))  # not 0/1
    np.save(ds.feature_path("pseudo_audio", val[2]), np.zeros((25, 10), np.int64))  # transposed
    problems = check_dataset(ds.root)
    assert all(isinstance(p, Problem) for p in problems)
    found = {(p.path.name, p.message) for p in problems}
    expected = {
        (f"{train[0]}.npy", "missing audio file"),
        ("zzzzzzzzzzz.npy", "id is in no split (AVVP_*.csv)"),
        (f"{train[1]}.npy", "shape (10, 127), expected (10, 128)"),
        (f"{train[2]}.npy", "dtype int32, expected floating point"),
        (f"{val[0]}.npy", "2 non-finite value(s) (nan/inf)"),
        (f"{val[1]}.npy", "pseudo labels hold values other than 0 and 1"),
        (f"{val[2]}.npy", "shape (25, 10), expected (10, 25)"),
    }
    assert found == expected
    assert (
        check_dataset(ds.root, keys=["clips"]) and len(check_dataset(ds.root, keys=["clips"])) == 2
    )


def test_packed_manifest_mismatch(ds) -> None:
    pack_dataset(ds.root, keys=["audio"])
    victim = ds.root / "packed" / "test" / "audio.npy"
    data = bytearray(victim.read_bytes())
    data[-5] ^= 0x0F
    victim.write_bytes(bytes(data))
    problems = check_dataset(ds.root, keys=[])
    assert [(p.path, "sha256" in p.message) for p in problems] == [(victim, True)]
    (ds.root / "packed" / "val" / "audio.npy").unlink()
    assert len(check_dataset(ds.root, keys=[])) == 2


def test_missing_folder_and_annotations(ds, tmp_path: Path) -> None:
    problems = check_dataset(ds.root, keys=["frames"])
    assert [p.message for p in problems] == ["frames feature folder not found"]
    assert "no LLP annotations" in check_dataset(tmp_path / "empty")[0].message


def test_cli_check(ds, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["data", "check", str(ds.root)]) == 0
    assert "clean" in capsys.readouterr().out
    victim = ds.feature_path("clips", ds.ids("test")[1])
    victim.unlink()
    assert cli_main(["data", "check", str(ds.root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{victim}: missing clips file"
    assert "1 problem(s)" in out[-1]


def test_unknown_class_names_are_reported(ds) -> None:
    train_csv = ds.annotations / "AVVP_train.csv"
    lines = train_csv.read_text().splitlines()
    for number in (2, 4):  # the same typo on two rows
        name = lines[number - 1].split("\t")[0]
        lines[number - 1] = f"{name}\tSpeech,Speach"
    train_csv.write_text("\n".join(lines) + "\n")
    eval_csv = ds.annotations / "AVVP_eval_visual.csv"
    rows = eval_csv.read_text().splitlines()
    fields = rows[1].split("\t")
    rows[1] = "\t".join([*fields[:3], '"Dog"'])
    eval_csv.write_text("\n".join(rows) + "\n")
    found = [(p.path, p.message) for p in check_dataset(ds.root)]
    assert found == [
        (
            train_csv,
            "line 2: unknown class name 'Speach' (and 1 more row(s)), not one of the 25 LLP "
            "classes (loading ignores it)",
        ),
        (
            eval_csv,
            "line 2: unknown class name '\"Dog\"', not one of the 25 LLP classes (loading "
            "ignores it); quotes are not part of the format (tab-separated, unquoted)",
        ),
    ]


@pytest.mark.parametrize("file", ["AVVP_train.csv", "AVVP_test_pd.csv", "AVVP_eval_audio.csv"])
def test_broken_line_is_reported_once(ds, file: str, capsys: pytest.CaptureFixture[str]) -> None:
    pack_dataset(ds.root, keys=["audio"])
    csv = ds.annotations / file
    lines = csv.read_text().splitlines()
    lines[2] = lines[2].replace("\t", " ", 1)  # a field separator lost
    lines[3] = lines[3] + '\t"Speech'  # a stray quoted field
    csv.write_text("\n".join(lines) + "\n")
    problems = check_dataset(ds.root)
    width = 4 if "eval" in file else 2
    assert [(p.path, p.message) for p in problems] == [
        (csv, f"line 3: expected {width} tab-separated fields, found {width - 1}: {lines[2]!r}")
    ]
    assert cli_main(["data", "check", str(ds.root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[
        0
    ] == f"{csv}: line 3: expected {width} tab-separated fields, found {width - 1}: " + repr(
        lines[2]
    )
    assert "1 problem(s)" in out[-1]
