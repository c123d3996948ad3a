"""Which pool (and device) each stage runs on; owns the worker pools for a run."""
from __future__ import annotations

import os
from typing import Any, Optional

from harness.executor.plan import Plan, Stage
from harness.executor.pools import WorkerPool
from harness.executor.settings import ExecutorSettings, ResourceSettings


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Router:
    """Owns the CPU worker pool (and, with GPUs, one single-worker pool per device)."""

    def __init__(self, settings: ExecutorSettings, resources: ResourceSettings) -> None:
        self.settings, self.resources = settings, resources
        cap = resources.cpu.cores
        self.usable_cores = min(_usable_cores(), cap) if cap else _usable_cores()
        self.cpu_workers = min(settings.workers or self.usable_cores, self.usable_cores) \
            if cap else (settings.workers or self.usable_cores)
        self.events: list[dict[str, Any]] = []
        self._cpu_pool: Optional[WorkerPool] = None

    @property
    def has_gpu(self) -> bool:
        return False

    def start(self, plan: Plan) -> None:
        self.events = []

    def route(self, stage: Stage) -> tuple[WorkerPool, Optional[Any]]:
        if self._cpu_pool is None:
            self._cpu_pool = WorkerPool("cpu", self.cpu_workers)
        return self._cpu_pool, None

    def device_failed(self, device: Any, message: str) -> list[dict[str, Any]]:
        return []

    def stop(self) -> dict[str, Any]:
        stats: dict[str, Any] = {}
        if self._cpu_pool is not None:
            stats["worker_restarts"] = self._cpu_pool.restarts
            self._cpu_pool.shutdown()
            self._cpu_pool = None
        return stats

    def describe(self) -> dict[str, Any]:
        return {"usable_cores": self.usable_cores, "workers": self.cpu_workers}
