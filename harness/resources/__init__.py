"""Resources of the machine: CPU cores and memory (within cgroups), GPUs real and simulated, a monitor.

Imports nothing from the rest of harness except ``harness.errors``.
"""
from __future__ import annotations

from harness.resources.cgroup import (
    CgroupLimits,
    detect_limits,
    read_cpu_quota,
    read_memory_limit,
    read_memory_usage,
    usable_cores,
)
from harness.resources.cpu_pool import CoreLease, CpuPool, MemoryReservation, ReservationTimeout
from harness.resources.gpu_pool import GpuDevice, GpuLease, GpuPool
from harness.resources.monitor import ResourceMonitor
from harness.resources.simulated import (
    SimulatedDevice,
    active_simulated_device,
    simulated_oom_message,
    warm_up,
)
from harness.resources.sizes import format_size, parse_size

__all__ = [
    "CgroupLimits",
    "CoreLease",
    "CpuPool",
    "GpuDevice",
    "GpuLease",
    "GpuPool",
    "MemoryReservation",
    "ReservationTimeout",
    "ResourceMonitor",
    "SimulatedDevice",
    "active_simulated_device",
    "detect_limits",
    "format_size",
    "parse_size",
    "read_cpu_quota",
    "read_memory_limit",
    "read_memory_usage",
    "simulated_oom_message",
    "usable_cores",
    "warm_up",
]
