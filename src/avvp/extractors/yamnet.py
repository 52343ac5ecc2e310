"""YAMNet (AudioSet, 521 classes) from its TFLite file, via the optional ``ai-edge-litert``.

The TFLite model takes one 0.975 s window (15600 samples at 16 kHz, float32) and returns (1, 521)
class scores (sigmoids); its 1024-d embedding is the intermediate tensor
``yamnet_frames/global_average_pooling2d/Mean``, readable when the interpreter preserves all
tensors. For a decoded video each 1-second segment contributes its first 15600 samples.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from avvp.errors import AvvpError, DataError
from avvp.extractors.base import TEACHERS_HINT
from avvp.video.decode import DecodedVideo

WINDOW_SAMPLES = 15600
SAMPLE_RATE = 16000
EMBEDDING_TENSOR = "yamnet_frames/global_average_pooling2d/Mean"
NUM_AUDIOSET_CLASSES = 521


def read_class_map(path: str | Path) -> list[str]:
    """YAMNet's ``yamnet_class_map.csv`` (``index,mid,display_name``) -> display names in order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: YAMNet class map not found")
    names: list[str] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ["index", "mid", "display_name"]:
            raise DataError(f"{path}: line 1: expected header index,mid,display_name, got {header}")
        for line, row in enumerate(reader, start=2):
            if len(row) != 3 or not row[0].isdigit() or int(row[0]) != len(names):
                raise DataError(f"{path}: line {line}: expected '<index>,<mid>,<name>' in order")
            names.append(row[2])
    return names


class YAMNet:
    """A YAMNet TFLite model: per-window AudioSet scores and 1024-d embeddings."""

    def __init__(self, model_path: str | Path, *, class_map: str | Path | None = None) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise DataError(f"{model_path}: YAMNet TFLite file not found")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise AvvpError(f"YAMNet needs the ai-edge-litert package; {TEACHERS_HINT}") from None
        with warnings.catch_warnings():
            # The runtime warns that preserving tensors is "for debugging"; it is how the
            # embedding is read, and the model is small.
            warnings.simplefilter("ignore", UserWarning)
            try:
                self._interpreter: Any = Interpreter(
                    model_path=str(model_path), experimental_preserve_all_tensors=True
                )
            except (ValueError, RuntimeError) as exc:
                raise DataError(f"{model_path}: not a readable TFLite model ({exc})") from None
        self._interpreter.allocate_tensors()
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if not inputs or int(np.prod(inputs[0]["shape"])) != WINDOW_SAMPLES:
            raise DataError(f"{model_path}: expected a YAMNet model with a (15600,) input")
        self._input = inputs[0]
        scores = next((o for o in outputs if list(o["shape"]) == [1, NUM_AUDIOSET_CLASSES]), None)
        if scores is None:
            raise DataError(f"{model_path}: no (1, 521) score output; is this YAMNet?")
        self._scores: dict[str, Any] = scores
        self._embedding = next(
            (
                d["index"]
                for d in self._interpreter.get_tensor_details()
                if d["name"] == EMBEDDING_TENSOR
            ),
            None,
        )
        self.path = model_path
        if class_map is None and (model_path.parent / "yamnet_class_map.csv").is_file():
            class_map = model_path.parent / "yamnet_class_map.csv"
        self.class_names: list[str] | None = read_class_map(class_map) if class_map else None

    def run(self, window: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """One 15600-sample window -> ((521,) scores, (1024,) embedding or None)."""
        window = np.asarray(window, dtype=np.float32).reshape(-1)
        if window.size < WINDOW_SAMPLES:
            window = np.pad(window, (0, WINDOW_SAMPLES - window.size))
        data = window[:WINDOW_SAMPLES].reshape(self._input["shape"])
        self._interpreter.set_tensor(self._input["index"], data)
        self._interpreter.invoke()
        scores = np.array(self._interpreter.get_tensor(self._scores["index"])).reshape(-1)
        embedding = None
        if self._embedding is not None:
            embedding = np.array(self._interpreter.get_tensor(self._embedding)).reshape(-1)
        return scores, embedding

    def segments(self, video: DecodedVideo) -> tuple[np.ndarray, np.ndarray]:
        """(T, 521) scores and (T, 1024) embeddings, one window per 1-second segment."""
        if video.sample_rate != SAMPLE_RATE:
            raise ValueError(f"YAMNet needs {SAMPLE_RATE} Hz audio, got {video.sample_rate}")
        scores, embeddings = [], []
        for t in range(video.num_segments):
            s, e = self.run(video.segment_audio(t))
            scores.append(s)
            if e is None:
                raise DataError(f"{self.path}: tensor {EMBEDDING_TENSOR!r} not found")
            embeddings.append(e)
        return np.stack(scores).astype(np.float32), np.stack(embeddings).astype(np.float32)


class YAMNetExtractor:
    """(T, 1024) YAMNet embeddings per segment (an offline audio feature)."""

    name = "yamnet"
    key = "yamnet"
    folder = "feats/yamnet"

    def __init__(self, model: YAMNet) -> None:
        self.model = model

    def extract(self, video: DecodedVideo) -> np.ndarray:
        return self.model.segments(video)[1]


def build_yamnet_extractor(*, weights: str | Path) -> YAMNetExtractor:
    """YAMNet embeddings from the TFLite file at ``weights``."""
    return YAMNetExtractor(YAMNet(weights))
