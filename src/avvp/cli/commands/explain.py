"""``avvp explain CHECKPOINT --data ROOT --video NAME``: the qualitative figures for one video.

LEAP: the label-to-segment attention map per modality (as the LEAP paper's figures). MM-CSE: the
class-wise decoupled feature similarity map and the learned segment-wise class co-occurrence
(SECM attention), as in the MM-CSE paper. Every model: a timeline of ground truth vs prediction.
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = ("explain",)
HELP = "save the qualitative figures of a model for one video (attention maps, timelines)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="run folder (best model) or checkpoint")
    parser.add_argument("--data", type=Path, required=True, help="dataset root")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument(
        "--video", required=True, help="filename (e.g. 4YdbENYcIyE_23_33), video id, or index"
    )
    parser.add_argument("--out", type=Path, default=Path("figures"), help="output folder")
    parser.add_argument("--segment", type=int, help="MM-CSE maps at one segment (default: mean)")
    parser.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from avvp.config import drop_retired_keys, load_config
    from avvp.errors import DataError
    from avvp.models.outputs import predict_events
    from avvp.training.batching import to_device
    from avvp.training.checkpoint import load_checkpoint
    from avvp.training.distributed import resolve_device
    from avvp.training.llp_task import LLPTask
    from avvp.viz.timeline import plot_attention, plot_timelines

    from .eval import resolve_checkpoint

    prefix = resolve_checkpoint(args.checkpoint)
    device = resolve_device(args.device)
    model, sidecar = load_checkpoint(prefix, device=device)
    saved = drop_retired_keys(OmegaConf.create(sidecar["config"]), source=None)
    cfg = OmegaConf.merge(load_config(None), saved)
    dataset = LLPTask(cfg, args.data).dataset(args.split, train=False)  # type: ignore[arg-type]
    names = list(dataset.split.filenames)  # type: ignore[attr-defined]
    if args.video.isdigit() and int(args.video) < len(names):
        index = int(args.video)
    else:
        matches = [i for i, n in enumerate(names) if n == args.video or n[:11] == args.video]
        if not matches:
            raise DataError(
                f"{args.video!r} is not a video of the {args.split} split of {args.data}"
            )
        index = matches[0]
    name = names[index]
    batch = to_device(dataset.get_batch(np.array([index])), device)
    with torch.no_grad():
        output = model(batch)
    pred_a, pred_v = predict_events(output, gate=cfg.eval.gate)
    extras = {k: v.float().cpu() for k, v in output.extras.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    if "gt_audio" in batch:
        gt = {"audio": batch["gt_audio"].cpu().numpy(), "visual": batch["gt_visual"].cpu().numpy()}
        written.append(
            plot_timelines(
                args.out / f"{name}_timeline.png",
                names=[name],
                ground_truth=gt,
                predictions={
                    str(cfg.name): {"audio": pred_a.cpu().numpy(), "visual": pred_v.cpu().numpy()}
                },
            )
        )
    if "attention_audio" in extras:
        written.append(
            plot_attention(
                args.out / f"{name}_leap_attention.png",
                name=name,
                attention={m: extras[f"attention_{m}"][0].numpy() for m in ("audio", "visual")},
                ground_truth=(
                    {m: batch[f"gt_{m}"][0].cpu().numpy() for m in ("audio", "visual")}
                    if "gt_audio" in batch
                    else None
                ),
            )
        )
    if "cooccurrence_aa" in extras:
        from avvp.viz.mmcse import plot_cooccurrence, plot_decoupled_similarity

        written.append(
            plot_decoupled_similarity(
                extras, 0, args.out / f"{name}_mmcse_similarity.png", segment=args.segment
            )
        )
        written.append(
            plot_cooccurrence(
                extras, 0, args.out / f"{name}_mmcse_cooccurrence.png", segment=args.segment
            )
        )
    for path in written:
        print(path)
    return 0
