"""The local-mode executor: plan, worker pools, ledger, export."""
from typing import TYPE_CHECKING, Any

from harness.executor.hooks import ExecutionHooks, NoHooks, OpCall
from harness.executor.result import RunResult
from harness.executor.settings import ExecutorSettings

if TYPE_CHECKING:
    from harness.executor.executor import LocalModeExecutor


def __getattr__(name: str) -> Any:
    # Loaded on first use: importing harness.executor.pools (to start the fork server early)
    # must not pull in the executor and torch.
    if name == "LocalModeExecutor":
        from harness.executor.executor import LocalModeExecutor

        globals()[name] = LocalModeExecutor
        return LocalModeExecutor
    raise AttributeError(f"module 'harness.executor' has no attribute {name!r}")

__all__ = ["LocalModeExecutor", "ExecutionHooks", "NoHooks", "OpCall", "RunResult", "ExecutorSettings"]
