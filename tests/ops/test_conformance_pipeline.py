"""The conformance cases again, this time through the whole executor: worker processes, batches
of 37 rows (so batch boundaries cut through dedup groups), JSONL output read back. Output must
equal what Data-Juicer 1.6.1 returned, row for row and in order."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from harness import LocalModeExecutor

from conformance_cases import CONFORMANCE_DIR, conformance_cases


@pytest.fixture(scope="module")
def executor() -> Iterator[LocalModeExecutor]:
    # One executor for every case: its worker pools start per run, the settings are shared.
    yield LocalModeExecutor({"workers": 1, "batch_size": 37})


@pytest.mark.parametrize("case_path", conformance_cases())
def test_op_through_executor_matches_data_juicer(case_path: Path | None,
                                                 executor: LocalModeExecutor,
                                                 tmp_path: Path) -> None:
    if case_path is None:
        pytest.fail(
            f"no conformance cases found in {CONFORMANCE_DIR}: the folder is missing or empty. "
            f"Point HARNESS_SHARED_DIR at the shared folder that holds conformance/data-juicer/."
        )
    case = json.loads(case_path.read_text("utf-8"))
    inputs: list[str] = list(case["inputs"])
    expected = case["expected"]
    result = executor.process_dataset([{"text": t} for t in inputs],
                                      [{case["op"]: case["params"]}], run_dir=tmp_path)
    got = [row["text"] for row in result]
    assert result.ledger.balanced
    assert result.ledger.quarantined == 0

    if case["kind"] == "mapper":
        want = expected["texts"]
    elif case["kind"] == "filter":
        assert len(expected["keep"]) == len(inputs)
        want = [text for text, keep in zip(inputs, expected["keep"]) if keep]
    elif case["kind"] == "dedup":
        want = [inputs[i] for i in expected["keep_indices"]]
    else:
        pytest.fail(f"{case_path.name}: unknown kind {case['kind']!r}")
    assert len(got) == len(want), f"{case_path.name}: {len(got)} rows out, Data-Juicer kept {len(want)}"
    wrong = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not wrong, f"{case_path.name}: {len(wrong)} rows differ, first: {wrong[:3]}"
