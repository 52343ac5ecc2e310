"""Pluggable zero-shot teachers: a decoded video -> (T, 25) LLP class scores in [0, 1].

A teacher is anything with ``segment_scores(video) -> np.ndarray`` of shape (T, 25). Shipped:

* :class:`YAMNetTeacher` (audio): YAMNet's AudioSet scores of each 1-second segment mapped with
  :data:`avvp.pseudo.maps.AUDIOSET_TO_LLP` (max over a class's AudioSet group).
* :class:`ImageNetTeacher` (visual): EfficientNet-Lite0 ImageNet probabilities of
  ``frames_per_segment`` evenly spaced frames of each segment (VALOR's CLIP teacher looks at one
  frame per second; 2 by default here) mapped with :data:`avvp.pseudo.maps.IMAGENET_TO_LLP`
  (group sum) and averaged. Classes without an ImageNet counterpart always score 0.

CLIP / CLAP teachers (VALOR's) are not shipped: their packages and weights cannot be installed
offline here; any object with ``segment_scores`` plugs in the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from avvp.classes import NUM_CLASSES
from avvp.errors import DataError
from avvp.pseudo.maps import audioset_matrix, imagenet_matrix, max_over_groups, sum_over_groups
from avvp.video.decode import DecodedVideo


@runtime_checkable
class Teacher(Protocol):
    """A zero-shot tagger for one modality."""

    def segment_scores(self, video: DecodedVideo) -> np.ndarray:
        """(T, 25) LLP class scores in [0, 1], T = ``video.num_segments``."""
        ...


class YAMNetTeacher:
    """Audio teacher: YAMNet (AudioSet) mapped to LLP."""

    def __init__(self, model_path: str | Path, *, class_map: str | Path | None = None) -> None:
        from avvp.extractors.yamnet import YAMNet

        self.model = YAMNet(model_path, class_map=class_map)
        if self.model.class_names is None:
            raise DataError(
                f"{model_path}: YAMNet class map not found; put yamnet_class_map.csv beside the "
                "model or pass its path"
            )
        try:
            self.matrix = audioset_matrix(self.model.class_names)
        except KeyError as exc:
            raise DataError(f"YAMNet class map: {exc.args[0]}") from None

    def segment_scores(self, video: DecodedVideo) -> np.ndarray:
        scores, _ = self.model.segments(video)
        return max_over_groups(scores, self.matrix).astype(np.float32)


class ImageNetTeacher:
    """Visual teacher: an ImageNet-1k classifier (EfficientNet-Lite0 by default) mapped to LLP."""

    def __init__(self, *, weights: str | Path | None = None, frames_per_segment: int = 2) -> None:
        from avvp.extractors.efficientnet import EfficientNetLite0, build_efficientnet_lite0

        if frames_per_segment < 1:
            raise ValueError("frames_per_segment must be at least 1")
        self.model = EfficientNetLite0(build_efficientnet_lite0(weights=weights))
        self.matrix = imagenet_matrix()
        self.frames_per_segment = frames_per_segment

    def frame_indices(self, video: DecodedVideo) -> np.ndarray:
        """Indices into ``video.frames``: ``frames_per_segment`` evenly spaced per segment."""
        k = min(self.frames_per_segment, video.fps)
        # Centres of k equal parts of the segment, e.g. frames 2 and 6 of 8 for k = 2.
        offsets = ((np.arange(k) + 0.5) * video.fps / k).astype(int)
        starts = np.arange(video.num_segments)[:, None] * video.fps
        return (starts + offsets[None, :]).reshape(-1)

    def segment_scores(self, video: DecodedVideo) -> np.ndarray:
        indices = self.frame_indices(video)
        probs, _ = self.model.run(video.frames[indices])
        grouped = sum_over_groups(probs, self.matrix)
        per_segment = grouped.reshape(video.num_segments, -1, NUM_CLASSES).mean(axis=1)
        return per_segment.astype(np.float32)
