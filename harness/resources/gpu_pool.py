"""GPU devices, real (CUDA through torch) and simulated, handed out as memory leases.

``allocate_gpu(required)`` picks the healthy device whose *free* memory fits best (the smallest
free memory that still holds ``required``; ties go to the earlier device, so choices are
deterministic) and reserves ``required`` on it, so two leases never overcommit one device. Free
memory is the device's total minus what other leases reserved; for a real device it is also at most
what ``torch.cuda.mem_get_info`` reports free. A device marked unhealthy is never allocated again.

Busy fraction: for real devices NVML's utilization when ``pynvml`` (package ``nvidia-ml-py``) is
importable; otherwise (and for simulated devices) the share of wall time during which at least one
lease on the device was held.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from harness.errors import ConfigError
from harness.resources.simulated import SimulatedDevice
from harness.resources.lease import Held
from harness.resources.sizes import format_size, parse_size


def _cuda_mem_get_info(index: int) -> tuple[int, int] | None:
    """(free, total) bytes of CUDA device ``index``, or None where torch cannot tell (CPU build, no driver)."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        free, total = torch.cuda.mem_get_info(index)
        return int(free), int(total)
    except (AssertionError, RuntimeError, ImportError, ValueError):
        # The CPU build raises AssertionError ("Torch not compiled with CUDA enabled").
        return None


class _Nvml:
    """NVML utilization, when ``pynvml`` is importable and a driver answers; otherwise ``available`` is False."""

    def __init__(self) -> None:
        self.available = False
        self._handles: dict[int, Any] = {}
        try:
            import pynvml  # type: ignore[import-not-found]

            pynvml.nvmlInit()
            self._pynvml = pynvml
            self.available = True
        except Exception:  # ImportError, or NVMLError when no driver is present
            self._pynvml = None

    def _handle(self, index: int) -> Any:
        handle = self._handles.get(index)
        if handle is None:
            handle = None
            try:  # match by UUID: CUDA_VISIBLE_DEVICES and CUDA's ordering can differ from NVML's
                import torch

                uuid = str(torch.cuda.get_device_properties(index).uuid)
                uuid = uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"
                handle = self._pynvml.nvmlDeviceGetHandleByUUID(uuid)
            except Exception:
                handle = self._pynvml.nvmlDeviceGetHandleByIndex(index)
            self._handles[index] = handle
        return handle

    def utilization(self, index: int) -> float | None:
        if not self.available:
            return None
        try:
            return self._pynvml.nvmlDeviceGetUtilizationRates(self._handle(index)).gpu / 100.0
        except Exception:
            return None

    def memory_used(self, index: int) -> int | None:
        if not self.available:
            return None
        try:
            return int(self._pynvml.nvmlDeviceGetMemoryInfo(self._handle(index)).used)
        except Exception:
            return None


@dataclass
class GpuDevice:
    """One device the pool can lease: a CUDA device, or a simulated one whose compute runs on the CPU."""

    name: str
    kind: str  # 'cuda' | 'simulated'
    total_memory: int
    index: int = 0
    healthy: bool = True
    unhealthy_reason: str | None = None
    simulated: SimulatedDevice | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("cuda", "simulated"):
            raise ConfigError(f"device {self.name!r}: kind must be 'cuda' or 'simulated', got {self.kind!r}")
        if self.kind == "simulated" and self.simulated is None:
            self.simulated = SimulatedDevice(self.name, self.total_memory, self.index)

    @property
    def torch_device(self) -> str:
        """Where torch should put this device's tensors: ``'cuda:N'``, or ``'cpu'`` for a simulated device."""
        return f"cuda:{self.index}" if self.kind == "cuda" else "cpu"

    @classmethod
    def simulated_device(cls, name: str, memory: int | str, index: int = 0) -> "GpuDevice":
        sim = SimulatedDevice(name, memory, index)
        return cls(name=sim.name, kind="simulated", total_memory=sim.budget_bytes, index=index, simulated=sim)


class GpuLease(Held):
    """``nbytes`` reserved on ``device``. ``release()`` gives them back (again is a no-op); also a context manager."""

    def __init__(self, pool: "GpuPool", device: GpuDevice, nbytes: int) -> None:
        super().__init__(pool._release)
        self._pool = pool
        self.device = device
        self.nbytes = nbytes

    @property
    def name(self) -> str:
        return self.device.name

    @property
    def torch_device(self) -> str:
        return self.device.torch_device

    def report_usage(self, peak_bytes: int) -> None:
        """Record memory the work under this lease used (e.g. a worker's simulated-device peak)."""
        self._pool.report_usage(self.device.name, int(peak_bytes))

    def __repr__(self) -> str:
        return f"GpuLease({self.device.name!r}, {format_size(self.nbytes)}, {self._state()})"


class _DeviceState:
    def __init__(self) -> None:
        self.reserved = 0
        self.leases = 0
        self.total_leases = 0
        self.reported_used = 0
        self.peak = 0
        self.peak_reserved = 0
        self.busy_seconds = 0.0
        self.busy_since: float | None = None


class GpuPool:
    """The devices runs may use. Thread-safe."""

    def __init__(self, devices: Iterable[GpuDevice] = ()) -> None:
        self.devices: list[GpuDevice] = []
        self._by_name: dict[str, GpuDevice] = {}
        for device in devices:
            if device.name in self._by_name:
                raise ConfigError(f"two devices are named {device.name!r}; give each device its own name")
            self.devices.append(device)
            self._by_name[device.name] = device
        self._state = {d.name: _DeviceState() for d in self.devices}
        self._lock = threading.Lock()
        self._created = time.monotonic()
        self._nvml: _Nvml | None = _Nvml() if any(d.kind == "cuda" for d in self.devices) else None

    @classmethod
    def detect(
        cls,
        simulated_specs: Sequence[Mapping[str, Any]] | None = None,
        use_cuda: bool = True,
    ) -> "GpuPool":
        """Real CUDA devices (if ``use_cuda`` and torch sees any) followed by simulated ones.

        Each simulated spec is a mapping with ``name`` and ``memory`` (bytes or a size like ``'1GiB'``).
        """
        devices: list[GpuDevice] = []
        if use_cuda:
            devices.extend(_detect_cuda())
        for i, spec in enumerate(simulated_specs or ()):
            if not isinstance(spec, Mapping) or "name" not in spec or "memory" not in spec:
                raise ConfigError(
                    f"simulated device #{i} is {spec!r}; give each one a mapping with 'name' and 'memory', "
                    "e.g. {name: 'sim:small0', memory: '1GiB'}"
                )
            unknown = set(spec) - {"name", "memory"}
            if unknown:
                raise ConfigError(
                    f"simulated device {spec['name']!r}: unknown key(s) {sorted(unknown)}; allowed: ['memory', 'name']"
                )
            name = str(spec["name"])
            if name.startswith("cuda"):
                raise ConfigError(f"simulated device {name!r}: names starting with 'cuda' are for real devices; use e.g. 'sim:{name}'")
            memory = parse_size(spec["memory"])
            if memory is None or memory <= 0:
                raise ConfigError(f"simulated device {name!r} needs a positive 'memory', got {spec['memory']!r}")
            devices.append(GpuDevice.simulated_device(name, memory, index=i))
        return cls(devices)

    # --- lookup ---
    def __len__(self) -> int:
        return len(self.devices)

    def __iter__(self):
        return iter(self.devices)

    def device(self, name: str) -> GpuDevice:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no device named {name!r}; known: {sorted(self._by_name)}") from None

    def healthy_devices(self) -> list[GpuDevice]:
        return [d for d in self.devices if d.healthy]

    # --- memory ---
    def free_memory(self, name: str) -> int:
        """Memory of device ``name`` not reserved by leases (and, for a real device, free on the device now)."""
        device = self.device(name)
        with self._lock:
            return self._free(device)

    def _free(self, device: GpuDevice) -> int:
        free = device.total_memory - self._state[device.name].reserved
        if device.kind == "cuda":
            info = _cuda_mem_get_info(device.index)
            if info is not None:
                free = min(free, info[0])
        return max(0, free)

    def allocate_gpu(self, required_memory: int = 0, names: Iterable[str] | None = None) -> GpuLease | None:
        """A lease of ``required_memory`` bytes on the healthy device that fits it best, or None if none fits.

        ``names`` restricts the choice to those devices.
        """
        if isinstance(required_memory, bool) or not isinstance(required_memory, int) or required_memory < 0:
            raise ValueError(f"allocate_gpu needs a whole number of bytes >= 0, got {required_memory!r}")
        allowed = None if names is None else set(names)
        with self._lock:
            best: GpuDevice | None = None
            best_free = 0
            for device in self.devices:
                if not device.healthy or (allowed is not None and device.name not in allowed):
                    continue
                free = self._free(device)
                if free >= required_memory and (best is None or free < best_free):
                    best, best_free = device, free
            if best is None:
                return None
            state = self._state[best.name]
            state.reserved += required_memory
            state.leases += 1
            state.total_leases += 1
            state.peak_reserved = max(state.peak_reserved, state.reserved)
            if state.leases == 1:
                state.busy_since = time.monotonic()
            return GpuLease(self, best, required_memory)

    def _release(self, lease: GpuLease) -> None:
        with self._lock:
            if lease.released:
                return
            lease.released = True
            state = self._state[lease.device.name]
            state.reserved -= lease.nbytes
            state.leases -= 1
            if state.leases == 0 and state.busy_since is not None:
                state.busy_seconds += time.monotonic() - state.busy_since
                state.busy_since = None

    def report_usage(self, name: str, used: int) -> None:
        """Record memory in use on device ``name`` (e.g. a worker's simulated-device peak)."""
        with self._lock:
            state = self._state[name]
            state.reported_used = used
            state.peak = max(state.peak, used)

    # --- health ---
    def mark_unhealthy(self, name: str, reason: str) -> None:
        """Never allocate device ``name`` again (leases already held stay valid until released)."""
        device = self.device(name)
        with self._lock:
            device.healthy = False
            device.unhealthy_reason = str(reason)

    def mark_healthy(self, name: str) -> None:
        device = self.device(name)
        with self._lock:
            device.healthy = True
            device.unhealthy_reason = None

    # --- report ---
    def _used(self, device: GpuDevice, state: _DeviceState) -> int:
        if device.kind == "simulated" and device.simulated is not None:
            sim_used = device.simulated.live_bytes
            return max(sim_used, state.reported_used if state.leases else 0)
        info = _cuda_mem_get_info(device.index)
        if info is not None:
            return info[1] - info[0]
        nvml_used = self._nvml.memory_used(device.index) if self._nvml else None
        return nvml_used if nvml_used is not None else state.reserved

    def _busy_fraction(self, device: GpuDevice, state: _DeviceState, now: float) -> float:
        if device.kind == "cuda" and self._nvml is not None:
            util = self._nvml.utilization(device.index)
            if util is not None:
                return util
        busy = state.busy_seconds + (now - state.busy_since if state.busy_since is not None else 0.0)
        elapsed = now - self._created
        return 0.0 if elapsed <= 0 else min(1.0, busy / elapsed)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per device: name, kind, total, reserved, used, peak, busy_fraction, healthy (and a few more).

        ``used``/``peak`` are memory in use: a simulated device's live bytes in this process or what
        ``GpuLease.report_usage`` recorded (work in a worker process); a real device's used memory.
        ``reserved``/``peak_reserved`` are what leases reserved.
        """
        out: dict[str, dict[str, Any]] = {}
        now = time.monotonic()
        with self._lock:
            for device in self.devices:
                state = self._state[device.name]
                used = self._used(device, state)
                peak = max(state.peak, used)
                if device.kind == "simulated" and device.simulated is not None:
                    peak = max(peak, device.simulated.peak_bytes)
                state.peak = peak
                out[device.name] = {
                    "name": device.name,
                    "kind": device.kind,
                    "torch_device": device.torch_device,
                    "total": device.total_memory,
                    "reserved": state.reserved,
                    "peak_reserved": state.peak_reserved,
                    "used": used,
                    "peak": peak,
                    "busy_fraction": self._busy_fraction(device, state, now),
                    "healthy": device.healthy,
                    "unhealthy_reason": device.unhealthy_reason,
                    "active_leases": state.leases,
                    "leases": state.total_leases,
                }
        return out

    def __repr__(self) -> str:
        inner = ", ".join(f"{d.name}:{format_size(d.total_memory)}" for d in self.devices)
        return f"GpuPool([{inner}])"


def _detect_cuda() -> list[GpuDevice]:
    """CUDA devices torch can see; none on a CPU build or without a driver."""
    try:
        import torch

        if not torch.cuda.is_available():
            return []
        count = torch.cuda.device_count()
    except (AssertionError, RuntimeError, ImportError):
        return []
    devices = []
    for index in range(count):
        info = _cuda_mem_get_info(index)
        if info is None:
            devices.append(
                GpuDevice(f"cuda:{index}", "cuda", 0, index=index, healthy=False,
                          unhealthy_reason="torch.cuda.mem_get_info failed at detection")
            )
        else:
            devices.append(GpuDevice(f"cuda:{index}", "cuda", info[1], index=index))
    return devices
