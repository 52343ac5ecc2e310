"""Pseudo-label a folder of videos (``avvp pseudo-label``): resumable, shardable, robust."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from avvp.errors import AvvpError, ConfigError
from avvp.extractors.base import save_npy_atomic
from avvp.extractors.run import list_videos, parse_shard
from avvp.pseudo.labels import (
    AUDIO_FOLDER,
    VISUAL_FOLDER,
    Thresholds,
    binarize,
    find_label_files,
    load_thresholds,
    lookup_mask,
    read_video_labels,
)
from avvp.pseudo.teachers import ImageNetTeacher, Teacher, YAMNetTeacher
from avvp.registry import Registry
from avvp.video.decode import decode_video

FAILURES_FILE = "pseudo_label_failures.jsonl"


# builder(the spec's text after "NAME:", "" when none) -> teacher
TeacherBuilder = Callable[[str], Teacher]


def _yamnet(arg: str) -> Teacher:
    if not arg:
        raise ConfigError("audio teacher 'yamnet': expected yamnet:PATH/TO/yamnet.tflite")
    return YAMNetTeacher(Path(arg))


def _efficientnet(arg: str) -> Teacher:
    return ImageNetTeacher(weights=Path(arg) if arg else None)


# Teachers by modality (CLI --audio-teacher / --visual-teacher NAME[:ARG]). The teacher classes
# import their models when built, so an uninstalled extra fails only when its teacher is chosen.
AUDIO_TEACHERS: Registry[TeacherBuilder] = Registry("audio teacher")
AUDIO_TEACHERS.add("yamnet", _yamnet)
VISUAL_TEACHERS: Registry[TeacherBuilder] = Registry("visual teacher")
VISUAL_TEACHERS.add("efficientnet", _efficientnet)
TEACHERS: dict[str, Registry[TeacherBuilder]] = {
    "audio": AUDIO_TEACHERS,
    "visual": VISUAL_TEACHERS,
}


def teacher_from_spec(spec: str, *, modality: str) -> Teacher:
    """``yamnet:PATH`` (audio) or ``efficientnet[:WEIGHTS]`` (visual) -> a teacher."""
    if modality not in TEACHERS:
        raise ValueError(f"modality {modality!r}: expected one of {', '.join(TEACHERS)}")
    name, _, arg = spec.partition(":")
    return TEACHERS[modality].get(name, where=f"--{modality}-teacher")(arg)


@dataclass
class PseudoLabelReport:
    """Ids written, skipped (already done), failed; how many were masked by a weak label."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    masked: int = 0
    label_files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        source = ", ".join(self.label_files) if self.label_files else "none (unmasked)"
        return (
            f"pseudo-label: {len(self.done)} done ({self.masked} masked by weak labels), "
            f"{len(self.skipped)} already complete, {len(self.failed)} failed; "
            f"weak labels: {source}"
        )


def pseudo_label_folder(
    root: Path,
    *,
    audio_teacher: Teacher,
    visual_teacher: Teacher,
    videos_dir: Path | None = None,
    thresholds_file: Path | None = None,
    label_files: Sequence[Path] | None = None,
    mask: bool = True,
    shard: str = "0/1",
    overwrite: bool = False,
) -> PseudoLabelReport:
    """Write ``root/CLAP|CLIP/segment_pseudo_labels/<id>.npy`` for every video of the folder."""
    root = Path(root)
    videos = list_videos(videos_dir if videos_dir is not None else root / "video")
    index, count = parse_shard(shard)
    thresholds = load_thresholds(thresholds_file) if thresholds_file else Thresholds.default()
    report = PseudoLabelReport()
    labels = {}
    if mask:
        files = list(label_files) if label_files is not None else find_label_files(root)
        labels = read_video_labels(files)
        report.label_files = [str(f) for f in files]
    for path in tqdm(videos[index::count], desc="pseudo-label", unit="video", disable=None):
        audio_path = root / AUDIO_FOLDER / f"{path.stem}.npy"
        visual_path = root / VISUAL_FOLDER / f"{path.stem}.npy"
        if not overwrite and audio_path.is_file() and visual_path.is_file():
            report.skipped.append(path.stem)
            continue
        try:
            video = decode_video(path)
            audio_scores = audio_teacher.segment_scores(video)
            visual_scores = visual_teacher.segment_scores(video)
        except (AvvpError, RuntimeError, ValueError) as exc:
            report.failed.append((str(path), str(exc)))
            root.mkdir(parents=True, exist_ok=True)
            with (root / FAILURES_FILE).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"file": str(path), "error": str(exc)}) + "\n")
            continue
        weak = lookup_mask(labels, path.stem) if mask else None
        report.masked += weak is not None
        save_npy_atomic(audio_path, binarize(audio_scores, thresholds.audio, weak))
        save_npy_atomic(visual_path, binarize(visual_scores, thresholds.visual, weak))
        report.done.append(path.stem)
    return report
