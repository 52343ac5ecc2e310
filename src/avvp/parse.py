"""Parse a video into audio, visual and audio-visual events (``avvp parse``).

Two routes, one result type (:class:`ParseResult`):

* :func:`parse_zero_shot` -- offline teachers score every 1-second segment (YAMNet for audio,
  an ImageNet classifier for visual); a segment holds an event when its score reaches the class
  threshold. Audio-visual = audio AND visual.
* :func:`parse_with_model` -- a trained avvp model on the benchmark's features, extracted from the
  video by the extractors the model's config names; events by the benchmark rule
  (:func:`avvp.models.outputs.predict_events`).

Events are maximal runs of positive segments: ``onset``/``offset`` in whole seconds (offset
exclusive, as the LLP eval files) with ``confidence`` = the mean score over the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from avvp.classes import CLASS_INDEX, LLP_CLASSES, NUM_CLASSES
from avvp.data.predictions import COMBINED_HEADER, write_event_tsv
from avvp.errors import DataError
from avvp.extractors.base import FeatureExtractor
from avvp.jsonio import write_json_strict
from avvp.metrics.runs import find_runs
from avvp.models.outputs import ParsingOutput, predict_events
from avvp.pseudo.labels import Thresholds, binarize
from avvp.pseudo.teachers import Teacher
from avvp.video.decode import DecodedVideo

MODALITIES: tuple[str, ...] = ("audio", "visual", "audio-visual")
#: The header of :meth:`ParseResult.write_tsv` (the combined LLP-eval layout).
TSV_HEADER: tuple[str, ...] = COMBINED_HEADER


@dataclass(frozen=True)
class Event:
    """One event: class ``label`` in ``modality`` over seconds [onset, offset)."""

    modality: str
    label: str
    onset: int
    offset: int
    confidence: float


@dataclass
class ParseResult:
    """Per-segment scores and decisions of one video, and its events.

    ``scores`` / ``decisions`` map each modality to (T, 25) arrays (float in [0, 1] / bool).
    """

    video: str
    num_segments: int
    duration: float
    method: str
    scores: dict[str, np.ndarray]
    decisions: dict[str, np.ndarray]
    events: list[Event] = field(default_factory=list)

    @property
    def video_id(self) -> str:
        return Path(self.video).stem

    def events_of(self, modality: str) -> list[Event]:
        return [e for e in self.events if e.modality == modality]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: video info and the events per modality."""
        return {
            "video": self.video,
            "video_id": self.video_id,
            "num_segments": self.num_segments,
            "duration": round(self.duration, 3),
            "method": self.method,
            "classes": list(LLP_CLASSES),
            "events": {
                m: [
                    {k: v for k, v in asdict(e).items() if k != "modality"}
                    for e in self.events_of(m)
                ]
                for m in MODALITIES
            },
        }

    def write_json(self, path: Path) -> None:
        write_json_strict(path, self.to_json())

    def write_tsv(self, path: Path) -> None:
        """The combined LLP evaluation layout read by ``avvp score`` / ``read_predictions``.

        Header ``filename onset offset event_labels modality``; audio and visual rows only (the
        benchmark derives audio-visual events as their intersection), ordered by modality,
        class index, onset. The rows of one modality are an ``AVVP_eval_<modality>.csv``.
        """
        events = sorted(
            (e for e in self.events if e.modality in ("audio", "visual")),
            key=lambda e: (e.modality != "audio", CLASS_INDEX[e.label], e.onset),
        )
        rows = [(self.video_id, e.onset, e.offset, e.label, e.modality) for e in events]
        write_event_tsv(path, rows, modality_column=True)

    def timeline(self) -> str:
        """A human-readable timeline: one line per event, one character per second."""
        lines = [
            f"{Path(self.video).name}: {self.num_segments} segments of 1 s "
            f"({self.duration:.2f} s), {self.method}"
        ]
        width = max((len(e.label) for e in self.events), default=5)
        for modality in MODALITIES:
            events = self.events_of(modality)
            lines.append(f"{modality} events ({len(events)}):")
            if not events:
                lines.append("  (none)")
            for e in events:
                bar = "".join(
                    "#" if e.onset <= t < e.offset else "." for t in range(self.num_segments)
                )
                lines.append(
                    f"  {e.label:<{width}}  {e.onset:>4d}-{e.offset:<4d}s  "
                    f"conf {e.confidence:.2f}  |{bar}|"
                )
        return "\n".join(lines)

    def plot(self, path: Path) -> None:
        """Classes x seconds chart of the audio / visual / audio-visual events (PNG via Agg)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(
            3, 1, figsize=(max(6.0, 0.35 * self.num_segments + 3), 15), sharex=True
        )
        for ax, modality in zip(axes, MODALITIES, strict=True):
            shown = np.where(self.decisions[modality], self.scores[modality], 0.0).T
            ax.imshow(
                shown,
                aspect="auto",
                vmin=0,
                vmax=1,
                cmap="viridis",
                interpolation="nearest",
                extent=(0, self.num_segments, NUM_CLASSES - 0.5, -0.5),
            )
            ax.set_yticks(range(NUM_CLASSES), LLP_CLASSES, fontsize=7)
            ax.set_title(f"{modality} events ({Path(self.video).name})")
        axes[-1].set_xlabel("seconds")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def events_from_decisions(decisions: np.ndarray, scores: np.ndarray, modality: str) -> list[Event]:
    """Maximal runs of True in each class column of (T, 25) ``decisions``, ordered by onset."""
    runs = find_runs(np.asarray(decisions).T)
    events = [
        Event(modality, LLP_CLASSES[c], on, off, round(float(scores[on:off, c].mean()), 4))
        for c, on, off in zip(
            runs.row[0].tolist(), runs.onset.tolist(), runs.offset.tolist(), strict=True
        )
    ]
    return sorted(events, key=lambda e: (e.onset, e.label))


def build_result(
    video: DecodedVideo,
    *,
    method: str,
    audio_scores: np.ndarray,
    visual_scores: np.ndarray,
    audio: np.ndarray,
    visual: np.ndarray,
) -> ParseResult:
    """Assemble a :class:`ParseResult`; audio-visual = audio AND visual, score = min of both."""
    av = audio & visual
    av_scores = np.minimum(audio_scores, visual_scores)
    scores = {"audio": audio_scores, "visual": visual_scores, "audio-visual": av_scores}
    decisions = {"audio": audio, "visual": visual, "audio-visual": av}
    events = [e for m in MODALITIES for e in events_from_decisions(decisions[m], scores[m], m)]
    return ParseResult(
        video=str(video.path),
        num_segments=video.num_segments,
        duration=video.duration,
        method=method,
        scores=scores,
        decisions=decisions,
        events=events,
    )


def parse_zero_shot(
    video: DecodedVideo,
    *,
    audio_teacher: Teacher,
    visual_teacher: Teacher,
    thresholds: Thresholds | None = None,
    method: str = "zero-shot",
) -> ParseResult:
    """Events from offline teachers, thresholded per class."""
    thresholds = thresholds or Thresholds.default()
    audio_scores = np.asarray(audio_teacher.segment_scores(video), dtype=np.float32)
    visual_scores = np.asarray(visual_teacher.segment_scores(video), dtype=np.float32)
    expected = (video.num_segments, NUM_CLASSES)
    for name, s in (("audio", audio_scores), ("visual", visual_scores)):
        if s.shape != expected:
            raise ValueError(f"{name} teacher returned {s.shape}, expected {expected}")
    return build_result(
        video,
        method=method,
        audio_scores=audio_scores,
        visual_scores=visual_scores,
        audio=binarize(audio_scores, thresholds.audio).astype(bool),
        visual=binarize(visual_scores, thresholds.visual).astype(bool),
    )


def extract_batch(
    video: DecodedVideo, *, feature_keys: Sequence[str], extractors: Mapping[str, FeatureExtractor]
) -> dict[str, torch.Tensor]:
    """A one-video batch dict (B = 1) of the model's feature keys."""
    batch: dict[str, torch.Tensor] = {"index": torch.zeros(1, dtype=torch.long)}
    for key in feature_keys:
        if key not in extractors:
            raise DataError(
                f"the model needs feature {key!r}, which avvp cannot extract from a video "
                f"(extractable: {', '.join(sorted(extractors))})"
            )
        batch[key] = torch.from_numpy(extractors[key].extract(video)).float().unsqueeze(0)
    return batch


def parse_with_model(
    video: DecodedVideo,
    *,
    model: nn.Module,
    feature_keys: Sequence[str],
    extractors: Mapping[str, FeatureExtractor],
    threshold: float = 0.5,
    method: str = "model",
) -> ParseResult:
    """Events from a trained parsing model (``model(batch) -> ParsingOutput``)."""
    batch = extract_batch(video, feature_keys=feature_keys, extractors=extractors)
    model.eval()
    with torch.inference_mode():
        output = model(batch)
    if not isinstance(output, ParsingOutput):
        raise TypeError(f"model returned {type(output).__name__}, expected ParsingOutput")
    audio, visual = predict_events(output, threshold=threshold)
    return build_result(
        video,
        method=method,
        audio_scores=output.segment_audio[0].float().numpy(),
        visual_scores=output.segment_visual[0].float().numpy(),
        audio=audio[0].T.numpy(),
        visual=visual[0].T.numpy(),
    )
