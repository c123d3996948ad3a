"""What ``process_dataset`` returns: the output rows (iterated from disk, in input order), the
ledger, the events and the run report (one documented schema, see docs/report.md)."""
from __future__ import annotations

import collections
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from harness.executor.ledger import Ledger

REPORT_SCHEMA = "harness.report/1"


@dataclass
class RunResult:
    output_path: Path
    quarantine_path: Path
    ledger: Ledger
    events: list[dict[str, Any]]
    wall_seconds: float
    resources: dict[str, Any] = field(default_factory=dict)
    #: Rows whose work was done in an attempt that then failed (an OOM mid-batch) and was redone.
    rows_recomputed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The output rows, in input order."""
        if self.output_path.suffix == ".parquet":
            import pyarrow.parquet as pq

            for record_batch in pq.ParquetFile(self.output_path).iter_batches():
                yield from record_batch.to_pylist()
            return
        from harness.data.readers import read_dataset

        for chunk in read_dataset(self.output_path, text_keys=[], batch_size=1000):
            keys = [k for k in chunk.batch if not k.startswith("__")]
            for values in zip(*(chunk.batch[k] for k in keys)):
                yield dict(zip(keys, values))

    def rows(self) -> list[dict[str, Any]]:
        return list(self)

    def quarantined(self) -> list[dict[str, Any]]:
        """The quarantine records (stage, row_id, reason, ...)."""
        with open(self.quarantine_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def event_counts(self) -> dict[str, int]:
        return dict(collections.Counter(e["kind"] for e in self.events))

    @property
    def report(self) -> dict[str, Any]:
        """The run report as a JSON-ready dict."""
        rows_out = self.ledger.rows_written
        return {
            "schema": REPORT_SCHEMA,
            "status": "ok",
            "rows": self.ledger.rows_dict(),
            "ledger_balanced": self.ledger.balanced,
            "ops": [
                {**op.as_dict(), "batch_sizes": _trajectory(op.batch_sizes)}
                for op in self.ledger.ops
            ],
            "events": self.events,
            "event_counts": self.event_counts(),
            "rows_recomputed": self.rows_recomputed,
            "resources": self.resources,
            "output": str(self.output_path),
            "quarantine": str(self.quarantine_path),
            "wall_seconds": round(self.wall_seconds, 4),
            "rows_per_second": round(self.ledger.rows_in / self.wall_seconds, 1)
            if self.wall_seconds > 0 else None,
            "rows_out_per_second": round(rows_out / self.wall_seconds, 1)
            if self.wall_seconds > 0 else None,
            **self.extra,
        }


def _trajectory(sizes: list[int], keep: int = 200) -> dict[str, Any]:
    """Batch sizes an op ran with: summary plus the sequence (compressed into runs)."""
    runs: list[list[int]] = []
    for size in sizes:
        if runs and runs[-1][0] == size:
            runs[-1][1] += 1
        else:
            runs.append([size, 1])
    return {
        "batches": len(sizes),
        "min": min(sizes) if sizes else None,
        "max": max(sizes) if sizes else None,
        "last": sizes[-1] if sizes else None,
        "runs": runs[:keep],
        "runs_truncated": len(runs) > keep,
    }
