"""avvp.viz.explain: picking the video to explain."""

from __future__ import annotations

from pathlib import Path

import pytest

from avvp.errors import DataError
from avvp.viz.explain import find_video

NAMES = ["4YdbENYcIyE_23_33", "abcdefghijk_0_10", "abcdefghijk_30_40"]


def test_find_video_by_index_filename_or_id() -> None:
    where = {"split": "test", "data_root": Path("LLP")}
    assert find_video(NAMES, "2", **where) == 2
    assert find_video(NAMES, "abcdefghijk_30_40", **where) == 2
    assert find_video(NAMES, "4YdbENYcIyE", **where) == 0
    assert find_video(NAMES, "abcdefghijk", **where) == 1  # the first clip of that video


def test_an_unknown_video_is_a_one_line_data_error() -> None:
    with pytest.raises(DataError, match=r"^'nope' is not a video of the val split of LLP$"):
        find_video(NAMES, "nope", split="val", data_root=Path("LLP"))
    with pytest.raises(DataError, match="'3' is not a video"):  # out of range: not an index
        find_video(NAMES, "3", split="val", data_root=Path("LLP"))
