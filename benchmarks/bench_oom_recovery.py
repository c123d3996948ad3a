"""OOM recovery benchmark: start 64x above the feasible batch on a simulated device over 100k
rows, and compare harness's recovery with an accelerate-style baseline (shrink x0.9 and rerun
everything) on the same device, op and data, in one run.

Reported: OOM count, rows recomputed (work finished and then thrown away), and the steady-state
batch size against the feasible maximum. Targets: <= 7 OOMs, rows recomputed <= 1% of the
dataset, steady state >= 50% of the feasible maximum.

Both sides run in this process with the code a device worker runs (OpRunner + the adaptive
sizer + a SimulatedDevice); the process pool around it does not change what is counted.

    python benchmarks/bench_oom_recovery.py [--rows 100000] [--feasible 256]
"""
from __future__ import annotations

import argparse
import random
import time
from typing import Any

import torch

from harness.data.batch import ROW_ID, slice_batch
from harness.executor.op_runner import OpRunner, Placement
from harness.executor.settings import ErrorHandlingSettings
from harness.ops.base import Mapper
from harness.resources import SimulatedDevice, warm_up
from harness.strategy.errors import is_oom
from harness.strategy.sizing import AdaptiveBatchSizer, SizerState

BYTES_PER_CHAR = 64


class DeviceHungryMapper(Mapper):
    """Needs BYTES_PER_CHAR device bytes per input character (declared, checked at activation),
    then does a little tensor work: memory depends on the content, as real models' does."""

    name = "bench_device_hungry_mapper"
    device_memory_is_torch = False

    def device_memory_bytes(self, batch: dict[str, list[Any]]) -> int:
        return BYTES_PER_CHAR * sum(len(t) for t in batch["text"])

    def process_batched(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        lengths = torch.tensor([len(t) for t in batch["text"]], dtype=torch.int64)
        self.work_rows += len(lengths)
        return {**batch, "text": [f"{t}|{n}" for t, n in zip(batch["text"], lengths.tolist())]}

    work_rows = 0


def make_rows(n: int, seed: int = 7) -> dict[str, list[Any]]:
    rng = random.Random(seed)
    # Mostly ordinary lengths; 1 row in 200 is ten times longer (the batches that surprise).
    texts = ["x" * (rng.randint(150, 250) if rng.random() > 0.005 else 2000) for _ in range(n)]
    return {"text": texts, ROW_ID: list(range(n))}


def run_harness(data: dict[str, list[Any]], device: SimulatedDevice, start: int, chunk: int) -> dict[str, Any]:
    op = DeviceHungryMapper()
    runner = OpRunner(ErrorHandlingSettings(retry_delay=0.0), sleep=lambda s: None)
    sizer = AdaptiveBatchSizer(SizerState(size=start), 1, 10**9)
    placement = Placement(name=device.name, torch_device="cpu", activate=device.activate)
    n, ooms, recomputed, sizes = len(data["text"]), 0, 0, []
    started = time.perf_counter()
    for lo in range(0, n, chunk):
        out = runner.run(op, 0, slice_batch(data, lo, min(lo + chunk, n)), placement, sizer)
        ooms += sum(1 for e in out.events if e["kind"] == "oom")
        recomputed += out.rows_recomputed
        sizes.extend(out.batch_sizes)
    return {"ooms": ooms, "rows_recomputed": recomputed, "steady": _steady(sizes),
            "work_rows": op.work_rows, "seconds": time.perf_counter() - started}


def run_accelerate_style(data: dict[str, list[Any]], device: SimulatedDevice, start: int) -> dict[str, Any]:
    """accelerate.find_executable_batch_size: on OOM, batch_size *= 0.9 and the whole function
    runs again from the first row."""
    op = DeviceHungryMapper()
    n, ooms, recomputed, size = len(data["text"]), 0, 0, start
    started = time.perf_counter()
    while True:
        done = 0
        try:
            while done < n:
                piece = slice_batch(data, done, min(done + size, n))
                with device.activate(op.device_memory_bytes(piece)):
                    op.process_batched(piece)
                done += len(piece["text"])
            break
        except Exception as error:  # noqa: BLE001 — the baseline only knows OOMs
            if not is_oom(error):
                raise
            ooms += 1
            recomputed += done
            size = max(1, int(size * 0.9))
    return {"ooms": ooms, "rows_recomputed": recomputed, "steady": size,
            "work_rows": op.work_rows, "seconds": time.perf_counter() - started}


def _steady(sizes: list[int]) -> int:
    """The batch size used most over the last half of the run."""
    tail = sizes[len(sizes) // 2:]
    return max(set(tail), key=tail.count) if tail else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--feasible", type=int, default=256,
                        help="rows of average length that fit on the simulated device")
    args = parser.parse_args()
    warm_up()  # torch imports its compiler the first time a dispatch mode runs: not part of either
    data = make_rows(args.rows)
    average = sum(len(t) for t in data["text"]) / args.rows
    budget = int(args.feasible * average * BYTES_PER_CHAR)
    start = 64 * args.feasible
    ours = run_harness(data, SimulatedDevice("sim:bench", budget), start, chunk=start)
    base = run_accelerate_style(data, SimulatedDevice("sim:bench", budget), start)
    print(f"{args.rows:,} rows, device budget {budget:,} B, feasible ~{args.feasible} rows, "
          f"start {start} rows (64x)")
    print(f"{'':24}{'harness':>12}{'accelerate-style':>18}")
    for key, label in [("ooms", "OOMs"), ("rows_recomputed", "rows recomputed"),
                       ("steady", "steady batch size"), ("work_rows", "rows of op work"),
                       ("seconds", "seconds")]:
        a, b = ours[key], base[key]
        fmt = (lambda v: f"{v:.2f}") if key == "seconds" else (lambda v: f"{v:,}")
        print(f"{label:24}{fmt(a):>12}{fmt(b):>18}")
    print(f"recomputed / dataset: harness {ours['rows_recomputed'] / args.rows:.2%}, "
          f"baseline {base['rows_recomputed'] / args.rows:.2%}")
    print(f"steady / feasible: harness {ours['steady'] / args.feasible:.0%}, "
          f"baseline {base['steady'] / args.feasible:.0%}")
    print(f"wall time ratio baseline/harness (same run): {base['seconds'] / ours['seconds']:.2f}")
    ok = ours["ooms"] <= 7 and ours["rows_recomputed"] <= 0.01 * args.rows and \
        ours["steady"] >= 0.5 * args.feasible
    print("targets (<=7 OOMs, <=1% recomputed, steady >=50% of feasible):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
