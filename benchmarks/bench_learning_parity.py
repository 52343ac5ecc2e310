"""Learning parity with the reference code: the same initial weights, the same synthetic batches
and the same optimizer give the same loss at every training step in avvp and in the reference.

    python benchmarks/bench_learning_parity.py --reference-han PATH/AVVP-ECCV20 \\
        --reference-leap PATH/LEAP [--steps 20] [--rtol 1e-4] [--threads 2]

For each model (HAN + MMIL from YapengTian/AVVP-ECCV20, MM-Pyr + LEAP from jasongief/LEAP; the
clones are imported at run time, never vendored):

1. the reference network is built as its training script builds it (seeded), and its initial
   state dict is converted into an avvp model with ``avvp.convert.convert_reference``;
2. N synthetic batches are drawn once (seeded) and fed to both sides;
3. the reference side runs its script's own ``train()`` (its loss code: label smoothing, L_avss
   with its x/(1+x)+0.01 target, the segment losses) for one pass over those N batches with
   ``torch.optim.Adam(lr)``; the loss of each step is read from the tensor its ``train()`` calls
   ``backward()`` on;
4. the avvp side runs the same N steps with the preset's loss recipe (``compute_parsing_loss``;
   ``loss.avss_target=reference`` for LEAP, the target of the reference code) and optimizer
   (``make_optimizer``: Adam, the same lr);
5. the per-step losses are compared with a relative tolerance; exit status 1 on a mismatch.

Dropout: the reference ``train()`` switches its model to training mode, so every ``nn.Dropout``
and ``nn.MultiheadAttention`` dropout probability of the reference model is set to 0 first; the
avvp model runs in eval mode (in avvp, training mode differs from eval mode only by dropout). Both
are then checked to be deterministic (two forward passes under different RNG states agree
exactly) before any step is taken.

LEAP's reference loss also adds BCE(hard OR gate, y), a constant without gradient; avvp logs it as
the ``global`` term without adding it, so it is added to avvp's total for the comparison.
The video-level pseudo labels the reference's dataset class hands to ``train()`` ("class present
in any segment") are built here from the segment pseudo labels, as that class builds them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.machinery
import importlib.util
import io
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from avvp.config import load_config
from avvp.convert import convert_reference
from avvp.models.factory import build_model
from avvp.training.llp_task import compute_parsing_loss
from avvp.training.trainer import make_optimizer
from bench_train_throughput import (
    _cuda_calls_stay_on_cpu,
    _import_reference,
    _reference_model,
    reference_train_args,
)

T, C, FRAMES, LABEL_DIM = 10, 25, 80, 300
# kind -> (reference script module, avvp preset, loss overrides, default batch size)
MODELS: dict[str, tuple[str, str, list[str], int]] = {
    "han_mmil": ("main_avvp", "han_mmil", [], 16),
    "mmpyr_leap": ("main_leap", "mmpyr_leap", ["loss.avss_target=reference"], 32),
}


@dataclass
class Batch:
    audio: Tensor
    frames: Tensor
    clips: Tensor
    label: Tensor
    pseudo_audio: Tensor
    pseudo_visual: Tensor


def synthetic_batches(steps: int, batch_size: int, seed: int) -> list[Batch]:
    """Features from N(0, 1); per video 1-3 audio and 1-3 visual classes, each present in a
    random run of segments; the weak label is the union (as in LLP)."""
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(steps):
        masks = []
        for _modality in range(2):
            mask = torch.zeros(batch_size, T, C)
            for b in range(batch_size):
                count = int(torch.randint(1, 4, (1,), generator=gen))
                for c in torch.randperm(C, generator=gen)[:count].tolist():
                    on = int(torch.randint(0, T, (1,), generator=gen))
                    off = int(torch.randint(on + 1, T + 1, (1,), generator=gen))
                    mask[b, on:off, c] = 1.0
            masks.append(mask)
        pa, pv = masks
        batches.append(
            Batch(
                audio=torch.randn(batch_size, T, 128, generator=gen),
                frames=torch.randn(batch_size, FRAMES, 2048, generator=gen),
                clips=torch.randn(batch_size, T, 512, generator=gen),
                label=torch.maximum(pa.amax(dim=1), pv.amax(dim=1)),
                pseudo_audio=pa,
                pseudo_visual=pv,
            )
        )
    return batches


def reference_sample(batch: Batch, label_embeddings: Tensor) -> dict[str, Tensor]:
    """What the reference DataLoaders yield (dataloader.py, dataloader_leap_add_label.py)."""
    return {
        "audio": batch.audio,
        "video_s": batch.frames,
        "video_st": batch.clips,
        "label": batch.label,
        "temporal_pa": batch.pseudo_audio,
        "temporal_pv": batch.pseudo_visual,
        # video-level pseudo labels: (segment labels summed over time != 0), as the dataset does
        "pa": (batch.pseudo_audio.sum(dim=1) != 0).float(),
        "pv": (batch.pseudo_visual.sum(dim=1) != 0).float(),
        "label_text_embed": label_embeddings.expand(batch.audio.shape[0], -1, -1),
    }


def avvp_batch(batch: Batch) -> dict[str, Tensor]:
    return {
        "audio": batch.audio,
        "frames": batch.frames,
        "clips": batch.clips,
        "label": batch.label,
        "pseudo_audio": batch.pseudo_audio,
        "pseudo_visual": batch.pseudo_visual,
    }


@dataclass
class Parity:
    """Per-step losses. ``*_trained``: the loss that carries gradients (for the reference, the
    value its ``train()`` backpropagates minus its gate term). ``*_gate``: LEAP's constant
    BCE(hard OR gate, y), empty for HAN."""

    ref_trained: list[float]
    ours_trained: list[float]
    ref_gate: list[float]
    ours_gate: list[float]


class _RecordingBCE(nn.BCELoss):
    """The reference scripts' ``criterion`` (``nn.BCELoss()``), recording each value it returns:
    LEAP's ``train()`` calls it for the audio, visual and gate terms, in that order."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[float] = []

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        loss = super().forward(input, target)
        self.values.append(float(loss.detach().double()))
        return loss


class _Loader:
    """The part of a DataLoader the reference ``train()`` touches: iteration and lengths."""

    def __init__(self, samples: list[dict[str, Tensor]]) -> None:
        self.samples, self.dataset = samples, samples

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        return iter(self.samples)


@contextlib.contextmanager
def _recorded_backward(losses: list[float]) -> Iterator[None]:
    """Record the value of every tensor ``backward()`` is called on: the reference ``train()``
    returns nothing and logs rounded values only."""
    original = torch.Tensor.backward

    def backward(self: Tensor, *args: Any, **kwargs: Any) -> None:
        losses.append(float(self.detach().double().sum()))
        original(self, *args, **kwargs)

    torch.Tensor.backward = backward  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.backward = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _pandas_stand_in() -> Iterator[None]:
    """The reference scripts import pandas at module level but ``train()`` never uses it; where
    pandas (not an avvp dependency) is absent, a module that fails loudly on any use stands in
    while they are imported (and only then: other importers probe for the real one)."""
    if importlib.util.find_spec("pandas") is not None:
        yield
        return
    stub = types.ModuleType("pandas")
    stub.__spec__ = importlib.machinery.ModuleSpec("pandas", None)

    def missing(name: str) -> Any:
        # AttributeError keeps hasattr() and inspect working on the stand-in.
        raise AttributeError(f"pandas.{name}: pandas is not installed (a stand-in module)")

    stub.__getattr__ = missing  # type: ignore[method-assign]
    sys.modules["pandas"] = stub
    try:
        yield
    finally:
        del sys.modules["pandas"]


def disable_dropout(model: nn.Module) -> int:
    """Set every dropout probability of a reference model to 0; returns how many were set."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
            count += 1
        elif isinstance(module, nn.MultiheadAttention):
            module.dropout = 0.0
            count += 1
    return count


def _flat_outputs(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, list | tuple):
        return [t for item in out for t in _flat_outputs(item)]
    if hasattr(out, "__dataclass_fields__"):
        return [t for name in out.__dataclass_fields__ for t in _flat_outputs(getattr(out, name))]
    return []


def check_deterministic(name: str, forward: Any) -> None:
    """Two forward passes under different RNG states must agree exactly (no live dropout)."""
    with torch.no_grad():
        torch.manual_seed(1)
        first = _flat_outputs(forward())
        torch.manual_seed(2)
        second = _flat_outputs(forward())
    if not first or any(not torch.equal(a, b) for a, b in zip(first, second, strict=True)):
        raise SystemExit(f"{name}: two forward passes differ: dropout is still active")


def run_parity(kind: str, repo: Path, *, steps: int, batch_size: int, seed: int) -> Parity:
    module_name, preset, loss_overrides, _ = MODELS[kind]
    with _cuda_calls_stay_on_cpu(), _pandas_stand_in():
        main = _import_reference(repo.resolve(), module_name)
    lr, args = reference_train_args(kind)
    args.log_interval = steps + 1  # its one log line (step 0) is swallowed below

    torch.manual_seed(seed)
    reference = _reference_model(kind, main)
    label_embeddings = torch.randn(C, LABEL_DIM, generator=torch.Generator().manual_seed(seed))
    config, state = convert_reference(
        kind,
        reference.state_dict(),
        label_embeddings=label_embeddings if kind == "mmpyr_leap" else None,
    )
    ours = build_model(config)
    ours.load_state_dict(state, strict=True)

    cfg = load_config(preset, [f"optim.lr={lr}", *loss_overrides])
    if cfg.optim.optimizer != "adam" or cfg.optim.weight_decay or cfg.optim.grad_clip:
        raise SystemExit(f"{preset}: expected plain Adam without weight decay or clipping")

    batches = synthetic_batches(steps, batch_size, seed)
    samples = [reference_sample(b, label_embeddings[None]) for b in batches]

    disable_dropout(reference)
    reference.train()
    ours.eval()
    probe = samples[0]
    with _cuda_calls_stay_on_cpu():
        if kind == "han_mmil":
            check_deterministic(
                "reference", lambda: reference(probe["audio"], probe["video_s"], probe["video_st"])
            )
        else:
            check_deterministic(
                "reference",
                lambda: reference(
                    probe["audio"], probe["video_s"], probe["video_st"], probe["label_text_embed"]
                ),
            )
    check_deterministic("avvp", lambda: ours(avvp_batch(batches[0])))

    ref_losses: list[float] = []
    optimizer = torch.optim.Adam(reference.parameters(), lr=lr)
    criterion = _RecordingBCE()
    with (
        _cuda_calls_stay_on_cpu(),
        _recorded_backward(ref_losses),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        main.train(args, reference, _Loader(samples), optimizer, criterion, epoch=1)
    if len(ref_losses) != steps or len(criterion.values) != 3 * steps:
        raise SystemExit(f"{kind}: the reference train() ran {len(ref_losses)} of {steps} steps")
    ref_gate = criterion.values[2::3] if kind == "mmpyr_leap" else []
    if ref_gate:
        ref_losses = [total - gate for total, gate in zip(ref_losses, ref_gate, strict=True)]

    ours_losses: list[float] = []
    ours_gate: list[float] = []
    ours_optimizer = make_optimizer(ours, cfg.optim)
    for batch in batches:
        ours_optimizer.zero_grad(set_to_none=True)
        loss, terms = compute_parsing_loss(ours(avvp_batch(batch)), avvp_batch(batch), cfg.loss)
        loss.backward()
        ours_optimizer.step()
        ours_losses.append(float(loss.detach().double()))
        if "global" in terms:  # logged, not added (no gradient)
            ours_gate.append(float(terms["global"].double()))
    return Parity(ref_losses, ours_losses, ref_gate, ours_gate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-han", type=Path, help="clone of YapengTian/AVVP-ECCV20")
    parser.add_argument("--reference-leap", type=Path, help="clone of jasongief/LEAP")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument(
        "--batch-size", type=int, help="videos per step (default: the recipe's, 16 / 32)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    repos = {"han_mmil": args.reference_han, "mmpyr_leap": args.reference_leap}
    if all(path is None for path in repos.values()):
        parser.error("give --reference-han and/or --reference-leap (paths to the clones)")
    for kind, path in repos.items():
        if path is not None and not (path / f"{MODELS[kind][0]}.py").is_file():
            print(f"error: {path}: no {MODELS[kind][0]}.py (not a clone of the {kind} reference)")
            raise SystemExit(2)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, float32, {args.steps} steps")

    failed = []
    for kind, path in repos.items():
        if path is None:
            continue
        batch_size = args.batch_size or MODELS[kind][3]
        result = run_parity(kind, path, steps=args.steps, batch_size=batch_size, seed=args.seed)
        print(f"\n{kind} (batch {batch_size})")
        header = f"{'step':>4}  {'reference loss':>15}  {'avvp loss':>15}  {'rel. diff':>9}"
        if result.ref_gate:
            header += f"  {'gate term ref.':>15}  {'gate term avvp':>15}  {'rel. diff':>9}"
        print(header)
        worst = {"loss": 0.0, "gate term": 0.0}
        for step in range(args.steps):
            pairs = [("loss", result.ref_trained[step], result.ours_trained[step])]
            if result.ref_gate:
                pairs.append(("gate term", result.ref_gate[step], result.ours_gate[step]))
            cells, flag = [f"{step + 1:>4}"], ""
            for name, r, o in pairs:
                rel = abs(o - r) / max(abs(r), 1e-12)
                worst[name] = max(worst[name], rel)
                cells.append(f"{r:>15.8f}  {o:>15.8f}  {rel:>9.2e}")
                flag = flag if rel <= args.rtol else "  MISMATCH"
            print("  ".join(cells) + flag)
        for name in ("loss", "gate term") if result.ref_gate else ("loss",):
            verdict = "ok" if worst[name] <= args.rtol else "MISMATCH"
            print(
                f"{kind} {name}: max relative difference {worst[name]:.2e} over {args.steps} "
                f"steps (rtol {args.rtol:g}): {verdict}"
            )
        if any(w > args.rtol for w in worst.values()):
            failed.append(kind)
    if failed:
        print(f"\nlosses differ beyond rtol {args.rtol:g}: {', '.join(failed)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
