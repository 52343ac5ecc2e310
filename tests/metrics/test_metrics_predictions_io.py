"""Prediction files in the LLP eval layout: round trips and precise errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avvp.data.predictions import (
    COMBINED_HEADER,
    HEADER,
    event_rows,
    read_predictions,
    split_paths,
    write_event_tsv,
    write_predictions,
)
from avvp.errors import DataError

NAMES = ["aaaaaaaaaaa_0_10", "bbbbbbbbbbb_10_20", "ccccccccccc_5_15"]


def random_preds(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    audio = rng.random((3, 25, 10)) < 0.15
    visual = rng.random((3, 25, 10)) < 0.15
    visual[2] = False  # a video without visual rows
    audio[1, 4] = True  # an event over the whole clip (onset 0, offset 10)
    return audio, visual


def write_tsv(path: Path, header: tuple[str, ...], rows: list[str]) -> Path:
    path.write_text("\t".join(header) + "\n" + "".join(r + "\n" for r in rows))
    return path


def test_combined_round_trip(tmp_path: Path) -> None:
    audio, visual = random_preds(0)
    (written,) = write_predictions(tmp_path / "p.tsv", NAMES, audio, visual)
    lines = written.read_text().splitlines()
    assert lines[0] == "\t".join(COMBINED_HEADER)
    assert f"{NAMES[1]}\t0\t10\tCat\taudio" in lines  # class 4 = Cat
    # rows grouped by video, in the given order
    videos = [NAMES.index(line.split("\t")[0]) for line in lines[1:]]
    assert videos == sorted(videos)
    got_a, got_v = read_predictions(written, NAMES)
    np.testing.assert_array_equal(got_a, audio)
    np.testing.assert_array_equal(got_v, visual)
    assert got_a.dtype == np.bool_


def test_per_modality_round_trip_and_torch_input(tmp_path: Path) -> None:
    audio, visual = random_preds(1)
    paths = write_predictions(
        tmp_path / "p.tsv",
        NAMES,
        torch.from_numpy(audio),
        torch.from_numpy(visual).float(),
        combined=False,
    )
    assert paths == list(split_paths(tmp_path / "p.tsv"))
    assert paths[0].name == "p_audio.tsv" and paths[1].name == "p_visual.tsv"
    assert paths[0].read_text().splitlines()[0] == "\t".join(HEADER)
    got_a, got_v = read_predictions(paths, NAMES)
    np.testing.assert_array_equal(got_a, audio)
    np.testing.assert_array_equal(got_v, visual)


def test_rows_are_merged_and_missing_videos_are_empty(tmp_path: Path) -> None:
    path = write_tsv(
        tmp_path / "p.tsv",
        COMBINED_HEADER,
        [
            f"{NAMES[0]}\t0\t3\tSpeech\taudio",
            f"{NAMES[0]}\t2\t5\tSpeech\taudio",  # overlaps the previous row: union
            "",  # blank lines carry no data
            f"{NAMES[0]}\t4.0\t6\tDog\tvisual",  # integral float accepted
            f"{NAMES[0]}\t7\t7\tDog\tvisual",  # onset == offset marks nothing
        ],
    )
    audio, visual = read_predictions(path, NAMES)
    assert audio[0, 0].tolist() == [True] * 5 + [False] * 5
    assert visual[0, 3].tolist() == [False] * 4 + [True] * 2 + [False] * 4
    assert audio.sum() == 5 and visual.sum() == 2  # videos 1 and 2 have no events


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (f"{NAMES[0]}\t0\t3\tSpeech", "expected 5 tab-separated fields, found 4"),
        (f"{NAMES[0]}\tone\t3\tSpeech\taudio", "onset 'one' is not a number"),
        (f"{NAMES[0]}\t1.5\t3\tSpeech\taudio", "onset '1.5' is not a whole second"),
        (f"{NAMES[0]}\t0\t11\tSpeech\taudio", "offset 11 is outside 0..10"),
        (f"{NAMES[0]}\t-1\t3\tSpeech\taudio", "onset -1 is outside 0..10"),
        (f"{NAMES[0]}\t5\t3\tSpeech\taudio", "onset 5 is after offset 3"),
        (f"{NAMES[0]}\t0\t3\tSpeeches\taudio", "unknown class name 'Speeches'"),
        (f"{NAMES[0]}\t0\t3\tSpeech\taudiovisual", "unknown modality 'audiovisual'"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = write_tsv(tmp_path / "bad.tsv", COMBINED_HEADER, [f"{NAMES[1]}\t0\t1\tDog\taudio", row])
    with pytest.raises(DataError) as info:
        read_predictions(path, NAMES)
    assert str(info.value).startswith(f"{path}:3: ")
    assert message in str(info.value)


def test_unknown_filenames_are_reported_not_dropped(tmp_path: Path) -> None:
    rows = [f"{NAMES[0]}\t0\t1\tDog\taudio"] + [
        f"zzzzzzzzzz{i}_0_10\t0\t1\tDog\taudio" for i in range(7)
    ]
    path = write_tsv(tmp_path / "p.tsv", COMBINED_HEADER, rows)
    with pytest.raises(DataError) as info:
        read_predictions(path, NAMES)
    text = str(info.value)
    assert "7 filename(s) are not in the split (3 videos)" in text
    assert "'zzzzzzzzzz0_0_10' (line 3)" in text
    assert "zzzzzzzzzz6" not in text  # a few examples only


def test_header_and_layout_errors(tmp_path: Path) -> None:
    plain = write_tsv(tmp_path / "plain.tsv", HEADER, [f"{NAMES[0]}\t0\t1\tDog"])
    with pytest.raises(DataError, match="needs a 'modality' column"):
        read_predictions(plain, NAMES)
    wrong = write_tsv(tmp_path / "wrong.tsv", ("file", "start", "end", "label"), [])
    with pytest.raises(DataError, match=r"wrong.tsv:1: expected header"):
        read_predictions([wrong, plain], NAMES)
    with pytest.raises(DataError, match="not found"):
        read_predictions(tmp_path / "missing.tsv", NAMES)
    combined = write_tsv(tmp_path / "c.tsv", COMBINED_HEADER, [f"{NAMES[0]}\t0\t1\tDog\tvisual"])
    with pytest.raises(DataError, match=r"c.tsv:2: a visual row in the audio predictions file"):
        read_predictions([combined, plain], NAMES)
    with pytest.raises(DataError, match="got 3 files"):
        read_predictions([plain, plain, plain], NAMES)


def test_write_checks_shapes(tmp_path: Path) -> None:
    audio, visual = random_preds(2)
    with pytest.raises(ValueError, match="N = 2 filenames"):
        write_predictions(tmp_path / "p.tsv", NAMES[:2], audio, visual)
    with pytest.raises(ValueError, match="25 classes"):
        write_predictions(tmp_path / "p.tsv", NAMES, audio[:, :3], visual[:, :3])
    with pytest.raises(ValueError, match=r"pred_audio \(3, 25, 10\) and pred_visual \(3, 25, 9\)"):
        write_predictions(tmp_path / "p.tsv", NAMES, audio, visual[..., :9])
    with pytest.raises(ValueError, match="unknown modality 'audio-visual'"):
        event_rows(NAMES, {"audio-visual": audio})
    assert not (tmp_path / "p.tsv").exists()


def test_event_rows_order_and_the_one_writer(tmp_path: Path) -> None:
    audio = np.zeros((2, 25, 4), dtype=np.uint8)
    visual = np.zeros((2, 25, 4), dtype=bool)
    audio[1, 3, 2:] = 1
    audio[1, 0, :1] = 1
    audio[1, 0, 2:3] = 1
    visual[0, 5, 1:3] = True
    visual[1, 1, :] = True
    names = ["later_0_10", "earlier_0_10"]  # rows follow this order, not the sorted names
    rows = event_rows(names, {"audio": audio, "visual": visual})
    assert [r[1:3] for r in rows] == [(1, 3), (0, 1), (2, 3), (2, 4), (0, 4)]
    assert [(r[0], r[4]) for r in rows] == [
        ("later_0_10", "visual"),
        ("earlier_0_10", "audio"),
        ("earlier_0_10", "audio"),
        ("earlier_0_10", "audio"),
        ("earlier_0_10", "visual"),
    ]
    assert [r[3] for r in rows] == ["Frying_(food)", "Speech", "Speech", "Dog", "Car"]
    # The visual-first mapping order puts visual rows first within a video.
    flipped = event_rows(names, {"visual": visual, "audio": audio})
    assert [r[4] for r in flipped] == ["visual", "visual", "audio", "audio", "audio"]

    combined = write_event_tsv(tmp_path / "sub" / "c.tsv", rows, modality_column=True)
    assert combined.read_text(encoding="utf-8").splitlines() == [
        "\t".join(COMBINED_HEADER),
        *("\t".join(str(f) for f in r) for r in rows),
    ]
    plain = write_event_tsv(
        tmp_path / "a.tsv", [r for r in rows if r[4] == "audio"], modality_column=False
    )
    assert plain.read_text(encoding="utf-8").splitlines()[1] == "earlier_0_10\t0\t1\tSpeech"
    got_a, got_v = read_predictions(combined, names, num_segments=4)
    np.testing.assert_array_equal(got_a, audio.astype(bool))
    np.testing.assert_array_equal(got_v, visual)
