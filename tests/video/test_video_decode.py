"""Decoding into the LLP sampling: real clip, synthetic clips, missing audio, bad files."""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import numpy as np
import pytest

from avvp.errors import DataError
from avvp.video import NoAudioWarning, decode_video
from avvp.video.synth import write_test_video


@pytest.fixture(scope="module")
def tone_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("video")
    return write_test_video(folder / "tone.mp4", seconds=3.5, fps=25, tone_hz=1000.0)


def test_real_clip_gives_ten_segments(shared_data: Path) -> None:
    video = decode_video(shared_data / "llp" / "video" / "BjCEufrlXm4.mp4")
    assert video.num_segments == 10
    assert video.frames.shape == (80, 240, 320, 3)
    assert video.frames.dtype == np.uint8
    assert video.audio.shape == (160000,)
    assert video.audio.dtype == np.float32
    assert video.has_audio
    assert 0.01 < float(video.audio.std()) < 1.0
    assert video.video_id == "BjCEufrlXm4"


def test_partial_last_second_is_dropped(tone_video: Path) -> None:
    video = decode_video(tone_video)
    assert video.num_segments == 3
    assert 3.4 < video.duration < 3.6
    assert video.frames.shape == (24, 64, 96, 3)
    assert video.audio.shape == (48000,)
    assert video.segment_frames(2).shape == (8, 64, 96, 3)
    assert video.segment_audio(1).shape == (16000,)


def test_frames_follow_time(tone_video: Path) -> None:
    # The red channel grows with the source frame index, so resampled frames must too.
    red = decode_video(tone_video).frames[:, 0, 0, 0].astype(int)
    assert np.all(np.diff(red) >= 0)
    assert red[-1] > red[0] + 100


def test_tone_is_mono_16k_at_right_pitch(tone_video: Path) -> None:
    audio = decode_video(tone_video).audio
    spectrum = np.abs(np.fft.rfft(audio[16000:32000]))
    peak_hz = float(np.argmax(spectrum))  # 1 Hz bins for a 1 s window at 16 kHz
    assert abs(peak_hz - 1000.0) <= 2.0
    # Channels are averaged (a 0.5 amplitude sine has std 0.354), not summed.
    assert abs(float(audio[16000:32000].std()) - 0.5 / np.sqrt(2)) < 0.02


def test_no_audio_track_gives_silence_and_warning(tmp_path: Path) -> None:
    path = write_test_video(tmp_path / "silent.mp4", seconds=2.2, tone_hz=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        video = decode_video(path)
    assert [w.category for w in caught] == [NoAudioWarning]
    assert str(path) in str(caught[0].message)
    assert not video.has_audio
    assert video.num_segments == 2
    assert video.audio.shape == (32000,) and not video.audio.any()


def test_shorter_than_one_second_is_an_error(tmp_path: Path) -> None:
    path = write_test_video(tmp_path / "short.mp4", seconds=0.6)
    with pytest.raises(DataError, match=r"short\.mp4.*at least one whole second"):
        decode_video(path)


def test_truncated_and_garbage_files_are_data_errors(tmp_path: Path, tone_video: Path) -> None:
    data = tone_video.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"truncated\.mp4"):
        decode_video(truncated)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 50)
    with pytest.raises(DataError, match=r"garbage\.mp4"):
        decode_video(garbage)
    with pytest.raises(DataError, match="not found"):
        decode_video(tmp_path / "missing.mp4")


def test_large_frames_are_downscaled(tmp_path: Path) -> None:
    path = write_test_video(tmp_path / "big.mp4", seconds=1.0, size=(640, 360), tone_hz=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoAudioWarning)
        video = decode_video(path, max_short_side=128)
        native = decode_video(path, max_short_side=None)
    assert video.frames.shape[1:] == (128, 228, 3)
    assert native.frames.shape[1:] == (360, 640, 3)


def _remux(source: Path, target: Path, **options: str) -> Path:
    """Copy the packets of ``source`` into a new container (no re-encoding)."""
    with av.open(str(source)) as inp, av.open(str(target), "w", options=options) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:  # the demuxer's end-of-stream flush packets
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return target


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])  # stream duration / container duration
def test_playable_truncated_file_is_an_error(tmp_path: Path, suffix: str) -> None:
    source = write_test_video(tmp_path / "source.mp4", seconds=5.0, fps=25, seed=4)
    # faststart puts the index (moov) first, so the cut file still opens and plays.
    options = {"movflags": "faststart"} if suffix == ".mp4" else {}
    intact = _remux(source, tmp_path / f"intact{suffix}", **options)
    data = intact.read_bytes()
    if suffix == ".mp4":
        assert data.find(b"moov") < data.find(b"mdat")
    assert decode_video(intact).num_segments == 5
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: int(len(data) * 0.4)])
    with pytest.raises(DataError) as raised:
        decode_video(cut)
    message = str(raised.value)
    assert message.startswith(f"{cut}: truncated video: decoded ")
    declared = float(message.split(" s the file declares")[0].split("of the ")[-1])
    assert declared == pytest.approx(5.0, abs=0.05)
