"""harness against Data-Juicer 1.6.1 on the reference 7-op recipe, in one run on one machine.

    python benchmarks/bench_vs_data_juicer.py [--dj-venv DIR] [--shared DIR] [--repeat N] [--skip-dj]

Data-Juicer lives in its own virtual environment outside the repository (created on first use:
`pip install torch==2.13.0` first, so pip does not fetch a CUDA build, then
`pip install py-data-juicer==1.6.1 aiohttp`). The recipe and data of shared/bench are copied
into a temporary directory, and three runs time the same recipe file, unchanged:

  (a) Data-Juicer: ``dj-process --config recipe.yaml --open_monitor false`` (np=2 from the recipe)
  (b) harness CLI: ``python -m harness +recipe=dj recipe.path=recipe.yaml``
  (c) harness API: ``LocalModeExecutor(...).process_dataset(...)`` in a fresh interpreter

Every wall time is a whole process, start-up and exit included. It prints the wall seconds and
rows out of each, the ratios, the rows each harness op handled per second (rows_in / op seconds
from report.json), peak memory, and whether harness wrote the same texts as Data-Juicer, row for
row and in order. The machine's load average is printed too: on a shared machine it is the main
source of noise. With --repeat N each command runs N times (interleaved) and the median counts.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
DJ_VERSION = "1.6.1"

API_SCRIPT = r"""
import json, sys, time
started = time.perf_counter()
import yaml
from harness import LocalModeExecutor
recipe = yaml.safe_load(open("recipe.yaml", encoding="utf-8"))
executor = LocalModeExecutor({"workers": recipe.get("np") or 0, "progress": False})
result = executor.process_dataset(recipe["dataset_path"], recipe["process"],
                                  output=recipe["export_path"], run_dir="run")
report = result.report
report["process_seconds"] = time.perf_counter() - started
with open("run/report.json", "w", encoding="utf-8") as f:
    json.dump(report, f, default=str)
"""


def log(message: str) -> None:
    print(message, flush=True)


def default_shared() -> Path:
    return Path(os.environ.get("HARNESS_SHARED_DIR", REPO.parent / "shared"))


def ensure_dj_venv(venv: Path) -> Optional[Path]:
    """The venv's dj-process, installing Data-Juicer first when it is missing (None if that fails)."""
    dj = venv / "bin" / "dj-process"
    if dj.exists():
        return dj
    log(f"creating the Data-Juicer venv at {venv} (pip install py-data-juicer=={DJ_VERSION}; minutes)")
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    # CPU build of torch first, or Data-Juicer's dependencies pull a multi-GB CUDA build.
    if subprocess.run(pip + ["torch==2.13.0"]).returncode != 0:
        log("  (torch==2.13.0 did not install; letting Data-Juicer choose its torch)")
    done = subprocess.run(pip + [f"py-data-juicer=={DJ_VERSION}", "aiohttp"])
    if done.returncode != 0 or not dj.exists():
        log(f"Data-Juicer could not be installed (pip exit code {done.returncode})")
        return None
    return dj


def timed(cmd: list[str], cwd: Path, env: Optional[dict[str, str]] = None,
          log_name: str = "run.log") -> tuple[float, int, int]:
    """(wall seconds, exit code, peak RSS in bytes of the process and the children it waited for)."""
    with open(cwd / log_name, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, process.returncode, usage.ru_maxrss * 1024


def texts_of(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def fresh_dir(root: Path, name: str, shared: Path) -> Path:
    work = root / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(shared / "bench" / "recipe.yaml", work / "recipe.yaml")
    shutil.copy(shared / "bench" / "data.jsonl", work / "data.jsonl")
    return work


def mib(n: Optional[float]) -> str:
    return "n/a" if not n else f"{n / 2**20:,.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dj-venv", type=Path, default=Path("~/.cache/harness-bench/dj-venv").expanduser())
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-dj", action="store_true", help="time harness only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    bench = args.shared / "bench"
    if not (bench / "recipe.yaml").is_file() or not (bench / "data.jsonl").is_file():
        log(f"no bench recipe and data in {bench}: pass --shared DIR (the folder holding bench/)")
        return 2

    dj = None if args.skip_dj else ensure_dj_venv(args.dj_venv.expanduser())
    root = Path(tempfile.mkdtemp(prefix="harness-vs-dj-"))
    dj_env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
              "TOKENIZERS_PARALLELISM": "false"}
    dj_env.pop("VIRTUAL_ENV", None)
    if dj is not None:
        dj_env["PATH"] = f"{dj.parent}{os.pathsep}{dj_env.get('PATH', '')}"
    walls: dict[str, list[float]] = {"dj": [], "cli": [], "api": []}
    rss: dict[str, int] = {}
    last: dict[str, Path] = {}
    log(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    try:
        for round_ in range(args.repeat):
            if dj is not None:
                work = fresh_dir(root, "dj", args.shared)
                wall, code, peak = timed([str(dj), "--config", "recipe.yaml", "--open_monitor", "false"],
                                         work, env=dj_env, log_name="dj.log")
                if code != 0:
                    log(f"Data-Juicer failed (exit {code}); its log: {work / 'dj.log'}")
                    args.keep = True
                    dj = None
                else:
                    walls["dj"].append(wall)
                    rss["dj"] = max(rss.get("dj", 0), peak)
                    last["dj"] = work
                    log(f"round {round_ + 1}: Data-Juicer  {wall:7.2f} s")
            work = fresh_dir(root, "cli", args.shared)
            wall, code, peak = timed([sys.executable, "-m", "harness", "+recipe=dj", "recipe.path=recipe.yaml",
                                      "executor.progress=false", "hydra.run.dir=run"], work)
            if code != 0:
                log(f"harness CLI failed (exit {code}); its log: {work / 'run.log'}")
                return 1
            walls["cli"].append(wall)
            rss["cli"] = max(rss.get("cli", 0), peak)
            last["cli"] = work
            log(f"round {round_ + 1}: harness CLI  {wall:7.2f} s")
            work = fresh_dir(root, "api", args.shared)
            (work / "run").mkdir()
            wall, code, peak = timed([sys.executable, "-c", API_SCRIPT], work)
            if code != 0:
                log(f"harness API run failed (exit {code}); its log: {work / 'run.log'}")
                return 1
            walls["api"].append(wall)
            rss["api"] = max(rss.get("api", 0), peak)
            last["api"] = work
            log(f"round {round_ + 1}: harness API  {wall:7.2f} s")
        log(f"load average after: {os.getloadavg()[0]:.2f}")
        return summarize(walls, rss, last)
    finally:
        if args.keep:
            log(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def summarize(walls: dict[str, list[float]], rss: dict[str, int], last: dict[str, Path]) -> int:
    median = {k: statistics.median(v) for k, v in walls.items() if v}
    out = {k: texts_of(p / "out" / "result.jsonl") for k, p in last.items()}
    cli_report = json.loads((last["cli"] / "run" / "report.json").read_text("utf-8"))
    api_report = json.loads((last["api"] / "run" / "report.json").read_text("utf-8"))
    log("")
    log(f"{'':14}{'wall s (median)':>16}{'rows out':>10}{'peak RSS':>12}")
    names = {"dj": f"Data-Juicer {DJ_VERSION}", "cli": "harness CLI", "api": "harness API"}
    for key in ("dj", "cli", "api"):
        if key in median:
            log(f"{names[key]:<18}{median[key]:>12.2f}{len(out[key]):>10,}{mib(rss.get(key)):>12}")
    log(f"  (peak RSS above: the process and the children it waited for, from wait4; harness's "
        f"own monitor saw {mib(cli_report['resources'].get('peak_rss_bytes'))} over the driver and "
        f"its workers together, driver alone "
        f"{mib((cli_report['resources'].get('monitor') or {}).get('peak_driver_rss_bytes'))})")
    log(f"harness run inside the CLI: {cli_report['wall_seconds']:.2f} s; "
        f"inside the API process: {api_report['wall_seconds']:.2f} s")
    ok = True
    if "dj" in median:
        for key in ("cli", "api"):
            log(f"speed-up {names[key]} vs Data-Juicer: {median['dj'] / median[key]:.1f}x")
        for key in ("cli", "api"):
            same = out[key] == out["dj"]
            ok &= same
            detail = "" if same else f" (first difference at row {first_difference(out[key], out['dj'])})"
            log(f"{names[key]} output equals Data-Juicer's, row for row: {same}{detail}")
    else:
        log("Data-Juicer not run: no ratio")
    log("")
    log(f"{'op (harness CLI run)':<34}{'rows in':>9}{'rows out':>10}{'op s':>8}{'rows/s':>11}")
    for op in cli_report["ops"]:
        rate = op["rows_in"] / op["seconds"] if op["seconds"] else float("inf")
        log(f"{op['name']:<34}{op['rows_in']:>9,}{op['rows_out']:>10,}{op['seconds']:>8.2f}{rate:>11,.0f}")
    log("(op s: time inside the op, summed over both workers)")
    return 0 if ok else 1


def first_difference(a: list[Any], b: list[Any]) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


if __name__ == "__main__":
    sys.exit(main())
