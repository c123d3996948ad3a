"""Units of the suite runner: comparisons, placeholders and the output comparison."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from harness.suite.runner import CaseSetupError, Placeholders, compare_outputs
from harness.suite.schema import Comparison, SuiteFormatError
from strategies import datasets, texts


@pytest.mark.parametrize("raw, op, value", [(3, "==", 3), ("3", "==", 3), (">=1", ">=", 1),
                                            ("<= 64", "<=", 64), ("==0", "==", 0), (">2", ">", 2),
                                            ("<5", "<", 5)])
def test_comparison_parse(raw: object, op: str, value: int) -> None:
    assert Comparison.parse(raw, "x") == Comparison(op, value)


@pytest.mark.parametrize("raw", [True, "=>1", "about 3", 1.5, None, [1]])
def test_comparison_rejects(raw: object) -> None:
    with pytest.raises(SuiteFormatError, match="x: expected an integer or a comparison"):
        Comparison.parse(raw, "x")


@given(st.integers(-5, 5), st.sampled_from([">=", "<=", "==", ">", "<"]), st.integers(-5, 5))
def test_comparison_holds_like_python(value: int, op: str, actual: int) -> None:
    assert Comparison(op, value).holds(actual) == eval(f"{actual} {op} {value}")  # noqa: S307


def test_placeholders(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    root = tmp_path / "repo"
    found = Placeholders(root, env={}).expand(["a=${shared}/x", "b=${rootdir}/y", "c=${suite_dir}"],
                                              tmp_path / "suites")
    assert found == [f"a={shared.resolve()}/x", f"b={root}/y", f"c={tmp_path / 'suites'}"]
    env = Placeholders(root, env={"HARNESS_SHARED_DIR": str(shared)})
    assert env.expand(["${shared}"], root) == [str(shared)]
    with pytest.raises(CaseSetupError, match="HARNESS_SHARED_DIR"):
        Placeholders(root, env={"HARNESS_SHARED_DIR": str(tmp_path / "none")}).expand(["${shared}"], root)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@given(datasets(min_size=1, max_size=20), st.data())
def test_compare_outputs_finds_the_first_differing_row(tmp_path_factory: pytest.TempPathFactory,
                                                        rows: list[dict], data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("cmp")
    same = _write(folder / "a.jsonl", rows)
    assert compare_outputs(same, _write(folder / "b.jsonl", rows)) == ""
    index = data.draw(st.integers(0, len(rows) - 1))
    changed = [dict(r) for r in rows]
    changed[index]["text"] = data.draw(texts.filter(lambda t: t != rows[index]["text"]))
    message = compare_outputs(_write(folder / "c.jsonl", changed), same)
    first = next(i for i, (a, b) in enumerate(zip(changed, rows)) if a != b)
    assert message.startswith(f"first differing row {first}:")
    shorter = compare_outputs(_write(folder / "d.jsonl", rows[:index]), same)
    assert shorter.startswith(f"this run has fewer rows ({index})")
