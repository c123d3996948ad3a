"""The CPU side of the machine: usable cores and a memory budget, handed out as leases.

Usable cores = min(affinity ∩ cgroup quota, the configured cap). Memory budget = min(memory
available now (psutil), room left under the cgroup limit, the configured cap), measured once when
the pool is built. Workers hold core leases; in-flight batches hold memory reservations. When the
budget is used up, ``reserve_memory`` waits (backpressure instead of swapping). A request larger than
the whole budget is granted when nothing else is reserved, so it runs alone instead of deadlocking.
Waiters are served first come, first served, so a large request is not starved by small ones.
"""
from __future__ import annotations

import collections
import itertools
import os
import threading
import time
from typing import Any

import psutil

from harness.errors import ConfigError, HarnessError
from harness.resources import cgroup
from harness.resources.lease import Held
from harness.resources.sizes import format_size, parse_size


class ReservationTimeout(HarnessError, TimeoutError):
    """``reserve_memory`` waited its whole timeout for memory that in-flight work did not give back."""


class CoreLease(Held):
    """Cores held by one worker. ``release()`` gives them back (again is a no-op); also a context manager."""

    def __init__(self, pool: "CpuPool", cpu_ids: tuple[int, ...]) -> None:
        super().__init__(pool._release_cores)
        self.cpu_ids = cpu_ids

    @property
    def cores(self) -> int:
        """How many cores the lease holds."""
        return len(self.cpu_ids)

    def __repr__(self) -> str:
        return f"CoreLease(cores={self.cores}, cpu_ids={self.cpu_ids}, {self._state()})"


class MemoryReservation(Held):
    """Bytes held by one in-flight batch. ``release()`` gives them back (again is a no-op); also a context manager."""

    def __init__(self, pool: "CpuPool", nbytes: int) -> None:
        super().__init__(pool._release_memory)
        self.nbytes = nbytes

    def __repr__(self) -> str:
        return f"MemoryReservation({format_size(self.nbytes)}, {self._state()})"


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number >= 1 (or null for all of them), got {value!r}")
    return value


class CpuPool:
    """Cores and memory of this machine (within its cgroup), handed out as leases. Thread-safe.

    ``cores`` and ``memory_limit`` cap what is detected. ``detected_cores``, ``available_memory`` and
    ``cgroup_root`` replace detection (for tests, or to plan for another machine).
    """

    def __init__(
        self,
        cores: int | None = None,
        memory_limit: int | str | None = None,
        *,
        detected_cores: int | None = None,
        available_memory: int | None = None,
        cgroup_root: str | os.PathLike = "/",
    ) -> None:
        cap_cores = None if cores is None else _positive_int("cores", cores)
        cap_memory = parse_size(memory_limit)
        if detected_cores is None:
            affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            detected_cores = cgroup.usable_cores(cgroup_root, None if affinity is None else len(affinity))
        else:
            detected_cores = _positive_int("detected_cores", detected_cores)
            affinity = None
        self.detected_cores = detected_cores
        usable = detected_cores if cap_cores is None else min(detected_cores, cap_cores)
        if affinity is not None and len(affinity) >= usable:
            self._cpu_ids: tuple[int, ...] = tuple(affinity[:usable])
        else:
            self._cpu_ids = tuple(range(usable))

        limits = cgroup.detect_limits(cgroup_root)
        self.cgroup_limits = limits
        if available_memory is None:
            available_memory = psutil.virtual_memory().available
        candidates = [int(available_memory)]
        if limits.memory_limit is not None:
            candidates.append(max(0, limits.memory_limit - (limits.memory_usage or 0)))
        if cap_memory is not None:
            candidates.append(cap_memory)
        self.detected_available_memory = int(available_memory)
        self._budget = max(0, min(candidates))

        self._cond = threading.Condition(threading.Lock())
        self._free_ids: list[int] = list(self._cpu_ids)
        self._reserved = 0
        self._peak_reserved = 0
        self._reservations = 0
        self._waits = 0
        self._tickets = itertools.count()
        self._queue: collections.deque[int] = collections.deque()

    # --- properties ---
    @property
    def usable_cores(self) -> int:
        return len(self._cpu_ids)

    @property
    def free_cores(self) -> int:
        with self._cond:
            return len(self._free_ids)

    @property
    def memory_budget(self) -> int:
        return self._budget

    @property
    def reserved_memory(self) -> int:
        with self._cond:
            return self._reserved

    @property
    def free_memory(self) -> int:
        with self._cond:
            return max(0, self._budget - self._reserved)

    # --- cores ---
    def allocate_cores(self, n: int = 1) -> CoreLease | None:
        """A lease on ``n`` cores, or None if fewer than ``n`` are free now."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"allocate_cores needs n >= 1, got {n!r}")
        with self._cond:
            if n > len(self._free_ids):
                return None
            taken = tuple(self._free_ids[:n])
            del self._free_ids[:n]
        return CoreLease(self, taken)

    def _release_cores(self, lease: CoreLease) -> None:
        with self._cond:
            if lease.released:
                return
            lease.released = True
            self._free_ids.extend(lease.cpu_ids)
            self._free_ids.sort(key=self._cpu_ids.index)

    # --- memory ---
    def _fits(self, nbytes: int) -> bool:
        return self._reserved + nbytes <= self._budget or self._reserved == 0

    def _grant(self, nbytes: int) -> MemoryReservation:
        self._reserved += nbytes
        self._peak_reserved = max(self._peak_reserved, self._reserved)
        self._reservations += 1
        return MemoryReservation(self, nbytes)

    @staticmethod
    def _check_bytes(nbytes: int) -> int:
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise ValueError(f"a memory reservation needs a whole number of bytes >= 0, got {nbytes!r}")
        return nbytes

    def try_reserve_memory(self, nbytes: int) -> MemoryReservation | None:
        """Reserve ``nbytes`` now, or None if that would go over the budget (or others are waiting first)."""
        nbytes = self._check_bytes(nbytes)
        with self._cond:
            if self._queue or not self._fits(nbytes):
                return None
            return self._grant(nbytes)

    def reserve_memory(self, nbytes: int, timeout: float | None = None) -> MemoryReservation:
        """Reserve ``nbytes``, waiting while the budget is used up.

        A request above the whole budget waits until nothing else is reserved and then runs alone.
        Raises ReservationTimeout if ``timeout`` seconds pass first.
        """
        nbytes = self._check_bytes(nbytes)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if not self._queue and self._fits(nbytes):
                return self._grant(nbytes)
            ticket = next(self._tickets)
            self._queue.append(ticket)
            self._waits += 1
            try:
                while not (self._queue[0] == ticket and self._fits(nbytes)):
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise ReservationTimeout(
                            f"waited {timeout:g} s to reserve {format_size(nbytes)} of memory; "
                            f"{format_size(self._reserved)} of the {format_size(self._budget)} budget "
                            "is still held by in-flight work. Raise the memory limit, lower the batch "
                            "size or the number of in-flight batches, or wait longer."
                        )
                    self._cond.wait(remaining)
                return self._grant(nbytes)
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def _release_memory(self, reservation: MemoryReservation) -> None:
        with self._cond:
            if reservation.released:
                return
            reservation.released = True
            self._reserved -= reservation.nbytes
            self._cond.notify_all()

    # --- report ---
    def stats(self) -> dict[str, Any]:
        """Cores and memory: what was detected, the budget, what is held now and at most."""
        with self._cond:
            return {
                "usable_cores": self.usable_cores,
                "detected_cores": self.detected_cores,
                "free_cores": len(self._free_ids),
                "cpu_quota": self.cgroup_limits.cpu_quota,
                "memory_budget": self._budget,
                "available_memory": self.detected_available_memory,
                "cgroup_memory_limit": self.cgroup_limits.memory_limit,
                "reserved_memory": self._reserved,
                "peak_reserved_memory": self._peak_reserved,
                "reservations": self._reservations,
                "reservation_waits": self._waits,
            }

    def __repr__(self) -> str:
        return f"CpuPool(cores={self.usable_cores}, memory_budget={format_size(self._budget)})"
