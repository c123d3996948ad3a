"""LocalModeExecutor: stream a dataset through a recipe on this machine's cores (and GPUs)."""
from __future__ import annotations

import logging
import os
from collections import deque
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from harness.data.batch import Batch
from harness.data.readers import read_dataset
from harness.data.writers import open_writer
from harness.executor.decide import SegmentDecider
from harness.executor.hooks import ExecutionHooks, NoHooks
from harness.executor.ledger import Ledger
from harness.executor.pipeline import SegmentPipeline
from harness.executor.plan import Plan, build_plan
from harness.executor.quarantine import QuarantineWriter
from harness.executor.result import RunResult
from harness.executor.routing import Router
from harness.executor.settings import ExecutorSettings, ResourceSettings, settings_from
from harness.executor.spill import SpillFile
from harness.ops.base import DedupIndex

log = logging.getLogger(__name__)

Dataset = Any  # a path (str / Path), or an iterable of row dicts


class LocalModeExecutor:
    """Runs recipes on one machine.

    ``config``: an ``ExecutorSettings``, a (nested) dict of its fields, or an OmegaConf node (a
    ``resources`` key inside it is taken as ``resources``); ``resources``: a ``ResourceSettings``
    or dict (cores, memory limit, GPUs); ``hooks``: fault injection (see ``harness.faults``)."""

    def __init__(self, config: Any = None, resources: Any = None,
                 hooks: ExecutionHooks | None = None) -> None:
        if isinstance(config, dict) and "resources" in config:
            config = dict(config)
            resources = config.pop("resources") if resources is None else resources
        self.settings: ExecutorSettings = settings_from(config).validate()
        self.resources: ResourceSettings = settings_from(resources, ResourceSettings, "resources")
        self.hooks = hooks or NoHooks()
        self.router = Router(self.settings, self.resources)
        self._last_stats: dict[str, Any] = {}

    @property
    def workers(self) -> int:
        """Worker processes for CPU stages."""
        return self.router.cpu_workers

    def get_resource_stats(self) -> dict[str, Any]:
        """Usable cores, memory budget, devices, and the last run's peaks and time series."""
        return {**self.router.describe(), **self._last_stats}

    def process_dataset(
        self,
        dataset: Dataset,
        operations: Iterable[Any],
        *,
        output: str | os.PathLike[str] | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        text_keys: Optional[list[str]] = None,
        progress: Optional[Callable[[int], None]] = None,
    ) -> RunResult:
        """Run ``operations`` (recipe entries or op instances) over ``dataset``.

        Output rows keep input order; every input row ends up in the output, removed by an op
        (counted in the ledger), or in ``quarantine.jsonl`` beside the output."""
        started = time.perf_counter()
        plan = build_plan(operations, self.settings.use_gpu, self.router.has_gpu)
        run_path = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="harness-run-"))
        run_path.mkdir(parents=True, exist_ok=True)
        output_path = Path(output) if output else run_path / "output.jsonl"
        keys = text_keys or sorted({op.text_key for op in plan.ops}) or ["text"]
        ledger = Ledger.for_ops([op.name for op in plan.ops])
        quarantine = QuarantineWriter(run_path / "quarantine.jsonl")
        events: list[dict[str, Any]] = list(plan.events)
        deciders: list[SegmentDecider] = []
        writer = open_writer(output_path, keep_stats=self.settings.export_stats)
        self.router.start(plan)
        try:
            stream = self._read(dataset, keys, plan, ledger, quarantine, progress)
            stream = self._run_segments(plan, stream, ledger, quarantine, events, deciders)
            for batch in stream:
                writer.write(batch)
            writer.commit()
            finished = True
        except BaseException:
            writer.abort()
            finished = False
            raise
        finally:
            quarantine.close()
            self._last_stats = self.router.stop(aborted=not finished)
        for decider in deciders:
            events.extend(decider.events)
        events.extend(self.router.events)
        ledger.rows_written = writer.rows_written
        ledger.finalize()
        wall = time.perf_counter() - started
        log.info("run finished: %d rows in, %d out, %d removed, %d quarantined in %.2f s",
                 ledger.rows_in, ledger.rows_written, ledger.removed, ledger.quarantined, wall)
        return RunResult(output_path=output_path, quarantine_path=quarantine.path, ledger=ledger,
                         events=events, wall_seconds=wall,
                         resources=self.get_resource_stats(),
                         rows_recomputed=sum(d.rows_recomputed for d in deciders))

    # -- internals ----------------------------------------------------------------------------
    def _read(self, dataset: Dataset, keys: list[str], plan: Plan, ledger: Ledger,
              quarantine: QuarantineWriter, progress: Optional[Callable[[int], None]]) -> Iterator[Batch]:
        first = plan.segments[0].stages[0] if plan.segments[0].stages else None
        batch_size = (plan.batch_size_for(first, self.settings.batch_size, self.settings.max_batch_size)
                      if first else self.settings.batch_size or 1000)
        for chunk in read_dataset(dataset, text_keys=keys, batch_size=batch_size,
                                  on_bad_input=self.settings.on_bad_input):
            ledger.rows_read += chunk.num_records
            for bad in chunk.bad_rows:
                ledger.input_quarantined += 1
                quarantine.bad_input(bad)
                log.warning("quarantined input row: %s", bad.describe())
            if progress:
                progress(chunk.num_records)
            yield chunk.batch

    def _run_segments(self, plan: Plan, stream: Iterator[Batch], ledger: Ledger,
                      quarantine: QuarantineWriter, events: list[dict[str, Any]],
                      deciders: list[SegmentDecider]) -> Iterator[Batch]:
        """Each segment consumes the previous one's rows; a barrier drains its input first."""
        for segment in plan.segments:
            if not segment.stages:
                continue
            indexes: dict[int, DedupIndex] = {}
            decider = SegmentDecider(plan, segment, ledger, quarantine.op_failure, indexes)
            deciders.append(decider)
            if segment.barrier is None:
                stream = self._stream_through(plan, segment, decider, stream, events)
                continue
            spill = SpillFile(self.settings.spill_dir)
            try:
                pipeline = self._pipeline(plan, segment, lambda o: spill.write(decider.decide(o)))
                pipeline.run(stream)
                events.extend(pipeline.events)
                kept = indexes[segment.barrier].kept_ids()
            except BaseException:
                spill.discard()
                raise
            stream = self._after_barrier(spill, kept, ledger, segment.barrier)
        return stream

    def _after_barrier(self, spill: SpillFile, kept: set[int], ledger: Ledger,
                       barrier: int) -> Iterator[Batch]:
        for batch, dropped in spill.read_kept(kept):
            ledger.ops[barrier].removed += dropped
            yield batch

    def _stream_through(self, plan: Plan, segment: Any, decider: SegmentDecider,
                        stream: Iterator[Batch], events: list[dict[str, Any]]) -> Iterator[Batch]:
        """Run a barrier-free segment, yielding its surviving batches in input order."""
        ready: deque[Batch] = deque()
        pipeline = self._pipeline(plan, segment, lambda o: ready.append(decider.decide(o)))
        # The pipeline pulls input lazily; finished batches are handed on as they complete.
        for _ in pipeline.iter_run(stream):
            while ready:
                yield ready.popleft()
        while ready:
            yield ready.popleft()
        events.extend(pipeline.events)

    def _pipeline(self, plan: Plan, segment: Any, on_outcome: Callable[[Any], None]) -> SegmentPipeline:
        return SegmentPipeline(plan, segment, self.settings, self.hooks, self.router, on_outcome,
                               self.settings.max_in_flight or 2 * self.router.cpu_workers)
