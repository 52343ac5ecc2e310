"""The method ladder: every preset trained with its full reference schedule on LLP-sized synthetic
data, in float32 and in bf16 mixed precision, one table.

    python benchmarks/bench_ladder.py --out ladder/ --threads 2            # the whole ladder
    python benchmarks/bench_ladder.py --out ladder/ --plan                 # each cell's state
    python benchmarks/bench_ladder.py --out ladder/ --methods HAN --precisions fp32
    python benchmarks/bench_ladder.py --out ladder/ --threads 2 --jobs 2   # 2 cells at a time

Each cell (method x precision) is an ordinary ``avvp train PRESET --data ROOT --out CELL`` run
with the preset's own recipe (epochs, batch size, optimizer, schedule), so its run folder holds the
resolved config, metrics.jsonl, checkpoints and the test report. The ladder is resumable: a
finished cell (``result.json``) is skipped, an interrupted one continues with ``avvp train
--resume``. At the end (and with ``--table``) the table is printed and written to
``OUT/ladder.md``: the ten numbers on all test videos and segment / event Type@AV on the
overlapping and non-overlapping subsets, with the demo's three reference rows (an oracle that
reads the true video labels, the pseudo labels, and a prior that reads nothing of the test videos;
``avvp.demo.reference_rows``) on the same test split.

``--jobs N`` trains N cells at a time with ``threads // N`` threads each: on batches of 16-64 the
models' matrix products are too small for a second thread to pay (about 1.2x on 2 cores, see
docs/benchmarks.md), so two one-thread cells side by side finish sooner than one after the other.

The data is generated once (``OUT/data``, LLP's split sizes by default: 10,000 / 649 / 1,200).
LEAP's label queries are learnable 300-d vectors unless ``--label-embeddings FILE`` gives the
GloVe release file: the synthetic classes' features bear no relation to the words of their names,
so word vectors carry no information here (on real LLP the presets read the release file).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Method name in the table -> preset (configs/NAME.yaml). MM-CSE runs its recipe on the same
# VGGish / ResNet / R(2+1)D features as the others (configs/mmcse_vggish.yaml).
METHODS: dict[str, str] = {
    "HAN": "han_mmil",
    "VALOR-HAN": "han_mmil_valor",
    "MM-Pyr+MMIL": "mmpyr_mmil_valor",
    "HAN+LEAP": "han_leap",
    "MM-Pyr+LEAP": "mmpyr_leap",
    "MM-CSE": "mmcse_vggish",
}
PRECISIONS: dict[str, list[str]] = {"fp32": ["train.cpu_amp=false"], "bf16": ["train.cpu_amp=true"]}
LEAP_PRESETS = {"han_leap", "mmpyr_leap"}
TYPE_KEYS = ("segment/type@av", "event/type@av")
ALL_KEYS = (
    "segment/audio",
    "segment/visual",
    "segment/audio-visual",
    "segment/type@av",
    "segment/event@av",
    "event/audio",
    "event/visual",
    "event/audio-visual",
    "event/type@av",
    "event/event@av",
)


@dataclass(frozen=True)
class Cell:
    method: str
    preset: str
    precision: str

    @property
    def name(self) -> str:
        return f"{self.preset}-{self.precision}"


def _avvp(*args: str, log: Path | None = None) -> None:
    """Run the avvp CLI in a child process (a failure stops the ladder with its message).

    With ``log`` the child's output is appended there instead of interleaving with other cells'.
    """
    command = [sys.executable, "-m", "avvp", *args]
    if log is None:
        done = subprocess.run(command, check=False)
    else:
        with log.open("a") as stream:
            done = subprocess.run(command, check=False, stdout=stream, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        where = "" if log is None else f"; its output is in {log}"
        raise SystemExit(
            f"bench_ladder: `{' '.join(command)}` failed (exit {done.returncode}){where}"
        )


def ensure_data(root: Path, *, sizes: tuple[int, int, int], seed: int) -> Path:
    data = root / "data"
    if (data / ".complete").is_file():
        return data
    train, val, test = sizes
    print(f"generating synthetic LLP ({train} / {val} / {test}) in {data} ...", flush=True)
    _avvp(
        "data", "synth", "--out", str(data), "--seed", str(seed),
        "--train", str(train), "--val", str(val), "--test", str(test), "--pack",
    )  # fmt: skip
    (data / ".complete").write_text("ok\n")
    return data


def cell_threads(args: argparse.Namespace) -> int:
    return max(1, args.threads // args.jobs)


def cell_overrides(cell: Cell, args: argparse.Namespace) -> list[str]:
    overrides = [f"seed={args.seed}", f"train.threads={cell_threads(args)}", "train.device=cpu"]
    overrides += PRECISIONS[cell.precision]
    if cell.preset in LEAP_PRESETS:
        if args.label_embeddings is None:
            overrides += [
                "model.decoder.label_embeddings.source=learnable",
                "model.decoder.label_embeddings.dim=300",
            ]
        else:
            overrides += [
                "model.decoder.label_embeddings.source=release",
                f"model.decoder.label_embeddings.path={args.label_embeddings.resolve()}",
            ]
    if args.epochs is not None:  # a shortened ladder (for trying the script), not the recipe
        overrides.append(f"train.epochs={args.epochs}")
    return overrides


def cell_state(cell_dir: Path) -> str:
    """'done', 'to run', or where an interrupted or running cell is: epochs done of the recipe's,
    mean epoch seconds and the last validation scores (from its newest run folder)."""
    if (cell_dir / "result.json").is_file():
        return "done"
    runs = (
        sorted(p for p in cell_dir.iterdir() if (p / "config.yaml").is_file())
        if cell_dir.is_dir()
        else []
    )
    if not runs:
        return "to run"
    config = yaml.safe_load((runs[-1] / "config.yaml").read_text())
    total = config["train"]["epochs"]
    log = runs[-1] / "metrics.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    epochs = [m for m in (json.loads(x) for x in lines if x) if "split" not in m]
    if not epochs:
        return f"started, 0/{total} epochs"
    mean = sum(float(m["seconds"]) for m in epochs) / len(epochs)
    last = epochs[-1]
    scores = "/".join(_pct(last.get(f"val/{k}")) for k in TYPE_KEYS)
    left = (total - len(epochs)) * mean / 3600
    return (
        f"{len(epochs)}/{total} epochs, {mean:.0f} s each (~{left:.1f} h left), "
        f"val seg/ev Type@AV {scores}"
    )


def run_cell(cell: Cell, data: Path, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    cell_dir = root / "runs" / cell.name
    result_file = cell_dir / "result.json"
    if result_file.is_file():
        result: dict[str, Any] = json.loads(result_file.read_text())
        return result
    cell_dir.mkdir(parents=True, exist_ok=True)
    runs = sorted(p for p in cell_dir.iterdir() if (p / "config.yaml").is_file())
    started = time.perf_counter()
    common = ["--data", str(data)] + ([] if args.progress else ["--no-progress"])
    log = cell_dir / "train.log"
    if runs:  # interrupted earlier: continue the newest run folder
        print(f"[{cell.name}] resuming {runs[-1]} (log: {log})", flush=True)
        _avvp("train", "--resume", str(runs[-1]), *common, log=log)
    else:
        print(f"[{cell.name}] training {cell.preset} ({cell.precision}) (log: {log})", flush=True)
        _avvp(
            "train", cell.preset, *cell_overrides(cell, args), *common, "--out", str(cell_dir),
            log=log,
        )  # fmt: skip
    runs = sorted(p for p in cell_dir.iterdir() if (p / "config.yaml").is_file())
    run_dir = runs[-1]
    report = json.loads((run_dir / "test" / "report.json").read_text())
    metrics = [
        json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line
    ]
    epochs = [m for m in metrics if "split" not in m]
    result = {
        "method": cell.method,
        "preset": cell.preset,
        "precision": cell.precision,
        "run_dir": str(run_dir),
        "epochs": len(epochs),
        "best_epoch": epochs[-1]["best_epoch"] if epochs else None,
        "train_seconds": sum(float(m["seconds"]) for m in epochs),
        "wall_seconds_this_call": round(time.perf_counter() - started, 1),
        "test": report["scores"],
        "subsets": report.get("subsets", {}),
        "counts": report.get("counts", {}),
    }
    result_file.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _pct(value: Any) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{100 * value:.1f}"


def reference_results(root: Path) -> list[dict[str, Any]]:
    """The demo's three reference rows (oracle, pseudo labels, prior) on the ladder's test split,
    in the shape of a cell's result; computed once and kept in ``OUT/reference_rows.json``."""
    cache = root / "reference_rows.json"
    if cache.is_file():
        cached: list[dict[str, Any]] = json.loads(cache.read_text())
        return cached
    from avvp.demo import reference_rows

    rows = [
        {
            "method": name,
            "precision": "-",
            "test": subsets["all"],
            "subsets": {s: subsets[s] for s in ("overlap", "non_overlap")},
        }
        for name, subsets in reference_rows(root / "data").items()
    ]
    cache.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


def format_table(results: list[dict[str, Any]]) -> str:
    """One row per result; rows without training (the reference rows) show "-" for its columns."""
    lines = [
        "| method | precision | seg A | seg V | seg AV | seg Type | seg Event "
        "| ev A | ev V | ev AV | ev Type | ev Event "
        "| overlap seg/ev Type | non-overlap seg/ev Type | best / epochs | train time |",
        "|---|---|" + "---|" * 14,
    ]
    for r in results:
        subsets = r["subsets"]
        sub = {
            name: "/".join(_pct(subsets.get(name, {}).get(k)) for k in TYPE_KEYS)
            for name in ("overlap", "non_overlap")
        }
        cells = " | ".join(_pct(r["test"].get(k)) for k in ALL_KEYS)
        trained = r.get("train_seconds") is not None
        epochs = f"{r['best_epoch']} / {r['epochs']}" if trained else "-"
        hours = f"{r['train_seconds'] / 3600:.2f} h" if trained else "-"
        lines.append(
            f"| {r['method']} | {r['precision']} | {cells} | {sub['overlap']} "
            f"| {sub['non_overlap']} | {epochs} | {hours} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="ladder folder (data, runs, table)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument(
        "--precisions", nargs="+", choices=list(PRECISIONS), default=["fp32", "bf16"]
    )
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--val", type=int, default=649)
    parser.add_argument("--test", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0, help="data and training seed")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the whole ladder")
    parser.add_argument("--jobs", type=int, default=1, help="cells trained at the same time")
    parser.add_argument("--epochs", type=int, help="override every recipe's epochs (trial runs)")
    parser.add_argument("--label-embeddings", type=Path, help="LEAP GloVe release file (.pt)")
    parser.add_argument("--plan", action="store_true", help="list the cells and exit")
    parser.add_argument("--table", action="store_true", help="print the table of finished cells")
    parser.add_argument("--progress", action="store_true", help="show the trainer's progress bars")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.threads < 1:
        parser.error("--jobs and --threads must be at least 1")

    # Cells run precision by precision in the order given (``--precisions bf16 fp32`` finishes
    # the faster column first); the table lists them method by method.
    cells = [Cell(m, METHODS[m], p) for p in args.precisions for m in args.methods]
    table_order = sorted(
        cells, key=lambda c: (args.methods.index(c.method), args.precisions.index(c.precision))
    )
    root: Path = args.out
    if args.plan:
        for cell in cells:
            print(f"{cell.name:28s} {cell_state(root / 'runs' / cell.name)}")
        return 0
    results: list[dict[str, Any]] = []
    if args.table:
        for cell in table_order:
            path = root / "runs" / cell.name / "result.json"
            if path.is_file():
                results.append(json.loads(path.read_text()))
        if (root / "data" / ".complete").is_file():
            results += reference_results(root)
    else:
        data = ensure_data(root, sizes=(args.train, args.val, args.test), seed=args.seed)
        references = reference_results(root)
        finished: dict[Cell, dict[str, Any]] = {}
        lock = threading.Lock()

        def run_and_record(cell: Cell) -> None:
            result = run_cell(cell, data, root, args)
            with lock:
                finished[cell] = result
                done = [finished[c] for c in table_order if c in finished]
                (root / "ladder.md").write_text(format_table(done + references) + "\n")

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for future in [pool.submit(run_and_record, cell) for cell in cells]:
                future.result()
        results = [finished[c] for c in table_order] + references
    print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
