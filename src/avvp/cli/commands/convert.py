"""``avvp convert``: a reference (official) checkpoint -> an avvp checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND: tuple[str, ...] = ("convert",)
HELP = "convert an official HAN / MM-Pyramid / LEAP / MM-CSE checkpoint into an avvp checkpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from avvp.convert import ARCHES

    parser.add_argument(
        "--arch",
        required=True,
        choices=ARCHES,
        help="reference architecture: han_mmil (AVVP-ECCV20), mmpyr_mmil "
        "(MM_Pyramid), mmpyr_leap (LEAP), mmcse (MM-CSE)",
    )
    parser.add_argument("checkpoint", type=Path, help="the official .pt file")
    parser.add_argument(
        "out", type=Path, help="output folder (gets model.safetensors + model.json)"
    )
    parser.add_argument(
        "--label-embeddings",
        type=Path,
        default=None,
        metavar="PATH",
        help="mmpyr_leap only: the label embedding file the model was trained "
        "with (LEAP release llp_label_glove_embeddings.pt)",
    )
    parser.add_argument(
        "--heads",
        type=int,
        default=None,
        metavar="N",
        help="attention heads of the encoder (han_mmil: HAN, default 1; mmpyr_*: MM-Pyramid, "
        "the reference --mmp_head, default 8) or MM-CSE's SECM (the reference --nhead, default "
        "8); not recorded in the weights, so give what the checkpoint was trained with",
    )
    parser.add_argument(
        "--decoder-heads",
        type=int,
        default=None,
        metavar="N",
        help="mmpyr_leap only: attention heads of the LEAP blocks (the reference --avl_head, "
        "default 8)",
    )
    parser.add_argument(
        "--name", default=None, help="preset name stored in the sidecar (default: ARCH_reference)"
    )


def run(args: argparse.Namespace) -> int:
    from avvp.convert import convert_reference, feature_keys, read_reference_state_dict
    from avvp.errors import DataError
    from avvp.models.factory import build_model
    from avvp.models.label_embeddings import read_release_embeddings
    from avvp.training.checkpoint import save_checkpoint

    state = read_reference_state_dict(args.checkpoint)
    labels = None
    if args.label_embeddings is not None:
        if args.arch != "mmpyr_leap":
            raise DataError(f"--label-embeddings is only for --arch mmpyr_leap, not {args.arch}")
        labels = read_release_embeddings(args.label_embeddings)
    try:
        model_cfg, weights = convert_reference(
            args.arch,
            state,
            label_embeddings=labels,
            heads=args.heads,
            decoder_heads=args.decoder_heads,
        )
    except DataError as exc:
        raise DataError(f"{args.checkpoint}: {exc}") from None
    model = build_model(model_cfg)
    model.load_state_dict(weights, strict=True)
    name = args.name or f"{args.arch}_reference"
    weights_path, sidecar_path = save_checkpoint(
        args.out / "model",
        model=model,
        config={"name": name, "model": model_cfg, "data": {"features": feature_keys(model_cfg)}},
        metrics={},
        extra={"converted_from": {"arch": args.arch, "checkpoint": str(args.checkpoint)}},
    )
    print(f"wrote {weights_path} and {sidecar_path}")
    return 0
