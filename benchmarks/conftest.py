"""Print the wall-time ratios the suite benchmarks measured (case / fault-free baseline)."""
from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    import sys

    module = sys.modules.get("test_suite_benchmarks")
    ratios = getattr(module, "RATIOS", None)
    if not ratios:
        return
    terminalreporter.section("suite benchmark ratios (min wall of the case / min wall of its "
                             "fault-free baseline, same session)")
    for name, ratio, case_wall, base_wall in ratios:
        if ratio is None or base_wall is None:
            terminalreporter.write_line(f"{name:<55}    n/a   ({case_wall:.2f} s; no fault-free twin)")
        else:
            terminalreporter.write_line(
                f"{name:<55} {ratio:6.2f}x   ({case_wall:.2f} s / {base_wall:.2f} s)")
