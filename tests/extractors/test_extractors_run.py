"""Folder extraction: official layout, resume, shards, failure manifest, CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from avvp.cli import main
from avvp.errors import ConfigError
from avvp.extractors.run import FAILURES_FILE, extract_folder, list_videos, parse_shard
from avvp.video import DecodedVideo
from avvp.video.synth import write_test_video


class MeanColour:
    """A tiny extractor: per-segment mean RGB (counts its calls)."""

    name = "mean"
    key = "mean"
    folder = "feats/mean"

    def __init__(self) -> None:
        self.calls = 0

    def extract(self, video: DecodedVideo) -> np.ndarray:
        self.calls += 1
        frames = video.frames.reshape(video.num_segments, video.fps, -1, 3)
        return frames.mean(axis=(1, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    write_test_video(folder / "aaa.mp4", seconds=2.0, seed=1)
    write_test_video(folder / "bbb.mp4", seconds=1.5, seed=2)
    (folder / "ccc.mp4").write_bytes(b"broken" * 20)
    (folder / "notes.txt").write_text("not a video")
    return folder


def test_extract_writes_layout_resumes_and_records_failures(videos: Path, tmp_path: Path) -> None:
    extractor = MeanColour()
    report = extract_folder(list_videos(videos), tmp_path, [extractor])
    assert report.done == ["aaa", "bbb"]
    assert [Path(f).name for f, _ in report.failed] == ["ccc.mp4"]
    assert np.load(tmp_path / "feats/mean/aaa.npy").shape == (2, 3)
    assert np.load(tmp_path / "feats/mean/bbb.npy").shape == (1, 3)
    lines = (tmp_path / FAILURES_FILE).read_text().splitlines()
    record = json.loads(lines[0])
    assert record["file"].endswith("ccc.mp4") and "ccc.mp4" in record["error"]
    assert not list((tmp_path / "feats/mean").glob("*.tmp"))
    again = extract_folder(list_videos(videos), tmp_path, [extractor])
    assert again.skipped == ["aaa", "bbb"] and extractor.calls == 2


def test_shards_partition_the_videos(videos: Path, tmp_path: Path) -> None:
    files = list_videos(videos)
    seen = []
    for i in range(2):
        report = extract_folder(files, tmp_path / str(i), [MeanColour()], shard=(i, 2))
        seen += report.done + [Path(f).stem for f, _ in report.failed]
    assert sorted(seen) == ["aaa", "bbb", "ccc"]
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite_pytorch") is None,
    reason="optional teachers extra not installed",
)
def test_cli_extract_efficientnet(
    videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["extract", str(videos), "--out", str(tmp_path), "--extractors", "efficientnet"])
    out = capsys.readouterr().out
    assert status == 1  # one broken file
    assert "2 done" in out and "1 failed" in out
    assert np.load(tmp_path / "feats/efficientnet_lite0/aaa.npy").shape == (16, 1280)


def test_cli_extract_rejects_bad_arguments(
    videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", str(videos), "--out", str(tmp_path), "--extractors", "res152"]) == 2
    assert "needs its published weights" in capsys.readouterr().err
    assert main(["extract", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "videos folder not found" in capsys.readouterr().err


def test_cli_extract_random_weights_are_seeded(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    write_test_video(folder / "aaa.mp4", seconds=1.0, seed=3)
    features = {}
    for run, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        argv = ["extract", str(folder), "--out", str(tmp_path / run), "--extractors", "vggish"]
        assert main([*argv, "--random-weights", "--seed", seed]) == 0
        features[run] = np.load(tmp_path / run / "feats/vggish/aaa.npy")
    np.testing.assert_array_equal(features["a"], features["b"])
    assert not np.array_equal(features["a"], features["c"])
