"""Fault plans through a real LocalModeExecutor run (worker processes) and through Hydra: the
shipped fault files compose, and recoverable faults leave the output unchanged."""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import LocalModeExecutor
from harness.app import settings_of
from harness.config.compose import compose_config
from harness.executor.result import RunResult
from harness.faults import build_hooks
from harness.faults.plan import FaultPlan
from harness.faults.schema import FaultRule, FaultsSettings

CONFIG = {"workers": 2, "batch_size": 50, "progress": False, "error_handling": {"retry_delay": 0.0}}
OPS: list[Any] = [
    {"whitespace_normalization_mapper": {}},
    {"text_length_filter": {"min_len": 12, "max_len": 1000}},
    {"document_deduplicator": {}},
]
FAULT_FILES = sorted(
    entry.name[:-5] for entry in resources.files("harness").joinpath("conf/faults").iterdir()
    if entry.name.endswith(".yaml"))


def _rows(n: int = 300) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        if i % 23 == 0:
            text = "tiny"                                   # removed by the length filter
        elif i % 17 == 0:
            text = "the same   duplicated sentence here"    # removed by dedup after the first
        else:
            text = f"row {i}:  some   words\tabout item {i * 7 % 101}"
        rows.append({"text": text, "n": i})
    return rows


def _run(tmp_path: Path, name: str, *rules: FaultRule, seed: int = 0) -> RunResult:
    hooks = build_hooks(FaultsSettings(name=name, seed=seed, rules=list(rules)))
    executor = LocalModeExecutor(CONFIG, hooks=hooks)
    return executor.process_dataset(_rows(), OPS, run_dir=tmp_path / name)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    result = _run(tmp_path_factory.mktemp("clean"), "none")
    assert result.ledger.balanced and result.ledger.quarantined == 0
    rows = result.rows()
    assert 0 < len(rows) < 300  # the recipe really removes rows
    return rows


def test_transient_faults_leave_the_output_unchanged(tmp_path: Path, clean: list[dict[str, Any]]) -> None:
    result = _run(tmp_path, "transient", FaultRule(kind="transient", rate=0.5, times=2), seed=1)
    assert result.rows() == clean
    assert result.ledger.balanced and result.ledger.quarantined == 0


def test_bad_rows_are_quarantined_exactly(tmp_path: Path, clean: list[dict[str, Any]]) -> None:
    bad = [3, 50, 299]
    result = _run(tmp_path, "bad_rows", FaultRule(kind="bad_rows", rows=bad))
    assert sorted(q["row_id"] for q in result.quarantined()) == bad
    assert result.ledger.quarantined == 3 and result.ledger.balanced
    assert result.rows() == [row for row in clean if row["n"] not in bad]


def test_worker_crash_restarts_and_leaves_the_output_unchanged(tmp_path: Path,
                                                               clean: list[dict[str, Any]]) -> None:
    result = _run(tmp_path, "worker_crash", FaultRule(kind="worker_crash", rows=[120], times=1))
    assert result.rows() == clean
    assert result.ledger.balanced and result.ledger.quarantined == 0
    restarts = [e for e in result.events if e["kind"] == "worker_restart"]
    # The driver records the restart (which batch it names depends on which future broke first).
    assert len(restarts) >= 1


def test_fault_firings_reach_the_run_events(tmp_path: Path) -> None:
    result = _run(tmp_path, "transient", FaultRule(kind="transient", rows=[10], times=2),
                  FaultRule(kind="slow", rows=[260], delay=0.0))
    fired = [(e["fault"], e["op"], e["first_row"], e["attempt"]) for e in result.events
             if e["kind"] == "fault"]
    mapper, length, dedup = (next(iter(op)) for op in OPS)
    # Row 0 ("tiny") leaves at the length filter, so the deduplicator's first batch starts at 1.
    assert sorted(fired) == sorted(
        [("transient", op, first, attempt) for op, first in ((mapper, 0), (length, 0), (dedup, 1))
         for attempt in (0, 1)]
        + [("slow", op, 250, 0) for op in (mapper, length, dedup)])


# -- Hydra composition --------------------------------------------------------------------------
@pytest.mark.parametrize("name", FAULT_FILES)
def test_each_fault_file_composes_and_builds(name: str) -> None:
    text = resources.files("harness").joinpath(f"conf/faults/{name}.yaml").read_text("utf-8")
    assert yaml.safe_load(text)["name"] == name
    settings = settings_of(compose_config("quickstart", [f"faults={name}"]))[2]
    assert settings.name == name
    if name == "none":
        assert not settings.all_rules()
        return
    assert list(settings.rule_sets) == [name]
    assert {rule.kind for rule in settings.rule_sets[name].rules} == {name}
    assert isinstance(build_hooks(settings), FaultPlan)


def test_two_fault_files_merge_their_rules() -> None:
    settings = settings_of(compose_config("quickstart", ["faults=[transient,slow]"]))[2]
    assert settings.name == "transient+slow"
    assert [(s, r.kind) for s, _, _, r in settings.all_rules()] == [("transient", "transient"),
                                                                    ("slow", "slow")]
    # Each file keeps its own seed, whatever it is composed with.
    assert settings.rule_sets["transient"].seed == \
        settings_of(compose_config("quickstart", ["faults=transient"]))[2].rule_sets["transient"].seed


def test_files_and_command_line_rules_together() -> None:
    settings = settings_of(compose_config("quickstart", [
        "faults=[oom_storm,bad_rows]", "faults.seed=9",
        "faults.rules=[{kind: transient, rate: 0.5}]"]))[2]
    assert settings.seed == 9
    assert settings.name == "oom_storm+bad_rows+rules"
    assert [(s, r.kind) for s, _, _, r in settings.all_rules()] == [
        ("oom_storm", "oom_storm"), ("oom_storm", "oom_storm"), ("bad_rows", "bad_rows"),
        ("rules", "transient")]


# -- the GPU path (simulated devices) -----------------------------------------------------------
GPU_OPS: list[Any] = [
    {"whitespace_normalization_mapper": {}},
    {"document_minhash_deduplicator": {"tokenization": "space", "window_size": 3,
                                       "num_permutations": 64, "jaccard_threshold": 0.7,
                                       "accelerator": "cuda"}},
]
SIM_GPUS = {"detect_cuda": False, "monitor_interval": 0.0,
            "simulated_gpus": [{"name": "sim:big0", "memory": "64MiB"},
                               {"name": "sim:small1", "memory": "6MiB"}]}


def _gpu_run(tmp_path: Path, name: str, *rules: FaultRule) -> RunResult:
    hooks = build_hooks(FaultsSettings(name=name, rules=list(rules)))
    config = {**CONFIG, "batch_size": 100, "batch_size_cache": ""}
    executor = LocalModeExecutor(config, resources=SIM_GPUS, hooks=hooks)
    return executor.process_dataset(_rows(), GPU_OPS, run_dir=tmp_path / name)


@pytest.fixture(scope="module")
def clean_gpu(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    result = _gpu_run(tmp_path_factory.mktemp("clean_gpu"), "clean")
    assert result.ledger.balanced and 0 < result.ledger.rows_written < 300
    return result.rows()


@pytest.mark.parametrize("rules", [
    [FaultRule(kind="oom_storm", min_batch_size=32), FaultRule(kind="oom_storm", rows=[7, 130])],
    [FaultRule(kind="device_lost", device="sim:big*")],
    [FaultRule(kind="device_lost")],
], ids=["oom_storm", "one_device_lost", "every_device_lost"])
def test_device_faults_leave_the_output_unchanged(tmp_path: Path, rules: list[FaultRule],
                                                  clean_gpu: list[dict[str, Any]]) -> None:
    result = _gpu_run(tmp_path, "faulty", *rules)
    assert result.rows() == clean_gpu
    assert result.ledger.balanced and result.ledger.quarantined == 0
    counts = result.event_counts()
    if rules[0].kind == "oom_storm":
        faults = [e for e in result.events if e["kind"] == "fault"]
        assert faults and all(e["fault"] == "oom_storm" and e["device"] != "cpu" for e in faults)
        assert counts["oom"] >= len(faults)
    else:
        lost = {e.get("device") for e in result.events if e["kind"] == "device_lost"}
        assert lost == ({"sim:big0"} if rules[0].device == "sim:big*" else {"sim:big0", "sim:small1"})
