"""The local-mode executor: plan, worker pools, ledger, export."""
from harness.executor.executor import LocalModeExecutor
from harness.executor.hooks import ExecutionHooks, NoHooks, OpCall
from harness.executor.result import RunResult
from harness.executor.settings import ExecutorSettings

__all__ = ["LocalModeExecutor", "ExecutionHooks", "NoHooks", "OpCall", "RunResult", "ExecutorSettings"]
