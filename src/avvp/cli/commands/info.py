"""``avvp info CONFIG [key=value ...] [--json]``: parameter counts and FLOPs of a preset."""

from __future__ import annotations

import argparse
import json

COMMAND = ("info",)
HELP = "parameter counts (live, as the forward pass uses them) and forward FLOPs of a config"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="preset name (configs/NAME.yaml) or YAML path")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--no-flops", action="store_true", help="skip the FLOP count")


def run(args: argparse.Namespace) -> int:
    from avvp.config import load_config
    from avvp.training.describe import describe

    cfg = load_config(args.config, args.overrides)
    info = describe(cfg, flops=not args.no_flops)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['name']}: parameters (live, used by the forward pass)")
    for key, value in info["params"].items():
        print(f"  {key:<12} {value:>14,}")
    if "flops_per_video" in info:
        print("forward FLOPs per video (2 per multiply-add)")
        for key, value in info["flops_per_video"].items():
            print(f"  {key:<12} {value / 1e6:>12,.1f} M")
    return 0
