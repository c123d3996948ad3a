"""A background thread that samples CPU %, RSS of the process tree, and device memory and busy time.

Each sample holds: seconds since start, machine CPU % (all cores, psutil), CPU % of this process
and its children (100 = one core), RSS of the driver and all its child processes (the workers)
summed, and, from the pools, per-device used/peak memory and busy fraction plus reserved CPU
memory. The sampling loop waits on an Event, so ``stop()`` returns within one sample's work.

Peak RSS is the largest sampled tree RSS, raised to what the kernel recorded as the largest RSS
of any single process seen (``VmHWM`` on Linux, ``peak_wset`` on Windows), so a spike between two
samples is not missed entirely.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

import psutil

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

#: Above this many samples, every other one is dropped (peaks are kept separately), so memory stays bounded.
MAX_SAMPLES = 4096


def _process_peak_rss(proc: psutil.Process) -> int | None:
    """The largest RSS the OS recorded for ``proc`` over its life, where it records one."""
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{proc.pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
        return None
    try:
        return int(getattr(proc.memory_info(), "peak_wset"))
    except (AttributeError, psutil.Error):
        return None


class ResourceMonitor:
    """Samples resource use every ``interval`` seconds on a daemon thread. ``start()``/``stop()`` or ``with``."""

    def __init__(self, interval: float = 0.5, cpu_pool: Any = None, gpu_pool: Any = None) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        self.interval = float(interval)
        self.cpu_pool = cpu_pool
        self.gpu_pool = gpu_pool
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._samples: list[dict[str, Any]] = []
        self._procs: dict[int, psutil.Process] = {}
        self._root = psutil.Process(os.getpid())
        self._started_at: float | None = None
        self._stopped_at: float | None = None
        self._peak_rss = 0
        self._peak_tree_rss = 0
        self._peak_cpu = 0.0
        self._peak_machine_cpu = 0.0
        self._process_peaks: dict[int, int] = {}
        self._max_processes = 1
        self._devices: dict[str, dict[str, Any]] = {}
        self._errors = 0
        self._decimated = 0

    # --- lifecycle ---
    def start(self) -> "ResourceMonitor":
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._started_at = time.monotonic()
        self._stopped_at = None
        psutil.cpu_percent(interval=None)  # prime the machine-wide counter
        self._sample(record=True)
        self._thread = threading.Thread(target=self._run, name="harness-resource-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join()
        self._thread = None
        self._sample(record=True)
        self._stopped_at = time.monotonic()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "ResourceMonitor":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._sample(record=True)
            except Exception:  # a sampler must never take the run down
                with self._lock:
                    self._errors += 1

    # --- sampling ---
    def _tree(self) -> list[psutil.Process]:
        procs = [self._root]
        try:
            procs.extend(self._root.children(recursive=True))
        except psutil.Error:
            pass
        alive = {}
        for proc in procs:
            cached = self._procs.get(proc.pid)
            if cached is not None and cached.is_running():
                alive[proc.pid] = cached
            else:
                try:
                    proc.cpu_percent(interval=None)  # first call primes the counter
                except psutil.Error:
                    continue
                alive[proc.pid] = proc
        self._procs = alive
        return list(alive.values())

    def _sample(self, record: bool) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            rss_total = 0
            cpu_total = 0.0
            procs = self._tree()
            for proc in procs:
                try:
                    with proc.oneshot():
                        rss = proc.memory_info().rss
                        cpu = proc.cpu_percent(interval=None)
                except psutil.Error:
                    continue
                rss_total += rss
                cpu_total += cpu
                peak = _process_peak_rss(proc)
                if peak is not None:
                    self._process_peaks[proc.pid] = max(self._process_peaks.get(proc.pid, 0), peak)
            machine_cpu = psutil.cpu_percent(interval=None)
            sample: dict[str, Any] = {
                "t": 0.0 if self._started_at is None else now - self._started_at,
                "time": time.time(),
                "cpu_percent": cpu_total,
                "machine_cpu_percent": machine_cpu,
                "rss_bytes": rss_total,
                "processes": len(procs),
            }
            if self.cpu_pool is not None:
                try:
                    sample["reserved_memory"] = self.cpu_pool.reserved_memory
                except Exception:
                    pass
            if self.gpu_pool is not None:
                try:
                    devices = self.gpu_pool.stats()
                except Exception:
                    devices = {}
                sample["devices"] = {
                    name: {k: d.get(k) for k in ("used", "peak", "reserved", "busy_fraction")}
                    for name, d in devices.items()
                }
                for name, d in devices.items():
                    agg = self._devices.setdefault(name, {"peak_used": 0, "max_busy_fraction": 0.0})
                    agg["peak_used"] = max(agg["peak_used"], d.get("peak") or 0, d.get("used") or 0)
                    agg["max_busy_fraction"] = max(agg["max_busy_fraction"], d.get("busy_fraction") or 0.0)
                    agg["last"] = d
            self._peak_tree_rss = max(self._peak_tree_rss, rss_total)
            self._peak_cpu = max(self._peak_cpu, cpu_total)
            self._peak_machine_cpu = max(self._peak_machine_cpu, machine_cpu)
            self._max_processes = max(self._max_processes, len(procs))
            if record:
                self._samples.append(sample)
                if len(self._samples) > MAX_SAMPLES:
                    self._samples = self._samples[::2]
                    self._decimated += 1
            return sample

    def snapshot(self) -> dict[str, Any]:
        """Current values, sampled now (not added to the time series)."""
        return self._sample(record=False)

    def _own_peak_rss(self) -> int:
        peak = _process_peak_rss(self._root)
        if peak is None and resource is not None:
            # ru_maxrss is KiB on Linux, bytes on macOS.
            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            peak = maxrss if sys.platform == "darwin" else maxrss * 1024
        return peak or 0

    def stats(self) -> dict[str, Any]:
        """The time series and its peaks (what the report and ``get_resource_stats()`` show)."""
        own_peak = self._own_peak_rss()
        with self._lock:
            largest_process_peak = max(self._process_peaks.values(), default=0)
            end = self._stopped_at if self._stopped_at is not None else time.monotonic()
            return {
                "interval": self.interval,
                "duration": 0.0 if self._started_at is None else end - self._started_at,
                "samples": list(self._samples),
                "samples_decimated": self._decimated,
                "peak_rss_bytes": max(self._peak_tree_rss, largest_process_peak, own_peak),
                "peak_sampled_rss_bytes": self._peak_tree_rss,
                "peak_driver_rss_bytes": own_peak,
                "peak_process_rss_bytes": dict(self._process_peaks),
                "peak_cpu_percent": self._peak_cpu,
                "peak_machine_cpu_percent": self._peak_machine_cpu,
                "max_processes": self._max_processes,
                "devices": {name: dict(agg) for name, agg in self._devices.items()},
                "sampler_errors": self._errors,
            }
