"""A batch is a dict of equal-length lists (column -> values). Helpers to build and cut them."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

Batch = dict[str, list[Any]]

#: Column holding each row's position in the input; it travels with the row and is never exported.
ROW_ID = "__row_id__"
#: Column holding each row's filter statistics (one dict per row), exported only when asked.
STATS = "__stats__"
INTERNAL_PREFIX = "__"


def batch_len(batch: Batch) -> int:
    """Number of rows in ``batch`` (0 for a batch without columns)."""
    for values in batch.values():
        return len(values)
    return 0


def rows_to_batch(rows: Sequence[dict[str, Any]]) -> Batch:
    """Columns from row dicts; a key missing in some rows becomes None there."""
    keys: dict[str, None] = {}
    for row in rows:
        for key in row:
            keys.setdefault(key, None)
    return {key: [row.get(key) for row in rows] for key in keys}


def batch_to_rows(batch: Batch) -> list[dict[str, Any]]:
    """Row dicts from columns, in order."""
    keys = list(batch)
    return [dict(zip(keys, values)) for values in zip(*(batch[k] for k in keys))]


def take(batch: Batch, indices: Sequence[int]) -> Batch:
    """The rows at ``indices``, in that order."""
    return {key: [values[i] for i in indices] for key, values in batch.items()}


def select(batch: Batch, keep: Sequence[bool]) -> Batch:
    """The rows whose flag in ``keep`` is true."""
    return take(batch, [i for i, flag in enumerate(keep) if flag])


def slice_batch(batch: Batch, start: int, stop: int) -> Batch:
    """Rows ``start:stop``."""
    return {key: values[start:stop] for key, values in batch.items()}


def concat_batches(batches: Iterable[Batch]) -> Batch:
    """One batch from many with the same columns (columns missing in a part are filled with None)."""
    parts = [b for b in batches if batch_len(b)]
    if not parts:
        return {}
    keys: dict[str, None] = {}
    for part in parts:
        for key in part:
            keys.setdefault(key, None)
    out: Batch = {key: [] for key in keys}
    for part in parts:
        n = batch_len(part)
        for key in keys:
            out[key].extend(part.get(key, [None] * n))
    return out


def split_batch(batch: Batch, size: int) -> list[Batch]:
    """Consecutive pieces of at most ``size`` rows."""
    n = batch_len(batch)
    return [slice_batch(batch, i, min(i + size, n)) for i in range(0, n, max(1, size))]


def public_columns(batch: Batch, keep_stats: bool = False) -> Batch:
    """The batch without harness-internal columns (optionally keeping the stats column)."""
    return {
        key: values
        for key, values in batch.items()
        if not key.startswith(INTERNAL_PREFIX) or (keep_stats and key == STATS)
    }


def estimate_batch_bytes(batch: Batch) -> int:
    """Rough memory a batch holds while in flight (text bytes, the pickled copy sent to a worker
    and the worker's copy, plus per-row overhead). Used for memory backpressure."""
    total = 0
    for values in batch.values():
        for value in values[:64]:
            total += len(value) if isinstance(value, (str, bytes)) else 32
    n = batch_len(batch)
    sampled = min(n, 64)
    per_row = (total / sampled) if sampled else 0
    return int(3 * per_row * n + 200 * n)
