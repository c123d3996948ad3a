"""harness: run Data-Juicer-style recipes on one machine, fast and unattended, and prove in CI
that a recipe survives OOMs, flaky calls and bad rows with nothing lost."""
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, HarnessError, InputError

if TYPE_CHECKING:
    from harness.executor import ExecutionHooks, ExecutorSettings, LocalModeExecutor, OpCall, RunResult
    from harness.ops import Deduplicator, Filter, Mapper, Op, build_op, register_op, registered_ops

#: Loaded on first use (PEP 562), so `python -m harness` can start its worker fork server before
#: the heavy imports (torch) and both load in parallel.
_LAZY = {
    "LocalModeExecutor": "harness.executor", "ExecutorSettings": "harness.executor",
    "RunResult": "harness.executor", "ExecutionHooks": "harness.executor", "OpCall": "harness.executor",
    "Op": "harness.ops", "Mapper": "harness.ops", "Filter": "harness.ops",
    "Deduplicator": "harness.ops", "register_op": "harness.ops", "registered_ops": "harness.ops",
    "build_op": "harness.ops",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

__all__ = [
    "LocalModeExecutor", "ExecutorSettings", "RunResult", "ExecutionHooks", "OpCall",
    "Op", "Mapper", "Filter", "Deduplicator", "register_op", "registered_ops", "build_op",
    "HarnessError", "ConfigError", "InputError",
]
__version__ = "0.1.0"
