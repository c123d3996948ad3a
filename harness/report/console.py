"""What a person sees: a progress bar while the run goes, a summary table at the end."""
from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, Optional

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

_EVENT_ORDER = ["oom", "split", "fallback", "retry", "quarantine", "worker_restart",
                "device_lost", "fault", "path"]


class ProgressBar:
    """Rows read so far (the total is rarely known when streaming)."""

    def __init__(self, enabled: bool = True, description: str = "rows") -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Optional[Progress] = None
        self._task: Any = None
        self.description = description

    def __enter__(self) -> "ProgressBar":
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed:,} rows"),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=None)
        return self

    def advance(self, rows: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, rows)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()


def summary_table(report: dict[str, Any]) -> Table:
    """Per-op ledger with totals: rows in = out + removed + quarantined."""
    rows = report["rows"]
    wall = report.get("wall_seconds") or 0.0
    title = (f"{report.get('recipe', 'run')}: {rows['in']:,} rows in → {rows['out']:,} out, "
             f"{rows['removed']:,} removed, {rows['quarantined']:,} quarantined "
             f"in {wall:.2f} s ({report.get('rows_per_second') or 0:,.0f} rows/s)")
    table = Table(title=title, title_justify="left")
    for column in ("op", "rows in", "removed", "quarantined", "rows out", "op seconds"):
        table.add_column(column, justify="left" if column == "op" else "right")
    input_q = rows["quarantined"] - sum(op["quarantined"] for op in report["ops"])
    if input_q:
        table.add_row("(input: bad rows)", f"{rows['in']:,}", "0", f"{input_q:,}",
                      f"{rows['in'] - input_q:,}", "")
    for op in report["ops"]:
        table.add_row(op["name"], f"{op['rows_in']:,}", f"{op['removed']:,}",
                      f"{op['quarantined']:,}", f"{op['rows_out']:,}", f"{op['seconds']:.2f}")
    table.add_section()
    table.add_row("total", f"{rows['in']:,}", f"{rows['removed']:,}", f"{rows['quarantined']:,}",
                  f"{rows['out']:,}", "")
    return table


def events_line(report: dict[str, Any]) -> str:
    counts = report.get("event_counts") or {}
    kinds = [k for k in _EVENT_ORDER if counts.get(k)] + sorted(set(counts) - set(_EVENT_ORDER))
    if not kinds:
        return "events: none"
    return "events: " + ", ".join(f"{k} {counts[k]}" for k in kinds)


def print_summary(report: dict[str, Any], console: Optional[Console] = None) -> None:
    # Off a terminal (logs, CI) rich would wrap at 80 columns and cut op names.
    console = console or Console(width=None if sys.stdout.isatty() else 120)
    console.print(summary_table(report))
    console.print(events_line(report))
    console.print(f"output: {report['output']}")
    if report["rows"]["quarantined"]:
        console.print(f"quarantine: {report['quarantine']}")
