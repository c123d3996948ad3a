"""The ``faults`` config: a seed and rules, each naming a fault kind and where it fires.

Composition. Hydra *replaces* lists when it merges configs, so rule lists from two fault files
(``faults=[oom_storm,transient]``) cannot share one list. Each file in ``conf/faults/`` therefore
puts its rules in its own entry of the ``rule_sets`` mapping, keyed by the file's name::

    defaults: [schema, _self_]
    name: transient
    rule_sets:
      transient:
        seed: 7
        rules:
          - {kind: transient, rate: 0.2, times: 2}

Mappings merge key by key, so composing files keeps every file's rules. ``rules`` stays for rules
given on the command line (``'faults.rules=[{kind: transient, rate: 0.5}]'``); the plan runs all of
them: the rule sets in composition order, then ``rules`` (see ``FaultsSettings.all_rules``).

Each set carries its own ``seed`` because Hydra re-applies the group's ``schema`` defaults for every
file it composes, which would reset a top-level value a file set; ``faults.seed`` (usually given on
the command line) varies every rule at once. A rule's firings depend only on (``faults.seed``, its
set's name and seed, its place in the set, the op and the rows of the call), so composing a file
with others never changes where that file's rules fire.
"""
from __future__ import annotations

from dataclasses import dataclass, field

FAULT_KINDS = ("oom_storm", "transient", "worker_crash", "device_lost", "bad_rows", "slow")

#: The name under which ``FaultsSettings.rules`` appear in events and messages.
COMMAND_LINE_SET = "rules"


@dataclass
class FaultRule:
    """One kind of fault and where it fires. Empty selectors match everything (except for
    ``bad_rows``, which needs ``rows`` or ``rate``)."""

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
class FaultRuleSet:
    """The rules of one fault file (an entry of ``FaultsSettings.rule_sets``)."""

    #: Seed of this set's rate draws (mixed with ``FaultsSettings.seed``).
    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)


@dataclass
class FaultsSettings:
    """A fault plan: deterministic for ``seed``."""

    #: The plan's name (reports show it). When several fault files are composed, the names of
    #: their rule sets joined with '+', e.g. 'transient+slow' ('+rules' when ``rules`` are given
    #: too); 'rules' for command-line rules alone.
    name: str = "none"
    seed: int = 0
    #: Rules given directly (typically on the command line).
    rules: list[FaultRule] = field(default_factory=list)
    #: Rules of composed fault files, one entry per file (keyed by its name).
    rule_sets: dict[str, FaultRuleSet] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Composing files leaves the last file's name, and rules given on the command line leave
        # 'none': name what will really be injected instead.
        composed = self.name in self.rule_sets and (len(self.rule_sets) > 1 or bool(self.rules))
        if composed or (self.name == "none" and (self.rule_sets or self.rules)):
            self.name = "+".join([*self.rule_sets, *([COMMAND_LINE_SET] if self.rules else [])])

    def all_rules(self) -> list[tuple[str, int, int, FaultRule]]:
        """Every rule as (set name, set seed, index in its set, rule): the rule sets in
        composition order, then ``rules`` (as the set named ``rules``, seed 0)."""
        found = []
        for set_name, rule_set in self.rule_sets.items():
            for i, rule in enumerate(rule_set.rules):
                found.append((set_name, rule_set.seed, i, rule))
        for i, rule in enumerate(self.rules):
            found.append((COMMAND_LINE_SET, 0, i, rule))
        return found
