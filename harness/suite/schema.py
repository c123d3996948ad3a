"""The suite file format: parsing and up-front validation of ``suites/*.yaml``.

A suite file is a mapping with ``suite`` (a name) and ``cases`` (a list). Every key of a case and of
its ``expect`` block is checked when the file is collected, so a typo is a collection error that
names the file, the case and the key, never a silently unchecked expectation."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

SUITE_KEYS = ("suite", "cases", "description")
CASE_KEYS = ("id", "recipe", "overrides", "marks", "expect", "description")
EXPECT_KEYS = ("same_output_as", "rows", "events", "ledger", "batch_sizes", "exit_code",
               "quarantined_rows")
ROW_KEYS = ("in", "out", "removed", "quarantined")
BATCH_SIZE_KEYS = ("batches", "min", "max", "last")
LEDGER_VALUES = ("balanced",)
#: Expectations about what a finished run produced; meaningless when exit_code expects a failure.
OUTPUT_EXPECTATIONS = ("same_output_as", "rows", "events", "ledger", "batch_sizes",
                       "quarantined_rows")

_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")
_COMPARISON = re.compile(r"^\s*(>=|<=|==|>|<)?\s*(-?\d+)\s*$")


class SuiteFormatError(Exception):
    """A suite file does not follow the format; the message names file, case and key."""


@dataclass(frozen=True)
class Comparison:
    """``>=1``, ``<= 64``, ``==0`` or a bare integer (meaning ``==``)."""

    op: str
    value: int

    @classmethod
    def parse(cls, raw: Any, where: str) -> "Comparison":
        if isinstance(raw, bool):
            raise SuiteFormatError(f"{where}: expected an integer or a comparison such as '>=1', "
                                   f"got {raw!r}")
        if isinstance(raw, int):
            return cls("==", raw)
        if isinstance(raw, str):
            match = _COMPARISON.match(raw)
            if match:
                return cls(match.group(1) or "==", int(match.group(2)))
        raise SuiteFormatError(f"{where}: expected an integer or a comparison such as '>=1' "
                               f"(operators >=, <=, ==, >, <), got {raw!r}")

    def holds(self, actual: Optional[int]) -> bool:
        if actual is None:
            return False
        return {
            ">=": actual >= self.value, "<=": actual <= self.value, "==": actual == self.value,
            ">": actual > self.value, "<": actual < self.value,
        }[self.op]

    def __str__(self) -> str:
        return str(self.value) if self.op == "==" else f"{self.op}{self.value}"


@dataclass
class Expect:
    same_output_as: Optional[list[str]] = None
    rows: dict[str, Comparison] = field(default_factory=dict)
    events: dict[str, Comparison] = field(default_factory=dict)
    ledger: Optional[str] = None
    batch_sizes: dict[str, dict[str, Comparison]] = field(default_factory=dict)
    exit_code: Optional[int] = None
    quarantined_rows: Optional[list[int]] = None


@dataclass
class SuiteCase:
    suite: str
    file: Path
    id: str
    recipe: str
    overrides: list[str]
    marks: list[str]
    expect: Expect
    description: str = ""

    @property
    def benchmark(self) -> bool:
        return "benchmark" in self.marks


@dataclass
class Suite:
    name: str
    file: Path
    cases: list[SuiteCase]


def _unknown(keys: Any, allowed: tuple[str, ...], where: str, what: str) -> None:
    for key in keys:
        if key not in allowed:
            raise SuiteFormatError(f"{where}: unknown {what} {key!r}; allowed keys: "
                                   f"{', '.join(allowed)}")


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SuiteFormatError(f"{where}: expected a list of strings, got {value!r}")
    return list(value)


def _comparisons(value: Any, where: str, allowed: Optional[tuple[str, ...]] = None,
                 what: str = "key") -> dict[str, Comparison]:
    if not isinstance(value, dict) or not value:
        raise SuiteFormatError(f"{where}: expected a mapping of name to comparison, got {value!r}")
    if allowed:
        _unknown(value, allowed, where, what)
    return {str(k): Comparison.parse(v, f"{where}.{k}") for k, v in value.items()}


def parse_expect(raw: Any, where: str) -> Expect:
    if raw is None:
        return Expect()
    if not isinstance(raw, dict):
        raise SuiteFormatError(f"{where}: expect must be a mapping, got {raw!r}")
    _unknown(raw, EXPECT_KEYS, f"{where}: expect", "expectation")
    expect = Expect()
    if "same_output_as" in raw:
        expect.same_output_as = _str_list(raw["same_output_as"], f"{where}: expect.same_output_as")
    if "rows" in raw:
        expect.rows = _comparisons(raw["rows"], f"{where}: expect.rows", ROW_KEYS, "row count")
    if "events" in raw:
        expect.events = _comparisons(raw["events"], f"{where}: expect.events")
    if "ledger" in raw:
        if raw["ledger"] not in LEDGER_VALUES:
            raise SuiteFormatError(f"{where}: expect.ledger must be one of {', '.join(LEDGER_VALUES)}, "
                                   f"got {raw['ledger']!r}")
        expect.ledger = raw["ledger"]
    if "batch_sizes" in raw:
        value = raw["batch_sizes"]
        if not isinstance(value, dict) or not value:
            raise SuiteFormatError(f"{where}: expect.batch_sizes must map op names to "
                                   f"{{batches/min/max/last: comparison}}, got {value!r}")
        expect.batch_sizes = {
            str(op): _comparisons(stats, f"{where}: expect.batch_sizes.{op}", BATCH_SIZE_KEYS,
                                  "batch size statistic")
            for op, stats in value.items()
        }
    if "exit_code" in raw:
        code = raw["exit_code"]
        if isinstance(code, bool) or not isinstance(code, int) or code < 0:
            raise SuiteFormatError(f"{where}: expect.exit_code must be a non-negative integer, "
                                   f"got {code!r}")
        clash = [k for k in OUTPUT_EXPECTATIONS if k in raw]
        if clash and code != 0:
            raise SuiteFormatError(
                f"{where}: expect.exit_code={code} means the run fails and writes no output, so "
                f"{', '.join(clash)} cannot be checked; move them to a separate case")
        expect.exit_code = code
    if "quarantined_rows" in raw:
        rows = raw["quarantined_rows"]
        if not isinstance(rows, list) or not all(isinstance(r, int) and not isinstance(r, bool)
                                                 for r in rows):
            raise SuiteFormatError(f"{where}: expect.quarantined_rows must be a list of input row "
                                   f"ids, got {rows!r}")
        expect.quarantined_rows = sorted(rows)
    return expect


def parse_suite(data: Any, file: Path, shown: str) -> Suite:
    """Validate a loaded suite document; ``shown`` is the file name used in messages."""
    if not isinstance(data, dict) or "suite" not in data or "cases" not in data:
        raise SuiteFormatError(
            f"{shown}: not a suite file: a suite file is a mapping with a top-level 'suite:' name "
            f"and a 'cases:' list (files in the suites folder must all be suites)")
    _unknown(data, SUITE_KEYS, shown, "top-level key")
    name = data["suite"]
    if not isinstance(name, str) or not name:
        raise SuiteFormatError(f"{shown}: 'suite' must be a non-empty name, got {name!r}")
    cases_raw = data["cases"]
    if not isinstance(cases_raw, list) or not cases_raw:
        raise SuiteFormatError(f"{shown}: 'cases' must be a non-empty list of cases")
    cases: list[SuiteCase] = []
    seen: set[str] = set()
    for position, raw in enumerate(cases_raw, start=1):
        if not isinstance(raw, dict):
            raise SuiteFormatError(f"{shown}: case {position} must be a mapping, got {raw!r}")
        case_id = raw.get("id")
        if not isinstance(case_id, str) or not _ID.match(case_id):
            raise SuiteFormatError(f"{shown}: case {position}: 'id' must be a name of letters, "
                                   f"digits, '_', '-' or '.', got {case_id!r}")
        where = f"{shown}::{case_id}"
        if case_id in seen:
            raise SuiteFormatError(f"{where}: duplicate case id")
        seen.add(case_id)
        _unknown(raw, CASE_KEYS, where, "key")
        recipe = raw.get("recipe")
        if not isinstance(recipe, str) or not recipe:
            raise SuiteFormatError(f"{where}: 'recipe' must name a recipe (conf/recipe/NAME.yaml), "
                                   f"got {recipe!r}")
        cases.append(SuiteCase(
            suite=name, file=file, id=case_id, recipe=recipe,
            overrides=_str_list(raw.get("overrides"), f"{where}: overrides"),
            marks=_str_list(raw.get("marks"), f"{where}: marks"),
            expect=parse_expect(raw.get("expect"), where),
            description=str(raw.get("description") or ""),
        ))
    return Suite(name=name, file=file, cases=cases)


def load_suite(file: Union[str, Path], shown: Optional[str] = None) -> Suite:
    """Read and validate one suite file."""
    file = Path(file)
    shown = shown or str(file)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SuiteFormatError(f"{shown}: not valid YAML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SuiteFormatError(f"{shown}: cannot be read: {error}") from None
    return parse_suite(data, file, shown)
