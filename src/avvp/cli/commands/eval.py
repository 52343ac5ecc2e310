"""``avvp eval RUN_OR_CHECKPOINT --data ROOT --split test``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from avvp.errors import DataError
from avvp.jsonio import dumps_strict, write_json_strict

COMMAND = ("eval",)
HELP = "evaluate a run folder or checkpoint (LLP: the benchmark protocol; AVE: segment accuracy)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", type=Path, help="run folder (uses its best model) or checkpoint"
    )
    parser.add_argument("--data", type=Path, required=True, help="dataset root")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument(
        "--gate",
        choices=("pooled", "or", "modality", "mmcse"),
        help="LLP: video-level gate of the inference rule (default: the model's own; "
        "mmcse = the MM-CSE code's gating: visual by the visual-only video probability)",
    )
    parser.add_argument("--out", type=Path, help="folder for report.json and predictions")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default="auto")


def resolve_checkpoint(path: Path) -> Path:
    """A run folder's best checkpoint, or the prefix of a checkpoint file pair."""
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best", path / "model", path / "best"):
            if candidate.with_suffix(".json").is_file():
                return candidate
        raise DataError(
            f"{path}: no checkpoint found (expected checkpoints/best.json or model.json)"
        )
    prefix = path.with_suffix("") if path.suffix in (".json", ".safetensors") else path
    if not prefix.with_suffix(".json").is_file():
        raise DataError(
            f"{path}: not a checkpoint (no {prefix.with_suffix('.json').name} beside it)"
        )
    return prefix


def run(args: argparse.Namespace) -> int:
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from avvp.config import drop_retired_keys, load_config
    from avvp.errors import ConfigError
    from avvp.tasks import build_task
    from avvp.training.checkpoint import load_checkpoint
    from avvp.training.distributed import resolve_device

    prefix = resolve_checkpoint(args.checkpoint)
    device = resolve_device(args.device)
    model, sidecar = load_checkpoint(prefix, device=device)
    overrides = []
    if args.gate:
        overrides.append(f"eval.gate={args.gate}")
    if args.batch_size:
        overrides.append(f"train.eval_batch_size={args.batch_size}")
    try:
        cfg = OmegaConf.merge(
            load_config(None),
            drop_retired_keys(OmegaConf.create(sidecar["config"]), source=None),
            OmegaConf.from_dotlist(overrides),
        )
    except OmegaConfBaseException as exc:
        raise ConfigError(
            f"{prefix}.json: its config does not fit this avvp version ({exc})"
        ) from None
    assert isinstance(cfg, DictConfig)
    task = build_task(cfg, args.data)
    dataset = task.dataset(args.split, train=False)
    evaluation = task.evaluate(model, dataset, device=device, env=None, keep_predictions=True)
    out = args.out or (
        args.checkpoint / f"eval-{args.split}"
        if args.checkpoint.is_dir()
        else prefix.parent / f"eval-{args.split}"
    )
    report: dict[str, Any] = task.write_report(evaluation, dataset, out, args.split)
    report["checkpoint"] = str(prefix)
    write_json_strict(out / "report.json", report)
    if args.json:
        print(dumps_strict(report))
        return 0
    print(f"{prefix} on the {args.split} split ({len(dataset)} videos)")
    print(task.summary(evaluation))
    print(f"\nreport and predictions: {out}")
    return 0
