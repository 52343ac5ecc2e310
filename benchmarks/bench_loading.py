"""Epoch time of the official per-video layout vs the packed (memmap) layout.

Writes an official-layout LLP root (``--videos`` train videos with random features of the
official shapes: vggish, res152, r2plus1d_18, plus VALOR pseudo labels), packs it, then times a
shuffled epoch (batch size 32) of ``make_loader`` over each layout, with ``num_workers`` 0 and
``--workers`` (the second of two epochs is timed, so worker start-up is excluded). Prints
seconds per epoch and the official / packed ratio, with and without the res152 frames, which
dominate the bytes moved. The packed frames are stored averaged per segment (``--frame-pool 8``,
the default of ``avvp data pack``: the same function for every model, (10, 2048) per video);
``--frame-pool 1`` packs all (80, 2048) frames.

Disk: about 0.68 MB per video in the official layout (10,000 videos: ~6.8 GB) plus 0.09 MB
packed (0.68 MB with ``--frame-pool 1``); use ``--videos`` smaller if ``df -h`` says so. Timings
are with a warm page cache (the files were just written), i.e. they measure the per-file
overhead, not the disk.

    python benchmarks/bench_loading.py --videos 10000 --workers 2 [--root DIR]
"""

from __future__ import annotations

import argparse
import shutil
import string
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from avvp.classes import LLP_CLASSES
from avvp.data.dataset import LLPDataset, make_loader
from avvp.data.features import FEATURE_SPECS
from avvp.data.llp import EVAL_FILES, FULL_FILE, SPLIT_FILES, DataDefectWarning
from avvp.data.pack import pack_dataset

FEATURES = ("audio", "frames", "clips")
PSEUDO = ("pseudo_audio", "pseudo_visual")


def write_dataset(root: Path, videos: int, seed: int = 0) -> None:
    """Annotations (train = ``videos`` rows, 2 val / 2 test rows) and per-video files."""
    rng = np.random.default_rng(seed)
    alphabet = np.array(list(string.ascii_letters + string.digits))
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < videos + 4:
        video_id = "".join(rng.choice(alphabet, size=11))
        if video_id not in seen:
            seen.add(video_id)
            ids.append(video_id)
    labels = [LLP_CLASSES[i] for i in rng.integers(0, len(LLP_CLASSES), size=len(ids))]
    rows = [f"{v}_0_10\t{lab}" for v, lab in zip(ids, labels, strict=True)]
    root.mkdir(parents=True, exist_ok=True)
    header = "filename\tevent_labels"
    parts = {"train": rows[:videos], "val": rows[videos : videos + 2], "test": rows[videos + 2 :]}
    for split, file in SPLIT_FILES.items():
        (root / file).write_text("\n".join([header, *parts[split]]) + "\n")
    (root / FULL_FILE).write_text("\n".join([header, *rows]) + "\n")
    events = [f"{r.split(chr(9))[0]}\t0\t10\t{r.split(chr(9))[1]}" for r in rows[videos:]]
    for file in EVAL_FILES.values():
        (root / file).write_text(
            "\n".join(["filename\tonset\toffset\tevent_labels", *events]) + "\n"
        )
    # A pool of random arrays, reused: content does not matter for I/O timing, generation does.
    pools = {}
    for key in FEATURES:
        shape = FEATURE_SPECS[key].shape
        pools[key] = [rng.standard_normal(shape, dtype=np.float32) for _ in range(16)]
    for key in PSEUDO:
        pools[key] = [(rng.random((10, 25)) < 0.1).astype(np.int64) for _ in range(16)]
    for key in (*FEATURES, *PSEUDO):
        (root / FEATURE_SPECS[key].folder).mkdir(parents=True, exist_ok=True)
    for n, video_id in enumerate(tqdm(ids, desc="write official layout", disable=None)):
        for key, pool in pools.items():
            np.save(root / FEATURE_SPECS[key].folder / f"{video_id}.npy", pool[n % len(pool)])


def time_epoch(root: Path, keys: list[str], packed: bool, workers: int) -> float:
    dataset = LLPDataset(
        root=root, split="train", feature_keys=keys, pseudo_labels=True, packed=packed
    )
    loader = make_loader(dataset, batch_size=32, shuffle=True, seed=0, num_workers=workers)
    seconds = 0.0
    # Epoch 0 warms up (worker start-up, first touch of the files); epoch 1 is timed.
    for epoch in (0, 1):
        loader.batch_sampler.set_epoch(epoch)  # type: ignore[union-attr]
        start = time.perf_counter()
        for batch in loader:
            assert batch["label"].shape[1] == 25
        seconds = time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", type=Path, default=None, help="keep the dataset here")
    parser.add_argument("--frame-pool", type=int, default=8, help="packed frames per row group")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", DataDefectWarning)
    tmp = None
    if args.root is None:
        tmp = tempfile.mkdtemp(prefix="avvp-bench-")
        root = Path(tmp)
    else:
        root = args.root
    try:
        if not (root / SPLIT_FILES["train"]).is_file():
            start = time.perf_counter()
            write_dataset(root, args.videos)
            print(f"wrote {args.videos} videos in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        pack_dataset(root, splits=("train",), verify=False, frame_pool=args.frame_pool)
        print(f"packed in {time.perf_counter() - start:.1f} s")
        print(
            f"videos={args.videos} batch_size=32 shuffle=True frame_pool={args.frame_pool} "
            "(warm page cache)"
        )
        for label, keys in (
            ("with frames", list(FEATURES)),
            ("without frames", ["audio", "clips"]),
        ):
            for workers in sorted({0, args.workers}):
                official = time_epoch(root, keys, packed=False, workers=workers)
                packed = time_epoch(root, keys, packed=True, workers=workers)
                print(
                    f"{label:15s} workers={workers}: official {official:7.2f} s/epoch, "
                    f"packed {packed:6.2f} s/epoch, ratio {official / packed:6.1f}x"
                )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
