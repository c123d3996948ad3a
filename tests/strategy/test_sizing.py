"""Batch sizing bounds (DESIGN invariant 5) and the learned-size cache."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.strategy.errors import is_device_error, is_oom, is_transient
from harness.strategy.sizing import AdaptiveBatchSizer, BatchSizeCache, SizerState, initial_batch_size
import torch


@given(pref=st.integers(1, 5000), max_bs=st.integers(1, 5000), rows=st.integers(0, 10000),
       min_bs=st.integers(1, 50), free=st.integers(0, 1 << 34), bpr=st.integers(0, 1 << 20),
       safety=st.floats(0.1, 1.0))
def test_initial_size_respects_every_bound(pref, max_bs, rows, min_bs, free, bpr, safety):
    size = initial_batch_size(pref, max_bs, rows, min_bs, free, safety, bpr)
    assert size >= 1
    if rows:
        assert size <= rows
        assert size >= min(min_bs, rows)
    assert size <= max(min(pref, max_bs), min_bs)
    if bpr and free * safety // bpr >= min_bs:
        assert size <= free * safety // bpr


@given(start=st.integers(1, 4096), feasible=st.integers(1, 4096), min_bs=st.integers(1, 8),
       max_bs=st.integers(64, 8192), steps=st.lists(st.integers(1, 5000), min_size=1, max_size=200))
def test_controller_stays_in_bounds_and_below_the_ceiling(start, feasible, min_bs, max_bs, steps):
    sizer = AdaptiveBatchSizer(SizerState(size=start), min_bs, max_bs)
    for rows_left in steps:
        size = sizer.next_size(rows_left)
        assert 1 <= size <= rows_left
        assert size <= max_bs
        ceiling = sizer.state.ceiling
        if size < rows_left and (ceiling is None or ceiling > min_bs):
            # min_batch_size holds unless the device cannot even run that many rows: then the
            # OOM ceiling wins (and at one row the runner falls back to the CPU).
            assert size >= min(min_bs, rows_left)
        if sizer.state.ceiling is not None:
            assert size < sizer.state.ceiling or sizer.state.ceiling == 1
        if size > feasible:
            sizer.on_oom(size)
        else:
            sizer.on_success(size)


def test_controller_from_64x_too_big_settles_with_at_most_seven_ooms():
    feasible = 100
    sizer = AdaptiveBatchSizer(SizerState(size=64 * feasible), 1, 100_000)
    ooms = 0
    for _ in range(2000):
        size = sizer.next_size(10**9)
        if size > feasible:
            ooms += 1
            sizer.on_oom(size)
        else:
            sizer.on_success(size)
    assert ooms <= 7
    assert feasible // 2 <= sizer.state.size <= feasible


def test_cache_round_trip(tmp_path):
    path = tmp_path / "sizes.json"
    cache = BatchSizeCache(str(path))
    key = cache.key("op:{}", "simulated", 1024)
    cache.put(key, SizerState(size=12, ceiling=25))
    cache.save()
    again = BatchSizeCache(str(path)).get(key)
    assert again is not None and (again.size, again.ceiling) == (12, 25)


def test_unreadable_cache_is_ignored_with_a_warning(tmp_path, caplog):
    path = tmp_path / "sizes.json"
    path.write_text("{not json")
    assert BatchSizeCache(str(path)).entries == {}
    assert "unreadable batch-size cache" in caplog.text


import pytest


@pytest.mark.parametrize("error", [
    torch.OutOfMemoryError("anything"),
    MemoryError(),
    RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"),
    RuntimeError("CUDA error: out of memory"),
    RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"),
    RuntimeError("CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate(handle)"),
    RuntimeError("HIP out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("hipErrorOutOfMemory"),
    RuntimeError("MPS backend out of memory (MPS allocated: 1.00 GB)"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:114] DefaultCPUAllocator: can't allocate memory: you tried to allocate 1024 bytes"),
    RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 1024 bytes"),
])
def test_every_known_oom_wording_is_recognised(error):
    assert is_oom(error)
    assert not is_device_error(error)


@pytest.mark.parametrize("error", [ValueError("bad value"), RuntimeError("shape mismatch"),
                                   KeyError("text")])
def test_ordinary_errors_are_not_ooms(error):
    assert not is_oom(error)


def test_device_errors_and_transient_errors_are_told_apart():
    assert is_device_error(RuntimeError("CUDA error: an illegal memory access was encountered"))
    assert not is_device_error(RuntimeError("CUDA error: out of memory"))
    assert is_transient(TimeoutError("slow"), ["TimeoutError"])
    assert is_transient(ConnectionResetError("reset"), ["ConnectionError"])
    assert not is_transient(ValueError("x"), ["TimeoutError", "ConnectionError"])


def test_fixed_sizes_split_a_failed_batch_but_learn_nothing():
    sizer = AdaptiveBatchSizer(SizerState(size=64), 1, 1000, adaptive=False)
    sizer.on_oom(64)
    for _ in range(50):
        sizer.on_success(64)
    assert (sizer.state.size, sizer.state.ceiling) == (64, None)
    assert sizer.next_size(10) == 10
