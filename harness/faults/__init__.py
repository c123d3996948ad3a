"""Fault injection: plans from the ``faults`` config that implement the executor's hooks."""
from __future__ import annotations

from harness.executor.hooks import ExecutionHooks, NoHooks
from harness.faults.schema import FaultRule, FaultRuleSet, FaultsSettings


def build_hooks(settings: FaultsSettings) -> ExecutionHooks:
    """The executor hooks for a fault plan (no rules: nothing is injected)."""
    if not settings.all_rules():
        return NoHooks()
    from harness.faults.plan import FaultPlan

    return FaultPlan(settings)


__all__ = ["build_hooks", "FaultRule", "FaultRuleSet", "FaultsSettings"]
