"""Run suite cases in-process through ``harness.app.run`` and check their expectations.

Nothing here imports pytest: the plugin and the benchmarks both drive it."""
from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from harness.suite.schema import Comparison, SuiteCase

#: Prepended to every run's overrides (a case's own overrides come later and win): no progress
#: bar, and no batch-size cache, so a case's result never depends on what earlier runs learned.
DEFAULT_OVERRIDES = ("executor.progress=false", "executor.batch_size_cache=''")
SHARED_ENV = "HARNESS_SHARED_DIR"
_TRUNCATE = 160


class CaseSetupError(Exception):
    """A case cannot run here (e.g. the shared folder is missing); reported as a case failure."""


@dataclass
class Mismatch:
    """One expectation that did not hold."""

    expectation: str
    expected: str
    actual: str
    detail: str = ""

    def describe(self) -> str:
        text = f"{self.expectation} expected {self.expected}, got {self.actual}"
        return f"{text}\n{self.detail}" if self.detail else text


@dataclass
class RunOutcome:
    """A finished (or failed) run: the RunResult or the error, and where it ran."""

    recipe: str
    overrides: list[str]
    run_dir: Path
    result: Any = None
    error: Optional[BaseException] = None
    exit_code: int = 0
    wall_seconds: float = 0.0
    #: True when the error is not a deliberate harness error (a bug, or an unexpected crash).
    unexpected: bool = False
    peak_rss_bytes: Optional[int] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def failure_text(self) -> str:
        assert self.error is not None
        if self.unexpected:
            return (f"run failed: {type(self.error).__name__}: {self.error}\n"
                    f"run dir: {self.run_dir} (traceback in traceback.txt)")
        return (f"run failed with exit code {self.exit_code}: {type(self.error).__name__}: "
                f"{self.error}\nrun dir: {self.run_dir}")


@dataclass
class Placeholders:
    """``${shared}``, ``${rootdir}`` and ``${suite_dir}`` in overrides, expanded before Hydra sees
    them. ``${shared}`` is $HARNESS_SHARED_DIR, else ``<rootdir>/../shared``."""

    rootdir: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def shared_dir(self) -> Path:
        configured = self.env.get(SHARED_ENV)
        return Path(configured).expanduser() if configured else (self.rootdir / ".." / "shared").resolve()

    def expand(self, overrides: list[str], suite_dir: Path) -> list[str]:
        out = []
        for item in overrides:
            if "${shared}" in item:
                shared = self.shared_dir()
                if not shared.is_dir():
                    source = (f"${SHARED_ENV}={self.env[SHARED_ENV]}" if self.env.get(SHARED_ENV)
                              else f"<rootdir>/../shared ({shared})")
                    raise CaseSetupError(
                        f"override {item!r} needs the shared folder, but {source} is not a "
                        f"directory; check out ../shared beside the repository or set "
                        f"{SHARED_ENV}=DIR")
                item = item.replace("${shared}", str(shared))
            item = item.replace("${rootdir}", str(self.rootdir)).replace("${suite_dir}", str(suite_dir))
            out.append(item)
        return out


def _peak_rss() -> Optional[int]:
    try:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return max(own, children) * 1024  # kilobytes on Linux
    except (ImportError, OSError):  # pragma: no cover - not Linux
        return None


def execute(recipe: str, overrides: list[str], run_dir: Path, base_dir: Path) -> RunOutcome:
    """Compose and run one config in-process; never raises for a failing run."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from harness import app
    from harness.config.compose import compose_config
    from harness.errors import HarnessError

    outcome = RunOutcome(recipe=recipe, overrides=list(overrides), run_dir=run_dir)
    started = time.perf_counter()
    try:
        cfg = compose_config(recipe, [*DEFAULT_OVERRIDES, *overrides])
        outcome.result = app.run(cfg, run_dir, recipe, list(overrides), base_dir=base_dir,
                                 show_progress=False)
    except HarnessError as error:
        outcome.error, outcome.exit_code = error, error.exit_code
    except (HydraException, OmegaConfBaseException) as error:
        # What the CLI reports as a config error (exit code 2) before any work starts.
        outcome.error, outcome.exit_code = error, 2
    except Exception as error:  # noqa: BLE001 — a bug in harness: reported, not raised
        outcome.error, outcome.exit_code, outcome.unexpected = error, 1, True
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
    outcome.wall_seconds = time.perf_counter() - started
    outcome.peak_rss_bytes = _peak_rss()
    return outcome


class ReferenceCache:
    """Reference runs shared by every case of a session, keyed by (recipe, overrides)."""

    def __init__(self, make_dir: Callable[[str], Path], base_dir: Path) -> None:
        self._make_dir = make_dir
        self._base_dir = base_dir
        self._runs: dict[tuple[str, tuple[str, ...]], RunOutcome] = {}

    def get(self, recipe: str, overrides: list[str]) -> RunOutcome:
        key = (recipe, tuple(overrides))
        if key not in self._runs:
            run_dir = self._make_dir(f"ref-{recipe}")
            self._runs[key] = execute(recipe, list(overrides), run_dir, self._base_dir)
        return self._runs[key]


# -- checks ---------------------------------------------------------------------------------------
def _count(value: Optional[int]) -> str:
    return "nothing" if value is None else str(value)


def _check(mismatches: list[Mismatch], name: str, comparison: Comparison,
           actual: Optional[int], detail: str = "") -> None:
    if not comparison.holds(actual):
        mismatches.append(Mismatch(name, str(comparison), _count(actual), detail))


def check_outcome(case: SuiteCase, outcome: RunOutcome,
                  reference: Optional[Callable[[], RunOutcome]] = None) -> list[Mismatch]:
    """Every expectation of ``case`` that ``outcome`` does not meet (empty: the case passes).

    ``reference`` returns the reference run for ``same_output_as`` (run lazily, cached)."""
    expect = case.expect
    if expect.exit_code not in (None, 0):
        if outcome.ok:
            return [Mismatch("exit_code", str(expect.exit_code), "0 (the run succeeded)")]
        if outcome.unexpected:
            return [Mismatch("exit_code", str(expect.exit_code), "a crash", outcome.failure_text())]
        if outcome.exit_code != expect.exit_code:
            return [Mismatch("exit_code", str(expect.exit_code), str(outcome.exit_code),
                             f"error: {type(outcome.error).__name__}: {outcome.error}")]
        return []
    if not outcome.ok:
        return [Mismatch("run", "success" if expect.exit_code is None else "exit code 0",
                         "a failure", outcome.failure_text())]
    result = outcome.result
    report = result.report
    mismatches: list[Mismatch] = []
    rows = result.ledger.rows_dict()
    for key, comparison in expect.rows.items():
        _check(mismatches, f"rows.{key}", comparison, rows.get(key))
    counts = result.event_counts()
    for kind, comparison in expect.events.items():
        _check(mismatches, f"events.{kind}", comparison, counts.get(kind, 0),
               f"event counts: {json.dumps(counts, sort_keys=True) if counts else 'no events'}")
    if expect.ledger == "balanced" and not result.ledger.balanced:
        mismatches.append(Mismatch("ledger", "balanced", f"unbalanced {rows}"))
    ops = {op["name"]: op["batch_sizes"] for op in reversed(report.get("ops", []))}
    for op_name, stats in expect.batch_sizes.items():
        if op_name not in ops:
            mismatches.append(Mismatch(f"batch_sizes.{op_name}", "an op of the recipe",
                                       "no such op", f"ops: {', '.join(ops) or 'none'}"))
            continue
        for stat, comparison in stats.items():
            actual = ops[op_name].get(stat)
            _check(mismatches, f"batch_sizes.{op_name}.{stat}", comparison, actual,
                   f"batch size runs [size, count]: {ops[op_name].get('runs')}")
    if expect.quarantined_rows is not None:
        actual_ids = sorted(int(r["row_id"]) for r in result.quarantined())
        if actual_ids != expect.quarantined_rows:
            mismatches.append(Mismatch("quarantined_rows", str(expect.quarantined_rows),
                                       str(actual_ids), f"quarantine file: {result.quarantine_path}"))
    if expect.same_output_as is not None:
        assert reference is not None, "same_output_as needs a reference run"
        ref = reference()
        if not ref.ok:
            mismatches.append(Mismatch(
                "same_output_as", f"the output of a reference run with {expect.same_output_as}",
                "a failed reference run", ref.failure_text()))
        else:
            difference = compare_outputs(Path(result.output_path), Path(ref.result.output_path))
            if difference:
                mismatches.append(Mismatch(
                    "same_output_as", f"output byte-identical to the run with {expect.same_output_as}",
                    "a different output", f"{difference}\n  this run: {result.output_path}\n"
                                          f"  reference: {ref.result.output_path}"))
    return mismatches


# -- output comparison ----------------------------------------------------------------------------
def _truncate(text: str, limit: int = _TRUNCATE) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _rows_of(path: Path) -> Iterator[str]:
    """Each output row as a comparable text line."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for record_batch in pq.ParquetFile(path).iter_batches():
            for row in record_batch.to_pylist():
                yield json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)
        return
    if path.suffix == ".gz":
        import gzip

        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            yield from (line.rstrip("\n") for line in f)
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        yield from (line.rstrip("\n") for line in f)


def _shown(line: str) -> str:
    try:
        value = json.loads(line)
    except ValueError:
        return _truncate(line)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return _truncate(repr(value["text"]))
    return _truncate(line)


def compare_outputs(actual: Path, expected: Path) -> str:
    """'' when the files are byte-identical, else where they first differ (row and both texts)."""
    if not actual.exists() or not expected.exists():
        missing = actual if not actual.exists() else expected
        return f"output file {missing} does not exist"
    if actual.read_bytes() == expected.read_bytes():
        return ""
    index = 0
    ours, theirs = _rows_of(actual), _rows_of(expected)
    while True:
        a, b = next(ours, None), next(theirs, None)
        if a is None and b is None:
            return ("the files differ in bytes but not row by row (encoding, key order or "
                    "compression)")
        if a != b:
            if a is None:
                return f"this run has fewer rows ({index}); reference row {index}: {_shown(b)}"
            if b is None:
                return f"this run has more rows; extra row {index}: {_shown(a)}"
            return (f"first differing row {index}:\n    this run:  {_shown(a)}\n"
                    f"    reference: {_shown(b)}")
        index += 1
