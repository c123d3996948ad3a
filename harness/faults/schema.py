"""The ``faults`` config: a seed and a list of rules, each naming a fault kind and where it fires."""
from __future__ import annotations

from dataclasses import dataclass, field

FAULT_KINDS = ("oom_storm", "transient", "worker_crash", "device_lost", "bad_rows", "slow")


@dataclass
class FaultRule:
    """One kind of fault and where it fires. Empty selectors match everything."""

    #: oom_storm | transient | worker_crash | device_lost | bad_rows | slow
    kind: str = "transient"
    #: Op name the rule applies to ('*' or '' for every op; fnmatch patterns allowed).
    op: str = "*"
    #: Device name pattern ('cpu', 'sim*', 'cuda:0', '*'); oom_storm and device_lost default to devices.
    device: str = "*"
    #: Fire on calls that contain any of these input row ids.
    rows: list[int] = field(default_factory=list)
    #: Fire on a seeded fraction of calls (0..1), decided per (op, first row).
    rate: float = 0.0
    #: oom_storm: fire whenever a call has at least this many rows (0: not size-based).
    min_batch_size: int = 0
    #: transient / worker_crash / device_lost: how many attempts of the same work fail before it
    #: passes (keep it at most executor.error_handling.max_retries for a recoverable plan).
    times: int = 1
    #: slow: seconds to sleep per firing.
    delay: float = 0.0


@dataclass
class FaultsSettings:
    """A fault plan: deterministic for ``seed``."""

    name: str = "none"
    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
