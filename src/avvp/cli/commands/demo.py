"""``avvp demo``: the whole pipeline on generated data, in minutes on a CPU."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = ("demo",)
HELP = (
    "generate a synthetic LLP dataset (cached), train MMIL and LEAP (or MM-CSE) on one encoder, "
    "and compare them on its test split with figures"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--method",
        default="leap",
        choices=("leap", "mmcse", "all"),
        help="leap: MMIL vs LEAP (default); mmcse: MMIL vs MM-CSE; all: the three",
    )
    parser.add_argument("--task", default="llp", choices=("llp", "ave"))
    parser.add_argument(
        "--encoder", default="han", help="LLP: han | mmpyramid; AVE: ave | psp | cmbs"
    )
    parser.add_argument("--out", type=Path, default=Path("runs"), help="where the demo folder goes")
    parser.add_argument("--cache", type=Path, help="synthetic data cache (default ~/.cache/avvp)")
    parser.add_argument("--epochs", type=int, help="epochs per model (default: the demo presets')")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="synthetic data seed and first training seed (default 0)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="training seeds per method (seed, seed+1, ...), reported as mean ± std (default 3; "
        "LLP only)",
    )
    parser.add_argument(
        "--train",
        type=int,
        default=None,
        help="synthetic training videos (default 2000; 600 when MM-CSE is trained, whose "
        "forward pass costs ~10x HAN+MMIL's, to stay within minutes on a CPU)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        help="trainings run at once, one thread each (default 2, 1 on a one-core machine; "
        "1 trains one after the other with torch's default threads)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16"),
        help="auto (default): bf16 mixed precision on CUDA and on CPUs with native bf16 units "
        "(about 2x faster there), float32 on other CPUs; fp32; bf16 (LLP only)",
    )
    parser.add_argument("--val", type=int, default=300)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every model")


def run(args: argparse.Namespace) -> int:
    if args.task == "ave":
        from avvp.ave.demo import run_ave_demo

        encoder = args.encoder if args.encoder != "han" else "psp"
        run_ave_demo(
            args.out,
            encoder=encoder,
            epochs=args.epochs or 10,
            seed=args.seed,
            progress=not args.no_progress,
        )
        return 0
    from avvp.demo import DemoSizes, run_demo

    methods = {
        "leap": ("mmil", "leap"),
        "mmcse": ("mmil", "mmcse"),
        "all": ("mmil", "leap", "mmcse"),
    }
    run_demo(
        out=args.out,
        methods=methods[args.method],
        encoder=args.encoder,
        cache=args.cache,
        sizes=DemoSizes(
            train=args.train or (600 if args.method in ("mmcse", "all") else 2000),
            val=args.val,
            test=args.test,
        ),
        seed=args.seed,
        seeds=args.seeds,
        jobs=args.jobs,
        precision=args.precision,
        epochs=args.epochs,
        overrides=tuple(args.overrides),
        progress=not args.no_progress,
    )
    return 0
