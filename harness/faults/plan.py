"""FaultPlan: the executor's injection hooks, built from a ``faults`` config.

Every decision is a pure function of the call and the config: a rate draw is a stable hash
(blake2b) of (``faults.seed``, the rule's set name, set seed and index in its set, the op name and
the first row id of the call), never a shared random state. Which worker runs a call, in what order,
and how often plans are pickled therefore change nothing: the same seed gives the same firings.

What each kind does when a call matches its rule (op and device patterns, then its selectors):

``oom_storm``
    raises ``torch.OutOfMemoryError`` in CUDA's wording. Selectors (any of them): ``min_batch_size``
    (calls with at least that many rows), ``rows`` (calls holding one of them: a row too big for
    the device, down to a call of that row alone, which then falls back to the CPU path),
    ``rate``; none set: every call of more than one row. Fires on devices only unless ``device``
    names the CPU explicitly (a pattern other than '*'/'' that matches 'cpu'), and never on a
    single row on the CPU, which would have nowhere to fall back to: the storm stays recoverable.
``transient``
    raises ``harness.errors.TransientError`` while ``attempt < times``. Selectors: ``rows``,
    ``rate``; none set: every call.
``worker_crash``
    ends the worker process (``os._exit(70)``) while the batch has taken down fewer than ``times``
    workers (``OpCall.worker_restarts``). Selectors: ``rows``, ``rate``; none set: every call (every
    batch then kills one worker per ``times``). A batch's restart count is shared by all its ops, and
    batches that were on a pool when it broke count the restart too. In the driver process
    (``in_worker`` False) it raises ``WorkerCrashNotPossible`` instead of ending the run.
``device_lost``
    raises ``harness.strategy.errors.DeviceLostError`` on every matching call on a device (never on
    the CPU); the executor marks the device unhealthy and moves its work, so no later call goes
    there. ``times`` does not apply. Selectors: ``rows``, ``rate``; none set: every call.
``bad_rows``
    raises ``ValueError("injected bad row <id> (rule N)")`` on every attempt whenever the call holds
    a bad row, so bisection quarantines exactly the bad rows. Bad rows are ``rows``, plus, with
    ``rate``, each row whose own draw (keyed by its id, not the call's first row) is below ``rate``.
    A ``bad_rows`` rule needs ``rows`` or ``rate``.
``slow``
    sleeps ``delay`` seconds. Selectors: ``rows``, ``rate``; none set: every call.

Each firing becomes an event ``{kind: 'fault', fault: KIND, rule: N, rule_set, op, op_index,
device, batch_size, first_row}`` (``rule`` is the index among all the plan's rules): returned for
faults that return, attached as ``harness_fault_event`` to the exception for faults that raise (the
op runner records it). A worker crash leaves no event of its own: the driver's ``worker_restart``
event is its record.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Optional

import torch

from harness.errors import ConfigError, HarnessError, TransientError
from harness.executor.hooks import OpCall
from harness.faults.schema import FAULT_KINDS, FaultRule, FaultsSettings
from harness.strategy.errors import DeviceLostError

#: Exit status of a worker ended by a ``worker_crash`` fault.
CRASH_EXIT_CODE = 70

_DEVICE_KINDS = ("oom_storm", "device_lost")


class WorkerCrashNotPossible(HarnessError):
    """A ``worker_crash`` rule matched a call that runs in the driver process, where ending the
    process would end the run. Run the ops in worker processes or drop the rule."""


@dataclass(frozen=True)
class _Rule:
    """A rule with its identity: its index in the plan, its set and its place in the set."""

    index: int
    set_name: str
    set_seed: int
    set_index: int
    rule: FaultRule


def _draw(*key: Any) -> float:
    """A number in [0, 1) that depends only on ``key``."""
    digest = hashlib.blake2b(repr(key).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _validate(entry: _Rule) -> None:
    rule, where = entry.rule, f"faults rule {entry.set_name}[{entry.set_index}]"
    if rule.kind not in FAULT_KINDS:
        raise ConfigError(f"{where}: unknown fault kind {rule.kind!r}; use one of {', '.join(FAULT_KINDS)}")
    if not 0.0 <= rule.rate <= 1.0:
        raise ConfigError(f"{where}: rate={rule.rate!r} is not allowed; use a fraction in [0, 1]")
    if rule.times < 0 or rule.min_batch_size < 0 or rule.delay < 0:
        raise ConfigError(f"{where}: times, min_batch_size and delay must be >= 0")
    if rule.kind == "bad_rows" and not rule.rows and rule.rate <= 0:
        raise ConfigError(f"{where}: a bad_rows rule needs rows (input row ids) or a rate")


class FaultPlan:
    """``ExecutionHooks`` that inject the faults of a ``FaultsSettings``. Picklable (plain data)."""

    def __init__(self, settings: FaultsSettings) -> None:
        self.name = settings.name
        self.seed = settings.seed
        self.rules = [_Rule(i, set_name, set_seed, set_index, rule)
                      for i, (set_name, set_seed, set_index, rule) in enumerate(settings.all_rules())]
        for entry in self.rules:
            _validate(entry)

    def __repr__(self) -> str:
        return f"FaultPlan(name={self.name!r}, seed={self.seed}, rules={len(self.rules)})"

    # -- the hook -----------------------------------------------------------------------------
    def before_op_call(self, call: OpCall) -> list[dict[str, Any]]:
        """Raise, sleep or end the process as the first matching rules say; return the events of
        the faults that let the call go on."""
        events: list[dict[str, Any]] = []
        for entry in self.rules:
            if not self._applies(entry.rule, call):
                continue
            kind = entry.rule.kind
            if kind == "slow":
                if self._selected(entry, call):
                    time.sleep(entry.rule.delay)
                    events.append(self._event(entry, call, delay=entry.rule.delay))
                continue
            error = self._error(entry, call)
            if error is not None:
                error.harness_fault_event = self._event(entry, call)  # type: ignore[attr-defined]
                raise error
        return events

    def fires(self, call: OpCall) -> list[str]:
        """The kinds of the rules that would fire on ``call`` (without firing them)."""
        fired = []
        for entry in self.rules:
            if not self._applies(entry.rule, call):
                continue
            kind = entry.rule.kind
            if kind == "slow":
                hit = self._selected(entry, call)
            elif kind == "worker_crash":
                hit = call.worker_restarts < entry.rule.times and self._selected(entry, call)
            else:
                hit = self._error(entry, call) is not None
            if hit:
                fired.append(kind)
        return fired

    # -- matching -----------------------------------------------------------------------------
    @staticmethod
    def _applies(rule: FaultRule, call: OpCall) -> bool:
        """Op and device patterns (device faults skip the CPU unless it is named)."""
        if rule.op not in ("", "*") and not fnmatchcase(call.op_name, rule.op):
            return False
        on_cpu = call.device == "cpu"
        if rule.kind == "device_lost" and on_cpu:
            return False
        if rule.device in ("", "*"):
            return not (on_cpu and rule.kind in _DEVICE_KINDS)
        return fnmatchcase(call.device, rule.device)

    def _rate_hit(self, entry: _Rule, op_name: str, row: Optional[int]) -> bool:
        if entry.rule.rate <= 0:
            return False
        key = (self.seed, entry.set_name, entry.set_seed, entry.set_index, op_name, row)
        return _draw(*key) < entry.rule.rate

    def _selected(self, entry: _Rule, call: OpCall) -> bool:
        """rows / rate selectors; a rule with neither selects every call."""
        rule = entry.rule
        if not rule.rows and rule.rate <= 0:
            return True
        if rule.rows and not set(rule.rows).isdisjoint(call.row_ids):
            return True
        first = call.row_ids[0] if len(call.row_ids) else None
        return self._rate_hit(entry, call.op_name, first)

    def _error(self, entry: _Rule, call: OpCall) -> Optional[Exception]:
        """The exception this rule raises on ``call``, or None (``worker_crash`` ends the process)."""
        rule, kind, n = entry.rule, entry.rule.kind, len(call.row_ids)
        tag = f"(injected by fault rule {entry.index}: {entry.set_name}[{entry.set_index}])"
        if kind == "oom_storm":
            first = call.row_ids[0] if n else None
            if n <= 1 and call.device == "cpu":
                hit = False  # the CPU path is the last resort for a single row
            elif rule.min_batch_size or rule.rows or rule.rate > 0:
                hit = (bool(rule.min_batch_size) and n >= rule.min_batch_size) \
                    or (bool(rule.rows) and not set(rule.rows).isdisjoint(call.row_ids)) \
                    or self._rate_hit(entry, call.op_name, first)
            else:
                hit = n > 1
            if not hit:
                return None
            gib = 2 * max(n, 1) / 1024
            return torch.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate {gib:.2f} GiB. GPU 0 has a total capacity of "
                f"80.00 GiB of which 0 bytes is free. Of the allocated memory 79.50 GiB is allocated "
                f"by PyTorch, and 0.10 GiB is reserved by PyTorch but unallocated. {tag}"
            )
        if kind == "transient":
            if call.attempt >= rule.times or not self._selected(entry, call):
                return None
            return TransientError(
                f"injected transient error (rule {entry.index}) on op {call.op_name!r}, attempt "
                f"{call.attempt + 1} of {rule.times} that fail {tag}"
            )
        if kind == "device_lost":
            if not self._selected(entry, call):
                return None
            return DeviceLostError(
                f"device {call.device} stopped responding while running op "
                f"{call.op_name!r} {tag}"
            )
        if kind == "bad_rows":
            bad = self._bad_row(entry, call)
            if bad is None:
                return None
            return ValueError(f"injected bad row {bad} (rule {entry.index})")
        if kind == "worker_crash":
            if call.worker_restarts >= rule.times or not self._selected(entry, call):
                return None
            if call.in_worker:
                os._exit(CRASH_EXIT_CODE)  # abrupt on purpose: no cleanup, no flushing
            return WorkerCrashNotPossible(
                f"fault rule {entry.index} ({entry.set_name}[{entry.set_index}], worker_crash) "
                f"matched op {call.op_name!r} on rows from {call.row_ids[0] if n else None}, but "
                f"this call runs in the driver process; run ops in worker processes or drop the rule"
            )
        return None

    def _bad_row(self, entry: _Rule, call: OpCall) -> Optional[int]:
        rows = set(entry.rule.rows)
        for row in call.row_ids:
            if row in rows or self._rate_hit(entry, call.op_name, row):
                return row
        return None

    @staticmethod
    def _event(entry: _Rule, call: OpCall, **extra: Any) -> dict[str, Any]:
        ids = call.row_ids
        return {"kind": "fault", "fault": entry.rule.kind, "rule": entry.index,
                "rule_set": entry.set_name, "op": call.op_name, "op_index": call.op_index,
                "device": call.device, "batch_size": len(ids),
                "first_row": ids[0] if len(ids) else None, "attempt": call.attempt, **extra}
