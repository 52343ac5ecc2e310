"""Training throughput (videos per second) of avvp's trainer step, optionally against the
reference implementations run on the same machine.

    python benchmarks/bench_train_throughput.py --threads 2 --bf16
    python benchmarks/bench_train_throughput.py --threads 2 --bf16 \
        --reference-han PATH/AVVP-ECCV20 --reference-leap PATH/LEAP

avvp side: the packed synthetic dataset (frames pre-averaged per segment), whole-batch reads,
the trainer's loss recipe and optimizer, one host sync per epoch. Presets: HAN+MMIL (HAN recipe,
batch 16) and MM-Pyr+LEAP (LEAP recipe with L_avss, batch 32), learnable label queries in place of
the GloVe file (same shapes and compute).

Reference side (only with the paths to clones of the reference repositories, imported at run time,
never vendored), two ways (``--reference-loader``):
- ``own``: the reference script's own ``train()`` function, dataset class and DataLoader settings
  (pandas rows, per-item ``np.load``, LEAP's per-item ``torch.load`` of the label embeddings,
  12 workers, its loss code and logging), on the official per-video layout. Needs ``pandas<3``
  (not an avvp dependency). Their ``.to('cuda')`` calls are made no-ops for the measurement.
- ``lean``: their model classes and losses fed by a minimal per-video loader in the main process
  (a stricter baseline than their own loaders).
Both sides train in float32 on the same threads.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import io
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from avvp.config import load_config
from avvp.data.synth import SynthConfig, generate_synthetic_llp
from avvp.tasks import build_task
from avvp.training.distributed import DistEnv
from avvp.training.trainer import EpochBatches, make_optimizer

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


def _reference_model(kind: str, module: Any) -> torch.nn.Module:
    """The reference network from its imported module (MMIL_Net, or AVVPNet with the arguments
    of run_leap_train.sh: 8 + 8 heads, width 512, FF 512, 4 levels, GloVe 300, 2 + 2 blocks)."""
    if kind == "han_mmil":
        model: torch.nn.Module = module.MMIL_Net()
    else:
        model = module.AVVPNet(8, 8, 512, 512, [512] * 4, 300, 2, 2)
    return model


def reference_train_args(kind: str) -> tuple[float, argparse.Namespace]:
    """The learning rate and the ``args`` of the reference script's ``train()`` for ``kind``:
    main_avvp.py defaults for HAN, run_leap_train.sh for LEAP (segment and L_avss losses on,
    weights 1, pseudo labels, eps 0.01)."""
    if kind == "han_mmil":
        return 3e-4, argparse.Namespace(log_interval=50)
    return 1e-4, argparse.Namespace(
        log_interval=50,
        temporal_v_loss_flag=True,
        temporal_a_loss_flag=True,
        loss_temporal_wei=1.0,
        avss_loss_flag=True,
        loss_avss_wei=1.0,
        use_pseudo_label=True,
        eps=0.01,
    )


def reference_throughput(kind: str, repo: Path, root: Path, *, steps: int) -> float:
    """The reference models and losses fed by a lean per-video loader (no pandas, no per-item
    label-embedding load, no worker processes): a stricter baseline than the references' own."""
    module = "nets.net_audiovisual" if kind == "han_mmil" else "main_network_temporal_add_label"
    model = _reference_model(kind, _import_reference(repo, module))
    batch_size, pseudo = PRESETS[kind][1], kind != "han_mmil"
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

    with _cuda_calls_stay_on_cpu():
        seconds = time_steps(step, warmup=3, steps=steps)
    return steps * batch_size / seconds


class _TimedLoader:
    """Wraps the reference DataLoader: same iteration, plus a timestamp for every batch handed out,
    so the steady state can be timed without the worker start-up of the first batches."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        self.loader, self.dataset, self.stamps = loader, loader.dataset, list[float]()

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Any:
        for batch in self.loader:
            self.stamps.append(time.perf_counter())
            yield batch


@contextlib.contextmanager
def _cuda_calls_stay_on_cpu() -> Any:
    """The reference scripts move every tensor with `.to('cuda')` / `.cuda()`; on a CPU-only
    machine those calls return the tensor itself for the duration of the measurement."""
    to, cuda = torch.Tensor.to, torch.Tensor.cuda

    def to_cpu(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        target = args[0] if args else kwargs.get("device")
        if isinstance(target, str | torch.device) and str(target).startswith("cuda"):
            return self
        return to(self, *args, **kwargs)

    torch.Tensor.to = to_cpu  # type: ignore[method-assign,assignment]
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.to, torch.Tensor.cuda = to, cuda  # type: ignore[method-assign]


def _import_reference(repo: Path, module: str) -> Any:
    # Both repositories name their packages `nets` and `utils`: forget the other one's first.
    for name in [m for m in sys.modules if m.split(".")[0] in {"nets", "utils", "dataloader"}]:
        del sys.modules[name]
    try:
        importlib.import_module("torchvision.transforms")
        importlib.import_module("torchvision.utils")
    except Exception:
        # The reference scripts import torchvision only for transforms.Compose; the PyPI
        # torchvision does not load beside a local torch build, so provide that one class.
        stub = types.ModuleType("torchvision")
        transforms = types.ModuleType("torchvision.transforms")
        utils = types.ModuleType("torchvision.utils")

        class Compose:
            def __init__(self, steps: list[Callable[[Any], Any]]) -> None:
                self.steps = steps

            def __call__(self, x: Any) -> Any:
                for f in self.steps:
                    x = f(x)
                return x

        transforms.Compose = Compose  # type: ignore[attr-defined]
        stub.transforms, stub.utils = transforms, utils  # type: ignore[attr-defined]
        sys.modules.update(
            {"torchvision": stub, "torchvision.transforms": transforms, "torchvision.utils": utils}
        )
    sys.path.insert(0, str(repo))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.pop(0)


def _reference_workdir(tmp: str, root: Path) -> Path:
    """LEAP's dataset reads pseudo labels from ../data/{CLAP,CLIP}: ``tmp/data`` links to the
    dataset root and the scripts run from ``tmp/run``."""
    Path(tmp, "data").symlink_to(root.resolve(), target_is_directory=True)
    run = Path(tmp, "run")
    run.mkdir()
    return run


def reference_own_loader_throughput(
    kind: str, repo: Path, root: Path, *, steps: int, warmup: int = 3
) -> float:
    """One epoch of the reference's own `train()` function with its own dataset class and
    DataLoader settings (pandas rows, per-item np.load, LEAP's per-item torch.load of the label
    embeddings, 12 workers, its loss code and logging), timed from the batch after `warmup`."""
    repo = repo.resolve()  # the scripts run from another directory
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(_reference_workdir(tmp, root)):
        main = _import_reference(repo, "main_avvp" if kind == "han_mmil" else "main_leap")
        model = _reference_model(kind, main)
        batch_size = PRESETS[kind][1]
        # The official per-video layout, as the scripts' default paths name it.
        layout = {
            "label": "../data/AVVP_train.csv",
            "audio_dir": "../data/feats/vggish/",
            "video_dir": "../data/feats/res152/",
            "st_dir": "../data/feats/r2plus1d_18/",
            "transform": main.transforms.Compose([main.ToTensor()]),
        }
        lr, args = reference_train_args(kind)
        if kind == "han_mmil":
            dataset = main.LLP_dataset(**layout)
        else:
            dataset = main.LLP_dataset(
                **layout,
                dataset_label_embedding_dir=str(
                    repo / "glove/6B/300d/llp_label_glove_embeddings.pt"
                ),
                word_embedding_dim=300,
                v_pseudo_flag=True,
                a_pseudo_flag=True,
            )
        needed = (warmup + steps) * batch_size
        if len(dataset) < needed:
            raise SystemExit(f"--videos must be at least {needed} for {steps} timed steps")
        dataset.df = dataset.df.iloc[:needed].reset_index(drop=True)
        dataset.filenames = dataset.df["filename"]
        torch.manual_seed(0)
        loader = _TimedLoader(
            DataLoader(
                dataset, batch_size=batch_size, shuffle=True, num_workers=12, pin_memory=True
            )
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        with _cuda_calls_stay_on_cpu(), contextlib.redirect_stdout(io.StringIO()):
            main.train(args, model, loader, optimizer, torch.nn.BCELoss(), epoch=1)
            ended = time.perf_counter()
    return steps * batch_size / (ended - loader.stamps[warmup])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--repeats", type=int, default=3, help="interleaved measurement rounds (medians reported)"
    )
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
        "--reference-loader",
        choices=["own", "lean", "both"],
        default="both",
        help="own: the references' train() with their own dataset classes and DataLoader "
        "settings (needs pandas<3); lean: their models and losses fed by a minimal loader",
    )
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
        loaders = ["own", "lean"] if args.reference_loader == "both" else [args.reference_loader]
        if "own" in loaders and importlib.util.find_spec("pandas") is None:
            if args.reference_loader == "own":
                raise SystemExit(
                    "the references' own loaders need pandas<3 (pip install 'pandas<3'); it is "
                    "not an avvp dependency. Use --reference-loader lean to skip them."
                )
            print("pandas is not installed: the references' own loaders are skipped (lean only)")
            loaders = ["lean"]
        for preset in args.presets:
            repo = references.get(preset)
            measure: dict[str, Callable[[], float]] = {
                "avvp fp32": functools.partial(
                    avvp_throughput, preset, root, steps=args.steps, device=device
                )
            }
            if args.bf16:
                measure["avvp bf16 mixed precision"] = functools.partial(
                    avvp_throughput, preset, root, steps=args.steps, device=device, bf16=True
                )
            if repo is not None and device.type == "cpu":
                for loader in loaders:
                    timer = (
                        reference_own_loader_throughput
                        if loader == "own"
                        else (reference_throughput)
                    )
                    measure[f"reference fp32, {loader} loader"] = functools.partial(
                        timer, preset, repo, root, steps=args.steps
                    )
            # Rounds interleave the variants so that drifts of the machine hit all of them;
            # ratios are taken within a round, then the median over rounds is reported.
            rounds: list[dict[str, float]] = []
            for r in range(args.repeats):
                rounds.append({name: f() for name, f in measure.items()})
                cells = "   ".join(f"{name} {v:.1f}" for name, v in rounds[-1].items())
                print(f"{preset:<11} round {r + 1}: {cells} videos/s", flush=True)
            for name in measure:
                values = [rd[name] for rd in rounds]
                print(
                    f"{preset:<11} {name:<29} median {statistics.median(values):7.1f} videos/s"
                    f"  (range {min(values):.1f}-{max(values):.1f})",
                    flush=True,
                )
            for ref_name in [n for n in measure if n.startswith("reference")]:
                for ours_name in [n for n in measure if n.startswith("avvp")]:
                    ratios = [rd[ours_name] / rd[ref_name] for rd in rounds]
                    print(
                        f"{preset:<11} {ours_name} / {ref_name}: median "
                        f"{statistics.median(ratios):.2f}x  (range {min(ratios):.2f}-"
                        f"{max(ratios):.2f}x)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
