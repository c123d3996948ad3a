"""The ledger: where every input row went. Conservation (DESIGN invariant 1) is checked here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError


@dataclass
class OpLedger:
    """Counts for one op of the plan."""

    name: str
    rows_in: int = 0
    rows_out: int = 0
    removed: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rows_in": self.rows_in, "rows_out": self.rows_out,
                "removed": self.removed, "quarantined": self.quarantined,
                "seconds": round(self.seconds, 6)}


class ConservationError(HarnessError):
    """Rows went missing or were duplicated: a bug in harness, never expected."""


@dataclass
class Ledger:
    """Rows read, per-op removals and quarantines, rows written."""

    ops: list[OpLedger]
    rows_read: int = 0
    input_quarantined: int = 0
    rows_written: int = 0

    @classmethod
    def for_ops(cls, names: list[str]) -> "Ledger":
        return cls(ops=[OpLedger(name) for name in names])

    @property
    def rows_in(self) -> int:
        """Every input record, good or bad."""
        return self.rows_read

    @property
    def removed(self) -> int:
        return sum(op.removed for op in self.ops)

    @property
    def quarantined(self) -> int:
        return self.input_quarantined + sum(op.quarantined for op in self.ops)

    def finalize(self) -> None:
        """Derive each op's rows in/out from the removals and check that nothing was lost."""
        flowing = self.rows_read - self.input_quarantined
        for op in self.ops:
            op.rows_in = flowing
            flowing -= op.removed + op.quarantined
            op.rows_out = flowing
        if flowing != self.rows_written or not self.balanced:
            raise ConservationError(
                f"row ledger does not balance: {self.rows_read} rows in, {self.rows_written} written, "
                f"{self.removed} removed, {self.quarantined} quarantined (expected {flowing} written). "
                f"This is a bug in harness; please report it with the recipe."
            )

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_written + self.removed + self.quarantined

    def rows_dict(self) -> dict[str, int]:
        return {"in": self.rows_in, "out": self.rows_written, "removed": self.removed,
                "quarantined": self.quarantined}
