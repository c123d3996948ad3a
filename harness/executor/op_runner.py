"""Runs one op on one batch inside a worker, surviving what can be survived.

Policy (see DESIGN 'Strategy'): a transient error retries the same rows with backoff; an
out-of-memory error splits only the failed piece in halves (down to one row, which then runs on
the CPU path); any other error is isolated by bisection and only the failing rows are
quarantined, unless ``on_error='fail'``. Rows that succeeded are never run again.
"""
from __future__ import annotations

import contextlib
import random
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Optional

from harness.data.batch import ROW_ID, Batch, batch_len, concat_batches, slice_batch
from harness.errors import OpFailedError
from harness.executor.hooks import ExecutionHooks, NoHooks, OpCall
from harness.executor.settings import ErrorHandlingSettings
from harness.ops.base import Deduplicator, Filter, Mapper, Op
from harness.strategy.errors import is_device_error, is_oom, is_transient
from harness.strategy.retry import backoff_delay


@dataclass
class Placement:
    """Where an op runs: the CPU, or a device with an activation context (simulated or real)."""

    name: str = "cpu"
    torch_device: str = "cpu"
    #: Context manager factory entered around each call; gets the op's declared extra bytes.
    activate: Optional[Callable[[int], ContextManager[Any]]] = None
    #: Called to free cached device memory before retrying after an OOM.
    empty_cache: Optional[Callable[[], None]] = None

    @property
    def is_device(self) -> bool:
        return self.name != "cpu"


CPU = Placement()


@dataclass
class OpOutcome:
    """What one op did to one batch."""

    batch: Batch
    removed_ids: list[int] = field(default_factory=list)
    hash_ids: list[int] = field(default_factory=list)
    hashes: list[Any] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Sizes of the pieces that succeeded, in order.
    batch_sizes: list[int] = field(default_factory=list)
    #: Rows whose work was done in an attempt that then failed (wasted work).
    rows_recomputed: int = 0


@dataclass
class _Piece:
    """Result of applying an op to one piece: out batch, keep flags, hashes."""

    batch: Batch
    keep: Optional[list[bool]]
    hashes: Optional[list[Any]]


def apply_op(op: Op, batch: Batch) -> _Piece:
    """The op's row-local work on ``batch`` (mapper: new texts; filter: stats + flags;
    deduplicator: hashes)."""
    if isinstance(op, Mapper):
        return _Piece(op.process_batched(batch), None, None)
    if isinstance(op, Filter):
        with_stats = op.compute_stats_batched(batch)
        return _Piece(with_stats, op.process_batched(with_stats), None)
    if isinstance(op, Deduplicator):
        return _Piece(batch, None, op.compute_hash_batched(batch))
    raise TypeError(f"{op!r} is not a Mapper, Filter or Deduplicator")


class BatchSizer:
    """Tells the runner how big a piece to try, and learns from OOMs and successes.
    The default runs each batch whole and learns nothing (CPU ops)."""

    def next_size(self, rows_left: int) -> int:
        return rows_left

    def on_success(self, size: int) -> None:
        pass

    def on_oom(self, size: int) -> None:
        pass


class OpRunner:
    """Runs ops on batches with retries, OOM splitting, CPU fallback and row isolation."""

    def __init__(
        self,
        error_handling: ErrorHandlingSettings,
        hooks: ExecutionHooks | None = None,
        seed: int = 0,
        in_worker: bool = True,
        worker_restarts: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.eh = error_handling
        self.hooks = hooks or NoHooks()
        self.rng = random.Random(seed)
        self.in_worker = in_worker
        self.worker_restarts = worker_restarts
        self._started = False
        self.sleep = sleep

    def run(
        self,
        op: Op,
        op_index: int,
        batch: Batch,
        placement: Placement = CPU,
        sizer: BatchSizer | None = None,
    ) -> OpOutcome:
        """Apply ``op`` to every row of ``batch``; never loses a row."""
        sizer = sizer or BatchSizer()
        outcome = OpOutcome(batch={})
        done: list[_Piece] = []
        start, n = 0, batch_len(batch)
        while start < n:
            size = max(1, min(sizer.next_size(n - start), n - start))
            piece = slice_batch(batch, start, start + size)
            self._run_piece(op, op_index, piece, placement, sizer, outcome, done, attempt=0)
            start += size
        self._collect(done, outcome)
        return outcome

    # -- internals --------------------------------------------------------------------------
    def _call(self, op: Op, op_index: int, piece: Batch, placement: Placement, attempt: int,
              outcome: OpOutcome) -> _Piece:
        call = OpCall(op.name, op_index, list(piece[ROW_ID]), placement.name, attempt, self.in_worker,
                      self.worker_restarts)
        outcome.events.extend(self.hooks.before_op_call(call))
        op.run_on(placement.torch_device)
        ctx: ContextManager[Any] = (
            placement.activate(0 if op.device_memory_is_torch else op.device_memory_bytes(piece))
            if placement.activate else contextlib.nullcontext()
        )
        self._started = False
        with ctx:
            self._started = True  # from here on, an OOM throws away work already done
            return apply_op(op, piece)

    def _run_piece(self, op: Op, op_index: int, piece: Batch, placement: Placement,
                   sizer: BatchSizer, outcome: OpOutcome, done: list[_Piece], attempt: int) -> None:
        size = batch_len(piece)
        try:
            result = self._call(op, op_index, piece, placement, attempt, outcome)
        except Exception as error:  # noqa: BLE001 — classified below, never swallowed
            self._recover(op, op_index, piece, placement, sizer, outcome, done, attempt, error)
            return
        sizer.on_success(size)
        outcome.batch_sizes.append(size)
        done.append(result)

    def _event(self, kind: str, op: Op, op_index: int, placement: Placement, piece: Batch,
               **extra: Any) -> dict[str, Any]:
        ids = piece[ROW_ID]
        return {"kind": kind, "op": op.name, "op_index": op_index, "device": placement.name,
                "batch_size": len(ids), "first_row": ids[0] if ids else None, **extra}

    def _recover(self, op: Op, op_index: int, piece: Batch, placement: Placement,
                 sizer: BatchSizer, outcome: OpOutcome, done: list[_Piece], attempt: int,
                 error: Exception) -> None:
        size = batch_len(piece)
        message = f"{type(error).__name__}: {error}"
        if getattr(error, "harness_fault_event", None):  # an injected fault: record its firing
            outcome.events.append(error.harness_fault_event)  # type: ignore[attr-defined]
        if is_oom(error):
            if self._started:
                outcome.rows_recomputed += size
            if placement.empty_cache:
                placement.empty_cache()
            sizer.on_oom(size)
            outcome.events.append(self._event("oom", op, op_index, placement, piece, error=message))
            if size > 1:
                # Only this piece is redone, in pieces no bigger than half of it — and no bigger
                # than what the sizer now allows, since an earlier part may have lowered it.
                half = size // 2
                outcome.events.append(self._event("split", op, op_index, placement, piece,
                                                  into=[half, size - half]))
                start = 0
                while start < size:
                    step = max(1, min(half, sizer.next_size(size - start)))
                    part = slice_batch(piece, start, start + step)
                    self._run_piece(op, op_index, part, placement, sizer, outcome, done, attempt)
                    start += step
                return
            if placement.is_device:
                outcome.events.append(self._event("fallback", op, op_index, placement, piece,
                                                  reason="out of memory at batch size 1", to="cpu"))
                self._run_piece(op, op_index, piece, CPU, BatchSizer(), outcome, done, attempt)
                return
        elif is_device_error(error) and placement.is_device:
            # The driver marks the device unhealthy and records the event; the batch moves.
            raise DeviceFailure(placement.name, message) from error
        elif is_transient(error, self.eh.transient_errors) and attempt < self.eh.max_retries:
            delay = backoff_delay(attempt + 1, self.eh.retry_delay, self.eh.max_retry_delay, self.rng)
            outcome.events.append(self._event("retry", op, op_index, placement, piece,
                                              attempt=attempt + 1, error=message))
            self.sleep(delay)
            self._run_piece(op, op_index, piece, placement, sizer, outcome, done, attempt + 1)
            return
        if size > 1:
            half = size // 2
            for part in (slice_batch(piece, 0, half), slice_batch(piece, half, size)):
                self._run_piece(op, op_index, part, placement, sizer, outcome, done, attempt)
            return
        row = {k: v[0] for k, v in piece.items()}
        if self.eh.on_error == "fail":
            raise OpFailedError(
                f"op {op.name!r} failed on input row {row[ROW_ID]} ({message}); "
                f"set executor.error_handling.on_error=quarantine to set such rows aside and go on"
            ) from error
        outcome.events.append(self._event("quarantine", op, op_index, placement, piece,
                                          error=message))
        outcome.quarantined.append({
            "row_id": row[ROW_ID], "op": op.name, "op_index": op_index, "error": message,
            "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
            "row": row,
        })

    def _collect(self, done: list[_Piece], outcome: OpOutcome) -> None:
        """Join the pieces (in row order) into the op's outcome."""
        done.sort(key=lambda p: p.batch[ROW_ID][0] if batch_len(p.batch) else -1)
        kept_parts: list[Batch] = []
        for piece in done:
            ids = piece.batch[ROW_ID]
            if piece.hashes is not None:
                outcome.hash_ids.extend(ids)
                outcome.hashes.extend(piece.hashes)
            if piece.keep is None:
                kept_parts.append(piece.batch)
                continue
            keep_idx = [i for i, k in enumerate(piece.keep) if k]
            outcome.removed_ids.extend(ids[i] for i, k in enumerate(piece.keep) if not k)
            if len(keep_idx) == len(ids):
                kept_parts.append(piece.batch)
            else:
                kept_parts.append({c: [v[i] for i in keep_idx] for c, v in piece.batch.items()})
        outcome.batch = concat_batches(kept_parts)


class DeviceFailure(RuntimeError):
    """A device failed mid-batch; the caller moves the batch to another device or the CPU."""

    def __init__(self, device: str, message: str) -> None:
        super().__init__(f"device {device} failed: {message}")
        self.device, self.message = device, message

    def __reduce__(self) -> tuple[Any, ...]:  # it crosses the process boundary
        return (DeviceFailure, (self.device, self.message))
