"""Every op configuration in the shared conformance folder gives what Data-Juicer 1.6.1 gave.

Cases are found at run time, so a new ``*.json`` file is a new test with no code change.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from harness.ops import build_op

from conformance_cases import CONFORMANCE_DIR, conformance_cases


def _same_stat(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual == expected
    if isinstance(expected, int) and isinstance(actual, int):
        return actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=0.0, abs_tol=1e-12)
    return actual == expected


@pytest.mark.parametrize("case_path", conformance_cases())
def test_op_matches_data_juicer(case_path: Path | None) -> None:
    if case_path is None:
        pytest.fail(
            f"no conformance cases found in {CONFORMANCE_DIR}: the folder is missing or empty. "
            f"Point HARNESS_SHARED_DIR at the shared folder that holds conformance/data-juicer/."
        )
    case = json.loads(case_path.read_text("utf-8"))
    op = build_op({case["op"]: case["params"]})
    inputs = list(case["inputs"])
    expected = case["expected"]
    kind = case["kind"]

    if kind == "mapper":
        out = op.process_batched({"text": list(inputs)})["text"]
        assert len(out) == len(expected["texts"])
        wrong = [
            (i, inputs[i], got, want)
            for i, (got, want) in enumerate(zip(out, expected["texts"]))
            if got != want
        ]
        assert not wrong, f"{len(wrong)} texts differ; first (row, input, got, expected): {wrong[0]!r}"
    elif kind == "filter":
        batch = op.compute_stats_batched({"text": list(inputs)})
        keep = op.process_batched(batch)
        wrong = []
        for i, (stats, want) in enumerate(zip(batch["__stats__"], expected["stats"])):
            for key, value in want.items():
                if key not in stats or not _same_stat(stats[key], value):
                    wrong.append((i, inputs[i], key, stats.get(key), value))
        assert len(batch["__stats__"]) == len(expected["stats"])
        assert not wrong, f"{len(wrong)} stats differ; first (row, input, key, got, expected): {wrong[0]!r}"
        assert keep == expected["keep"]
    elif kind == "dedup":
        flags = op.keep_flags({"text": list(inputs)})
        kept = [i for i, flag in enumerate(flags) if flag]
        assert kept == expected["keep_indices"]
    else:
        pytest.fail(f"{case_path.name}: unknown case kind {kind!r}")
