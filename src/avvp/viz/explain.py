"""The qualitative figures of a trained model for one video (``avvp explain``).

Every model: a timeline of ground truth vs prediction. LEAP: the label-to-segment attention map
per modality. MM-CSE: the class-wise decoupled feature similarity map and the learned
segment-wise class co-occurrence (SECM attention).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from avvp.errors import DataError


def find_video(names: Sequence[str], video: str, *, split: str, data_root: Path) -> int:
    """The index in ``names`` of ``video``: an index, a filename, or a YouTube id (the first 11
    characters of a filename); the first match wins."""
    if video.isdigit() and int(video) < len(names):
        return int(video)
    matches = [i for i, n in enumerate(names) if n == video or n[:11] == video]
    if not matches:
        raise DataError(f"{video!r} is not a video of the {split} split of {data_root}")
    return matches[0]


def explain_video(
    checkpoint: Path,
    *,
    data_root: Path,
    video: str,
    out: Path,
    split: str = "test",
    segment: int | None = None,
    device: str = "auto",
) -> list[Path]:
    """Write the figures of the model of ``checkpoint`` (a run folder or checkpoint) for
    ``video`` of ``split`` into ``out``; return their paths. ``segment``: the MM-CSE maps at one
    segment (default: their mean over the segments)."""
    import numpy as np
    import torch

    from avvp.models.outputs import predict_events
    from avvp.training.batching import to_device
    from avvp.training.llp_task import LLPTask
    from avvp.training.runs import open_checkpoint
    from avvp.viz.timeline import plot_attention, plot_timelines

    opened = open_checkpoint(checkpoint, device=device)
    model, cfg = opened.model, opened.config
    dataset = LLPTask(cfg, data_root).dataset(split, train=False)
    names = list(dataset.split.filenames)  # type: ignore[attr-defined]
    index = find_video(names, video, split=split, data_root=data_root)
    name = names[index]
    batch = to_device(dataset.get_batch(np.array([index])), opened.device)
    with torch.no_grad():
        output = model(batch)
    pred_a, pred_v = predict_events(output, gate=cfg.eval.gate)
    extras = {k: v.float().cpu() for k, v in output.extras.items()}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if "gt_audio" in batch:
        gt = {"audio": batch["gt_audio"].cpu().numpy(), "visual": batch["gt_visual"].cpu().numpy()}
        written.append(
            plot_timelines(
                out / f"{name}_timeline.png",
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
                out / f"{name}_leap_attention.png",
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
                extras, 0, out / f"{name}_mmcse_similarity.png", segment=segment
            )
        )
        written.append(
            plot_cooccurrence(extras, 0, out / f"{name}_mmcse_cooccurrence.png", segment=segment)
        )
    return written
