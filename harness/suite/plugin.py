"""pytest plugin (entry point ``pytest11``): every case of ``suites/*.yaml`` is one test item.

Only YAML files directly inside the suites folder are collected: the ini option ``harness_suites``
(relative to the rootdir, default ``suites``) or ``--harness-suites=PATH`` (relative to the
directory pytest was started in). YAML anywhere else is left alone; a YAML file inside the folder
that is not a suite is a collection error naming it.

Each case runs its recipe in-process through ``harness.app.run`` in a fresh run directory under
pytest's basetemp; relative paths in overrides resolve against the rootdir, as they would for
``python -m harness`` started there. Reference runs (``same_output_as``) are cached per
(recipe, overrides) for the session. A failing case reports the file, the case, each unmet
expectation with expected and actual, and the run directory — never a traceback from harness.
"""
from __future__ import annotations

import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from harness.suite.runner import (CaseSetupError, Mismatch, Placeholders, ReferenceCache,
                                  RunOutcome, check_outcome, execute)
from harness.suite.schema import SuiteCase, SuiteFormatError, load_suite

INI_NAME = "harness_suites"
TIMEOUT_INI = "harness_suite_timeout"
SUITE_SUFFIXES = (".yaml", ".yml")


class SessionState:
    """Per-session: where run directories go, the reference-run cache, placeholder expansion."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rootdir = Path(config.rootpath)
        self.placeholders = Placeholders(self.rootdir)
        self.references = ReferenceCache(self.make_dir, self.rootdir)
        self._fallback_base: Optional[Path] = None

    def make_dir(self, name: str) -> Path:
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is not None:
            return Path(factory.mktemp(f"suite-{name}"[:60], numbered=True))
        if self._fallback_base is None:
            self._fallback_base = Path(tempfile.mkdtemp(prefix="harness-suites-"))
        return Path(tempfile.mkdtemp(prefix=f"{name[:40]}-", dir=self._fallback_base))


_STATE = pytest.StashKey[SessionState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "harness suites (YAML test cases)")
    group.addoption("--harness-suites", dest="harness_suites", default=None, metavar="PATH",
                    help="folder whose *.yaml files are collected as harness suites "
                         "(default: the harness_suites ini option)")
    parser.addini(INI_NAME, "folder (relative to rootdir) whose *.yaml files are harness suites",
                  default="suites")
    parser.addini(TIMEOUT_INI, "seconds a suite case (with its reference runs) may take before it "
                  "fails as hung; 0 disables the watchdog", default="300")


def suites_dir(config: pytest.Config) -> Path:
    """The one folder whose YAML files are suites."""
    option = config.getoption("harness_suites", default=None)
    if option:
        return (Path(config.invocation_params.dir) / option).resolve()
    return (Path(config.rootpath) / str(config.getini(INI_NAME))).resolve()


def session_state(config: pytest.Config) -> SessionState:
    if _STATE not in config.stash:
        config.stash[_STATE] = SessionState(config)
    return config.stash[_STATE]


def shown_path(config: pytest.Config, path: Path) -> str:
    """``suites/x.yaml``: relative to the rootdir where possible."""
    try:
        return Path(path).resolve().relative_to(Path(config.rootpath).resolve()).as_posix()
    except ValueError:
        return str(path)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional["SuiteFile"]:
    if file_path.suffix not in SUITE_SUFFIXES:
        return None
    if file_path.resolve().parent != suites_dir(parent.config):
        return None
    return SuiteFile.from_parent(parent, path=file_path)


class SuiteFile(pytest.File):
    """One suites/*.yaml file; validated as a whole before any case runs."""

    def collect(self) -> Any:
        shown = shown_path(self.config, self.path)
        try:
            suite = load_suite(self.path, shown=shown)
        except SuiteFormatError as error:
            raise self.CollectError(str(error)) from None
        for case in suite.cases:
            item = SuiteItem.from_parent(self, name=case.id, case=case)
            for mark in case.marks:
                item.add_marker(mark)
            yield item


class CaseFailed(Exception):
    """A case whose expectations did not hold (or that could not run); the message is the report."""


class CaseTimeout(BaseException):
    """Raised in the main thread by the watchdog (a BaseException, so no ``except Exception`` in
    harness swallows it); the executor's cleanup still runs on the way out."""




def _descendants() -> dict[int, float]:
    """pid → start time of every process below this one (workers hang under the forkserver)."""
    import psutil

    found = {}
    for child in psutil.Process().children(recursive=True):
        try:
            found[child.pid] = child.create_time()
        except psutil.Error:
            continue
    return found


def _kill_new_descendants(before: dict[int, float]) -> None:
    """SIGKILL the processes the hung case started (by pid, checked against its start time)."""
    import psutil

    for pid, started in _descendants().items():
        if before.get(pid) == started:
            continue
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            continue


@contextmanager
def watchdog(seconds: float, grace: float = 10.0) -> Iterator[None]:
    """Interrupt a hung case after ``seconds`` (Unix main thread only; elsewhere a no-op).

    The interrupt unwinds through the executor's own cleanup, which waits for in-flight worker
    calls; if that has not finished ``grace`` seconds later, the worker processes the case
    started are killed so the cleanup sees a broken pool and returns."""
    usable = (seconds > 0 and hasattr(signal, "SIGALRM")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    before = _descendants()

    def kill(signum: int, frame: Any) -> None:
        _kill_new_descendants(before)

    def fire(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGALRM, kill)
        signal.setitimer(signal.ITIMER_REAL, grace)
        raise CaseTimeout()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class SuiteItem(pytest.Item):
    """One case: run the recipe, check the expectations."""

    def __init__(self, *, case: SuiteCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.outcome: Optional[RunOutcome] = None
        self.run_dir: Optional[Path] = None

    @property
    def shown(self) -> str:
        return f"{shown_path(self.config, self.path)}::{self.case.id}"

    def run_case(self) -> tuple[RunOutcome, list[Mismatch]]:
        """Run the case (and its reference, cached) and check it; used by benchmarks too."""
        state = session_state(self.config)
        suite_dir = self.path.parent
        try:
            overrides = state.placeholders.expand(self.case.overrides, suite_dir)
            reference_overrides = (state.placeholders.expand(self.case.expect.same_output_as, suite_dir)
                                   if self.case.expect.same_output_as is not None else None)
        except CaseSetupError as error:
            raise CaseFailed(f"{self.shown}: cannot run: {error}") from None
        self.run_dir = state.make_dir(self.case.id)
        self.user_properties.append(("run_dir", str(self.run_dir)))
        outcome = execute(self.case.recipe, overrides, self.run_dir, state.rootdir)
        self.outcome = outcome

        def reference() -> RunOutcome:
            assert reference_overrides is not None
            return state.references.get(self.case.recipe, reference_overrides)

        return outcome, check_outcome(self.case, outcome, reference)

    def failure_message(self, outcome: RunOutcome, mismatches: list[Mismatch]) -> str:
        lines = []
        for mismatch in mismatches:
            first, *rest = mismatch.describe().splitlines()
            lines.append(f"{self.shown}: {first}")
            lines.extend(f"    {line}" for line in rest)
        if not any("run dir:" in m.detail for m in mismatches):
            lines.append(f"run dir: {outcome.run_dir}")
        return "\n".join(lines)

    def runtest(self) -> None:
        seconds = float(self.config.getini(TIMEOUT_INI) or 0)
        try:
            with watchdog(seconds):
                outcome, mismatches = self.run_case()
        except CaseTimeout:
            where = f"\nrun dir: {self.run_dir}" if self.run_dir else ""
            raise CaseFailed(f"{self.shown}: timed out after {seconds:g} s (a hung run; the limit is "
                             f"the {TIMEOUT_INI} ini option){where}") from None
        if mismatches:
            raise CaseFailed(self.failure_message(outcome, mismatches))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, Optional[int], str]:
        return self.path, None, f"{self.case.suite}::{self.case.id}"
