"""Driver-side decisions, in input order: streaming dedup keep flags, barrier indexes, and the
final fate of every row of a completed batch (out, removed by op k, or quarantined at op k)."""
from __future__ import annotations

from typing import Any, Callable

from harness.data.batch import ROW_ID, Batch, take
from harness.executor.ledger import Ledger
from harness.executor.plan import Plan, Segment
from harness.executor.worker import StageOutcome
from harness.ops.base import DedupIndex, Deduplicator


class SegmentDecider:
    """Turns a segment's stage outcomes into surviving rows, ledger counts and quarantine records.

    Workers run every row-local op speculatively, passing rows through deduplicators (they only
    compute hashes). Here, in input order, each deduplicator decides; a row it removes is charged
    to it even if a later op also removed or failed it, exactly as a sequential run would."""

    def __init__(self, plan: Plan, segment: Segment, ledger: Ledger,
                 quarantine: Callable[[dict[str, Any]], None],
                 indexes: dict[int, DedupIndex]) -> None:
        self.plan, self.segment, self.ledger = plan, segment, ledger
        self.quarantine = quarantine
        self.indexes = indexes
        #: Recovery events of the segment's batches, in input order (deterministic).
        self.events: list[dict[str, Any]] = []
        self.rows_recomputed = 0
        for k in segment.streaming_dedups + ([segment.barrier] if segment.barrier is not None else []):
            op = plan.ops[k]
            assert isinstance(op, Deduplicator)
            indexes.setdefault(k, op.new_index())

    def decide(self, outcome: StageOutcome) -> Batch:
        """Rows of ``outcome`` that go on (to the output, the next segment, or the barrier spill)."""
        ops = self.ledger.ops
        self.events.extend(outcome.events)
        self.rows_recomputed += outcome.rows_recomputed
        for index, seconds in outcome.op_seconds.items():
            ops[index].seconds += seconds
        for index, sizes in outcome.batch_sizes.items():
            ops[index].batch_sizes.extend(sizes)
        dropped: dict[int, int] = {}  # row id -> dedup op index that removed it
        dedups = list(self.segment.streaming_dedups)
        if self.segment.barrier is not None:
            dedups.append(self.segment.barrier)
        for k in dedups:
            ids, hashes = outcome.hashes.get(k, ([], []))
            if dropped:
                pairs = [(i, h) for i, h in zip(ids, hashes) if i not in dropped]
                ids, hashes = [p[0] for p in pairs], [p[1] for p in pairs]
            flags = self.indexes[k].add(ids, hashes)
            if flags is not None:
                for row_id, keep in zip(ids, flags):
                    if not keep:
                        dropped[row_id] = k
                        ops[k].removed += 1
        for row_id, j in outcome.removed:
            if dropped.get(row_id, j) >= j:
                ops[j].removed += 1
        for record in outcome.quarantined:
            j = record["op_index"]
            if dropped.get(record["row_id"], j) >= j:
                ops[j].quarantined += 1
                self.quarantine(record)
        batch = outcome.batch
        if dropped:
            batch = take(batch, [i for i, row_id in enumerate(batch[ROW_ID]) if row_id not in dropped])
        return batch
