"""Batch sizing: the initial size from memory, an adaptive controller per (op, device) that
learns from OOMs, and a small cache that carries learned sizes to the next run.

Anchors: accelerate shrinks ×0.9 and reruns everything; Lightning tunes once before the run;
Ray Data leaves it to the user. Here only the failed batch is split, sizes grow back
carefully, and the learned size is remembered."""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)


def initial_batch_size(preferred: int, max_batch_size: int, rows_left: int, min_batch_size: int,
                       free_bytes: Optional[int] = None, safety: float = 1.0,
                       bytes_per_row: int = 0) -> int:
    """min(op preference, max_batch_size, rows left, free × safety ÷ bytes per row), at least
    min_batch_size (and never more than the rows left)."""
    size = min(preferred, max_batch_size)
    if free_bytes is not None and bytes_per_row > 0:
        size = min(size, int(free_bytes * safety) // bytes_per_row)
    size = max(size, min_batch_size)
    return max(1, min(size, rows_left)) if rows_left > 0 else max(1, size)


@dataclass
class SizerState:
    """What the controller knows: the size to try next and the smallest size that ran out of
    memory (never tried again)."""

    size: int
    ceiling: Optional[int] = None
    successes: int = 0
    probes_failed: int = 0


class AdaptiveBatchSizer:
    """Per (op, device). An OOM sets the ceiling at the failing size and halves; after
    ``grow_after`` successes in a row it probes upward to the geometric middle between the size
    and the ceiling, only while that gap is wide (ceiling ≥ 1.5 × size), so one shrink costs at
    most one failed probe. Without a ceiling it doubles up to ``max_size``."""

    def __init__(self, state: SizerState, min_size: int, max_size: int, adaptive: bool = True,
                 grow_after: int = 8) -> None:
        self.state = state
        self.min_size, self.max_size = max(1, min_size), max(1, max_size)
        self.adaptive = adaptive
        self.grow_after = grow_after
        self.state.size = self._clamp(state.size)

    def _clamp(self, size: int) -> int:
        """Within [min, max] and below the ceiling; when the ceiling is at or under min_size the
        ceiling wins (the device cannot run min_size rows; one row falls back to the CPU)."""
        size = max(self.min_size, min(size, self.max_size))
        ceiling = self.state.ceiling
        if ceiling is not None and size >= ceiling:
            size = max(1, ceiling - 1)
        return size

    def next_size(self, rows_left: int) -> int:
        return max(1, min(self.state.size, rows_left))

    def on_oom(self, size: int) -> None:
        if not self.adaptive:
            return  # fixed sizes: only the failed batch is split; the next one starts as before
        state = self.state
        state.ceiling = size if state.ceiling is None else min(state.ceiling, size)
        if size > state.size:  # a probe that failed
            state.probes_failed += 1
        state.size = self._clamp(max(1, size // 2))
        state.successes = 0

    def on_success(self, size: int) -> None:
        state = self.state
        if not self.adaptive or size < state.size:
            return  # a short tail batch says nothing about the size limit
        state.successes += 1
        if state.successes < self.grow_after:
            return
        state.successes = 0
        if state.ceiling is None:
            state.size = self._clamp(state.size * 2)
        elif state.ceiling >= 1.5 * state.size:
            state.size = self._clamp(int(math.sqrt(state.size * state.ceiling)))


class BatchSizeCache:
    """Learned sizes on disk, keyed by (op signature, device kind, device memory)."""

    def __init__(self, path: str) -> None:
        self.path = Path(os.path.expanduser(path)) if path else None
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path and self.path.exists():
            try:
                self.entries = json.loads(self.path.read_text("utf-8"))
            except (OSError, ValueError) as error:
                log.warning("ignoring unreadable batch-size cache %s (%s); it will be rewritten",
                            self.path, error)

    @staticmethod
    def key(op_signature: str, device_kind: str, device_memory: int) -> str:
        return f"{op_signature}|{device_kind}|{device_memory}"

    def get(self, key: str) -> Optional[SizerState]:
        entry = self.entries.get(key)
        if not entry:
            return None
        return SizerState(size=int(entry["size"]), ceiling=entry.get("ceiling"))

    def put(self, key: str, state: SizerState) -> None:
        self.entries[key] = {"size": state.size, "ceiling": state.ceiling}

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True), "utf-8")
        os.replace(tmp, self.path)


def state_dict(state: SizerState) -> dict[str, Any]:
    return asdict(state)
