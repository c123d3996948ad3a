"""A simulated GPU: a named byte budget enforced on torch tensors that really live on the CPU.

While ``device.activate(extra_bytes)`` is open, a ``TorchDispatchMode`` sees every aten op the
thread runs. After each op it looks at the storages of the op's results: a storage that is neither
one of the op's inputs nor already counted is a new allocation; a counted storage that grew (``out=``,
``resize_``) adds its growth. Each storage is counted once (views share their base's storage), and a
weakref finalizer on the storage takes its bytes off again when torch frees it. ``extra_bytes`` is the
op's declared memory for work torch does not see. If live bytes would go over the budget, the new
results are dropped and a real ``torch.OutOfMemoryError`` is raised with CUDA's wording, so the
strategy code that catches OOMs on a real GPU is exercised unchanged.

Accounting is per activation: when an activation ends, the bytes it allocated stop counting (the op's
results are taken to be copied back to the host). This keeps the next batch's budget independent of
when Python collects garbage, which keeps runs deterministic. Peak bytes, OOM count and busy time stay.

The device is picklable, so a worker process can get it; counters are per process and start at zero
in the receiving process. Compute runs on the CPU: ``torch_device`` is ``'cpu'``.
"""
from __future__ import annotations

import threading
import time
import weakref
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from harness.errors import ConfigError
from harness.resources.sizes import format_size, parse_size

_active = threading.local()  # .activation: the Activation open on this thread, if any

#: Ops whose result is a tensor made outside the dispatcher (``torch.tensor(...)``); it is new although it is the input.
_FRESH_OPS = {"lift_fresh", "lift_fresh_copy", "lift"}


def simulated_oom_message(device_name: str, index: int, requested: int, budget: int, live: int) -> str:
    """The text of an out-of-memory error on a simulated device, in the words CUDA's allocator uses."""
    free = max(0, budget - live)
    return (
        f"CUDA out of memory. Tried to allocate {format_size(requested)}. "
        f"GPU {index} has a total capacity of {format_size(budget)} of which {format_size(free)} is free. "
        f"Of the allocated memory {format_size(live)} is allocated by PyTorch, "
        f"and 0 bytes is reserved by PyTorch but unallocated. "
        f"(simulated device {device_name!r}; lower the batch size or the op's memory needs)"
    )


class Activation:
    """One open ``activate()`` of a simulated device on one thread: the storages it allocated."""

    def __init__(self, device: "SimulatedDevice", extra_bytes: int) -> None:
        self.device = device
        self.extra_bytes = extra_bytes
        self.tracked: dict[int, tuple[int, weakref.finalize]] = {}  # storage key -> (nbytes, finalizer)
        self.tensor_bytes = 0
        self.peak_bytes = 0
        self.closed = False

    @property
    def live_bytes(self) -> int:
        """Tensor bytes allocated in this activation and still alive, plus its declared extra bytes."""
        return self.tensor_bytes + self.extra_bytes

    def _freed(self, key: int) -> None:
        with self.device._lock:
            if self.closed:
                return
            entry = self.tracked.pop(key, None)
            if entry is not None:
                self.tensor_bytes -= entry[0]
                self.device._live -= entry[0]

    def _close(self) -> None:
        with self.device._lock:
            if self.closed:
                return
            self.closed = True
            for _, finalizer in self.tracked.values():
                finalizer.detach()
            self.device._live -= self.tensor_bytes + self.extra_bytes
            self.tracked.clear()
            self.tensor_bytes = 0


def _storage_key(storage: torch.UntypedStorage) -> int:
    # The StorageImpl address: stable for the storage's life, also across resize_ (data_ptr is not).
    return int(storage._cdata)


class _CountingMode(TorchDispatchMode):
    """Counts the storages each op allocates against the activation's device budget."""

    def __init__(self, activation: Activation) -> None:
        super().__init__()
        self.activation = activation

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        input_keys = set()
        for value in tree_flatten((args, kwargs))[0]:
            if isinstance(value, torch.Tensor) and value.device.type != "meta":
                input_keys.add(_storage_key(value.untyped_storage()))
        out = func(*args, **kwargs)
        fresh = getattr(getattr(func, "overloadpacket", None), "__name__", None) in _FRESH_OPS
        act = self.activation
        new: dict[int, torch.UntypedStorage] = {}
        grown: dict[int, int] = {}
        for value in tree_flatten(out)[0]:
            if not isinstance(value, torch.Tensor) or value.device.type == "meta":
                continue
            storage = value.untyped_storage()
            key = _storage_key(storage)
            tracked = act.tracked.get(key)
            if tracked is not None:
                growth = storage.nbytes() - tracked[0]
                if growth > 0:
                    grown[key] = growth
            elif key not in new and (fresh or key not in input_keys):
                new[key] = storage
        value = storage = None
        if not new and not grown:
            return out
        requested = sum(s.nbytes() for s in new.values()) + sum(grown.values())
        device = act.device
        with device._lock:
            live = device._live
            if live + requested <= device.budget_bytes:
                for key, growth in grown.items():
                    nbytes, finalizer = act.tracked[key]
                    act.tracked[key] = (nbytes + growth, finalizer)
                for key, storage in new.items():
                    finalizer = weakref.finalize(storage, act._freed, key)
                    finalizer.atexit = False
                    act.tracked[key] = (storage.nbytes(), finalizer)
                device._commit(act, requested)
                return out
            device.oom_count += 1
        # Drop every reference to the new results before raising, so the traceback cannot keep them alive.
        out = new = storage = None
        raise torch.OutOfMemoryError(
            simulated_oom_message(device.name, device.index, requested, device.budget_bytes, live)
        )


class SimulatedDevice:
    """A named device with a byte budget; compute runs on the CPU."""

    kind = "simulated"
    torch_device = "cpu"

    def __init__(self, name: str, budget_bytes: int | str, index: int = 0) -> None:
        budget = parse_size(budget_bytes)
        if budget is None or budget <= 0:
            raise ConfigError(
                f"simulated device {name!r} needs a positive memory budget, got {budget_bytes!r}; "
                "give one such as '1GiB'"
            )
        self.name = str(name)
        self.budget_bytes = int(budget)
        self.index = int(index)
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._lock = threading.RLock()
        self._live = 0
        self._peak = 0
        self._active = 0
        self._busy_seconds = 0.0
        self._busy_since: float | None = None
        self._created = time.monotonic()
        self.oom_count = 0
        self.activations = 0

    # --- pickling: the identity travels, the per-process counters do not ---
    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "budget_bytes": self.budget_bytes, "index": self.index}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self.budget_bytes = state["budget_bytes"]
        self.index = state["index"]
        self._reset_counters()

    def __repr__(self) -> str:
        return f"SimulatedDevice({self.name!r}, {format_size(self.budget_bytes)})"

    # --- counters ---
    def _commit(self, act: Activation, requested: int) -> None:
        # Caller holds the lock.
        act.tensor_bytes += requested
        self._live += requested
        self._peak = max(self._peak, self._live)
        act.peak_bytes = max(act.peak_bytes, act.live_bytes)

    @property
    def live_bytes(self) -> int:
        """Bytes counted now in this process (all open activations)."""
        return self._live

    @property
    def peak_bytes(self) -> int:
        """Most bytes counted at once in this process since creation (or the last ``reset_peak``)."""
        return self._peak

    @property
    def free_bytes(self) -> int:
        """Budget minus live bytes."""
        return max(0, self.budget_bytes - self._live)

    def reset_peak(self) -> None:
        """Start measuring the peak again from the current live bytes."""
        with self._lock:
            self._peak = self._live

    def busy_seconds(self) -> float:
        """Seconds with at least one activation open, in this process."""
        with self._lock:
            busy = self._busy_seconds
            if self._busy_since is not None:
                busy += time.monotonic() - self._busy_since
            return busy

    def busy_fraction(self) -> float:
        """Busy seconds over seconds since this device object was created (or unpickled)."""
        elapsed = time.monotonic() - self._created
        return 0.0 if elapsed <= 0 else min(1.0, self.busy_seconds() / elapsed)

    def stats(self) -> dict[str, Any]:
        """This process's counters for the device."""
        return {
            "name": self.name,
            "kind": self.kind,
            "total": self.budget_bytes,
            "used": self._live,
            "peak": self._peak,
            "busy_seconds": self.busy_seconds(),
            "busy_fraction": self.busy_fraction(),
            "oom_count": self.oom_count,
            "activations": self.activations,
        }

    # --- running an op on the device ---
    @contextmanager
    def activate(self, extra_bytes: int = 0) -> Iterator[Activation]:
        """Count the live tensor bytes this thread allocates, plus ``extra_bytes``, against the budget.

        Raises ``torch.OutOfMemoryError`` here if ``extra_bytes`` does not fit, and inside the block at
        the op whose results would go over. Activations do not nest on one thread.
        """
        extra = int(extra_bytes or 0)
        if extra < 0:
            raise ValueError(f"extra_bytes must be >= 0, got {extra_bytes!r}")
        current = getattr(_active, "activation", None)
        if current is not None:
            raise RuntimeError(
                f"simulated device {self.name!r}: this thread already has device "
                f"{current.device.name!r} active; activations do not nest"
            )
        act = Activation(self, extra)
        with self._lock:
            if self._live + extra > self.budget_bytes:
                self.oom_count += 1
                live = self._live
                raise torch.OutOfMemoryError(
                    simulated_oom_message(self.name, self.index, extra, self.budget_bytes, live)
                )
            self._live += extra
            self._peak = max(self._peak, self._live)
            act.peak_bytes = extra
            self.activations += 1
            if self._active == 0:
                self._busy_since = time.monotonic()
            self._active += 1
        _active.activation = act
        try:
            with _CountingMode(act):
                yield act
        finally:
            _active.activation = None
            act._close()
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._busy_since is not None:
                    self._busy_seconds += time.monotonic() - self._busy_since
                    self._busy_since = None


def warm_up() -> None:
    """Pay the one-time cost of the first op under a dispatch mode (torch imports ``torch._dynamo``, ~1 s).

    Call it where that second should not land inside a timed batch, e.g. when a worker starts.
    """
    global _warm
    if _warm:
        return
    device = SimulatedDevice("sim:warm-up", 1 << 20)
    with device.activate():
        torch.empty(1, dtype=torch.uint8)
    _warm = True


_warm = False


def active_simulated_device() -> SimulatedDevice | None:
    """The simulated device active on this thread, if any."""
    act = getattr(_active, "activation", None)
    return None if act is None else act.device
