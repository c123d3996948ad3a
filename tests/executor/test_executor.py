"""LocalModeExecutor end to end, in-process: order, batch independence, ledger, barriers,
dead workers, memory backpressure, resource limits."""
from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import LocalModeExecutor
from harness.executor.hooks import OpCall
from harness.ops import build_op

RECIPE = [
    {"whitespace_normalization_mapper": {}},
    {"text_length_filter": {"min_len": 3, "max_len": 60}},
    {"document_deduplicator": {}},
    {"document_minhash_deduplicator": {"window_size": 2, "num_permutations": 64,
                                       "jaccard_threshold": 0.5}},
    {"punctuation_normalization_mapper": {}},
]


def reference(texts: list[str], recipe: list[dict[str, Any]]) -> list[str]:
    """The recipe applied op by op to the whole dataset in one process: the meaning of a recipe."""
    batch: dict[str, list[Any]] = {"text": list(texts)}
    for entry in recipe:
        op = build_op(entry)
        if op.kind == "mapper":
            batch = op.process_batched(batch)
        elif op.kind == "filter":
            batch = op.compute_stats_batched(batch)
            keep = op.process_batched(batch)
            batch = {"text": [t for t, k in zip(batch["text"], keep) if k]}
        else:
            keep = op.keep_flags(batch)
            batch = {"text": [t for t, k in zip(batch["text"], keep) if k]}
    return batch["text"]


WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "  ", "\u3000", "，", "。"]
corpus = st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join),
                  min_size=1, max_size=120)


@settings(max_examples=6, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(texts=corpus, batch_size=st.integers(1, 40), workers=st.integers(1, 2))
def test_output_does_not_depend_on_batch_size_or_workers(texts, batch_size, workers, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    executor = LocalModeExecutor({"workers": workers, "batch_size": batch_size,
                                  "batch_size_cache": ""})
    result = executor.process_dataset([{"text": t, "n": i} for i, t in enumerate(texts)], RECIPE,
                                      run_dir=run_dir)
    rows = result.rows()
    assert [r["text"] for r in rows] == reference(texts, RECIPE)
    assert [r["n"] for r in rows] == sorted(r["n"] for r in rows)  # input order kept
    assert result.ledger.balanced
    ops = result.report["ops"]
    for before, after in zip(ops, ops[1:]):
        assert before["rows_out"] == after["rows_in"]
    for op in ops:
        assert op["rows_in"] == op["rows_out"] + op["removed"] + op["quarantined"]


def test_report_has_the_documented_fields(tmp_path):
    result = LocalModeExecutor({"workers": 1, "batch_size_cache": ""}).process_dataset(
        [{"text": "hello world"}] * 3, [{"document_deduplicator": {}}], run_dir=tmp_path)
    report = result.report
    assert report["rows"] == {"in": 3, "out": 1, "removed": 2, "quarantined": 0}
    assert report["ops"][0]["name"] == "document_deduplicator"
    assert {"rows_in", "rows_out", "removed", "quarantined", "seconds"} <= set(report["ops"][0])
    assert isinstance(report["events"], list)
    assert report["output"] == str(tmp_path / "output.jsonl")
    assert report["resources"]["usable_cores"] >= 1


class KillWorkerOn:
    """Hooks that end the worker process when a call holds ``row``, ``times`` times per batch."""

    def __init__(self, row: int, times: int) -> None:
        self.row, self.times = row, times

    def before_op_call(self, call: OpCall) -> list[dict[str, Any]]:
        if call.in_worker and self.row in call.row_ids and call.worker_restarts < self.times:
            os._exit(70)
        return []


ROWS = [{"text": f"document number {i} with some words"} for i in range(60)]
OPS = [{"whitespace_normalization_mapper": {}}, {"words_num_filter": {"min_num": 2}}]


def test_a_dead_worker_is_replaced_and_its_batches_rerun(tmp_path):
    clean = LocalModeExecutor({"workers": 2, "batch_size": 10}).process_dataset(ROWS, OPS, run_dir=tmp_path / "a")
    crashed = LocalModeExecutor({"workers": 2, "batch_size": 10}, hooks=KillWorkerOn(25, 1)).process_dataset(
        ROWS, OPS, run_dir=tmp_path / "b")
    assert crashed.rows() == clean.rows()
    assert crashed.event_counts().get("worker_restart", 0) >= 1
    assert crashed.ledger.quarantined == 0


def test_a_row_that_always_kills_its_worker_is_quarantined_alone(tmp_path):
    result = LocalModeExecutor(
        {"workers": 2, "batch_size": 8, "error_handling": {"max_worker_crashes": 2}},
        hooks=KillWorkerOn(13, 10**6),
    ).process_dataset(ROWS, OPS, run_dir=tmp_path)
    assert [q["row_id"] for q in result.quarantined()] == [13]
    assert "worker process died" in result.quarantined()[0]["reason"]
    assert [r["text"] for r in result.rows()] == [r["text"] for i, r in enumerate(ROWS) if i != 13]
    assert result.ledger.balanced


def test_a_tiny_memory_limit_gives_backpressure_not_failure(tmp_path):
    executor = LocalModeExecutor({"workers": 2, "batch_size": 5},
                                 resources={"memory_limit": "1KiB"})
    result = executor.process_dataset(ROWS, OPS, run_dir=tmp_path)
    assert len(result.rows()) == 60
    assert executor.get_resource_stats()["memory_budget_bytes"] <= 1024


def test_a_core_cap_limits_the_workers():
    executor = LocalModeExecutor({"workers": 8}, resources={"cpu": {"cores": 1}})
    assert executor.workers == 1
    assert executor.get_resource_stats()["usable_cores"] == 1


def test_unknown_settings_are_refused_with_the_key_named():
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown key executor.bogus"):
        LocalModeExecutor({"bogus": 1})
    with pytest.raises(ConfigError, match="executor.on_bad_input='maybe'"):
        LocalModeExecutor({"on_bad_input": "maybe"})


def test_simulated_gpu_path_equals_cpu_path(tmp_path):
    texts = [f"the quick brown fox number {i % 7} jumps over the lazy dog again" for i in range(200)]
    rows = [{"text": t} for t in texts]
    recipe = [{"document_minhash_deduplicator": {"accelerator": "cuda", "num_permutations": 64}}]
    cpu = LocalModeExecutor({"workers": 1}, resources={"detect_cuda": False}).process_dataset(
        rows, recipe, run_dir=tmp_path / "cpu")
    sim = LocalModeExecutor({"workers": 1, "batch_size_cache": ""},
                            resources={"detect_cuda": False,
                                       "simulated_gpus": [{"name": "sim:t", "memory": "300KiB"}]})
    gpu = sim.process_dataset(rows, recipe, run_dir=tmp_path / "gpu")
    assert gpu.rows() == cpu.rows()
    assert [e for e in gpu.events if e["kind"] == "path"][0]["path"] == "gpu"
    assert gpu.event_counts().get("oom", 0) >= 1
    assert gpu.report["resources"]["devices"]["sim:t"]["peak"] > 0


class LoseDevice:
    """Hooks: the named device fails (not an OOM) on every call."""

    def __init__(self, device: str) -> None:
        self.device = device

    def before_op_call(self, call: OpCall) -> list[dict[str, Any]]:
        if call.device == self.device:
            from harness.strategy.errors import DeviceLostError

            raise DeviceLostError(f"{call.device} fell off the bus")
        return []


@pytest.mark.parametrize("devices, moved_to", [
    ([{"name": "sim:a", "memory": "64MiB"}, {"name": "sim:b", "memory": "32MiB"}], "sim:b"),
    ([{"name": "sim:a", "memory": "64MiB"}], "cpu"),
])
def test_a_lost_device_moves_its_work_elsewhere(tmp_path, devices, moved_to):
    rows = [{"text": f"some words for row {i % 9} to hash and compare here"} for i in range(120)]
    recipe = [{"document_minhash_deduplicator": {"accelerator": "cuda", "num_permutations": 32}}]
    clean = LocalModeExecutor({"workers": 1}, resources={"detect_cuda": False}).process_dataset(
        rows, recipe, run_dir=tmp_path / "clean")
    executor = LocalModeExecutor({"workers": 1, "batch_size": 40, "batch_size_cache": ""},
                                 resources={"detect_cuda": False, "simulated_gpus": devices},
                                 hooks=LoseDevice("sim:a"))
    lost = executor.process_dataset(rows, recipe, run_dir=tmp_path / "lost")
    assert lost.rows() == clean.rows()
    events = [e for e in lost.events if e["kind"] == "device_lost"]
    assert len(events) == 1 and events[0]["device"] == "sim:a" and events[0]["moved_to"] == moved_to
    assert lost.report["resources"]["devices"]["sim:a"]["healthy"] is False
