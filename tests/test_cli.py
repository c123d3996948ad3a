"""The command line, run as a user runs it: in a subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def report_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())


def test_quickstart_runs_and_balances(tmp_path):
    proc = run_cli("+recipe=quickstart", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = report_of(tmp_path / "run")
    rows = report["rows"]
    assert rows["in"] == 3000
    assert rows["in"] == rows["out"] + rows["removed"] + rows["quarantined"]
    assert f"{rows['in']:,} rows in → {rows['out']:,} out" in proc.stdout
    assert (tmp_path / "run" / "output.jsonl").exists()
    assert (tmp_path / "run" / "quarantine.jsonl").exists()
    out_lines = (tmp_path / "run" / "output.jsonl").read_text().splitlines()
    assert len(out_lines) == rows["out"]


BAD_INPUT = (
    '{"text": "a perfectly fine first row of text"}\n'
    '{"text": "broken json row"\n'
    '{"content": "no text key here"}\n'
    '{"text": 12345}\n'
    '{"text": "another perfectly fine row of text"}\n'
)


def test_bad_input_rows_are_quarantined_with_file_line_and_reason(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text(BAD_INPUT)
    proc = run_cli("+recipe=quickstart", f"recipe.dataset_path={data}",
                   f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = report_of(tmp_path / "run")
    assert report["rows"] == {"in": 5, "out": 2, "removed": 0, "quarantined": 3}
    records = [json.loads(l) for l in (tmp_path / "run" / "quarantine.jsonl").read_text().splitlines()]
    assert [(r["source"], r["line"]) for r in records] == [(str(data), 2), (str(data), 3), (str(data), 4)]
    assert "invalid JSON" in records[0]["reason"]
    assert "missing text field 'text'" in records[1]["reason"]
    assert "not a string" in records[2]["reason"]


def test_on_bad_input_fail_stops_at_the_first_bad_row(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text(BAD_INPUT)
    proc = run_cli("+recipe=quickstart", f"recipe.dataset_path={data}", "executor.on_bad_input=fail",
                   f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{data}:2" in proc.stderr and "invalid JSON" in proc.stderr
    assert not (tmp_path / "run" / "output.jsonl").exists()


def test_empty_input_gives_empty_output(tmp_path):
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    proc = run_cli("+recipe=quickstart", f"recipe.dataset_path={data}",
                   f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "output.jsonl").read_text() == ""
    assert report_of(tmp_path / "run")["rows"]["in"] == 0


@pytest.mark.parametrize("args, message", [
    (["recipe.dataset_path=/nonexistent/data.jsonl"], "/nonexistent/data.jsonl' does not exist"),
    (["executor.bogus=1"], "executor.bogus"),
    (["executor.workers=many"], "workers"),
    (["recipe.process=[{text_lenght_filter: {min_len: 5}}]"], "Did you mean text_length_filter"),
    (["recipe.process=[{text_length_filter: {min_length: 5}}]"], "min_length"),
])
def test_configuration_errors_exit_2_before_any_work(tmp_path, args, message):
    proc = run_cli("+recipe=quickstart", *args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr + proc.stdout
    assert not (tmp_path / "run" / "output.jsonl").exists()
    assert "Traceback" not in proc.stderr


def test_no_recipe_lists_the_recipes_and_exits_2(tmp_path):
    proc = run_cli(cwd=tmp_path)
    assert proc.returncode == 2
    assert "quickstart" in proc.stderr and "+recipe=NAME" in proc.stderr


def test_run_directories_are_unique(tmp_path):
    small = tmp_path / "small.jsonl"
    small.write_text('{"text": "hello there general kenobi"}\n')
    procs = [subprocess.Popen([sys.executable, "-m", "harness", "+recipe=quickstart",
                               f"recipe.dataset_path={small}"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    reports = sorted(tmp_path.glob("outputs/*/*/report.json"))
    assert len(reports) == 2


def test_simulated_devices_and_core_cap_show_in_the_report(tmp_path):
    proc = run_cli("+recipe=dedup_gpu", "resources=sim_2gpu_mixed", "resources.cpu.cores=1",
                   "executor.batch_size_cache=", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    resources = report_of(tmp_path / "run")["resources"]
    assert resources["workers"] == 1
    devices = resources["devices"]
    assert devices["sim:big0"]["total"] == 64 * 2**20
    assert devices["sim:small1"]["total"] == 6 * 2**20
    assert any(d["peak"] > 0 for d in devices.values())


def test_a_sweep_runs_every_job_summarizes_them_and_reports_a_failure(tmp_path):
    good = tmp_path / "ok.jsonl"
    good.write_text('{"text": "hello there my friend, how are you today"}\n')
    proc = run_cli("-m", "+recipe=quickstart", f"recipe.dataset_path=/missing.jsonl,{good}",
                   "executor.max_batch_size=64,1024", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                   cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    import csv

    with open(tmp_path / "sweep" / "sweep_summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert [r["status"] for r in rows].count("failed") == 2
    assert all("does not exist" in r["error"] for r in rows if r["status"] == "failed")
    assert {r["rows_out"] for r in rows if r["status"] == "ok"} == {"1"}
    assert (tmp_path / "sweep" / "sweep_summary.md").read_text().count("\n") == 6
    assert "sweep summary" in proc.stdout
