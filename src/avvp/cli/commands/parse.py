"""``avvp parse VIDEO``: a timeline of audio, visual and audio-visual events in one video."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from avvp.errors import ConfigError

if TYPE_CHECKING:
    from avvp.parse import ParseResult
    from avvp.video.decode import DecodedVideo

COMMAND: tuple[str, ...] = ("parse",)
HELP = "parse a video into audio / visual / audio-visual events (zero-shot or a trained model)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="a video file")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--zero-shot",
        action="store_true",
        help="offline teachers: YAMNet (audio, needs --yamnet) and EfficientNet-Lite0 (visual)",
    )
    mode.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="a trained avvp checkpoint prefix (<prefix>.safetensors + <prefix>.json)",
    )
    parser.add_argument("--yamnet", type=Path, default=None, help="yamnet.tflite (zero-shot)")
    parser.add_argument(
        "--efficientnet-weights",
        type=Path,
        default=None,
        help="EfficientNet-Lite0 weights (default: the packaged ImageNet weights)",
    )
    parser.add_argument("--thresholds", type=Path, default=None, help="per-class JSON/YAML")
    parser.add_argument(
        "--weights",
        nargs="+",
        metavar="NAME=PATH",
        default=None,
        help="extractor weights for --checkpoint: vggish=, vggish_pca=, res152=, r2plus1d_18=",
    )
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="event threshold for --checkpoint models"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="write events as JSON ('-': stdout)"
    )
    parser.add_argument("--tsv", type=Path, default=None, help="write events as LLP-eval TSV")
    parser.add_argument("--plot", type=Path, default=None, help="write a classes x seconds PNG")
    parser.add_argument("--quiet", action="store_true", help="do not print the timeline")


def run(args: argparse.Namespace) -> int:
    from avvp.video.decode import decode_video

    if args.zero_shot:
        if args.yamnet is None:
            raise ConfigError("--zero-shot needs the YAMNet TFLite file: --yamnet PATH")
        result = _zero_shot(args, decode_video(args.video))
    else:
        result = _with_checkpoint(args, decode_video(args.video))
    if args.json is not None and str(args.json) == "-":
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if not args.quiet:
            print(result.timeline())
        if args.json is not None:
            result.write_json(args.json)
    if args.tsv is not None:
        result.write_tsv(args.tsv)
    if args.plot is not None:
        result.plot(args.plot)
    return 0


def _zero_shot(args: argparse.Namespace, video: DecodedVideo) -> ParseResult:
    from avvp.parse import parse_zero_shot
    from avvp.pseudo.labels import Thresholds, load_thresholds
    from avvp.pseudo.teachers import ImageNetTeacher, YAMNetTeacher

    thresholds = load_thresholds(args.thresholds) if args.thresholds else Thresholds.default()
    return parse_zero_shot(
        video,
        audio_teacher=YAMNetTeacher(args.yamnet),
        visual_teacher=ImageNetTeacher(weights=args.efficientnet_weights),
        thresholds=thresholds,
        method="zero-shot (YAMNet audio, EfficientNet-Lite0 visual)",
    )


def _with_checkpoint(args: argparse.Namespace, video: DecodedVideo) -> ParseResult:
    from avvp.extractors.factory import parse_weights
    from avvp.parse import parse_with_model
    from avvp.training.checkpoint import load_checkpoint
    from avvp.training.runs import checkpoint_feature_keys, feature_extractors

    model, sidecar = load_checkpoint(args.checkpoint)
    keys = checkpoint_feature_keys(sidecar, source=args.checkpoint)
    extractors = feature_extractors(keys, weights=parse_weights(args.weights))
    return parse_with_model(
        video,
        model=model,
        feature_keys=keys,
        extractors=extractors,
        threshold=args.threshold,
        method=f"model {args.checkpoint}",
    )
