"""Which pool (and device) each stage runs on. Owns the run's resources: the CPU worker pool,
one single-worker pool per GPU (real or simulated), memory reservations for in-flight batches,
the learned batch sizes, and the resource monitor."""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from harness.data.batch import Batch, estimate_batch_bytes
from harness.executor.devices import DeviceAssignment
from harness.executor.plan import Plan, Stage
from harness.executor.pools import WorkerPool
from harness.executor.warm import start_worker_server
from harness.executor.settings import ExecutorSettings, ResourceSettings
from harness.resources import CpuPool, GpuPool, ResourceMonitor, parse_size
from harness.strategy.sizing import BatchSizeCache, SizerState

log = logging.getLogger(__name__)


class Router:
    """Routes stages to pools; tracks devices, memory and learned batch sizes for one executor."""

    def __init__(self, settings: ExecutorSettings, resources: ResourceSettings) -> None:
        self.settings, self.resources = settings, resources
        self.cpu = CpuPool(cores=resources.cpu.cores, memory_limit=parse_size(resources.memory_limit))
        self.usable_cores = self.cpu.usable_cores
        requested = settings.workers or self.usable_cores
        #: A core cap is a limit: never more workers than capped cores.
        self.cpu_workers = min(requested, self.usable_cores) if resources.cpu.cores else requested
        self.gpus = GpuPool.detect(
            [{"name": g.name, "memory": g.memory} for g in resources.simulated_gpus],
            use_cuda=resources.detect_cuda,
        )
        self.events: list[dict[str, Any]] = []
        self.cache = BatchSizeCache(settings.batch_size_cache)
        self._cpu_pool: Optional[WorkerPool] = None
        self._device_pools: dict[str, WorkerPool] = {}
        self._in_flight: dict[str, int] = {}
        self._leases: dict[int, Any] = {}
        self._device_reports: dict[str, dict[str, Any]] = {}
        self._monitor: Optional[ResourceMonitor] = None
        self._plan: Optional[Plan] = None

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus.healthy_devices())

    def start(self, plan: Plan) -> None:
        self.events = []
        self._plan = plan
        if self.has_gpu and any(st.path == "gpu" for seg in plan.segments for st in seg.stages):
            # Device workers come from the fork server: let it import torch and the ops while
            # the first CPU batches run.
            start_worker_server()
        if self.resources.monitor_interval > 0:
            self._monitor = ResourceMonitor(self.resources.monitor_interval, self.cpu, self.gpus)
            self._monitor.start()

    def stop(self, aborted: bool = False) -> dict[str, Any]:
        """Shut the pools down (at once when the run ``aborted``), save learned sizes; return the
        run's resource figures."""
        stats: dict[str, Any] = {"worker_restarts": 0}
        for pool in [self._cpu_pool, *self._device_pools.values()]:
            if pool is not None:
                stats["worker_restarts"] += pool.restarts
                pool.shutdown(abort=aborted)
        self._cpu_pool, self._device_pools = None, {}
        if self._monitor is not None:
            self._monitor.stop()
            stats["monitor"] = self._monitor.stats()
            stats["peak_rss_bytes"] = stats["monitor"].get("peak_rss_bytes")
            self._monitor = None
        self._save_learned()
        stats["devices"] = self.device_stats()
        stats["batch_size_learned"] = {
            name: report.get("sizers", {}) for name, report in self._device_reports.items()
        }
        return stats

    def describe(self) -> dict[str, Any]:
        return {
            "usable_cores": self.usable_cores,
            "workers": self.cpu_workers,
            "memory_budget_bytes": self.cpu.memory_budget,
            "memory_limit": self.resources.memory_limit,
            "devices": self.device_stats(),
        }

    def device_stats(self) -> dict[str, Any]:
        stats = self.gpus.stats()
        for name, report in self._device_reports.items():
            device = report.get("device") or {}
            if name in stats:
                stats[name]["peak"] = max(stats[name].get("peak") or 0, device.get("peak") or 0)
                stats[name]["oom_count"] = device.get("oom_count", 0)
                if device.get("busy_seconds") is not None:
                    stats[name]["busy_seconds"] = round(device["busy_seconds"], 4)
        return stats

    # -- memory backpressure ------------------------------------------------------------------
    def admit(self, batch: Batch, anything_running: bool) -> Optional[Callable[[], None]]:
        """Reserve memory for a batch about to go in flight; None means wait for one to finish."""
        nbytes = estimate_batch_bytes(batch)
        reservation = self.cpu.try_reserve_memory(nbytes)
        if reservation is None:
            if anything_running:
                return None
            reservation = self.cpu.reserve_memory(nbytes)  # alone: granted, never deadlocks
        return reservation.release

    # -- routing ------------------------------------------------------------------------------
    def _cpu(self) -> WorkerPool:
        if self._cpu_pool is None:
            self._cpu_pool = WorkerPool("cpu", self.cpu_workers,
                                        start_method=self.settings.start_method)
        return self._cpu_pool

    def route(self, stage: Stage, batch: Optional[Batch] = None) -> tuple[WorkerPool, Optional[Any]]:
        if stage.path != "gpu":
            return self._cpu(), None
        healthy = self.gpus.healthy_devices()
        if not healthy:
            return self._cpu(), None
        assert self._plan is not None
        rows = len(next(iter(batch.values()))) if batch else 0
        need = sum(self._plan.ops[i].bytes_per_row_estimate() for i in stage.op_indices) * rows
        # Spread work: among the devices with the fewest batches in flight, lease the one whose
        # free memory fits this batch best; when none has room, queue on the least busy one
        # (each device has a single worker, so its batches run one after another).
        need = min(need, max(d.total_memory for d in healthy))
        idle = min(self._in_flight.get(d.name, 0) for d in healthy)
        least_busy = [d.name for d in healthy if self._in_flight.get(d.name, 0) == idle]
        lease = self.gpus.allocate_gpu(need, names=least_busy) or self.gpus.allocate_gpu(need)
        device = lease.device if lease is not None else min(
            healthy, key=lambda d: (self._in_flight.get(d.name, 0), -self.gpus.free_memory(d.name)))
        self._in_flight[device.name] = self._in_flight.get(device.name, 0) + 1
        pool = self._device_pools.get(device.name)
        if pool is None:
            pool = self._device_pools[device.name] = WorkerPool(f"device:{device.name}", 1, device=True,
                                                                  start_method=self.settings.start_method)
        assignment = DeviceAssignment(
            name=device.name, kind=device.kind, torch_device=device.torch_device,
            total_memory=device.total_memory, simulated=device.simulated,
            min_batch_size=self.settings.min_batch_size, max_batch_size=self.settings.max_batch_size,
            adaptive=self.settings.adaptive_batch_size, safety=self.settings.memory_safety_factor,
            learned=self._learned_for(device.name, device.kind, device.total_memory, stage),
        )
        if lease is not None:
            self._leases[id(assignment)] = lease
        return pool, assignment

    def _release(self, device: Optional[DeviceAssignment]) -> None:
        if device is None:
            return
        self._in_flight[device.name] = max(0, self._in_flight.get(device.name, 1) - 1)
        lease = self._leases.pop(id(device), None)
        if lease is not None:
            lease.release()

    def done(self, device: Optional[DeviceAssignment], report: dict[str, Any]) -> None:
        """A task on ``device`` finished: free its slot and keep the worker's device report."""
        if device is None:
            return
        self._release(device)
        if device.name in report:
            self._device_reports[device.name] = report[device.name]
            peak = (report[device.name].get("device") or {}).get("peak")
            if peak:
                self.gpus.report_usage(device.name, int(peak))

    def device_failed(self, device: Any, message: str) -> list[dict[str, Any]]:
        """Mark the device unhealthy; its work moves to other devices or the CPU."""
        if device is None:
            return []
        self._release(device)
        if not self.gpus.device(device.name).healthy:
            return []  # another batch already reported this device lost
        self.gpus.mark_unhealthy(device.name, message)
        remaining = [d.name for d in self.gpus.healthy_devices()]
        log.warning("device %s failed (%s); its work moves to %s", device.name, message,
                    ", ".join(remaining) or "the CPU")
        return [{"kind": "device_lost", "op": None, "device": device.name, "error": message,
                 "moved_to": remaining[0] if remaining else "cpu"}]

    # -- learned sizes ------------------------------------------------------------------------
    def _learned_for(self, name: str, kind: str, memory: int, stage: Stage) -> dict[str, dict[str, Any]]:
        assert self._plan is not None
        learned: dict[str, dict[str, Any]] = {}
        current = (self._device_reports.get(name) or {}).get("sizers", {})
        for index in stage.op_indices:
            signature = self._plan.ops[index].signature()
            if signature in current:
                learned[signature] = current[signature]
                continue
            state = self.cache.get(self.cache.key(signature, kind, memory))
            if state is not None:
                learned[signature] = {"size": state.size, "ceiling": state.ceiling}
        return learned

    def _save_learned(self) -> None:
        if not self._device_reports:
            return
        for name, report in self._device_reports.items():
            try:
                device = self.gpus.device(name)
            except KeyError:
                continue
            for signature, state in (report.get("sizers") or {}).items():
                self.cache.put(self.cache.key(signature, device.kind, device.total_memory),
                               SizerState(size=int(state["size"]), ceiling=state.get("ceiling")))
        try:
            self.cache.save()
        except OSError as error:
            log.warning("could not save learned batch sizes to %s: %s", self.cache.path, error)
