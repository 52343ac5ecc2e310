"""The LLP parsing task: datasets, loss recipe and evaluation for the trainer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from avvp.classes import LLP_CLASSES
from avvp.errors import ConfigError, DataError
from avvp.jsonio import write_json_strict
from avvp.models.outputs import GATES, Gate, ParsingOutput
from avvp.registry import Registry
from avvp.training.batching import BatchDataset, autocast
from avvp.training.distributed import DistEnv
from avvp.training.evaluate import ParsingEvaluation, evaluate_parsing

if TYPE_CHECKING:
    from avvp.training.trainer import Evaluation

Recipe = Callable[[ParsingOutput, Mapping[str, Tensor], Any], tuple[Tensor, dict[str, Tensor]]]

# ``loss.recipe`` -> the loss of that method, called with the model output, the batch and the
# ``loss`` config section (docs/methods.md sections 5, 7, 8). The losses are imported on first
# use, as MM-CSE's pulls in code an LLP run of another method never needs.
RECIPES: Registry[Recipe] = Registry("loss recipe")
# Recipes trained against segment-level pseudo labels (the batch must carry pseudo_audio/visual).
PSEUDO_LABEL_RECIPES = frozenset({"valor", "leap", "mmcse"})


@RECIPES.register("han")
def _han(
    output: ParsingOutput, batch: Mapping[str, Tensor], loss_cfg: Any
) -> tuple[Tensor, dict[str, Tensor]]:
    from avvp.losses.mmil import han_loss

    return han_loss(
        output,
        batch,
        audio_smoothing=loss_cfg.audio_smoothing,
        visual_smoothing=loss_cfg.visual_smoothing,
    )


@RECIPES.register("valor")
def _valor(
    output: ParsingOutput, batch: Mapping[str, Tensor], loss_cfg: Any
) -> tuple[Tensor, dict[str, Tensor]]:
    from avvp.losses.mmil import valor_loss

    return valor_loss(output, batch, modality_weight=loss_cfg.modality_weight)


@RECIPES.register("leap")
def _leap(
    output: ParsingOutput, batch: Mapping[str, Tensor], loss_cfg: Any
) -> tuple[Tensor, dict[str, Tensor]]:
    from avvp.losses.leap import leap_loss

    return leap_loss(
        output,
        batch,
        avss_weight=loss_cfg.avss_weight,
        avss_target=loss_cfg.avss_target,
        segment_weight=loss_cfg.segment_weight,
    )


@RECIPES.register("mmcse")
def _mmcse(
    output: ParsingOutput, batch: Mapping[str, Tensor], loss_cfg: Any
) -> tuple[Tensor, dict[str, Tensor]]:
    from avvp.losses.mmcse import mmcse_loss

    return mmcse_loss(
        output,
        batch,
        rec_weight=loss_cfg.rec_weight,
        ort_weight=loss_cfg.ort_weight,
        ec_weight=loss_cfg.ec_weight,
        modality_target=loss_cfg.mmcse_modality_target,
    )


def compute_parsing_loss(
    output: ParsingOutput, batch: Mapping[str, Tensor], loss_cfg: Any
) -> tuple[Tensor, dict[str, Tensor]]:
    """The loss of ``loss_cfg.recipe`` (docs/methods.md sections 5, 7, 8)."""
    recipe = loss_cfg.recipe
    compute = RECIPES.get(recipe, where="loss.recipe")
    if recipe in PSEUDO_LABEL_RECIPES and "pseudo_audio" not in batch:
        raise ConfigError(
            f"loss.recipe={recipe} needs segment pseudo labels: set data.pseudo_labels=true "
            "(CLAP/ and CLIP/segment_pseudo_labels under the dataset root)"
        )
    return compute(output, batch, loss_cfg)


def _parsing_evaluation(evaluation: Evaluation) -> ParsingEvaluation:
    if not isinstance(evaluation, ParsingEvaluation):
        raise TypeError(f"expected the LLP task's evaluation, got {type(evaluation).__name__}")
    return evaluation


class LLPTask:
    """Audio-visual video parsing on an LLP-layout dataset root (official or packed)."""

    name = "llp"
    class_names = LLP_CLASSES

    def __init__(self, cfg: DictConfig, data_root: Path | None) -> None:
        self.cfg = cfg
        self.root = Path(data_root) if data_root is not None else None
        RECIPES.get(cfg.loss.recipe, where="loss.recipe")  # an unknown recipe fails here, early
        if cfg.eval.gate is not None and cfg.eval.gate not in GATES:
            raise ConfigError(f"eval.gate={cfg.eval.gate!r}: expected one of {', '.join(GATES)}")

    @staticmethod
    def build_model_from_config(config: Mapping[str, Any]) -> nn.Module:
        from avvp.models.factory import build_model

        return build_model(config)

    def build_model(self) -> nn.Module:
        return self.build_model_from_config(self.cfg.model)

    def dataset(self, split: str, *, train: bool) -> BatchDataset:
        from avvp.data.dataset import LLPDataset

        if self.root is None:
            raise ConfigError("no dataset root given (--data)")
        return LLPDataset(
            root=self.root,
            split=split,
            feature_keys=list(self.cfg.data.features),
            pseudo_labels=bool(self.cfg.data.pseudo_labels) and train,
            packed=self.cfg.data.packed,
        )

    def loss(
        self, model: nn.Module, batch: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        device = batch["label"].device
        # Mixed precision covers the forward pass only: the BCE losses run in float32.
        with autocast(device, bool(self.cfg.train.amp), cpu=bool(self.cfg.train.cpu_amp)):
            output = model(batch)
        return compute_parsing_loss(output, batch, self.cfg.loss)

    def evaluate(
        self,
        model: nn.Module,
        dataset: BatchDataset,
        *,
        device: torch.device,
        env: DistEnv | None,
        keep_predictions: bool = False,
        desc: str = "eval",
    ) -> ParsingEvaluation:
        self.require_ground_truth(dataset)
        gate: Gate | None = self.cfg.eval.gate
        return evaluate_parsing(
            model,
            dataset,
            device=device,
            batch_size=int(self.cfg.train.eval_batch_size),
            gate=gate,
            threshold=float(self.cfg.eval.threshold),
            env=env,
            amp=bool(self.cfg.train.amp),
            cpu_amp=bool(self.cfg.train.cpu_amp),
            keep_predictions=keep_predictions,
            keep_extras=("attention_audio", "attention_visual"),
            desc=desc,
        )

    def checkpoint_model_config(self, config: dict[str, Any], model: nn.Module) -> dict[str, Any]:
        from avvp.models.factory import checkpoint_model_config

        # Label embeddings read from a file travel inside the weights: the stored config says
        # so, and the checkpoint reloads on a machine without that file.
        return checkpoint_model_config(config, model)

    def example_batch(self, batch_size: int = 1) -> dict[str, Tensor]:
        from avvp.training.describe import example_batch

        return example_batch(list(self.cfg.data.features), batch_size)

    def parameter_counts(self, model: nn.Module, batch: dict[str, Tensor]) -> dict[str, int]:
        from avvp.models.complexity import count_parameters

        # Live counts: a parameter no output depends on (e.g. LEAP blocks after a ``first``
        # readout) is in ``registered`` only.
        return count_parameters(model, batch)

    def require_ground_truth(self, dataset: BatchDataset) -> None:
        """A one-line error naming the missing annotation file when a split cannot be scored."""
        split = getattr(dataset, "split", None)
        if split is None or getattr(split, "gt_audio", None) is not None:
            return
        from avvp.data.llp import EVAL_FILES, find_annotations_dir

        names = " and ".join(EVAL_FILES.values())
        if split.name == "train" or self.root is None:
            raise DataError(
                f"the {split.name} split has no segment-level annotations to score against "
                f"({names} annotate val and test)"
            )
        folder = find_annotations_dir(self.root)
        missing = [folder / name for name in EVAL_FILES.values() if not (folder / name).is_file()]
        where = missing[0] if missing else folder
        raise DataError(
            f"{where}: not found; scoring the {split.name} split needs the segment-level "
            f"annotations {names}"
        )

    def write_report(
        self, evaluation: Evaluation, dataset: BatchDataset, out_dir: Path, split: str
    ) -> dict[str, Any]:
        """Write ``report.json`` and (when predictions were kept) ``predictions.tsv``."""
        from avvp.data.predictions import write_predictions

        evaluation = _parsing_evaluation(evaluation)

        out_dir.mkdir(parents=True, exist_ok=True)
        report = {"split": split, **evaluation.to_json()}
        write_json_strict(out_dir / "report.json", report)
        if evaluation.pred_audio is not None and evaluation.indices is not None:
            filenames = dataset_filenames(dataset)
            names = [filenames[int(i)] for i in evaluation.indices]
            write_predictions(
                out_dir / "predictions.tsv", names, evaluation.pred_audio, evaluation.pred_visual
            )
        return report

    def summary(self, evaluation: Evaluation) -> str:
        """The ten numbers on all videos and on the overlap subsets, and the per-class table."""
        from avvp.metrics import format_per_class_table, format_scores_table

        evaluation = _parsing_evaluation(evaluation)

        counts = evaluation.counts
        rows = {
            f"all ({counts['all']})": evaluation.scores,
            f"overlap ({counts['overlap']})": evaluation.subsets["overlap"],
            f"non-overlap ({counts['non_overlap']})": evaluation.subsets["non_overlap"],
        }
        return "\n".join(
            [
                f"gate: {evaluation.gate}",
                format_scores_table(rows),
                "",
                "per-class event-level F1 (dataset-level TP/FP/FN):",
                format_per_class_table(evaluation.per_class_event_f1, LLP_CLASSES),
            ]
        )


def dataset_filenames(dataset: BatchDataset) -> list[str]:
    split = getattr(dataset, "split", None)
    if split is None:
        raise TypeError("the dataset exposes no LLP split (filenames)")
    return list(split.filenames)
