"""Combining stage outcomes: one after another (next stage) or side by side (bisected halves)."""
from __future__ import annotations

from harness.data.batch import concat_batches
from harness.executor.worker import StageOutcome


def chain(first: StageOutcome, then: StageOutcome) -> StageOutcome:
    """``first`` followed by a later stage on its surviving rows."""
    first.batch = then.batch
    _extend(first, then)
    return first


def join(left: StageOutcome, right: StageOutcome) -> StageOutcome:
    """Two halves of one batch (left rows before right rows) as one outcome."""
    out = StageOutcome(seq=left.seq, batch=concat_batches([left.batch, right.batch]))
    _extend(out, left)
    _extend(out, right)
    return out


def _extend(into: StageOutcome, other: StageOutcome) -> None:
    into.removed.extend(other.removed)
    for op_index, (ids, hashes) in other.hashes.items():
        have_ids, have_hashes = into.hashes.setdefault(op_index, ([], []))
        have_ids.extend(ids)
        have_hashes.extend(hashes)
    into.quarantined.extend(other.quarantined)
    into.events.extend(other.events)
    for op_index, seconds in other.op_seconds.items():
        into.op_seconds[op_index] = into.op_seconds.get(op_index, 0.0) + seconds
    for op_index, sizes in other.batch_sizes.items():
        into.batch_sizes.setdefault(op_index, []).extend(sizes)
    into.rows_recomputed += other.rows_recomputed
    into.device_stats.update(other.device_stats)
