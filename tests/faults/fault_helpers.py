"""Shared builders for the fault tests."""
from __future__ import annotations

from typing import Any, Optional

from harness.executor.hooks import OpCall
from harness.faults.plan import FaultPlan
from harness.faults.schema import FaultRule, FaultRuleSet, FaultsSettings


def plan_of(*rules: FaultRule, seed: int = 0, set_seed: int = 0, set_name: str = "t") -> FaultPlan:
    """A plan whose rules form one rule set (as a fault file would give)."""
    return FaultPlan(FaultsSettings(name=set_name, seed=seed,
                                    rule_sets={set_name: FaultRuleSet(seed=set_seed, rules=list(rules))}))


def call(rows: Any, op: str = "op_a", device: str = "cpu", attempt: int = 0,
         in_worker: bool = True, worker_restarts: int = 0, op_index: int = 0) -> OpCall:
    row_ids = list(rows)
    return OpCall(op, op_index, row_ids, device, attempt, in_worker, worker_restarts)


def raised(plan: FaultPlan, c: OpCall) -> Optional[BaseException]:
    """The exception the plan raises on ``c`` (None when the call goes on)."""
    try:
        plan.before_op_call(c)
    except Exception as error:  # noqa: BLE001
        return error
    return None
