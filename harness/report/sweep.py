"""After a sweep (`-m`): one table comparing every run, on the console and as CSV + Markdown."""
from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from harness.report.report import read_report

log = logging.getLogger("harness")

COLUMNS = ["job", "overrides", "status", "rows_out", "ooms", "retries", "quarantined",
           "wall_seconds", "rows_per_second", "peak_rss_mib", "error"]


def summarize_job(job_dir: Path) -> dict[str, Any]:
    """One row of the sweep summary from a job directory."""
    row: dict[str, Any] = {"job": job_dir.name}
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    if overrides_file.exists():
        row["overrides"] = " ".join(OmegaConf.to_container(OmegaConf.load(overrides_file)))  # type: ignore[arg-type]
    report_file = job_dir / "report.json"
    if not report_file.exists():
        row.update(status="failed", error="the job wrote no report.json")
        return row
    report = read_report(report_file)
    row["overrides"] = row.get("overrides") or " ".join(report.get("overrides", []))
    row["status"] = report.get("status", "unknown")
    if row["status"] != "ok":
        row["error"] = report.get("error", "")
        return row
    counts = report.get("event_counts", {})
    peak = (report.get("resources") or {}).get("peak_rss_bytes")
    row.update(
        rows_out=report["rows"]["out"], ooms=counts.get("oom", 0), retries=counts.get("retry", 0),
        quarantined=report["rows"]["quarantined"], wall_seconds=report.get("wall_seconds"),
        rows_per_second=report.get("rows_per_second"),
        peak_rss_mib=round(peak / 2**20, 1) if peak else None, error="",
    )
    return row


def write_sweep_summary(sweep_dir: Path) -> list[dict[str, Any]]:
    """Write sweep_summary.csv and sweep_summary.md in ``sweep_dir``; return the rows."""
    jobs = sorted((p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()),
                  key=lambda p: int(p.name))
    rows = [summarize_job(job) for job in jobs]
    with open(sweep_dir / "sweep_summary.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [str(row.get(c, "") if row.get(c) is not None else "").replace("|", "\\|") for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    (sweep_dir / "sweep_summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


class SweepSummaryCallback(Callback):
    """Hydra callback: at the end of a multirun, compare the runs."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        rows = write_sweep_summary(sweep_dir)
        # On the console, show only the overrides that differ between jobs.
        split = [set(str(r.get("overrides", "")).split()) for r in rows]
        common = set.intersection(*split) if split else set()
        table = Table(title=f"sweep summary ({sweep_dir}); common: {' '.join(sorted(common))}",
                      title_justify="left")
        for column in COLUMNS:
            table.add_column(column, overflow="fold")
        for row, overrides in zip(rows, split):
            shown = {**row, "overrides": " ".join(o for o in str(row.get("overrides", "")).split()
                                                  if o not in common)}
            table.add_row(*(str(shown.get(c, "")) if shown.get(c) is not None else "" for c in COLUMNS))
        Console(width=None if sys.stdout.isatty() else 160).print(table)
        failed = sum(1 for r in rows if r.get("status") != "ok")
        if failed:
            log.error("%d of %d sweep jobs failed; see the error column above", failed, len(rows))
