"""Suite cases marked ``benchmark``, timed with pytest-benchmark (run with ``pytest benchmarks``).

CI gates on deterministic counters, never on seconds: for each case the batches per op, OOMs,
rows recomputed and the row counts must be the same in every round and must meet the case's
expectations (the same checks the suite runs). Peak RSS is recorded for the record. Timings are
reported as a ratio measured in the same session: this case's wall time over the wall time of its
fault-free baseline (the case without its ``faults`` overrides, or its ``same_output_as``
reference when it injects none), printed at the end of the run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest

from harness.suite.plugin import session_state, shown_path, suites_dir
from harness.suite.runner import RunOutcome, check_outcome, execute
from harness.suite.schema import SuiteCase, load_suite

ROUNDS = 2
#: (case, ratio, case wall, baseline wall) — None without a baseline; printed by conftest.py.
RATIOS: list[tuple[str, Optional[float], float, Optional[float]]] = []


def benchmark_cases(config: pytest.Config) -> list[SuiteCase]:
    folder = suites_dir(config)
    cases = []
    for file in sorted(folder.glob("*.y*ml")):
        cases.extend(c for c in load_suite(file, shown_path(config, file)).cases if c.benchmark)
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = benchmark_cases(metafunc.config)
        metafunc.parametrize("case", cases, ids=[f"{c.suite}::{c.id}" for c in cases])


def baseline_overrides(case: SuiteCase) -> Optional[list[str]]:
    """The fault-free twin of a case: its overrides without faults, or its reference run (None
    when the case injects nothing and has no reference: no ratio to report)."""
    without = [o for o in case.overrides if not o.lstrip("+~").startswith("faults")]
    if without != case.overrides:
        return without
    return list(case.expect.same_output_as) if case.expect.same_output_as is not None else None


def counters(outcome: RunOutcome) -> dict[str, Any]:
    """What must not change between rounds (DESIGN invariant 6) and what CI gates on."""
    report = outcome.result.report
    counts = outcome.result.event_counts()
    return {
        "rows": report["rows"],
        "batches_per_op": {op["name"]: op["batch_sizes"]["batches"] for op in report["ops"]},
        "ooms": counts.get("oom", 0),
        "splits": counts.get("split", 0),
        "retries": counts.get("retry", 0),
        "worker_restarts": counts.get("worker_restart", 0),
        "rows_recomputed": report.get("rows_recomputed", 0),
    }


def test_suite_case(case: SuiteCase, benchmark: Any, request: pytest.FixtureRequest) -> None:
    state = session_state(request.config)
    suite_dir = case.file.parent
    overrides = state.placeholders.expand(case.overrides, suite_dir)
    outcomes: list[RunOutcome] = []

    def one_round() -> None:
        outcomes.append(execute(case.recipe, overrides, state.make_dir(f"bench-{case.id}"),
                                state.rootdir))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    for outcome in outcomes:
        assert outcome.ok, outcome.failure_text()
    seen = [counters(o) for o in outcomes]
    assert all(c == seen[0] for c in seen), f"counters differ between rounds: {seen}"

    reference_overrides = state.placeholders.expand(case.expect.same_output_as or [], suite_dir)
    mismatches = check_outcome(case, outcomes[-1],
                               lambda: state.references.get(case.recipe, reference_overrides))
    assert not mismatches, "\n".join(m.describe() for m in mismatches)

    case_wall = min(o.wall_seconds for o in outcomes)
    base_wall: Optional[float] = None
    ratio: Optional[float] = None
    twin = baseline_overrides(case)
    if twin is not None:
        baseline = [execute(case.recipe, state.placeholders.expand(twin, suite_dir),
                            state.make_dir(f"base-{case.id}"), state.rootdir) for _ in range(ROUNDS)]
        for outcome in baseline:
            assert outcome.ok, outcome.failure_text()
        base_wall = min(o.wall_seconds for o in baseline)
        ratio = case_wall / base_wall if base_wall > 0 else None
    RATIOS.append((f"{case.suite}::{case.id}", ratio, case_wall, base_wall))

    resources = outcomes[-1].result.report.get("resources", {})
    benchmark.extra_info.update({
        **seen[0],
        "peak_rss_bytes": resources.get("peak_rss_bytes") or outcomes[-1].peak_rss_bytes,
        "baseline_overrides": twin,
        "wall_ratio_vs_baseline": round(ratio, 3) if ratio is not None else None,
    })
    assert benchmark.extra_info["peak_rss_bytes"], "peak RSS was not recorded"
