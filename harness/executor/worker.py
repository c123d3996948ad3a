"""The function worker processes run: a stage of fused row-local ops over one batch."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from harness.data.batch import ROW_ID, Batch, batch_len
from harness.executor.hooks import ExecutionHooks
from harness.executor.op_runner import CPU, BatchSizer, OpRunner, Placement
from harness.executor.settings import ErrorHandlingSettings
from harness.ops.base import Op
from harness.ops.registry import build_op

OpSpec = tuple[str, dict[str, Any]]


@dataclass
class StageTask:
    """One batch through one stage (consecutive ops that run together on one path)."""

    seq: int
    plan_key: str
    op_indices: list[int]
    op_specs: list[OpSpec]
    batch: Batch
    error_handling: ErrorHandlingSettings
    hooks: ExecutionHooks
    seed: int = 0
    #: None: the CPU path. Otherwise a device placement factory built in the worker.
    device: Optional[Any] = None
    #: How many times this batch already took a worker down with it (faults read this).
    worker_restarts: int = 0


@dataclass
class StageOutcome:
    """What a stage did to one batch; merged by the driver in input order."""

    seq: int
    batch: Batch
    removed: list[tuple[int, int]] = field(default_factory=list)          # (row_id, op_index)
    hashes: dict[int, tuple[list[int], list[Any]]] = field(default_factory=dict)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    op_seconds: dict[int, float] = field(default_factory=dict)
    batch_sizes: dict[int, list[int]] = field(default_factory=dict)
    rows_recomputed: int = 0
    device_stats: dict[str, Any] = field(default_factory=dict)
    worker_pid: int = 0


_OP_CACHE: dict[tuple[str, int], Op] = {}


def built_op(plan_key: str, op_index: int, spec: OpSpec) -> Op:
    """Ops are built once per worker process and plan, then reused for every batch."""
    key = (plan_key, op_index)
    op = _OP_CACHE.get(key)
    if op is None:
        if len(_OP_CACHE) > 256:
            _OP_CACHE.clear()
        op = _OP_CACHE[key] = build_op({spec[0]: spec[1]})
    return op


def run_stage(task: StageTask, in_worker: bool = True) -> StageOutcome:
    """Run the task's ops in order on its batch; rows an op removes or quarantines stop there.
    Deduplicators only compute hashes here (the driver decides), so rows pass through them."""
    runner = OpRunner(task.error_handling, task.hooks, seed=task.seed * 1_000_003 + task.seq,
                      in_worker=in_worker, worker_restarts=task.worker_restarts)
    placement: Placement = CPU if task.device is None else task.device.placement()
    out = StageOutcome(seq=task.seq, batch=task.batch, worker_pid=os.getpid())
    batch = task.batch
    for op_index, spec in zip(task.op_indices, task.op_specs):
        if not batch_len(batch):
            break
        op = built_op(task.plan_key, op_index, spec)
        sizer = task.device.sizer(op) if task.device else BatchSizer()
        started = time.perf_counter()
        result = runner.run(op, op_index, batch, placement, sizer)
        out.op_seconds[op_index] = time.perf_counter() - started
        out.removed.extend((row_id, op_index) for row_id in result.removed_ids)
        if result.hashes or result.hash_ids:
            out.hashes[op_index] = (result.hash_ids, result.hashes)
        out.quarantined.extend(result.quarantined)
        out.events.extend(result.events)
        out.batch_sizes[op_index] = result.batch_sizes
        out.rows_recomputed += result.rows_recomputed
        batch = result.batch
    out.batch = batch if batch_len(batch) else {ROW_ID: []}
    if task.device is not None:
        out.device_stats = task.device.stats()
    return out
