"""The suite plugin, driven through pytester: collection, passing and failing cases, reports."""
from __future__ import annotations

import json
import textwrap

import pytest

ROWS = [
    "The first row is an ordinary sentence about cleaning data for training.",
    "A second row says that nothing vanishes without a trace in the ledger.",
    "A second row says that nothing vanishes without a trace in the ledger.",
    "short",
    "Row five is fine too, and it is long enough to pass every quickstart filter.",
    "The last row closes the file and keeps the dataset tiny for fast tests.",
]
#: quickstart over ROWS: 'short' is filtered, one exact duplicate removed.
TINY = ["recipe.dataset_path=data/tiny.jsonl", "executor.workers=1", "resources=cpu_only"]


def _write_tiny(folder) -> None:
    (folder / "tiny.jsonl").write_text(
        "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(ROWS)), "utf-8")


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One run in this process first: pytester's in-process runs drop modules first imported
    inside them, and numpy (among others) cannot be imported twice in one process."""
    from harness.suite.runner import execute

    folder = tmp_path_factory.mktemp("warm")
    (folder / "data").mkdir()
    _write_tiny(folder / "data")
    outcome = execute("quickstart", TINY, folder / "run", folder)
    assert outcome.ok, outcome.failure_text()


@pytest.fixture
def project(pytester: pytest.Pytester, warm: None) -> pytest.Pytester:
    pytester.makeini("[pytest]\nharness_suites = suites\n")
    _write_tiny(pytester.mkdir("data"))
    pytester.mkdir("suites")
    return pytester


def write_suite(pytester: pytest.Pytester, name: str, body: str) -> None:
    (pytester.path / "suites" / name).write_text(textwrap.dedent(body), "utf-8")


def overrides(*extra: str) -> str:
    return json.dumps([*TINY, *extra])


def test_passing_cases(project: pytest.Pytester) -> None:
    write_suite(project, "tiny.yaml", f"""
        suite: tiny
        cases:
          - id: counts
            recipe: quickstart
            overrides: {overrides()}
            expect:
              rows: {{in: 6, out: 4, removed: 2, quarantined: 0}}
              events: {{oom: 0, retry: "<=0"}}
              ledger: balanced
              batch_sizes: {{whitespace_normalization_mapper: {{batches: ">=1", max: "<=6"}}}}
              same_output_as: {overrides("executor.batch_size=1")}
          - id: missing_file
            recipe: quickstart
            overrides: [recipe.dataset_path=data/nope.jsonl]
            expect: {{exit_code: 2}}
    """)
    result = project.runpytest("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*suites/tiny.yaml::counts PASSED*",
                                 "*suites/tiny.yaml::missing_file PASSED*"])


def test_failing_expectation_names_file_case_expectation_and_values(project: pytest.Pytester) -> None:
    write_suite(project, "tiny.yaml", f"""
        suite: tiny
        cases:
          - id: wrong
            recipe: quickstart
            overrides: {overrides()}
            expect:
              rows: {{out: 999}}
              events: {{oom: ">=1"}}
              exit_code: 0
    """)
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "suites/tiny.yaml::wrong: rows.out expected 999, got 4" in out
    assert "suites/tiny.yaml::wrong: events.oom expected >=1, got 0" in out
    assert "run dir: " in out
    assert "Traceback" not in out
    assert "harness/app.py" not in out and "harness/suite/" not in out


def test_same_output_as_shows_first_differing_row(project: pytest.Pytester) -> None:
    write_suite(project, "tiny.yaml", f"""
        suite: tiny
        cases:
          - id: differs
            recipe: quickstart
            overrides: {overrides()}
            expect:
              same_output_as: {overrides("recipe.process.4.text_length_filter.min_len=72")}
    """)
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "suites/tiny.yaml::differs: same_output_as expected output byte-identical" in out
    assert "first differing row 0:" in out
    assert "The first row is an ordinary sentence" in out


def test_exit_code_mismatch(project: pytest.Pytester) -> None:
    write_suite(project, "tiny.yaml", f"""
        suite: tiny
        cases:
          - id: expects_failure
            recipe: quickstart
            overrides: {overrides()}
            expect: {{exit_code: 2}}
    """)
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["suites/tiny.yaml::expects_failure: exit_code expected 2, got 0 (the run succeeded)"])


def test_unexpected_exception_is_reported_as_run_failed(project: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import app

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug inside harness")

    monkeypatch.setattr(app, "run", broken)
    write_suite(project, "tiny.yaml", f"""
        suite: tiny
        cases:
          - id: crashes
            recipe: quickstart
            overrides: {overrides()}
            expect: {{rows: {{out: 4}}}}
    """)
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "suites/tiny.yaml::crashes: run expected success, got a failure" in out
    assert "run failed: ZeroDivisionError: a bug inside harness" in out
    assert "traceback.txt" in out and "Traceback" not in out


@pytest.mark.parametrize("body, words", [
    ("""
        suite: s
        cases:
          - id: typo
            recipe: quickstart
            expects: {rows: {out: 1}}
     """, ["suites/bad.yaml::typo: unknown key 'expects'",
           "allowed keys: id, recipe, overrides, marks, expect, description"]),
    ("""
        suite: s
        cases:
          - id: typo
            recipe: quickstart
            expect: {row: {out: 1}}
     """, ["suites/bad.yaml::typo: expect: unknown expectation 'row'",
           "allowed keys: same_output_as, rows, events, ledger, batch_sizes, exit_code, quarantined_rows"]),
    ("""
        suite: s
        cases:
          - id: typo
            recipe: quickstart
            expect: {batch_sizes: {some_op: {median: 3}}}
     """, ["suites/bad.yaml::typo: expect.batch_sizes.some_op: unknown batch size statistic 'median'",
           "allowed keys: batches, min, max, last"]),
    ("""
        suite: s
        cases:
          - id: op
            recipe: quickstart
            expect: {events: {oom: "~1"}}
     """, ["suites/bad.yaml::op: expect.events.oom: expected an integer or a comparison*"]),
    ("""
        suite: s
        cases:
          - id: clash
            recipe: quickstart
            expect: {exit_code: 2, rows: {out: 1}}
     """, ["suites/bad.yaml::clash: expect.exit_code=2 means the run fails*rows*"]),
    ("""
        name: not a suite
        items: [1, 2]
     """, ["suites/bad.yaml: not a suite file*'suite:'*'cases:'*"]),
])
def test_format_errors_are_collection_errors(project: pytest.Pytester, body: str,
                                             words: list[str]) -> None:
    write_suite(project, "bad.yaml", body)
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting suites/bad.yaml*", "*" + "*".join(words) + "*"])
    assert "Traceback" not in result.stdout.str()


def test_unrelated_yaml_is_ignored(project: pytest.Pytester) -> None:
    project.mkdir("config")
    (project.path / "config" / "settings.yaml").write_text("name: not a suite\n", "utf-8")
    (project.path / "other.yml").write_text("- just\n- a list\n", "utf-8")
    (project.path / "suites" / "notes.txt").write_text("not yaml\n", "utf-8")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.assert_outcomes()


def test_command_line_option_selects_the_folder(project: pytest.Pytester) -> None:
    project.mkdir("cases")
    (project.path / "cases" / "tiny.yaml").write_text(textwrap.dedent(f"""
        suite: tiny
        cases:
          - id: counts
            recipe: quickstart
            overrides: {overrides()}
            expect: {{rows: {{out: 4}}}}
    """), "utf-8")
    # Not a suite, but outside the selected folder now: ignored.
    write_suite(project, "junk.yaml", "name: junk\n")
    result = project.runpytest("--harness-suites=cases")
    result.assert_outcomes(passed=1)


def test_marks_and_missing_shared_folder_fails(project: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_SHARED_DIR", str(project.path / "no-shared-here"))
    write_suite(project, "shared.yaml", """
        suite: shared
        cases:
          - id: needs_shared
            recipe: bench
            overrides: ["recipe.dataset_path=${shared}/bench/data.jsonl"]
            marks: [slow]
            expect: {rows: {out: 16713}}
    """)
    result = project.runpytest("-m", "slow", "-p", "no:warnings")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*suites/shared.yaml::needs_shared: cannot run: override*needs "
                                 "the shared folder*HARNESS_SHARED_DIR*no-shared-here*"])


def test_hung_case_fails_after_the_timeout(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nharness_suites = suites\nharness_suite_timeout = 1.5\n")
    # The slow fault sleeps inside a worker: the watchdog must also end that worker.
    write_suite(project, "tiny.yaml", f"""
        suite: tiny
        cases:
          - id: hangs
            recipe: quickstart
            overrides: {overrides("faults.rules=[{kind: slow, delay: 30.0}]")}
    """)
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["suites/tiny.yaml::hangs: timed out after 1.5 s*harness_suite_timeout*"])
    assert result.duration < 25
