"""The executor against a plain single-process loop over the same ops, side by side in one run.

    python benchmarks/bench_executor.py [--data ../shared/bench/data.jsonl] [--recipe ../shared/bench/recipe.yaml]

The loop reads every row, applies each op to the whole dataset in turn through the op API (what
a hand-written script does); the executor streams batches through its worker pool. Both must
produce the same rows; the ratio is loop wall / executor wall.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import yaml

from harness import LocalModeExecutor
from harness.ops import build_op

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HARNESS_SHARED_DIR", ROOT.parent / "shared"))


def plain_loop(path: Path, process: list) -> list[str]:
    with open(path, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    batch = {"text": texts}
    for entry in process:
        op = build_op(entry)
        if op.kind == "mapper":
            batch = op.process_batched(batch)
            continue
        if op.kind == "filter":
            keep = op.process_batched(op.compute_stats_batched(batch))
        else:
            keep = op.keep_flags(batch)
        batch = {"text": [t for t, k in zip(batch["text"], keep) if k]}
    return batch["text"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "bench" / "data.jsonl")
    parser.add_argument("--recipe", type=Path, default=SHARED / "bench" / "recipe.yaml")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    process = yaml.safe_load(args.recipe.read_text())["process"]

    started = time.perf_counter()
    expected = plain_loop(args.data, process)
    loop_wall = time.perf_counter() - started

    executor = LocalModeExecutor({"workers": args.workers, "progress": False})
    with tempfile.TemporaryDirectory() as run_dir:
        started = time.perf_counter()
        result = executor.process_dataset(args.data, process, run_dir=run_dir)
        executor_wall = time.perf_counter() - started
        got = [row["text"] for row in result]
        report = result.report
    print(f"dataset {args.data.name}: {report['rows']['in']:,} rows, {len(process)} ops, "
          f"{executor.workers} workers")
    print(f"plain single-process loop: {loop_wall:6.2f} s, {len(expected):,} rows out")
    print(f"LocalModeExecutor:         {executor_wall:6.2f} s, {len(got):,} rows out, "
          f"peak RSS {(report['resources'].get('peak_rss_bytes') or 0) / 2**20:.0f} MiB")
    print(f"speed-up (loop / executor): {loop_wall / executor_wall:.2f}x")
    print("same rows, same order:", got == expected)
    for op in report["ops"]:
        rate = op["rows_in"] / op["seconds"] if op["seconds"] else float("inf")
        print(f"  {op['name']:<34} {op['rows_in']:>7,} rows in  {rate:>12,.0f} rows/s (worker time)")


if __name__ == "__main__":
    main()
