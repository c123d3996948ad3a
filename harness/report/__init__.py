"""Run reports (report.json), the console summary, and sweep summaries."""
