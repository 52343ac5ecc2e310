"""The public commands end to end on generated data: synth, train, eval, explain, info, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avvp.classes import LLP_CLASSES
from avvp.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TINY_LEAP = [
    "model.inputs.d_model=32",
    "model.encoder.d_model=32",
    "model.encoder.ff_dim=32",
    "model.decoder.d_model=32",
    "model.decoder.ff_dim=32",
    "model.decoder.heads=4",
    "train.epochs=1",
]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "synth"
    args = [
        "data",
        "synth",
        "--out",
        str(root),
        "--seed",
        "1",
        "--train",
        "40",
        "--val",
        "16",
        "--test",
        "16",
        "--pack",
    ]
    assert main(args) == 0
    assert main(["data", "check", str(root)]) == 0
    return root


@pytest.fixture
def release_file(tmp_path: Path) -> Path:
    """A file in the LEAP release format (an ordered dict of 25 float32 (300,) vectors)."""
    path = tmp_path / "llp_label_glove_embeddings.pt"
    generator = torch.Generator().manual_seed(0)
    torch.save({name: torch.randn(300, generator=generator) for name in LLP_CLASSES}, path)
    return path


@pytest.fixture
def fresh_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No label-embedding file anywhere: no env var, an empty home, an empty working directory."""
    monkeypatch.delenv("AVVP_LABEL_EMBEDDINGS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.mark.parametrize(
    ("preset", "total", "blocks"),
    [
        ("han_mmil", 4_569_675, None),
        ("mmpyr_mmil_valor", 40_827_469, None),
        ("mmpyr_leap", 47_256_068, 6_311_936),
        ("mmcse", 6_160_333, None),
    ],
)
def test_info_json_counts(
    preset: str,
    total: int,
    blocks: int | None,
    fresh_machine: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`info` counts from a fresh checkout: LEAP's label-embedding file is not needed (the
    embeddings are a fixed buffer of known shape)."""
    assert main(["info", preset, "--json", "--no-flops"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"]["total"] == total
    assert info["params"]["trainable"] == total
    if blocks is not None:
        assert info["params"]["leap_blocks"] == blocks


def test_train_eval_explain(
    synth_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "train",
                "demo/llp_leap",
                *TINY_LEAP,
                "--data",
                str(synth_root),
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    (run,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["eval", str(run), "--data", str(synth_root), "--split", "test", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["gate"] == "or" and report["counts"]["all"] == 16
    assert set(report["scores"]) >= {"segment/type@av", "event/event@av"}
    assert (run / "eval-test" / "predictions.tsv").is_file()
    # The written predictions score to the same numbers through `avvp score`.
    assert (
        main(
            [
                "score",
                str(run / "eval-test" / "predictions.tsv"),
                "--annotations",
                str(synth_root),
                "--split",
                "test",
                "--json",
            ]
        )
        == 0
    )
    scored = json.loads(capsys.readouterr().out)
    for key, value in report["scores"].items():
        assert scored[key] == pytest.approx(value)
    # Another gate is reported as such.
    assert main(["eval", str(run), "--data", str(synth_root), "--gate", "pooled"]) == 2
    assert "pooled" in capsys.readouterr().err  # LEAP has no pooled video probability
    assert (
        main(
            [
                "explain",
                str(run),
                "--data",
                str(synth_root),
                "--video",
                "0",
                "--out",
                str(tmp_path / "fig"),
            ]
        )
        == 0
    )
    written = capsys.readouterr().out.split()
    assert any(p.endswith("_leap_attention.png") for p in written)
    assert all(Path(p).stat().st_size > 1000 for p in written)


def test_train_leap_preset_label_embeddings(
    synth_root: Path,
    release_file: Path,
    fresh_machine: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without the file anywhere `train` stops with one line naming where it looked and where to
    get the file; `--label-embeddings` supplies it and is recorded in the run's config."""
    runs = fresh_machine / "runs"
    args = ["train", "han_leap", *TINY_LEAP, "--data", str(synth_root), "--out", str(runs)]
    capsys.readouterr()
    assert main([*args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "llp_label_glove_embeddings.pt not found" in err
    assert str(fresh_machine / "data" / "llp_label_glove_embeddings.pt") in err
    assert ".cache/avvp/llp_label_glove_embeddings.pt" in err
    assert "github.com/jasongief/LEAP" in err

    assert main([*args, "--no-progress", "--label-embeddings", str(release_file)]) == 0
    (run,) = runs.iterdir()  # the failed attempt left no run folder
    assert str(release_file) in (run / "config.yaml").read_text()

    assert main(["train", "han_mmil", "--data", str(synth_root), "--label-embeddings", "x"]) == 2
    assert "--label-embeddings: config 'han_mmil' reads no label-embedding file" in (
        capsys.readouterr().err
    )


def test_mmcse_train_and_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "vpp"
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(root),
                "--seed",
                "2",
                "--train",
                "24",
                "--val",
                "8",
                "--test",
                "8",
                "--valor-plus-plus",
            ]
        )
        == 0
    )
    overrides = [
        "model.inputs.d_model=32",
        "model.encoder.d_model=32",
        "model.encoder.class_dim=16",
        "model.decoder.class_dim=16",
        "model.encoder.ff=32",
        "model.encoder.layers=1",
        "model.encoder.heads=2",
        "train.epochs=1",
        "train.batch_size=8",
    ]
    assert (
        main(
            [
                "train",
                "mmcse",
                *overrides,
                "--data",
                str(root),
                "--out",
                str(tmp_path / "runs"),
                "--no-progress",
            ]
        )
        == 0
    )
    (run,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    assert main(["eval", str(run), "--data", str(root), "--gate", "mmcse", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gate"] == "mmcse"
    assert (
        main(
            [
                "explain",
                str(run),
                "--data",
                str(root),
                "--video",
                "0",
                "--out",
                str(tmp_path / "fig"),
            ]
        )
        == 0
    )
    written = capsys.readouterr().out.split()
    assert any(p.endswith("_mmcse_similarity.png") for p in written)
    assert any(p.endswith("_mmcse_cooccurrence.png") for p in written)


def test_demo_end_to_end(tmp_path: Path) -> None:
    from avvp.demo import ORACLE, PRIOR, PSEUDO, DemoSizes, run_demo

    summary = run_demo(
        out=tmp_path / "out",
        cache=tmp_path / "cache",
        sizes=DemoSizes(train=32, val=16, test=16),
        seeds=2,
        epochs=1,
        overrides=("train.batch_size=16",),
        progress=False,
    )
    demo = Path(summary["demo_dir"])
    results = json.loads((demo / "results.json").read_text())
    assert set(results["methods"]) == {"mmil", "leap"}
    assert results["train_seeds"] == [0, 1]
    for method, gate in (("leap", "or"), ("mmil", "pooled")):
        runs = results["methods"][method]["runs"]
        assert [r["seed"] for r in runs] == [0, 1] and {r["gate"] for r in runs} == {gate}
        assert [c["epoch"] for c in runs[0]["curve"]] == [1]
        values = [r["all"]["segment/type@av"] for r in runs]
        assert results["methods"][method]["mean"]["all"]["segment/type@av"] == pytest.approx(
            sum(values) / 2
        )
        assert results["methods"][method]["std"]["all"]["segment/type@av"] == pytest.approx(
            abs(values[0] - values[1]) / 2**0.5
        )
    for figure in ("timeline", "leap_attention"):
        assert Path(results["figures"][figure]).stat().st_size > 1000
    assert set(results["references"]) == {ORACLE, PSEUDO, PRIOR}
    # The oracle predicts every true video label everywhere, so its segment recall is 1 and its
    # score positive; the prior predicts one fixed class.
    assert 0.0 < results["references"][ORACLE]["all"]["segment/audio"] <= 1.0
    table = (demo / "results.txt").read_text()
    assert "overlapping subset" in table and "mean ± std over training seeds 0, 1" in table
    lines = table.splitlines()
    for name in (ORACLE, PSEUDO, PRIOR, "mmil", "leap"):
        rows = [line for line in lines if line.startswith(name)]
        assert len(rows) == 4  # segment and event level, all videos and overlapping subset
        cells = rows[0][len(name) :].split("  ")
        cells = [c.strip() for c in cells if c.strip()]
        assert len(cells) == 5
        # Method rows print mean ± std; the deterministic reference rows a single value.
        assert all(("±" in c) == (name in ("mmil", "leap")) for c in cells), rows[0]
    # A second demo reuses the cached dataset.
    cached = sorted((tmp_path / "cache").iterdir())
    assert len(cached) == 1 and (cached[0] / ".complete").is_file()
