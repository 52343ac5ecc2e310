"""``avvp train CONFIG [key=value ...] --data ROOT --out RUNS/`` (or ``--resume RUN``)."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = ("train",)
HELP = "train a model from a config preset on an LLP-layout dataset (official or packed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", nargs="?", help="preset name (configs/NAME.yaml) or YAML path; omit with --resume"
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=5")
    parser.add_argument("--data", type=Path, required=True, help="dataset root")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="folder for run folders")
    parser.add_argument("--resume", type=Path, help="continue this interrupted run folder")
    parser.add_argument(
        "--label-embeddings",
        type=Path,
        default=None,
        metavar="PATH",
        help="LEAP presets: the label embedding file (LEAP release llp_label_glove_embeddings.pt, "
        "or a GloVe text file for source glove); default: $AVVP_LABEL_EMBEDDINGS, then "
        "~/.cache/avvp/, then ./data/",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from avvp.training.runs import set_label_embeddings_path, training_config
    from avvp.training.trainer import fit

    overrides = list(args.overrides)
    config = args.config
    if config is not None and "=" in config:  # `avvp train --resume RUN key=value`
        overrides.insert(0, config)
        config = None
    cfg = training_config(config, overrides, resume=args.resume)
    if args.label_embeddings is not None:
        set_label_embeddings_path(cfg, args.label_embeddings)
    # Under torchrun, fit joins the process group and leaves it when it returns or fails.
    result = fit(
        cfg, data_root=args.data, out=args.out, resume=args.resume, progress=not args.no_progress
    )
    if not result.is_main:  # under torchrun only rank 0 reports
        return 0
    print(f"run folder: {result.run_dir}")
    print(f"best epoch {result.best_epoch}: {cfg.train.select} = {100 * result.best_score:.1f}")
    if result.test is not None:
        from avvp.metrics import format_scores_table

        subsets = result.test.get("subsets", {})
        rows = {"test": result.test["scores"], **{f"test/{k}": v for k, v in subsets.items()}}
        print(format_scores_table(rows))
    return 0
