"""Training throughput (videos per second) of avvp's trainer step, optionally against the
reference implementations run on the same machine.

    python benchmarks/bench_train_throughput.py --threads 2
    python benchmarks/bench_train_throughput.py --threads 2 \
        --reference-han PATH/AVVP-ECCV20 --reference-leap PATH/LEAP

avvp side: the packed synthetic dataset (frames pre-averaged per segment), whole-batch reads,
the trainer's loss recipe and optimizer, one host sync per epoch. Presets: HAN+MMIL (HAN recipe,
batch 16) and MM-Pyr+LEAP (LEAP recipe with L_avss, batch 32), learnable label queries in place of
the GloVe file (same shapes and compute).

Reference side (only with the paths to clones of the reference repositories, imported at run time,
never vendored): its model classes, its per-video .npy loading through a DataLoader (as its
dataset classes do), the same losses, Adam. Both sides train in float32 on the same threads.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from avvp.config import load_config
from avvp.data.synth import SynthConfig, generate_synthetic_llp
from avvp.training.distributed import DistEnv
from avvp.training.trainer import EpochBatches, build_task, make_optimizer

PRESETS = {
    "han_mmil": (["train.batch_size=16"], 16),
    "mmpyr_leap": (
        [
            "train.batch_size=32",
            "model.decoder.label_embeddings.source=learnable",
            "model.decoder.label_embeddings.dim=300",
        ],
        32,
    ),
    # MM-CSE on VALOR++ features (its recipe's batch 64); no reference comparison here.
    "mmcse": (["train.batch_size=64"], 64),
}


def time_steps(step: Callable[[], None], *, warmup: int, steps: int) -> float:
    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - started


def avvp_throughput(
    preset: str, root: Path, *, steps: int, device: torch.device, bf16: bool = False
) -> float:
    overrides, batch_size = PRESETS[preset]
    precision = [f"train.amp={bf16}", f"train.cpu_amp={bf16}"]
    cfg = load_config(preset, [*overrides, *precision])
    if preset == "mmpyr_leap":
        cfg.model.decoder.label_embeddings.pop("path", None)
    task = build_task(cfg, root)
    dataset = task.dataset("train", train=True)
    torch.manual_seed(0)
    model = task.build_model().to(device).train()
    optimizer = make_optimizer(model, cfg.optim)
    env = DistEnv(0, 1, 0, device)
    batches = iter(
        [
            b
            for e in range(1, 100)
            for b in EpochBatches(len(dataset), global_batch=batch_size, seed=0, env=env).epoch(e)
        ]
    )
    total = torch.zeros((), device=device)

    def step() -> None:
        nonlocal total
        batch = {k: v.to(device) for k, v in dataset.get_batch(next(batches)).items()}
        optimizer.zero_grad(set_to_none=True)
        loss, _ = task.loss(model, batch)
        loss.backward()
        optimizer.step()
        total = total + loss.detach()

    seconds = time_steps(step, warmup=3, steps=steps)
    float(total)  # the one host sync, as at the end of an epoch
    return steps * batch_size / seconds


class PerVideoFiles(Dataset[dict[str, Any]]):
    """What the reference dataset classes do: three np.load calls per video, labels beside."""

    def __init__(self, root: Path, pseudo: bool) -> None:
        from avvp.data.llp import load_split

        split = load_split(root, "train")
        self.root, self.ids, self.labels, self.pseudo = root, split.video_ids, split.labels, pseudo

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        name = self.ids[i]
        item = {
            "audio": np.load(self.root / "feats/vggish" / f"{name}.npy"),
            "video_s": np.load(self.root / "feats/res152" / f"{name}.npy"),
            "video_st": np.load(self.root / "feats/r2plus1d_18" / f"{name}.npy"),
            "label": self.labels[i],
        }
        if self.pseudo:
            item["pa"] = np.load(self.root / "CLAP/segment_pseudo_labels" / f"{name}.npy")
            item["pv"] = np.load(self.root / "CLIP/segment_pseudo_labels" / f"{name}.npy")
        return item


def _bce(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), y.float())


def reference_throughput(kind: str, repo: Path, root: Path, *, steps: int) -> float:
    # Both repositories name their package `nets`: forget the other one's modules first.
    for name in [m for m in sys.modules if m == "nets" or m.startswith("nets.")]:
        del sys.modules[name]
    sys.path.insert(0, str(repo))
    try:
        if kind == "han_mmil":
            model: torch.nn.Module = importlib.import_module("nets.net_audiovisual").MMIL_Net()
            batch_size, pseudo = 16, False
        else:
            module = importlib.import_module("main_network_temporal_add_label")
            model = module.AVVPNet(8, 8, 512, 512, [512] * 4, 300, 2, 2)
            batch_size, pseudo = 32, True
    finally:
        sys.path.pop(0)
    torch.manual_seed(0)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loader = DataLoader(
        PerVideoFiles(root, pseudo),
        batch_size=batch_size,
        shuffle=True,
        num_workers=0,
        drop_last=True,
    )
    label_embed = torch.randn(batch_size, 25, 300)

    def batches() -> Any:
        while True:
            yield from loader

    stream = batches()

    def step() -> None:
        sample = next(stream)
        audio, video, st = sample["audio"], sample["video_s"], sample["video_st"]
        y = sample["label"].float()
        optimizer.zero_grad()
        if kind == "han_mmil":
            out, a_prob, v_prob, _ = model(audio, video, st)
            loss = _bce(a_prob, y) + _bce(v_prob, 0.9 * y + 0.05) + _bce(out, y)
        else:
            pa, pv = sample["pa"].float(), sample["pv"].float()
            out, a_prob, v_prob, a_frame, v_frame, a_fea, v_fea, _, _ = model(
                audio, video, st, label_embed
            )
            ya, yv = (pa.amax(1) > 0).float(), (pv.amax(1) > 0).float()
            loss = _bce(a_prob, ya) + _bce(v_prob, yv) + _bce(out, y)
            loss = loss + _bce(a_frame, pa) + _bce(v_frame, pv)
            # L_avss as the reference computes it (its own function hard-codes CUDA).
            most = torch.maximum(pa.sum(-1).amax(-1), pv.sum(-1).amax(-1)).clamp_min(1e-8)
            target = (
                torch.sigmoid(torch.log(torch.bmm(pa, pv.transpose(1, 2)) / most[:, None, None]))
                + 0.01
            )
            sim = torch.bmm(F.normalize(a_fea, dim=-1), F.normalize(v_fea, dim=-1).transpose(1, 2))
            loss = loss + F.mse_loss(F.relu(sim), target)
        loss.backward()
        optimizer.step()

    # The reference builds its banded attention masks with `.cuda()`; on a CPU-only machine
    # that call is made a no-op for the duration of the measurement (its code is not changed).
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    try:
        seconds = time_steps(step, warmup=3, steps=steps)
    finally:
        torch.Tensor.cuda = cuda  # type: ignore[method-assign]
    return steps * batch_size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--videos", type=int, default=800, help="synthetic training videos")
    parser.add_argument(
        "--root", type=Path, help="reuse a synthetic dataset root (else a temp dir)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--presets", nargs="+", default=["han_mmil", "mmpyr_leap"], choices=list(PRESETS)
    )
    parser.add_argument("--reference-han", type=Path, help="clone of YapengTian/AVVP-ECCV20")
    parser.add_argument("--reference-leap", type=Path, help="clone of jasongief/LEAP")
    parser.add_argument(
        "--bf16", action="store_true", help="also time avvp with bf16 mixed precision (cpu_amp)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp) / "synth"
        vpp = "mmcse" in args.presets
        if not (root / "packed" / "manifest.json").is_file():
            print(f"generating {args.videos} synthetic videos in {root} ...", flush=True)
            config = SynthConfig(
                num_train=args.videos, num_val=16, num_test=16, valor_plus_plus=vpp
            )
            generate_synthetic_llp(root, config=config, seed=0, pack=True)
        elif vpp and not (root / "CLAP" / "features").is_dir():
            raise SystemExit(f"{root} has no VALOR++ features for mmcse: use another --root")
        print(f"torch {torch.__version__}, {args.threads} threads, device {device}")
        references = {"han_mmil": args.reference_han, "mmpyr_leap": args.reference_leap}
        for preset in args.presets:
            ours = avvp_throughput(preset, root, steps=args.steps, device=device)
            line = f"{preset:<11} avvp fp32 {ours:7.1f} videos/s"
            ref = None
            repo = references.get(preset)
            if repo is not None and device.type == "cpu":
                ref = reference_throughput(preset, repo, root, steps=args.steps)
                line += f"   reference fp32 {ref:7.1f} videos/s   ratio {ours / ref:.2f}x"
            print(line, flush=True)
            if args.bf16:
                fast = avvp_throughput(preset, root, steps=args.steps, device=device, bf16=True)
                line = f"{preset:<11} avvp bf16 mixed precision {fast:7.1f} videos/s"
                if ref is not None:
                    line += f"   ratio to reference fp32 {fast / ref:.2f}x"
                print(line, flush=True)


if __name__ == "__main__":
    main()
