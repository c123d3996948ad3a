"""DESIGN invariants 1 and 2 as a property: under random schedules of OOMs, transient errors and
worker crashes (all recoverable), the output equals the fault-free output and the ledger balances."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import LocalModeExecutor
from harness.faults import build_hooks
from harness.faults.schema import FaultRule, FaultsSettings

N = 150
ROWS = [{"text": f"shared words appear in document {i % 11} with a few more words {i % 5}"}
        for i in range(N)]
RECIPE = [
    {"whitespace_normalization_mapper": {}},
    {"words_num_filter": {"min_num": 3}},
    {"document_deduplicator": {}},
    {"document_minhash_deduplicator": {"window_size": 3, "num_permutations": 32,
                                       "accelerator": "cuda"}},
]
CONFIG = {"workers": 2, "batch_size": 25, "batch_size_cache": "",
          "error_handling": {"retry_delay": 0.0, "max_retries": 3}}
RESOURCES = {"detect_cuda": False, "simulated_gpus": [{"name": "sim:p", "memory": "64MiB"}]}

row_ids = st.lists(st.integers(0, N - 1), max_size=3, unique=True)
rules = st.one_of(
    st.builds(FaultRule, kind=st.just("oom_storm"), rows=row_ids,
              min_batch_size=st.sampled_from([0, 8, 16])),
    st.builds(FaultRule, kind=st.just("transient"), rate=st.floats(0.0, 0.6),
              times=st.integers(1, 3), op=st.sampled_from(["*", "words_num_filter"])),
    st.builds(FaultRule, kind=st.just("worker_crash"), rows=row_ids.filter(bool), times=st.just(1)),
)


_reference: dict[str, list] = {}


def fault_free(tmp_path_factory) -> list:
    if "rows" not in _reference:
        result = LocalModeExecutor(CONFIG, resources=RESOURCES).process_dataset(
            ROWS, RECIPE, run_dir=tmp_path_factory.mktemp("clean"))
        _reference["rows"] = result.rows()
    return _reference["rows"]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(plan=st.lists(rules, min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_recoverable_faults_never_change_the_output(plan, seed, tmp_path_factory):
    expected = fault_free(tmp_path_factory)
    hooks = build_hooks(FaultsSettings(name="random", seed=seed, rules=plan))
    result = LocalModeExecutor(CONFIG, resources=RESOURCES, hooks=hooks).process_dataset(
        ROWS, RECIPE, run_dir=tmp_path_factory.mktemp("faulty"))
    assert result.rows() == expected
    assert result.ledger.balanced and result.ledger.quarantined == 0


def test_same_config_and_seed_give_the_same_output_and_event_log(tmp_path):
    """DESIGN invariant 6 (one device: batches reach it in input order)."""
    plan = FaultsSettings(name="mixed", seed=5, rules=[
        FaultRule(kind="transient", rate=0.3, times=2),
        FaultRule(kind="oom_storm", min_batch_size=16),
        FaultRule(kind="bad_rows", rows=[7, 99]),
    ])
    runs = [LocalModeExecutor(CONFIG, resources=RESOURCES, hooks=build_hooks(plan)).process_dataset(
        ROWS, RECIPE, run_dir=tmp_path / str(i)) for i in range(2)]
    assert runs[0].rows() == runs[1].rows()
    assert runs[0].events == runs[1].events
    assert runs[0].event_counts()["retry"] >= 1 and runs[0].event_counts()["oom"] >= 1
    assert sorted(q["row_id"] for q in runs[0].quarantined()) == [7, 99]
