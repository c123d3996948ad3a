import subprocess
import sys
import time

import psutil
import torch

from harness.resources.cpu_pool import CpuPool
from harness.resources.gpu_pool import GpuPool
from harness.resources.monitor import ResourceMonitor


def test_monitor_samples_and_stops():
    monitor = ResourceMonitor(interval=0.02)
    with monitor:
        assert monitor.running
        time.sleep(0.2)
    assert not monitor.running
    stats = monitor.stats()
    samples = stats["samples"]
    assert len(samples) >= 4
    assert [s["t"] for s in samples] == sorted(s["t"] for s in samples)
    for sample in samples:
        assert {"t", "time", "cpu_percent", "machine_cpu_percent", "rss_bytes", "processes"} <= set(sample)
        assert sample["rss_bytes"] > 0 and sample["processes"] >= 1
    assert stats["peak_rss_bytes"] >= max(s["rss_bytes"] for s in samples)
    assert stats["peak_rss_bytes"] >= stats["peak_driver_rss_bytes"] > 0
    assert stats["peak_cpu_percent"] >= 0
    count = len(samples)
    time.sleep(0.1)
    assert len(monitor.stats()["samples"]) == count  # nothing sampled after stop


def test_stop_is_prompt_with_a_long_interval():
    monitor = ResourceMonitor(interval=30).start()
    start = time.monotonic()
    monitor.stop()
    assert time.monotonic() - start < 2
    assert len(monitor.stats()["samples"]) == 2  # the one at start and the one at stop


def test_child_processes_are_counted():
    monitor = ResourceMonitor(interval=10)
    alone = monitor.snapshot()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        snap = monitor.snapshot()
        while snap["processes"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
            snap = monitor.snapshot()
        time.sleep(0.3)  # let the child finish starting up
        own_before = psutil.Process().memory_info().rss
        child_rss = psutil.Process(child.pid).memory_info().rss
        snap = monitor.snapshot()
        own_after = psutil.Process().memory_info().rss
        assert snap["processes"] == alone["processes"] + 1
        # The driver's RSS plus the child's: more than either alone.
        assert snap["rss_bytes"] >= min(own_before, own_after) + child_rss // 2
        assert monitor.stats()["max_processes"] >= 2
        assert child.pid in monitor.stats()["peak_process_rss_bytes"] or not sys.platform.startswith("linux")
    finally:
        child.kill()
        child.wait()


def test_device_and_pool_figures_are_sampled():
    gpus = GpuPool.detect([{"name": "sim:m", "memory": "1MiB"}], use_cuda=False)
    cpus = CpuPool(memory_limit=10_000, detected_cores=2)
    monitor = ResourceMonitor(interval=0.01, cpu_pool=cpus, gpu_pool=gpus)
    with monitor:
        reservation = cpus.reserve_memory(4000)
        lease = gpus.allocate_gpu(1000)
        with lease.device.simulated.activate():
            x = torch.empty(5000, dtype=torch.uint8)
            snap = monitor.snapshot()
            time.sleep(0.05)
            del x
        lease.release()
        reservation.release()
    assert snap["devices"]["sim:m"]["used"] == 5000
    assert snap["reserved_memory"] == 4000
    stats = monitor.stats()
    device = stats["devices"]["sim:m"]
    assert device["peak_used"] == 5000
    assert device["max_busy_fraction"] > 0
    assert any(s.get("reserved_memory") == 4000 for s in stats["samples"])
    assert stats["sampler_errors"] == 0
