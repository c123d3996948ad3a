"""FaultPlan on its own: when each kind fires, determinism, pickling, validation, events."""
from __future__ import annotations

import os
import pickle
import random

import pytest
import torch

from fault_helpers import call, plan_of, raised
from harness.errors import ConfigError, TransientError
from harness.executor.settings import DEFAULT_TRANSIENT_ERRORS
from harness.faults import build_hooks
from harness.faults.plan import CRASH_EXIT_CODE, FaultPlan, WorkerCrashNotPossible
from harness.faults.schema import FaultRule, FaultRuleSet, FaultsSettings
from harness.executor.hooks import NoHooks
from harness.strategy.errors import DeviceLostError, is_device_error, is_oom, is_transient

OPS = ["whitespace_normalization_mapper", "text_length_filter", "document_deduplicator"]


def firing_map(plan: FaultPlan, order: list[tuple[str, int]]) -> dict[tuple[str, int], list[str]]:
    return {(op, first): plan.fires(call(range(first, first + 10), op=op)) for op, first in order}


def all_calls() -> list[tuple[str, int]]:
    return [(op, first) for op in OPS for first in range(0, 2000, 10)]


# -- determinism --------------------------------------------------------------------------------
def test_same_seed_same_firings_whatever_the_order() -> None:
    rule = FaultRule(kind="transient", rate=0.3, times=1)
    order = all_calls()
    first = firing_map(plan_of(rule, seed=4), order)
    shuffled = list(order)
    random.Random(1).shuffle(shuffled)
    again = firing_map(plan_of(rule, seed=4), shuffled)
    assert first == again
    fired = sum(bool(kinds) for kinds in first.values())
    # A seeded fraction, not all or nothing.
    assert 0.25 * len(order) < fired < 0.35 * len(order)


def test_different_seed_different_firings() -> None:
    rule = FaultRule(kind="transient", rate=0.3)
    order = all_calls()
    base = firing_map(plan_of(rule, seed=4), order)
    assert firing_map(plan_of(rule, seed=5), order) != base          # faults.seed
    assert firing_map(plan_of(rule, seed=4, set_seed=1), order) != base  # the file's own seed


def test_rate_draw_depends_on_the_first_row_only() -> None:
    plan = plan_of(FaultRule(kind="slow", rate=0.5))
    for first in range(0, 300, 7):
        assert plan.fires(call([first, first + 1])) == plan.fires(call(range(first, first + 40)))
        assert plan.fires(call([first], attempt=2)) == plan.fires(call([first]))


def test_composition_keeps_each_files_firings() -> None:
    transient = FaultRuleSet(seed=7, rules=[FaultRule(kind="transient", rate=0.2, times=2)])
    slow = FaultRuleSet(seed=11, rules=[FaultRule(kind="slow", rate=0.3)])
    alone = FaultPlan(FaultsSettings(rule_sets={"transient": transient}))
    both = FaultPlan(FaultsSettings(rule_sets={"slow": slow, "transient": transient}))
    for op, first in all_calls():
        c = call(range(first, first + 10), op=op)
        assert ("transient" in alone.fires(c)) == ("transient" in both.fires(c))


def test_plan_pickles_and_fires_the_same_after() -> None:
    plan = plan_of(FaultRule(kind="transient", rate=0.3), FaultRule(kind="bad_rows", rows=[3, 9]),
                   FaultRule(kind="oom_storm", min_batch_size=16), seed=2)
    copy = pickle.loads(pickle.dumps(plan))
    assert isinstance(copy, FaultPlan)
    order = all_calls()
    assert firing_map(copy, order) == firing_map(plan, order)


# -- oom_storm ----------------------------------------------------------------------------------
def test_oom_storm_by_size_fires_on_devices_only() -> None:
    plan = plan_of(FaultRule(kind="oom_storm", min_batch_size=64))
    error = raised(plan, call(range(64), device="sim:small0"))
    assert isinstance(error, torch.OutOfMemoryError) and is_oom(error)
    assert "CUDA out of memory. Tried to allocate" in str(error)
    assert "injected by fault rule 0" in str(error)
    assert raised(plan, call(range(63), device="sim:small0")) is None
    assert raised(plan, call(range(64), device="cpu")) is None
    cpu_plan = plan_of(FaultRule(kind="oom_storm", min_batch_size=64, device="cpu"))
    assert isinstance(raised(cpu_plan, call(range(64), device="cpu")), torch.OutOfMemoryError)
    assert raised(cpu_plan, call(range(64), device="cuda:0")) is None


def test_oom_storm_by_rows_down_to_the_row_alone_on_devices() -> None:
    plan = plan_of(FaultRule(kind="oom_storm", rows=[5]))
    assert isinstance(raised(plan, call([4, 5], device="cuda:0")), torch.OutOfMemoryError)
    assert isinstance(raised(plan, call([5], device="cuda:0")), torch.OutOfMemoryError)
    assert raised(plan, call([6, 7], device="cuda:0")) is None
    assert raised(plan, call([4, 5], device="cpu")) is None


def test_oom_storm_never_hits_a_single_row_on_the_cpu() -> None:
    plan = plan_of(FaultRule(kind="oom_storm", rows=[5], rate=1.0, min_batch_size=1, device="cpu"))
    assert isinstance(raised(plan, call([4, 5], device="cpu")), torch.OutOfMemoryError)
    assert raised(plan, call([5], device="cpu")) is None
    assert raised(plan, call([9], device="cpu")) is None


def test_oom_storm_event_is_attached() -> None:
    plan = plan_of(FaultRule(kind="oom_storm", min_batch_size=2), set_name="oom_storm")
    error = raised(plan, call([7, 8, 9], op="op_b", device="sim:0", op_index=3))
    assert error is not None
    event = error.harness_fault_event  # type: ignore[attr-defined]
    assert event["kind"] == "fault" and event["fault"] == "oom_storm" and event["rule"] == 0
    assert event["rule_set"] == "oom_storm"
    assert (event["op"], event["op_index"], event["device"]) == ("op_b", 3, "sim:0")
    assert (event["batch_size"], event["first_row"]) == (3, 7)


# -- transient ----------------------------------------------------------------------------------
def test_transient_fails_the_first_times_attempts() -> None:
    plan = plan_of(FaultRule(kind="transient", times=2))
    for attempt in (0, 1):
        error = raised(plan, call([1, 2], attempt=attempt))
        assert isinstance(error, TransientError)
        assert is_transient(error, DEFAULT_TRANSIENT_ERRORS)
        assert "injected transient error (rule 0)" in str(error)
    assert raised(plan, call([1, 2], attempt=2)) is None


def test_transient_rows_selector_and_op_pattern() -> None:
    plan = plan_of(FaultRule(kind="transient", rows=[10], op="clean_*"))
    assert isinstance(raised(plan, call([9, 10], op="clean_email_mapper")), TransientError)
    assert raised(plan, call([9, 10], op="text_length_filter")) is None
    assert raised(plan, call([11, 12], op="clean_email_mapper")) is None


# -- worker_crash -------------------------------------------------------------------------------
def test_worker_crash_in_the_driver_raises_instead() -> None:
    plan = plan_of(FaultRule(kind="worker_crash", rows=[3], times=1))
    error = raised(plan, call([2, 3], in_worker=False))
    assert isinstance(error, WorkerCrashNotPossible)
    assert "driver process" in str(error)
    assert error.harness_fault_event["fault"] == "worker_crash"  # type: ignore[attr-defined]


class _Exited(BaseException):
    """Stands in for the end of the process."""


def test_worker_crash_ends_the_worker_until_times_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_exit(code: int) -> None:
        raise _Exited(code)

    monkeypatch.setattr(os, "_exit", fake_exit)  # the real one would end the test run
    plan = plan_of(FaultRule(kind="worker_crash", rows=[3], times=2))
    for restarts in (0, 1):
        with pytest.raises(_Exited) as exited:
            plan.before_op_call(call([2, 3], worker_restarts=restarts))
        assert exited.value.args == (CRASH_EXIT_CODE,)
    assert plan.before_op_call(call([2, 3], worker_restarts=2)) == []
    assert plan.before_op_call(call([4, 5], worker_restarts=0)) == []  # not a selected row
    assert plan.fires(call([2, 3], worker_restarts=1)) == ["worker_crash"]
    assert plan.fires(call([2, 3], worker_restarts=2)) == []


# -- device_lost --------------------------------------------------------------------------------
def test_device_lost_on_matching_devices_never_the_cpu() -> None:
    plan = plan_of(FaultRule(kind="device_lost"))
    error = raised(plan, call([1], device="sim:small0"))
    assert isinstance(error, DeviceLostError) and is_device_error(error) and not is_oom(error)
    assert raised(plan, call([1], device="cpu")) is None
    assert raised(plan_of(FaultRule(kind="device_lost", device="cpu")), call([1], device="cpu")) is None
    only_cuda = plan_of(FaultRule(kind="device_lost", device="cuda:*"))
    assert raised(only_cuda, call([1], device="sim:0")) is None
    assert isinstance(raised(only_cuda, call([1], device="cuda:1")), DeviceLostError)


# -- bad_rows -----------------------------------------------------------------------------------
def test_bad_rows_fail_every_attempt_and_name_the_row() -> None:
    plan = plan_of(FaultRule(kind="bad_rows", rows=[17, 3]))
    for attempt in range(4):
        error = raised(plan, call(range(10, 20), attempt=attempt))
        assert isinstance(error, ValueError)
        assert str(error) == "injected bad row 17 (rule 0)"
    assert raised(plan, call(range(4, 17))) is None


def test_bad_rows_by_rate_are_a_property_of_the_row() -> None:
    plan = plan_of(FaultRule(kind="bad_rows", rate=0.05), seed=3)
    bad = {row for row in range(400) if raised(plan, call([row])) is not None}
    assert 0 < len(bad) < 50
    for lo in range(0, 400, 25):
        error = raised(plan, call(range(lo, lo + 25)))
        in_call = sorted(bad & set(range(lo, lo + 25)))
        if in_call:
            assert str(error) == f"injected bad row {in_call[0]} (rule 0)"
        else:
            assert error is None


# -- slow ---------------------------------------------------------------------------------------
def test_slow_sleeps_and_returns_its_event(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("harness.faults.plan.time.sleep", slept.append)
    plan = plan_of(FaultRule(kind="slow", delay=0.25, rows=[4]), FaultRule(kind="slow", delay=0.5))
    events = plan.before_op_call(call([3, 4], op="op_c", op_index=2))
    assert slept == [0.25, 0.5]
    assert [(e["kind"], e["fault"], e["rule"], e["delay"]) for e in events] == [
        ("fault", "slow", 0, 0.25), ("fault", "slow", 1, 0.5)]
    assert events[0]["op"] == "op_c" and events[0]["first_row"] == 3
    slept.clear()
    assert len(plan.before_op_call(call([5, 6]))) == 1 and slept == [0.5]


# -- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize("rule, words", [
    (FaultRule(kind="meltdown"), "unknown fault kind"),
    (FaultRule(kind="transient", rate=1.5), "rate=1.5"),
    (FaultRule(kind="bad_rows"), "needs rows"),
    (FaultRule(kind="slow", delay=-1.0), ">= 0"),
])
def test_bad_rules_are_refused_before_any_work(rule: FaultRule, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        plan_of(rule)


def test_build_hooks() -> None:
    assert isinstance(build_hooks(FaultsSettings()), NoHooks)
    assert isinstance(build_hooks(FaultsSettings(rules=[FaultRule(kind="slow")])), FaultPlan)
    with_set = FaultsSettings(rule_sets={"a": FaultRuleSet(rules=[FaultRule(kind="slow")])})
    assert isinstance(build_hooks(with_set), FaultPlan)


def test_rules_of_sets_then_command_line_numbered_in_order() -> None:
    settings = FaultsSettings(
        name="b", rules=[FaultRule(kind="slow")],
        rule_sets={"a": FaultRuleSet(rules=[FaultRule(kind="transient")]),
                   "b": FaultRuleSet(rules=[FaultRule(kind="bad_rows", rows=[1])])})
    assert settings.name == "a+b+rules"
    assert FaultsSettings(rules=[FaultRule(kind="slow")]).name == "rules"
    assert FaultsSettings().name == "none"
    assert [(s, i, r.kind) for s, _, i, r in settings.all_rules()] == [
        ("a", 0, "transient"), ("b", 0, "bad_rows"), ("rules", 0, "slow")]
    error = raised(FaultPlan(settings), call([1, 2], attempt=5))
    assert str(error) == "injected bad row 1 (rule 1)"
