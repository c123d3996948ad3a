"""Streams batches of one segment through its stages on worker pools, in a bounded window, and
hands completed batches back in input order. Survives dead workers: the pool is rebuilt and the
batches it held are resubmitted; a batch that keeps killing workers is bisected, and a single row
that still does is quarantined."""
from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Protocol

from harness.data.batch import ROW_ID, Batch, batch_len, slice_batch
from harness.executor.hooks import ExecutionHooks
from harness.executor.op_runner import DeviceFailure
from harness.executor.outcomes import chain, join
from harness.executor.plan import Plan, Segment, Stage
from harness.executor.pools import WorkerPool
from harness.executor.settings import ExecutorSettings
from harness.executor.worker import StageOutcome, StageTask, run_stage

log = logging.getLogger(__name__)


class Router(Protocol):
    """Chooses the pool (and device) a stage runs on."""

    def route(self, stage: Stage, batch: Optional[Batch] = None) -> tuple[WorkerPool, Optional[Any]]: ...

    def device_failed(self, device: Any, message: str) -> list[dict[str, Any]]: ...

    def done(self, device: Any, report: dict[str, Any]) -> None: ...

    def admit(self, batch: Batch, anything_running: bool) -> Optional[Callable[[], None]]: ...


@dataclass(eq=False)
class _Job:
    seq: int
    batch: Batch
    stage_index: int = 0
    acc: Optional[StageOutcome] = None
    #: Crashes this job caused while it ran alone (so the blame is certain).
    crashes: int = 0
    #: Every time a pool broke while this job was on it.
    restarts: int = 0
    parent: Optional["_Job"] = None
    children: list["_Job"] = field(default_factory=list)
    result: Optional[StageOutcome] = None
    pool: Optional[WorkerPool] = None
    device: Any = None
    alone: bool = False
    #: Gives back the memory reserved for this batch while it is in flight.
    release: Optional[Callable[[], None]] = None


class SegmentPipeline:
    """Runs one segment's stages over a stream of batches."""

    def __init__(self, plan: Plan, segment: Segment, settings: ExecutorSettings,
                 hooks: ExecutionHooks, router: Router,
                 on_outcome: Callable[[StageOutcome], None], max_in_flight: int) -> None:
        self.plan, self.segment, self.settings = plan, segment, settings
        self.hooks, self.router, self.on_outcome = hooks, router, on_outcome
        self.max_in_flight = max(1, max_in_flight)
        self.events: list[dict[str, Any]] = []
        self._running: dict[Future, _Job] = {}
        self._queue: deque[_Job] = deque()
        self._done: dict[int, StageOutcome] = {}
        self._next_seq = 0
        #: Jobs that were on a pool when a worker died. While there are any, jobs run one at a
        #: time, so the next crash can be pinned on the job that caused it.
        self._suspects: set[_Job] = set()
        #: Device-stage gates: batches waiting (by seq), seqs that will never come, next seq.
        self._gated: dict[int, dict[int, _Job]] = {}
        self._gate_skip: dict[int, set[int]] = {}
        self._gate_next: dict[int, int] = {}

    # -- public -------------------------------------------------------------------------------
    def run(self, batches: Iterator[Batch]) -> None:
        """Process every batch (outcomes go to ``on_outcome`` in input order)."""
        for _ in self.iter_run(batches):
            pass

    def iter_run(self, batches: Iterator[Batch]) -> Iterator[None]:
        """Like ``run``, but yields after each round of completions so a caller can drain
        what ``on_outcome`` produced without holding the whole stream."""
        seq = 0
        source = iter(batches)
        exhausted = False
        held: Optional[Batch] = None  # read, but waiting for memory to go in flight
        try:
            while True:
                while self._room():
                    if self._queue:
                        self._submit(self._queue.popleft())
                        continue
                    if held is None and not exhausted:
                        held = next(source, None)
                        if held is None:
                            exhausted = True
                        elif not batch_len(held):
                            held = None
                            continue
                    if held is None:
                        break
                    release = self.router.admit(held, anything_running=bool(self._running))
                    if release is None:
                        break  # memory budget used up: wait for a batch to finish
                    self._enter(_Job(seq=seq, batch=held, release=release))
                    held, seq = None, seq + 1
                if not self._running:
                    if exhausted and not self._queue and held is None:
                        if self._gated_count():
                            raise RuntimeError(
                                f"batches wait at a device stage for earlier ones that never "
                                f"came ({self._gate_next}); this is a bug in harness")
                        break
                    continue
                done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
                for future in done:
                    job = self._running.pop(future, None)
                    if job is not None:
                        self._finish(future, job)
                yield
        except BaseException:
            for future in self._running:
                future.cancel()
            raise
        if self._done:
            raise RuntimeError(f"batches {sorted(self._done)} finished but were never delivered")

    # -- scheduling ---------------------------------------------------------------------------
    def _room(self) -> bool:
        if self._suspects:
            return not self._running
        return len(self._running) + self._gated_count() < self.max_in_flight

    # -- device stages take batches in input order --------------------------------------------
    # A device worker's batch sizer learns from the batches it sees, so they must reach it in the
    # same order every run (DESIGN invariant 6: same config and seed, same event log), even
    # though CPU stages before it finish out of order.
    def _enter(self, job: _Job) -> None:
        """Start the job's current stage; a device stage waits for earlier batches first."""
        index = job.stage_index
        if self.segment.stages[index].path != "gpu" or job.parent is not None:
            self._submit(job)
            return
        self._gated.setdefault(index, {})[job.seq] = job
        self._open_gate(index)

    def _open_gate(self, index: int) -> None:
        waiting, skipped = self._gated.setdefault(index, {}), self._gate_skip.setdefault(index, set())
        nxt = self._gate_next.get(index, 0)
        while nxt in waiting or nxt in skipped:
            if nxt in waiting:
                self._submit(waiting.pop(nxt))
            skipped.discard(nxt)
            nxt += 1
        self._gate_next[index] = nxt

    def _skip_gates(self, seq: int, from_stage: int) -> None:
        """Batch ``seq`` will never enter device stages at or after ``from_stage``."""
        for index in range(from_stage, len(self.segment.stages)):
            if self.segment.stages[index].path == "gpu" and seq >= self._gate_next.get(index, 0):
                self._gate_skip.setdefault(index, set()).add(seq)
                self._open_gate(index)

    def _gated_count(self) -> int:
        return sum(len(waiting) for waiting in self._gated.values())

    def _submit(self, job: _Job) -> None:
        stage = self.segment.stages[job.stage_index]
        if job.device is not None:  # a failed attempt's device slot and lease
            self.router.done(job.device, {})
        pool, device = self.router.route(stage, job.batch)
        job.pool, job.device = pool, device
        job.alone = bool(self._suspects) and not self._running
        task = StageTask(
            seq=job.seq, plan_key=self.plan.key, op_indices=stage.op_indices,
            op_specs=[self.plan.ops[i].spec() for i in stage.op_indices], batch=job.batch,
            error_handling=self.settings.error_handling, hooks=self.hooks,
            seed=self.settings.seed, device=device, worker_restarts=job.restarts,
        )
        try:
            future = pool.submit(run_stage, task)
        except BrokenProcessPool as error:
            # The pool broke and the failed futures have not been seen yet: rebuild it now.
            self._rebuild(pool, job, error)
            future = pool.submit(run_stage, task)
        self._running[future] = job

    def _finish(self, future: Future, job: _Job) -> None:
        try:
            outcome: StageOutcome = future.result()
        except BrokenProcessPool as error:
            self._worker_died(future, job, error)
            return
        except DeviceFailure as failure:
            names, op_index = self._stage_names(job)
            for event in self.router.device_failed(job.device, str(failure)):
                self.events.append({**event, "op": names, "op_index": op_index,
                                    "batch_size": batch_len(job.batch)})
            job.device = None
            self._requeue_in_flight_on(failure.device)
            self._queue.append(job)
            return
        self.router.done(job.device, outcome.device_stats)
        job.device = None
        self._suspects.discard(job)
        job.acc = outcome if job.acc is None else chain(job.acc, outcome)
        job.batch = outcome.batch
        job.stage_index += 1
        if job.stage_index < len(self.segment.stages) and batch_len(job.batch):
            self._enter(job)
        else:
            self._complete(job, job.acc)

    def _complete(self, job: _Job, outcome: StageOutcome) -> None:
        job.result = outcome
        parent = job.parent
        if parent is not None:
            if all(child.result is not None for child in parent.children):
                left, right = parent.children
                joined = join(left.result, right.result)  # type: ignore[arg-type]
                self._complete(parent, joined if parent.acc is None else chain(parent.acc, joined))
            return
        if job.release is not None:
            job.release()
            job.release = None
        self._skip_gates(job.seq, job.stage_index)
        self._done[job.seq] = outcome
        while self._next_seq in self._done:
            self.on_outcome(self._done.pop(self._next_seq))
            self._next_seq += 1

    # -- dead workers -------------------------------------------------------------------------
    def _stage_names(self, job: _Job) -> tuple[str, int]:
        stage = self.segment.stages[job.stage_index]
        return ",".join(self.plan.ops[i].name for i in stage.op_indices), stage.op_indices[0]

    def _worker_died(self, future: Future, job: _Job, error: BaseException) -> None:
        pool = job.pool
        assert pool is not None
        if getattr(future, "pool_generation", None) == pool.generation:
            self._rebuild(pool, job, error)
        job.restarts += 1
        if job.alone:
            job.crashes += 1
            if job.crashes >= self.settings.error_handling.max_worker_crashes:
                self._isolate(job)
                return
        self._suspects.add(job)
        self._queue.append(job)

    def _rebuild(self, pool: WorkerPool, job: _Job, error: BaseException) -> None:
        """Replace a broken pool; every other batch that was on it failed too and runs again."""
        broken = pool.generation
        pool.rebuild()
        names, op_index = self._stage_names(job)
        self.events.append({
            "kind": "worker_restart", "op": names, "op_index": op_index, "pool": pool.name,
            "batch_size": batch_len(job.batch), "first_row": job.batch[ROW_ID][0],
            "error": str(error) or "a worker process died",
        })
        for other_future, other in list(self._running.items()):
            if other.pool is pool and getattr(other_future, "pool_generation", -1) == broken:
                del self._running[other_future]
                other.restarts += 1
                self._suspects.add(other)
                self._queue.append(other)
        log.warning("a worker process of pool %s died; the pool was rebuilt and its batches "
                    "are being run again", pool.name)

    def _isolate(self, job: _Job) -> None:
        """Bisect a batch that keeps killing workers; quarantine a single row that does."""
        self._suspects.discard(job)
        names, op_index = self._stage_names(job)
        n = batch_len(job.batch)
        if n == 1:
            row = {k: v[0] for k, v in job.batch.items()}
            message = (f"the worker process died while running {names} on this row "
                       f"({job.crashes} times)")
            self.events.append({"kind": "quarantine", "op": names, "op_index": op_index,
                                "batch_size": 1, "first_row": row[ROW_ID], "error": message})
            outcome = StageOutcome(seq=job.seq, batch={ROW_ID: []}, quarantined=[{
                "row_id": row[ROW_ID], "op": names, "op_index": op_index,
                "error": message, "traceback": "", "row": row}])
            job.acc = outcome if job.acc is None else chain(job.acc, outcome)
            self._complete(job, job.acc)
            return
        if job.parent is None:  # its halves go on ungated; later batches must not wait for it
            self._skip_gates(job.seq, job.stage_index + 1)
        half = n // 2
        self.events.append({"kind": "split", "op": names, "op_index": op_index, "batch_size": n,
                            "first_row": job.batch[ROW_ID][0], "into": [half, n - half],
                            "reason": "this batch keeps killing worker processes"})
        # The parent's blame carries over: a half that crashes alone once is split again.
        inherited = self.settings.error_handling.max_worker_crashes - 1
        job.children = [
            _Job(seq=job.seq, batch=slice_batch(job.batch, lo, hi), stage_index=job.stage_index,
                 crashes=inherited, parent=job)
            for lo, hi in ((0, half), (half, n))
        ]
        for child in job.children:
            self._suspects.add(child)
            self._queue.append(child)

    def _requeue_in_flight_on(self, device_name: str) -> None:
        """Batches still waiting for a failed device go elsewhere (running ones fail on their own)."""
        for future, other in list(self._running.items()):
            if other.device is not None and other.device.name == device_name and future.cancel():
                del self._running[future]
                self._queue.append(other)
