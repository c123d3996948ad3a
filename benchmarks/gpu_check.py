"""Device checks against a real CUDA device; not part of CI.

    python benchmarks/gpu_check.py [--device 0] [--fraction 0.02] [--chunk 256MiB] [--json PATH]

On a machine with CUDA it runs, on the real device, what the tests prove on simulated ones:
``torch.cuda.set_per_process_memory_fraction`` caps this process so an OOM is reachable; chunks
are allocated until ``torch.OutOfMemoryError``; the error type and wording are checked against
what the simulated device raises; ``GpuPool`` detection, best-fit allocation and release run
against real free memory (``torch.cuda.mem_get_info``); the monitor samples the device.
Without CUDA it says so, runs the simulated-device variant, and exits 0.
Exit status 1 means a check failed; every check prints what it saw.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.resources import GpuPool, ResourceMonitor, SimulatedDevice, format_size, parse_size  # noqa: E402

OOM_PREFIX = "CUDA out of memory. Tried to allocate"
results: list[dict] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    results.append({"check": name, "ok": bool(ok), "detail": detail})
    print(f"[{'ok' if ok else 'FAIL'}] {name}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def fill_until_oom(device: str, chunk: int, limit_chunks: int, activate=None) -> tuple[int, BaseException | None]:
    """Allocate ``chunk``-byte tensors on ``device`` until an OOM; returns (chunks held, the error)."""
    held = []
    error = None
    try:
        for _ in range(limit_chunks):
            held.append(torch.empty(chunk, dtype=torch.uint8, device=device))
    except Exception as exc:  # noqa: BLE001 - we want to see exactly what was raised
        error = exc
    count = len(held)
    del held
    return count, error


def simulated_variant(budget: int, chunk: int) -> None:
    print(f"\n== simulated device: budget {format_size(budget)}, chunks of {format_size(chunk)}")
    dev = SimulatedDevice("sim:check", budget)
    with dev.activate():
        count, error = fill_until_oom("cpu", chunk, 10_000)
    expected = budget // chunk
    check("simulated: OOM raised", error is not None, repr(error)[:200])
    check("simulated: torch.OutOfMemoryError", isinstance(error, torch.OutOfMemoryError), type(error).__name__)
    check("simulated: CUDA wording", str(error).startswith(OOM_PREFIX), str(error)[:160])
    check("simulated: OOM exactly past the budget", count == expected, f"{count} chunks held, expected {expected}")
    check("simulated: counters back to zero", dev.live_bytes == 0, f"live {dev.live_bytes}, peak {dev.peak_bytes}")

    pool = GpuPool.detect([{"name": "sim:a", "memory": budget}, {"name": "sim:b", "memory": budget // 2}], use_cuda=False)
    lease = pool.allocate_gpu(budget // 4)
    check("simulated pool: best fit", lease is not None and lease.name == "sim:b", repr(lease))
    lease.release()
    check("simulated pool: release restores", pool.free_memory("sim:b") == budget // 2)


def cuda_variant(index: int, fraction: float, chunk: int) -> None:
    device = f"cuda:{index}"
    torch.cuda.set_device(index)
    free, total = torch.cuda.mem_get_info(index)
    print(f"\n== {device}: {torch.cuda.get_device_name(index)}, total {format_size(total)}, free {format_size(free)}")
    check("mem_get_info answers", total > 0 and 0 <= free <= total, f"free {free}, total {total}")

    pool = GpuPool.detect([{"name": "sim:small0", "memory": "1GiB"}], use_cuda=True)
    names = [d.name for d in pool]
    check("GpuPool.detect finds the device", device in names, f"devices {names}")
    real = pool.device(device)
    check("torch_device is cuda:N", real.torch_device == device, real.torch_device)
    pool_free = pool.free_memory(device)
    check("pool free memory <= mem_get_info free", pool_free <= torch.cuda.mem_get_info(index)[0] + chunk, format_size(pool_free))
    want = 2 * 1024**3
    lease = pool.allocate_gpu(want, names=[device])
    check("allocate_gpu on the real device", lease is not None and lease.name == device, repr(lease))
    after = pool.free_memory(device)
    check("the lease is reserved", after <= pool_free - want + chunk, f"{format_size(pool_free)} -> {format_size(after)}")
    with ResourceMonitor(interval=0.05, gpu_pool=pool) as monitor:
        x = torch.empty(want, dtype=torch.uint8, device=device)
        torch.cuda.synchronize()
        time.sleep(0.2)
        snap = monitor.snapshot()
        del x
    lease.release()
    check("release restores free memory", pool.free_memory(device) >= after + want - chunk, format_size(pool.free_memory(device)))
    used = snap.get("devices", {}).get(device, {}).get("used")
    check("monitor sees device memory in use", used is not None and used >= want, f"used {format_size(used)}")
    stats = pool.stats()[device]
    print("   pool stats:", json.dumps({k: stats[k] for k in ("total", "reserved", "used", "peak", "busy_fraction", "healthy")}))
    check("oversized lease is refused", pool.allocate_gpu(total + 1, names=[device]) is None)
    pool.mark_unhealthy(device, "gpu_check: marked by hand")
    check("unhealthy device is not allocated", pool.allocate_gpu(1, names=[device]) is None)
    try:
        import pynvml  # type: ignore[import-not-found]  # noqa: F401

        print("   NVML present: busy_fraction comes from nvmlDeviceGetUtilizationRates")
    except ImportError:
        print("   NVML absent: busy_fraction is time inside leases")

    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(fraction, index)
    cap = int(total * fraction)
    print(f"\n== real OOM under set_per_process_memory_fraction({fraction}) = {format_size(cap)}, chunks of {format_size(chunk)}")
    count, error = fill_until_oom(device, chunk, 100_000)
    check("real: OOM raised", error is not None, repr(error)[:300])
    check("real: torch.OutOfMemoryError", isinstance(error, torch.OutOfMemoryError), type(error).__name__)
    check("real: CUDA wording matches the simulated prefix", str(error).startswith(OOM_PREFIX), str(error)[:300])
    check("real: OOM near the cap", count * chunk <= cap and (count + 2) * chunk > cap, f"{count} chunks = {format_size(count * chunk)}")
    real_message = str(error)
    error = None  # drop the traceback's references before freeing the cache
    torch.cuda.empty_cache()
    free_after, _ = torch.cuda.mem_get_info(index)
    print(f"   free after empty_cache: {format_size(free_after)}")
    torch.cuda.set_per_process_memory_fraction(1.0, index)

    if cap <= 8 * 1024**3:  # the simulated variant allocates (untouched) host memory of the same size
        sim = SimulatedDevice("sim:same-cap", cap)
        with sim.activate():
            sim_count, sim_error = fill_until_oom("cpu", chunk, 100_000)
        check("simulated device with the same cap holds as many chunks", abs(sim_count - count) <= 1,
              f"simulated {sim_count}, real {count}")
        print(f"   real message:      {real_message[:240]}")
        print(f"   simulated message: {str(sim_error)[:240]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--fraction", type=float, default=0.02, help="share of the device this process may use")
    parser.add_argument("--chunk", default="256MiB", help="size of each allocation on the real device")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    chunk = parse_size(args.chunk)

    print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
    simulated_variant(budget=16 * 1024**2, chunk=1024**2)
    if torch.cuda.is_available():
        cuda_variant(args.device, args.fraction, chunk)
    else:
        print("\nno CUDA device here: ran the simulated-device variant only")
    failed = [r for r in results if not r["ok"]]
    print(f"\n{len(results) - len(failed)} of {len(results)} checks passed")
    if args.json:
        Path(args.json).write_text(json.dumps({"cuda": torch.cuda.is_available(), "results": results}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
