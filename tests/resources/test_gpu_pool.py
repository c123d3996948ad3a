import time

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.resources import gpu_pool as gp
from harness.resources.gpu_pool import GpuDevice, GpuPool

MiB = 1024**2
GiB = 1024**3


def sim_pool(*sizes):
    return GpuPool.detect([{"name": f"sim:d{i}", "memory": size} for i, size in enumerate(sizes)], use_cuda=False)


def test_detect_builds_simulated_devices():
    pool = GpuPool.detect([{"name": "sim:small0", "memory": "1GiB"}, {"name": "sim:big", "memory": 4 * GiB}], use_cuda=False)
    assert [d.name for d in pool] == ["sim:small0", "sim:big"]
    small = pool.device("sim:small0")
    assert (small.kind, small.total_memory, small.torch_device, small.healthy) == ("simulated", GiB, "cpu", True)
    assert small.simulated.budget_bytes == GiB


def test_detect_with_cuda_on_this_machine_adds_only_what_torch_sees():
    pool = GpuPool.detect([{"name": "sim:a", "memory": "1MiB"}], use_cuda=True)
    cuda = [d for d in pool if d.kind == "cuda"]
    expected = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert len(cuda) == expected
    assert all(d.torch_device == f"cuda:{d.index}" for d in cuda)
    assert pool.devices[-1].name == "sim:a"


@pytest.mark.parametrize(
    "specs, match",
    [
        ([{"name": "a", "memory": "1GiB"}, {"name": "a", "memory": "2GiB"}], "two devices are named 'a'"),
        ([{"name": "a"}], "'name' and 'memory'"),
        (["a"], "'name' and 'memory'"),
        ([{"name": "a", "memory": "lots"}], "'lots'"),
        ([{"name": "a", "memory": 0}], "positive"),
        ([{"name": "a", "memory": "1G", "speed": 3}], "unknown key"),
        ([{"name": "cuda:7", "memory": "1G"}], "real devices"),
    ],
)
def test_bad_simulated_specs_are_config_errors(specs, match):
    with pytest.raises(ConfigError, match=match):
        GpuPool.detect(specs, use_cuda=False)


def test_best_fit_picks_the_smallest_sufficient_free_memory():
    pool = sim_pool(GiB, 512 * MiB, 2 * GiB)
    first = pool.allocate_gpu(400 * MiB)
    assert first.name == "sim:d1"
    second = pool.allocate_gpu(400 * MiB)  # d1 has 112 MiB free now
    assert second.name == "sim:d0"
    assert pool.allocate_gpu(3 * GiB) is None
    assert pool.free_memory("sim:d1") == 112 * MiB
    first.release()
    first.release()
    assert pool.free_memory("sim:d1") == 512 * MiB
    with pool.allocate_gpu(100 * MiB) as lease:
        assert lease.name == "sim:d1" and lease.torch_device == "cpu"
    assert pool.free_memory("sim:d1") == 512 * MiB


def test_ties_go_to_the_earlier_device():
    pool = sim_pool(GiB, GiB)
    assert pool.allocate_gpu(MiB).name == "sim:d0"


def test_unhealthy_devices_are_never_allocated():
    pool = sim_pool(512 * MiB, GiB)
    pool.mark_unhealthy("sim:d0", "CUDA error: an illegal memory access")
    for _ in range(3):
        lease = pool.allocate_gpu(MiB)
        assert lease.name == "sim:d1"
    pool.mark_unhealthy("sim:d1", "lost")
    assert pool.allocate_gpu(0) is None
    stats = pool.stats()
    assert stats["sim:d0"]["healthy"] is False
    assert stats["sim:d0"]["unhealthy_reason"] == "CUDA error: an illegal memory access"
    with pytest.raises(KeyError, match="sim:nope"):
        pool.mark_unhealthy("sim:nope", "x")


@given(
    sizes=st.lists(st.integers(0, 1000), min_size=1, max_size=5),
    ops=st.lists(st.tuples(st.sampled_from(["alloc", "release", "sick"]), st.integers(0, 1200)), max_size=40),
)
def test_leases_never_overcommit_and_releases_restore(sizes, ops):
    pool = GpuPool([GpuDevice.simulated_device(f"sim:{i}", max(1, s)) for i, s in enumerate(sizes)])
    totals = {d.name: d.total_memory for d in pool}
    held = []
    sick = set()
    for op, n in ops:
        reserved = {name: sum(l.nbytes for l in held if l.name == name) for name in totals}
        free = {name: totals[name] - reserved[name] for name in totals}
        assert all(pool.free_memory(name) == free[name] >= 0 for name in totals)
        if op == "alloc":
            lease = pool.allocate_gpu(n)
            fitting = {name: f for name, f in free.items() if f >= n and name not in sick}
            if not fitting:
                assert lease is None
            else:
                assert lease is not None and lease.nbytes == n
                assert lease.name not in sick
                assert free[lease.name] == min(fitting.values())
                held.append(lease)
        elif op == "release" and held:
            lease = held.pop(n % len(held))
            lease.release()
            lease.release()
            assert pool.free_memory(lease.name) == free[lease.name] + lease.nbytes
        elif op == "sick":
            name = sorted(totals)[n % len(totals)]
            pool.mark_unhealthy(name, "test")
            sick.add(name)
    stats = pool.stats()
    for name in totals:
        assert stats[name]["reserved"] <= totals[name]
        assert stats[name]["peak_reserved"] <= totals[name]
    for lease in held:
        lease.release()
    assert all(pool.free_memory(name) == totals[name] for name in totals)


def test_stats_fields_and_busy_fraction_from_lease_time():
    pool = sim_pool(GiB, GiB)
    lease = pool.allocate_gpu(10 * MiB)
    time.sleep(0.05)
    stats = pool.stats()
    d0 = stats["sim:d0"]
    assert {"name", "kind", "total", "reserved", "used", "peak", "busy_fraction", "healthy"} <= set(d0)
    assert d0["reserved"] == 10 * MiB and d0["active_leases"] == 1
    assert d0["busy_fraction"] > 0.5
    assert stats["sim:d1"]["busy_fraction"] == 0.0
    lease.report_usage(7 * MiB)
    assert pool.stats()["sim:d0"]["peak"] >= 7 * MiB
    lease.release()
    time.sleep(0.05)
    after = pool.stats()["sim:d0"]
    assert after["reserved"] == 0 and 0 < after["busy_fraction"] < d0["busy_fraction"]


def test_simulated_usage_shows_in_stats():
    pool = sim_pool(GiB)
    lease = pool.allocate_gpu(MiB)
    with lease.device.simulated.activate():
        x = torch.empty(4096, dtype=torch.uint8)
        assert pool.stats()["sim:d0"]["used"] == 4096
        del x
    lease.release()
    stats = pool.stats()["sim:d0"]
    assert stats["used"] == 0 and stats["peak"] == 4096


# --- the real-CUDA code path, with torch.cuda replaced by a fake ---

class FakeCuda:
    def __init__(self, infos):
        self.infos = infos  # index -> (free, total) or an exception

    def is_available(self):
        return True

    def device_count(self):
        return len(self.infos)

    def mem_get_info(self, index):
        info = self.infos[index]
        if isinstance(info, Exception):
            raise info
        return info


def test_cuda_detection_and_allocation_use_mem_get_info(monkeypatch):
    fake = FakeCuda({0: (3 * GiB, 8 * GiB), 1: AssertionError("Torch not compiled with CUDA enabled")})
    for attr in ("is_available", "device_count", "mem_get_info"):
        monkeypatch.setattr(torch.cuda, attr, getattr(fake, attr))
    pool = GpuPool.detect([{"name": "sim:a", "memory": "4GiB"}])
    cuda0, cuda1, sim = pool.devices
    assert (cuda0.name, cuda0.kind, cuda0.total_memory, cuda0.torch_device) == ("cuda:0", "cuda", 8 * GiB, "cuda:0")
    assert cuda1.name == "cuda:1" and not cuda1.healthy
    # cuda:0 has 8 GiB total but only 3 GiB free on the device: best fit for 2 GiB is cuda:0 (3 < 4).
    lease = pool.allocate_gpu(2 * GiB)
    assert lease.name == "cuda:0"
    assert pool.free_memory("cuda:0") == 3 * GiB  # min(8 - 2 reserved, 3 free on the device)
    fake.infos[0] = (1 * GiB, 8 * GiB)  # the lease's tensors now use the memory
    assert pool.allocate_gpu(2 * GiB).name == "sim:a"
    assert pool.stats()["cuda:0"]["used"] == 7 * GiB


def test_mem_get_info_guard_on_cpu_builds(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def boom(index):
        raise AssertionError("Torch not compiled with CUDA enabled")

    monkeypatch.setattr(torch.cuda, "mem_get_info", boom)
    assert gp._cuda_mem_get_info(0) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gp._cuda_mem_get_info(0) is None
    assert gp._detect_cuda() == []


def test_nvml_utilization_is_used_for_real_devices_when_importable(monkeypatch):
    import sys
    import types

    fake = FakeCuda({0: (6 * GiB, 8 * GiB)})
    for attr in ("is_available", "device_count", "mem_get_info"):
        monkeypatch.setattr(torch.cuda, attr, getattr(fake, attr))
    nvml = types.ModuleType("pynvml")
    nvml.nvmlInit = lambda: None
    nvml.nvmlDeviceGetHandleByUUID = lambda uuid: (_ for _ in ()).throw(RuntimeError("no such uuid"))
    nvml.nvmlDeviceGetHandleByIndex = lambda index: ("handle", index)
    nvml.nvmlDeviceGetUtilizationRates = lambda handle: types.SimpleNamespace(gpu=37, memory=5)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    pool = GpuPool.detect([{"name": "sim:a", "memory": "1GiB"}])
    stats = pool.stats()
    assert stats["cuda:0"]["busy_fraction"] == pytest.approx(0.37)
    assert stats["cuda:0"]["used"] == 2 * GiB
    assert stats["sim:a"]["busy_fraction"] == 0.0  # simulated devices: time inside leases
