"""AVE demo: one AVEL encoder with its default classification head vs with LEAP, trained by the
ordinary trainer on a synthetic AVE-like dataset (real feature shapes), on CPU in minutes.

``run_ave_demo(out, encoder="psp", epochs=10)`` writes the synthetic data to
``out/ave-demo-data-s<seed>-n<videos>/`` (generated once, reused) and
``out/ave-demo-<encoder>-s<seed>/`` with one run folder per head (``runs/``) and
``comparison.json``; it returns and prints both test accuracies.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from avvp.errors import ConfigError
from avvp.jsonio import write_json_strict

__all__ = ["DEMO_OVERRIDES", "run_ave_demo"]

# Demo recipe: the presets' architectures at full size, a short schedule for a small dataset.
DEMO_OVERRIDES: tuple[str, ...] = (
    "train.batch_size=32",
    "train.eval_batch_size=64",
    "train.device=cpu",
    "train.amp=false",
    "optim.scheduler=none",
)
DEMO_VIDEOS = 300


def run_ave_demo(
    out: Path,
    *,
    encoder: str = "psp",
    epochs: int,
    seed: int = 0,
    progress: bool = True,
    videos: int = DEMO_VIDEOS,
    overrides: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Train ``encoder`` + DCH and ``encoder`` + LEAP; return their test accuracies."""
    from avvp.ave.data import ANNOTATION_FILE
    from avvp.ave.synth import SynthAVEConfig, generate_synthetic_ave
    from avvp.config import load_config
    from avvp.training.trainer import fit

    if encoder not in ("ave", "psp", "cmbs"):
        raise ConfigError(f"AVE demo encoder {encoder!r}: expected ave, psp or cmbs")
    if epochs < 1:
        raise ConfigError(f"epochs={epochs}: must be >= 1")
    folder = Path(out) / f"ave-demo-{encoder}-s{seed}"
    # One synthetic dataset per (seed, size), shared by the encoders' demos.
    data = Path(out) / f"ave-demo-data-s{seed}-n{videos}"
    done = data / ".complete"
    if not done.is_file():
        generate_synthetic_ave(
            data, SynthAVEConfig(videos=videos, seed=seed, layout="hdf5"), progress=progress
        )
        done.write_text("ok\n")
    assert (data / ANNOTATION_FILE).is_file()
    results: dict[str, Any] = {
        "encoder": encoder,
        "epochs": epochs,
        "seed": seed,
        "videos": videos,
        "heads": {},
    }
    for head in ("dch", "leap"):
        started = time.perf_counter()
        cfg = load_config(
            f"ave/{encoder}_{head}",
            [*DEMO_OVERRIDES, f"train.epochs={epochs}", f"seed={seed}", *overrides],
        )
        run = fit(cfg, data_root=data, out=folder / "runs", progress=progress)
        test = run.test or {}
        results["heads"][head] = {
            "test_accuracy": float(test.get("scores", {}).get("accuracy", float("nan"))),
            "val_accuracy": run.best_score,
            "best_epoch": run.best_epoch,
            "seconds": round(time.perf_counter() - started, 1),
            "run_dir": str(run.run_dir),
        }
    write_json_strict(folder / "comparison.json", results)
    lines = [f"AVE demo ({encoder} encoder, {videos} synthetic videos, {epochs} epochs)"]
    for head, res in results["heads"].items():
        lines.append(
            f"  {encoder}+{head:<5} test accuracy {100 * res['test_accuracy']:.1f}  "
            f"(val {100 * res['val_accuracy']:.1f} @ epoch {res['best_epoch']}, "
            f"{res['seconds']:.0f} s)"
        )
    print("\n".join(lines))
    results["folder"] = str(folder)
    return results
