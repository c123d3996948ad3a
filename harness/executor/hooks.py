"""The executor's injection seam. Fault plans (harness.faults) implement it; the executor only
knows this protocol. Hooks run inside worker processes, so implementations must be picklable."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class OpCall:
    """One attempt to run one op on one (sub-)batch."""

    op_name: str
    op_index: int
    row_ids: Sequence[int]
    #: 'cpu' or a device name such as 'cuda:0' or 'sim:small0'.
    device: str
    #: 0 for the first try of these rows on this op, then 1, 2, ... on retries.
    attempt: int
    #: True when running in a worker process (killing it is survivable).
    in_worker: bool = True
    #: How many times a worker pool broke while this batch was on it (it may have been the cause,
    #: or only in flight beside the batch that was).
    worker_restarts: int = 0


@runtime_checkable
class ExecutionHooks(Protocol):
    """Called around every op call. ``before_op_call`` may raise (an injected error), sleep,
    or end the worker process; what it returns is a list of event dicts to record."""

    def before_op_call(self, call: OpCall) -> list[dict[str, Any]]: ...


class NoHooks:
    """The default: nothing injected."""

    def before_op_call(self, call: OpCall) -> list[dict[str, Any]]:
        return []
