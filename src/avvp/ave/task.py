"""The AVE localization task for the trainer (``cfg.task == "ave"``).

Config: ``model`` is read by :func:`avvp.ave.models.build_ave_model`; ``data.features`` must be
``[audio, visual]``; ``loss.recipe`` is ``ave_dch`` or ``ave_leap`` and must match
``model.head`` (the head owns its loss); ``train.select`` is ``accuracy``. The free-form ``ave``
section takes ``layout`` (``auto`` | ``hdf5`` | ``npy``, the feature layout of the root).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from avvp.ave.data import (
    ANNOTATION_FILE,
    BACKGROUND,
    FEATURE_KEYS,
    AVEAnnotations,
    AVEDataset,
    read_annotations,
)
from avvp.ave.metric import AccuracyCounter
from avvp.ave.models import AVEModel, build_ave_model, describe
from avvp.errors import ConfigError
from avvp.jsonio import write_json_strict
from avvp.training.batching import BatchDataset, autocast, eval_batches, to_device
from avvp.training.distributed import DistEnv

if TYPE_CHECKING:
    from avvp.training.trainer import Evaluation

__all__ = ["RECIPES", "AVEEvaluation", "AVETask"]

RECIPES = {"ave_dch": "dch", "ave_leap": "leap"}
_AVE_KEYS = {"layout"}


@dataclass
class AVEEvaluation:
    """Scores of one split and (when kept) the per-segment predictions behind them."""

    scores: dict[str, float]
    counts: dict[str, int]
    indices: np.ndarray | None = None
    predictions: np.ndarray | None = None  # (N, T) int labels, background = num_classes
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"scores": self.scores, "counts": self.counts}


def _ave_evaluation(evaluation: Evaluation) -> AVEEvaluation:
    if not isinstance(evaluation, AVEEvaluation):
        raise TypeError(f"expected the AVE task's evaluation, got {type(evaluation).__name__}")
    return evaluation


def _unwrap(model: nn.Module) -> AVEModel:
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    if not isinstance(inner, AVEModel):
        raise TypeError(f"expected an AVEModel, got {type(inner).__name__}")
    return inner


class AVETask:
    """Audio-visual event localization on an AVE-layout root (see :mod:`avvp.ave.data`)."""

    name = "ave"

    def __init__(self, cfg: DictConfig, data_root: Path | None) -> None:
        self.cfg = cfg
        # None where no data is read (``avvp info``); reading data then is an error.
        self.root = Path(data_root) if data_root is not None else Path("--data-not-given--")
        model_cfg = self._model_config()
        recipe = str(cfg.loss.recipe)
        head = str(model_cfg.get("head", "dch"))
        if recipe not in RECIPES:
            raise ConfigError(
                f"loss.recipe={recipe!r}: the AVE task expects one of {', '.join(RECIPES)}"
            )
        if RECIPES[recipe] != head:
            raise ConfigError(
                f"loss.recipe={recipe} does not match model.head={head} (use {'ave_' + head})"
            )
        features = list(cfg.data.features)
        if sorted(features) != sorted(FEATURE_KEYS):
            raise ConfigError(f"data.features={features}: the AVE task reads [audio, visual]")
        ave = dict(OmegaConf.to_container(cfg.ave, resolve=True) or {})  # type: ignore[arg-type]
        for key in ave:
            if key not in _AVE_KEYS:
                raise ConfigError(f"ave.{key}: unknown option (expected {', '.join(_AVE_KEYS)})")
        self.layout = str(ave.get("layout", "auto"))
        self._annotations: AVEAnnotations | None = None

    def _model_config(self) -> dict[str, Any]:
        container = OmegaConf.to_container(self.cfg.model, resolve=True)
        if not isinstance(container, dict):
            raise ConfigError("model: expected a mapping")
        return {str(k): v for k, v in container.items()}

    @property
    def annotations(self) -> AVEAnnotations:
        if self._annotations is None:
            self._annotations = read_annotations(self.root / ANNOTATION_FILE)
        return self._annotations

    @property
    def class_names(self) -> tuple[str, ...]:
        """The root's categories in class-index order (first appearance in the annotations;
        the official file gives :data:`avvp.ave.data.AVE_CLASSES`)."""
        return self.annotations.classes

    @staticmethod
    def build_model_from_config(config: Mapping[str, Any]) -> nn.Module:
        return build_ave_model(config)

    def build_model(self) -> nn.Module:
        return self.build_model_from_config(self._model_config())

    def dataset(self, split: str, *, train: bool) -> AVEDataset:
        dataset = AVEDataset(
            self.root,
            split,
            keys=list(self.cfg.data.features),
            layout=self.layout,
            annotations=self.annotations,
        )
        model_cfg = self._model_config()
        classes = int(model_cfg.get("num_classes", 28))
        if dataset.num_classes > classes:
            raise ConfigError(
                f"{self.annotations.path}: {dataset.num_classes} classes, but "
                f"model.num_classes={classes}"
            )
        return dataset

    def checkpoint_model_config(self, config: dict[str, Any], model: nn.Module) -> dict[str, Any]:
        """A LEAP head's file-based label table (``glove``, ``sentence``) travels in the weights,
        so the stored config says ``{source: stored, dim: D}`` and the checkpoint evaluates
        without the file (``label_embeddings.stored_config``)."""
        from avvp.models.label_embeddings import stored_config

        cfg = dict(config)
        label_cfg = cfg.get("label_embeddings")
        if not isinstance(label_cfg, Mapping):
            return cfg
        head = getattr(model, "head", None)
        embeddings = getattr(getattr(head, "decoder", None), "label_embeddings", None)
        try:
            cfg["label_embeddings"] = stored_config(label_cfg, embeddings)
        except ConfigError as exc:
            raise ConfigError(f"model.{exc}") from None
        return cfg

    def example_batch(self, batch_size: int = 1) -> dict[str, Tensor]:
        """Random AVE inputs of the reference shapes (VGGish audio, VGG-19 pool5 maps)."""
        generator = torch.Generator().manual_seed(0)
        return {
            "audio": torch.rand(batch_size, 10, 128, generator=generator),
            "visual": torch.rand(batch_size, 10, 7, 7, 512, generator=generator),
            "label": torch.full((batch_size, 10), BACKGROUND, dtype=torch.long),
            "category": torch.zeros(batch_size, dtype=torch.long),
        }

    def parameter_counts(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, int]:
        # AVE models build only live modules: every parameter counts.
        return describe(_unwrap(model))

    def require_ground_truth(self, dataset: BatchDataset) -> None:
        # Every AVE split is scorable: Annotations.txt gives each video's event segments.
        return None

    def loss(
        self, model: nn.Module, batch: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        device = batch["label"].device
        # Mixed precision covers the forward pass; the heads cast logits to float32 for the loss.
        with autocast(device, bool(self.cfg.train.amp), cpu=bool(self.cfg.train.cpu_amp)):
            output = model(batch)
        return _unwrap(model).loss(output, batch)

    @torch.no_grad()
    def evaluate(
        self,
        model: nn.Module,
        dataset: BatchDataset,
        *,
        device: torch.device,
        env: DistEnv | None,
        keep_predictions: bool = False,
        desc: str = "eval",
    ) -> AVEEvaluation:
        """Segment accuracy; under DDP each rank scores its share and the counts are summed."""
        inner = _unwrap(model)
        was_training = inner.training
        inner.eval()
        counter = AccuracyCounter(background=inner.num_classes)
        kept: dict[str, list[np.ndarray]] = {}
        batches = eval_batches(len(dataset), int(self.cfg.train.eval_batch_size), env)
        show = env is None or env.is_main
        for indices in tqdm(batches, desc=desc, leave=False, disable=None if show else True):
            batch = to_device(dataset.get_batch(indices), device)
            with autocast(device, bool(self.cfg.train.amp), cpu=bool(self.cfg.train.cpu_amp)):
                output = inner(batch)
            counter.update(output.prediction, batch["label"])
            if keep_predictions:
                kept.setdefault("indices", []).append(np.asarray(indices))
                kept.setdefault("pred", []).append(output.prediction.cpu().numpy())
                kept.setdefault("scores", []).append(output.scores.float().cpu().numpy())
        counter.all_reduce(device if device.type == "cuda" else None)
        inner.train(was_training)
        result = AVEEvaluation(scores=counter.compute(), counts=dict(counter.counts))
        if keep_predictions and kept:
            result.indices = np.concatenate(kept["indices"])
            result.predictions = np.concatenate(kept["pred"])
            result.extras = {"scores": np.concatenate(kept["scores"])}
        return result

    def write_report(
        self, evaluation: Evaluation, dataset: BatchDataset, out_dir: Path, split: str
    ) -> dict[str, Any]:
        """``report.json`` and (when predictions were kept) ``predictions.tsv``: one row per
        video with its annotation row, id, true class, true and predicted segment labels."""
        evaluation = _ave_evaluation(evaluation)
        out_dir.mkdir(parents=True, exist_ok=True)
        report = {"split": split, "task": "ave", **evaluation.to_json()}
        write_json_strict(out_dir / "report.json", report)
        if evaluation.predictions is not None and evaluation.indices is not None:
            if not isinstance(dataset, AVEDataset):
                raise TypeError("write_report needs the AVEDataset it evaluated")
            names = [*dataset.annotations.classes, "background"]
            truth = dataset.labels()
            with (out_dir / "predictions.tsv").open("w", newline="") as handle:
                writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
                writer.writerow(
                    [
                        "row",
                        "video_id",
                        "category",
                        "true_labels",
                        "predicted_labels",
                        "predicted_names",
                    ]
                )
                for i, pred in zip(evaluation.indices, evaluation.predictions, strict=True):
                    row = int(dataset.rows[int(i)])
                    record = dataset.annotations.records[row]
                    writer.writerow(
                        [
                            row,
                            record.video_id,
                            record.category,
                            " ".join(str(int(x)) for x in truth[int(i)]),
                            " ".join(str(int(x)) for x in pred),
                            "|".join(names[int(x)] for x in pred),
                        ]
                    )
            report["predictions"] = str(out_dir / "predictions.tsv")
        return report

    def summary(self, evaluation: Evaluation) -> str:
        evaluation = _ave_evaluation(evaluation)
        s = evaluation.scores
        c = evaluation.counts
        return (
            f"AVE segment accuracy {100 * s['accuracy']:.2f} "
            f"({c['correct']}/{c['total']} segments); event segments "
            f"{100 * s['accuracy_event']:.2f}, background segments "
            f"{100 * s['accuracy_background']:.2f}"
        )
