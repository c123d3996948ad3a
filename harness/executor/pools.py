"""Worker process pools that survive a dead worker: rebuilt on demand."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable


def _mp_context(method: str = "forkserver") -> multiprocessing.context.BaseContext:
    """The start method for a pool.

    * ``fork`` (CPU pools by default on Linux): a worker is a copy of the driver, so it starts
      in milliseconds with torch and the ops already imported, and scripts need no main guard.
      CPU workers never touch CUDA, so a CUDA context in the driver does not matter to them.
    * ``forkserver`` (device pools): workers fork from a clean server that preloaded the worker
      module; CUDA can be initialised in them, and they inherit no driver threads or locks.
    * ``spawn``: a fresh interpreter per worker (slowest; where nothing else exists)."""
    available = multiprocessing.get_all_start_methods()
    if method not in available:
        method = "forkserver" if "forkserver" in available else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["harness.executor.worker", "harness.ops.builtin"])
    return ctx


def _init_device_worker() -> None:
    """A device worker also pays torch's one-time dispatch-mode import (~1 s) up front, so it
    does not land inside the first batch's timing."""
    _init_worker()
    from harness.resources import warm_up

    warm_up()


def _init_worker() -> None:
    """One compute thread per worker: the pool already uses every core, and torch's own thread
    pool on top of it oversubscribes the CPU (measured: MinHash 20x slower with 2×2 threads)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch
    except ImportError:  # torch is a dependency, but ops that do not need it still work
        return
    torch.set_num_threads(1)


class WorkerPool:
    """A named process pool; ``rebuild`` replaces it after a worker died."""

    def __init__(self, name: str, workers: int, device: bool = False,
                 start_method: str = "auto") -> None:
        self.name = name
        self.device = device
        if start_method == "auto":
            start_method = "forkserver" if device else "fork"
        self.start_method = start_method
        self.workers = max(1, workers)
        self.generation = 0
        self.restarts = 0
        self._executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=_mp_context(self.start_method),
                                   initializer=_init_device_worker if self.device else _init_worker)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future = self._executor.submit(fn, *args)
        future.pool_generation = self.generation  # type: ignore[attr-defined]
        return future

    def rebuild(self) -> None:
        """Replace a broken pool (its pending futures have already failed)."""
        _terminate(self._executor)
        self._executor = self._new()
        self.generation += 1
        self.restarts += 1

    def pids(self) -> list[int]:
        processes = getattr(self._executor, "_processes", None) or {}
        return [pid for pid in processes if pid != os.getpid()]

    def shutdown(self, abort: bool = False) -> None:
        """Stop the workers. After a failure or an interrupt (``abort``), do not wait for calls
        still running: end the worker processes."""
        if abort:
            _terminate(self._executor)
        else:
            self._executor.shutdown(wait=True, cancel_futures=True)


def _terminate(executor: ProcessPoolExecutor) -> None:
    """Shut an executor down without waiting and end every worker it started. A worker forked
    while the pool was breaking can otherwise sit idle forever, and the interpreter would hang at
    exit joining it."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
