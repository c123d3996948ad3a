"""The execution plan: ops split into segments (ending at barriers) and stages (fused ops on
one path). Consecutive row-local ops on the same path run together in one worker call."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

from harness.ops.base import Deduplicator, Op
from harness.ops.registry import build_op


@dataclass
class Stage:
    """Consecutive ops that run together on one path ('cpu' or 'gpu')."""

    op_indices: list[int]
    path: str = "cpu"


@dataclass
class Segment:
    """Ops between barriers. Rows stream through a segment; a barrier op ends it."""

    stages: list[Stage]
    #: Streaming deduplicators decided in the driver, in input order.
    streaming_dedups: list[int] = field(default_factory=list)
    #: Index of the barrier deduplicator that ends this segment, if any.
    barrier: int | None = None

    @property
    def op_indices(self) -> list[int]:
        return [i for stage in self.stages for i in stage.op_indices]


@dataclass
class Plan:
    ops: list[Op]
    segments: list[Segment]
    key: str
    #: Why each op runs where it runs (path events).
    events: list[dict[str, Any]] = field(default_factory=list)

    def batch_size_for(self, stage: Stage, configured: int, max_batch_size: int) -> int:
        """Rows per task: configured, or the smallest preference of the stage's ops, capped."""
        if configured:
            return min(configured, max_batch_size)
        return max(1, min(min(self.ops[i].batch_size for i in stage.op_indices), max_batch_size))


def build_plan(operations: Iterable[Any], use_gpu: bool, gpu_available: bool) -> Plan:
    """Build ops from recipe entries (or take op instances) and group them into segments."""
    ops = [build_op(entry) for entry in operations]
    events: list[dict[str, Any]] = []
    paths = []
    for index, op in enumerate(ops):
        path = "cpu"
        if op.accelerator == "cuda":
            if not use_gpu:
                reason = "executor.use_gpu is false"
            elif not gpu_available:
                reason = "no GPU (real or simulated) is available"
            else:
                path, reason = "gpu", "op asks for cuda and a device is available"
            events.append({"kind": "path", "op": op.name, "op_index": index, "path": path,
                           "reason": reason})
        paths.append(path)
    segments: list[Segment] = []
    current = Segment(stages=[])
    for index, (op, path) in enumerate(zip(ops, paths)):
        if current.stages and current.stages[-1].path == path:
            current.stages[-1].op_indices.append(index)
        else:
            current.stages.append(Stage([index], path))
        if isinstance(op, Deduplicator):
            if op.is_barrier:
                current.barrier = index
                segments.append(current)
                current = Segment(stages=[])
            else:
                current.streaming_dedups.append(index)
    if current.stages or not segments:
        segments.append(current)
    return Plan(ops=ops, segments=segments, key=uuid.uuid4().hex, events=events)
