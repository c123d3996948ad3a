"""quarantine.jsonl: every row set aside, with where it came from and why."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO


class QuarantineWriter:
    """Appends one JSON line per quarantined row (bad input rows and rows an op failed on)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(self.path, "w", encoding="utf-8")
        self.count = 0

    def bad_input(self, bad: Any) -> None:
        """A row the reader could not accept (``harness.data.readers.BadRow``)."""
        self._write({"stage": "input", "row_id": bad.row_id, "source": bad.source,
                     "line": bad.line, "reason": bad.reason, "raw": bad.raw})

    def op_failure(self, record: dict[str, Any]) -> None:
        """A row an op raised on (op, error, traceback, and the row as the op saw it)."""
        row = {k: v for k, v in record["row"].items() if not k.startswith("__")}
        self._write({"stage": "op", "row_id": record["row_id"], "op": record["op"],
                     "op_index": record["op_index"], "reason": record["error"],
                     "traceback": record["traceback"], "row": row})

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False, default=repr) + "\n")
        self.count += 1

    def close(self) -> None:
        self._file.close()
