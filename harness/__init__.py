"""harness: run Data-Juicer-style recipes on one machine, fast and unattended, and prove in CI
that a recipe survives OOMs, flaky calls and bad rows with nothing lost."""
from harness.errors import ConfigError, HarnessError, InputError
from harness.executor import ExecutionHooks, ExecutorSettings, LocalModeExecutor, OpCall, RunResult
from harness.ops import Deduplicator, Filter, Mapper, Op, build_op, register_op, registered_ops

__all__ = [
    "LocalModeExecutor", "ExecutorSettings", "RunResult", "ExecutionHooks", "OpCall",
    "Op", "Mapper", "Filter", "Deduplicator", "register_op", "registered_ops", "build_op",
    "HarnessError", "ConfigError", "InputError",
]
__version__ = "0.1.0"
