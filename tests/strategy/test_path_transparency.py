"""DESIGN invariant 3: the CPU path and the (simulated) GPU path give identical results, also when
OOMs force splits and CPU fallback in the middle of a batch."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data.batch import ROW_ID
from harness.executor.op_runner import OpRunner, Placement
from harness.executor.settings import ErrorHandlingSettings
from harness.ops import build_op
from harness.resources import SimulatedDevice, warm_up
from harness.strategy.sizing import AdaptiveBatchSizer, SizerState

warm_up()

words = st.sampled_from(["the", "cat", "sat", "on", "a", "mat", "猫", "über", "mat.", ""])
texts = st.lists(st.lists(words, max_size=30).map(" ".join), min_size=1, max_size=60)


@settings(max_examples=25, deadline=None)
@given(texts=texts, budget_kib=st.integers(8, 512), start=st.integers(1, 64))
def test_minhash_hashes_equal_on_cpu_and_on_a_tight_simulated_device(texts, budget_kib, start):
    op = build_op({"document_minhash_deduplicator": {"window_size": 2, "num_permutations": 64,
                                                      "accelerator": "cuda"}})
    batch = {"text": texts, ROW_ID: list(range(len(texts)))}
    runner = OpRunner(ErrorHandlingSettings(retry_delay=0.0), sleep=lambda s: None)
    on_cpu = runner.run(op, 0, batch)
    device = SimulatedDevice("sim:t", budget_kib * 1024)
    placement = Placement(name="sim:t", torch_device="cpu", activate=device.activate)
    on_device = runner.run(op, 0, batch, placement, AdaptiveBatchSizer(SizerState(start), 1, 64))
    assert on_device.hash_ids == on_cpu.hash_ids == list(range(len(texts)))
    assert on_device.hashes == on_cpu.hashes
    assert not on_device.quarantined
    kinds = {e["kind"] for e in on_device.events}
    assert kinds <= {"oom", "split", "fallback"}
    if device.oom_count:
        assert "oom" in kinds
