"""Executor settings as dataclasses. Hydra uses these same classes as its structured schema, and a
library user can pass a plain dict: unknown keys and bad values are refused with the key named."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from harness.errors import ConfigError

#: Exception names treated as transient (retried with backoff) unless configured otherwise.
DEFAULT_TRANSIENT_ERRORS = [
    "TimeoutError",
    "ConnectionError",
    "harness.errors.TransientError",
]


@dataclass
class ErrorHandlingSettings:
    """How failures are retried, isolated or escalated."""

    max_retries: int = 3
    retry_delay: float = 0.5
    max_retry_delay: float = 30.0
    transient_errors: list[str] = field(default_factory=lambda: list(DEFAULT_TRANSIENT_ERRORS))
    #: 'quarantine': isolate the failing rows and go on; 'fail': stop at the first failing row.
    on_error: str = "quarantine"
    #: How many times a batch may kill a worker before it is bisected like a failing row.
    max_worker_crashes: int = 2


@dataclass
class SimulatedGpuSettings:
    """A simulated GPU: a named byte budget; compute runs on the CPU."""

    name: str = "sim0"
    memory: str = "1GiB"


@dataclass
class CpuSettings:
    """Caps on CPU use (None: use what the machine and its cgroup allow)."""

    cores: Optional[int] = None


@dataclass
class ResourceSettings:
    """What the executor may use."""

    cpu: CpuSettings = field(default_factory=CpuSettings)
    memory_limit: Optional[str] = None
    #: Use real CUDA devices when torch sees them.
    detect_cuda: bool = True
    simulated_gpus: list[SimulatedGpuSettings] = field(default_factory=list)
    #: Seconds between resource monitor samples (0 disables the monitor).
    monitor_interval: float = 0.5


@dataclass
class ExecutorSettings:
    """Batching, parallelism and failure policy of ``LocalModeExecutor``."""

    #: Worker processes for CPU stages; 0 means one per usable core.
    workers: int = 0
    #: Rows per CPU batch; 0 means the smallest preferred batch size of the fused ops.
    batch_size: int = 0
    min_batch_size: int = 1
    max_batch_size: int = 10000
    adaptive_batch_size: bool = True
    memory_safety_factor: float = 0.8
    use_gpu: bool = True
    #: Batches in flight at once; 0 means two per worker.
    max_in_flight: int = 0
    #: 'quarantine' bad input rows (file, line, reason) and go on, or 'fail' at the first one.
    on_bad_input: str = "quarantine"
    #: Write each kept row's filter statistics into the output (as Data-Juicer's __dj__stats__).
    export_stats: bool = False
    #: Show a progress bar on the console.
    progress: bool = True
    #: Seed for everything random the run does (retry jitter, fault plans).
    seed: int = 0
    #: File remembering learned batch sizes between runs ('' disables it).
    batch_size_cache: str = "~/.cache/harness/batch_sizes.json"
    #: Directory for spill files of barrier ops ('' means the system temp dir).
    spill_dir: str = ""
    #: How worker processes start: 'auto' (fork for CPU pools, forkserver for device pools),
    #: or 'fork', 'forkserver', 'spawn' for every pool.
    start_method: str = "auto"
    error_handling: ErrorHandlingSettings = field(default_factory=ErrorHandlingSettings)

    def validate(self) -> "ExecutorSettings":
        """Check value ranges; raise ConfigError naming the key."""
        checks = [
            (self.workers >= 0, "executor.workers", self.workers, "0 (auto) or a positive count"),
            (self.batch_size >= 0, "executor.batch_size", self.batch_size, "0 (auto) or positive"),
            (self.min_batch_size >= 1, "executor.min_batch_size", self.min_batch_size, ">= 1"),
            (self.max_batch_size >= self.min_batch_size, "executor.max_batch_size",
             self.max_batch_size, ">= min_batch_size"),
            (0 < self.memory_safety_factor <= 1, "executor.memory_safety_factor",
             self.memory_safety_factor, "in (0, 1]"),
            (self.on_bad_input in ("quarantine", "fail"), "executor.on_bad_input",
             self.on_bad_input, "'quarantine' or 'fail'"),
            (self.error_handling.on_error in ("quarantine", "fail"),
             "executor.error_handling.on_error", self.error_handling.on_error,
             "'quarantine' or 'fail'"),
            (self.start_method in ("auto", "fork", "forkserver", "spawn"), "executor.start_method",
             self.start_method, "'auto', 'fork', 'forkserver' or 'spawn'"),
            (self.error_handling.max_retries >= 0, "executor.error_handling.max_retries",
             self.error_handling.max_retries, ">= 0"),
            (self.error_handling.retry_delay >= 0, "executor.error_handling.retry_delay",
             self.error_handling.retry_delay, ">= 0"),
        ]
        for ok, key, value, allowed in checks:
            if not ok:
                raise ConfigError(f"{key}={value!r} is not allowed; use {allowed}")
        return self


def settings_from(value: Any, cls: type = ExecutorSettings, path: str = "executor") -> Any:
    """Build ``cls`` from a dataclass instance, a mapping (nested) or None, refusing unknown keys."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if hasattr(value, "items") and not isinstance(value, dict):  # an OmegaConf DictConfig
        from omegaconf import OmegaConf  # only reached when the caller already uses OmegaConf

        value = OmegaConf.to_container(value, resolve=True)
    if not isinstance(value, dict):
        raise ConfigError(f"{path} must be a mapping, got {type(value).__name__}: {value!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key not in fields:
            raise ConfigError(
                f"unknown key {path}.{key}; allowed keys: {', '.join(sorted(fields))}"
            )
        kwargs[key] = _convert(item, fields[key], f"{path}.{key}")
    return cls(**kwargs)


def _convert(item: Any, f: dataclasses.Field, path: str) -> Any:
    default = (
        f.default_factory() if f.default_factory is not dataclasses.MISSING  # type: ignore[misc]
        else f.default
    )
    if dataclasses.is_dataclass(default):
        return settings_from(item, type(default), path)
    if f.name == "simulated_gpus":
        return [settings_from(g, SimulatedGpuSettings, f"{path}[{i}]") for i, g in enumerate(item or [])]
    if isinstance(default, bool):
        if not isinstance(item, bool):
            raise ConfigError(f"{path} must be true or false, got {item!r}")
    elif isinstance(default, int) and default is not None:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ConfigError(f"{path} must be an integer, got {item!r}")
    elif isinstance(default, float):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise ConfigError(f"{path} must be a number, got {item!r}")
        item = float(item)
    return item
