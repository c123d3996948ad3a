"""The worker-side runner: retries, OOM splitting, CPU fallback, row isolation — in-process."""
from __future__ import annotations

import pytest
import torch

from harness.data.batch import ROW_ID
from harness.errors import OpFailedError, TransientError
from harness.executor.op_runner import OpRunner, Placement
from harness.executor.settings import ErrorHandlingSettings
from harness.ops.base import Filter, Mapper
from harness.strategy.sizing import AdaptiveBatchSizer, SizerState


class Upper(Mapper):
    name = "test_upper"

    def __init__(self, fail_on: tuple[str, ...] = (), oom_above: int = 0, **kw: object) -> None:
        super().__init__(**kw)
        self.fail_on, self.oom_above = fail_on, oom_above
        self.calls: list[int] = []

    def process_batched(self, batch):
        self.calls.append(len(batch["text"]))
        if self.oom_above and len(batch["text"]) > self.oom_above and self.torch_device == "dev":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        for text in batch["text"]:
            if text in self.fail_on:
                raise ValueError(f"cannot handle {text!r}")
        return {**batch, "text": [t.upper() for t in batch["text"]]}


class LongEnough(Filter):
    name = "test_long_enough"
    stat_key = "n"

    @property
    def bounds(self):
        return (3, 100)

    def compute_stat(self, text):
        return len(text)


def batch_of(texts):
    return {"text": list(texts), ROW_ID: list(range(len(texts)))}


def runner(**eh) -> OpRunner:
    return OpRunner(ErrorHandlingSettings(retry_delay=0.0, **eh), sleep=lambda s: None)


def test_failing_rows_are_isolated_and_only_they_are_quarantined():
    texts = [f"row{i}" for i in range(20)]
    op = Upper(fail_on=("row3", "row17"))
    out = runner().run(op, 0, batch_of(texts))
    assert [q["row_id"] for q in out.quarantined] == [3, 17]
    assert out.batch["text"] == [t.upper() for t in texts if t not in ("row3", "row17")]
    assert out.batch[ROW_ID] == [i for i in range(20) if i not in (3, 17)]
    assert "ValueError: cannot handle 'row3'" in out.quarantined[0]["error"]
    assert "Traceback" in out.quarantined[0]["traceback"]


def test_on_error_fail_names_the_row_and_the_error():
    with pytest.raises(OpFailedError, match=r"input row 5 \(ValueError: cannot handle 'row5'\)"):
        runner(on_error="fail").run(Upper(fail_on=("row5",)), 0, batch_of([f"row{i}" for i in range(8)]))


def test_transient_errors_retry_the_same_rows_until_they_pass():
    failures = {"left": 2}

    class Flaky(Upper):
        def process_batched(self, batch):
            if failures["left"]:
                failures["left"] -= 1
                raise TransientError("service busy")
            return super().process_batched(batch)

    out = runner(max_retries=3).run(Flaky(), 0, batch_of(["a", "b", "c"]))
    assert out.batch["text"] == ["A", "B", "C"]
    assert [e["kind"] for e in out.events] == ["retry", "retry"]
    assert not out.quarantined


def test_transient_errors_past_the_retry_limit_quarantine_instead_of_looping():
    class AlwaysBusy(Upper):
        def process_batched(self, batch):
            raise TransientError("service down")

    out = runner(max_retries=1).run(AlwaysBusy(), 0, batch_of(["a", "b"]))
    assert [q["row_id"] for q in out.quarantined] == [0, 1]
    assert out.batch == {}


def test_oom_splits_only_the_failed_piece_and_sizer_learns_the_ceiling():
    op = Upper(oom_above=4)
    device = Placement(name="sim:x", torch_device="dev")
    sizer = AdaptiveBatchSizer(SizerState(size=16), 1, 64)
    texts = [f"t{i}" for i in range(16)]
    out = runner().run(op, 0, batch_of(texts), device, sizer)
    assert out.batch["text"] == [t.upper() for t in texts]
    assert sizer.state.ceiling == 8 and sizer.state.size == 4
    assert [e["kind"] for e in out.events].count("oom") == 2  # 16 failed, then the first 8
    assert sum(out.batch_sizes) == 16 and max(out.batch_sizes) <= 4


def test_oom_at_one_row_falls_back_to_the_cpu_path():
    class Hungry(Upper):
        def process_batched(self, batch):
            if self.torch_device != "cpu":
                raise RuntimeError("CUDA error: out of memory")
            return super().process_batched(batch)

    out = runner().run(Hungry(), 0, batch_of(["x", "y"]), Placement(name="sim:x", torch_device="dev"))
    assert out.batch["text"] == ["X", "Y"]
    kinds = [e["kind"] for e in out.events]
    assert kinds.count("fallback") == 2 and kinds.count("oom") == 3


def test_filter_flags_removed_rows_and_keeps_the_rest_in_order():
    out = runner().run(LongEnough(), 0, batch_of(["ab", "abc", "abcd", "x"]))
    assert out.removed_ids == [0, 3]
    assert out.batch["text"] == ["abc", "abcd"]
    assert [s["n"] for s in out.batch["__stats__"]] == [3, 4]

