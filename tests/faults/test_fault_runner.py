"""Fault plans through the op runner (in this process): each recoverable fault gives the
fault-free output, and every injected firing that raised is recorded as a 'fault' event."""
from __future__ import annotations

from typing import Any

from fault_helpers import plan_of
from harness.data.batch import ROW_ID
from harness.executor.op_runner import OpOutcome, OpRunner, Placement
from harness.executor.settings import ErrorHandlingSettings
from harness.faults.schema import FaultRule
from harness.ops import build_op

SIM = Placement(name="sim:test0")  # a device placement whose compute runs on the CPU


def _batch(n: int = 40) -> dict[str, list[Any]]:
    return {"text": [f"  row   {i}\twith  spaces  " for i in range(n)], ROW_ID: list(range(n))}


def _run(hooks: Any, placement: Placement = Placement()) -> OpOutcome:
    runner = OpRunner(ErrorHandlingSettings(retry_delay=0.0), hooks, in_worker=False,
                      sleep=lambda seconds: None)
    return runner.run(build_op({"whitespace_normalization_mapper": {}}), 0, _batch(), placement)


def _faults(outcome: OpOutcome) -> list[dict[str, Any]]:
    return [e for e in outcome.events if e["kind"] == "fault"]


def test_transient_retries_and_records_each_firing() -> None:
    clean = _run(None)
    outcome = _run(plan_of(FaultRule(kind="transient", times=2)))
    assert outcome.batch == clean.batch
    assert [(e["fault"], e["attempt"]) for e in _faults(outcome)] == [("transient", 0), ("transient", 1)]
    assert sum(e["kind"] == "retry" for e in outcome.events) == 2


def test_oom_storm_on_a_device_splits_and_recovers() -> None:
    clean = _run(None)
    plan = plan_of(FaultRule(kind="oom_storm", min_batch_size=16), FaultRule(kind="oom_storm", rows=[3]))
    outcome = _run(plan, SIM)
    assert outcome.batch == clean.batch
    faults = _faults(outcome)
    assert faults and all(e["fault"] == "oom_storm" and e["device"] == "sim:test0" for e in faults)
    assert sum(e["kind"] == "oom" for e in outcome.events) == len(faults)
    assert max(outcome.batch_sizes) < 16
    assert [e["first_row"] for e in outcome.events if e["kind"] == "fallback"] == [3]  # row 3 alone
    assert not outcome.quarantined


def test_oom_at_one_row_on_a_device_falls_back_to_the_cpu() -> None:
    clean = _run(None)
    outcome = _run(plan_of(FaultRule(kind="oom_storm", rate=1.0, device="sim:*")), SIM)
    assert outcome.batch == clean.batch
    assert sum(e["kind"] == "fallback" for e in outcome.events) == 40
    assert not outcome.quarantined
    # The same storm on the CPU path only splits: single rows there are never hit.
    on_cpu = _run(plan_of(FaultRule(kind="oom_storm", rate=1.0, device="cpu")))
    assert on_cpu.batch == clean.batch and not on_cpu.quarantined
    assert on_cpu.batch_sizes == [1] * 40


def test_bad_rows_quarantine_exactly_those_rows() -> None:
    clean = _run(None)
    outcome = _run(plan_of(FaultRule(kind="bad_rows", rows=[3, 17, 39])))
    assert sorted(q["row_id"] for q in outcome.quarantined) == [3, 17, 39]
    assert all("injected bad row" in q["error"] for q in outcome.quarantined)
    keep = [i for i, row in enumerate(clean.batch[ROW_ID]) if row not in (3, 17, 39)]
    assert outcome.batch == {k: [v[i] for i in keep] for k, v in clean.batch.items()}
    assert all(e["fault"] == "bad_rows" for e in _faults(outcome))
