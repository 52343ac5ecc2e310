"""``avvp data synth``: write a synthetic LLP dataset (official layout) from real LLP statistics."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

COMMAND: tuple[str, ...] = ("data", "synth")
HELP = "generate a synthetic LLP dataset (official layout, features, VALOR pseudo labels)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="dataset root to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--train",
        type=int,
        default=None,
        metavar="N",
        help="train videos (default 1600; real LLP 10000)",
    )
    parser.add_argument(
        "--val", type=int, default=None, metavar="N", help="val videos (default 200; real LLP 649)"
    )
    parser.add_argument(
        "--test",
        type=int,
        default=None,
        metavar="N",
        help="test videos (default 200; real LLP 1200)",
    )
    parser.add_argument("--pack", action="store_true", help="also write the packed layout")
    parser.add_argument(
        "--valor-plus-plus",
        action="store_true",
        help="also write VALOR++ CLAP (64, 768) and CLIP (10, 768) features",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="override a SynthConfig knob (repeatable), e.g. --set noise_scale=1.5",
    )
    parser.add_argument(
        "--stats",
        type=Path,
        default=None,
        help="LLP statistics JSON (default: the committed llp_stats.json)",
    )


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    from avvp.data.synth import SynthConfig
    from avvp.errors import ConfigError

    kinds = {f.name: f.type for f in dataclasses.fields(SynthConfig)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in kinds:
            known = ", ".join(sorted(kinds))
            raise ConfigError(f"--set {item!r}: expected KNOB=VALUE with KNOB one of: {known}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(f"--set {item!r}: {text!r} is not a number or true/false") from None
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if kinds[key] in ("float", float) and is_int:
            value = float(value)
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    from avvp.data.llp_stats import load_llp_stats
    from avvp.data.synth import SynthConfig, generate_synthetic_llp

    values = _parse_overrides(args.set)
    for flag, knob in (("train", "num_train"), ("val", "num_val"), ("test", "num_test")):
        if getattr(args, flag) is not None:
            values[knob] = getattr(args, flag)
    if args.valor_plus_plus:
        values["valor_plus_plus"] = True
    config = SynthConfig.from_dict(values, source="avvp data synth")
    stats = load_llp_stats(args.stats)
    out = generate_synthetic_llp(
        args.out, config=config, seed=args.seed, pack=args.pack, stats=stats
    )
    meta = json.loads((out / "synth_config.json").read_text(encoding="utf-8"))
    summary = meta["summary"]
    print(f"wrote synthetic LLP to {out}: {summary['videos']}")
    print(f"pseudo-label segment F1 vs ground truth: {summary['pseudo_label_segment_f1']}")
    return 0
