"""Every error harness raises on purpose. Each one says what went wrong and what to do next."""
from __future__ import annotations


class HarnessError(Exception):
    """Base of all deliberate harness errors; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(HarnessError):
    """A recipe, op parameter or config value is wrong; raised before any work starts."""

    exit_code = 2


class UnknownOpError(ConfigError):
    """A recipe names an op that is not registered."""


class InputError(HarnessError):
    """The input dataset cannot be read at all (missing file, unknown format)."""

    exit_code = 2


class BadInputRowError(HarnessError):
    """One input row is invalid and ``on_bad_input=fail`` asked to stop on it."""

    exit_code = 1


class OpFailedError(HarnessError):
    """An op raised on a row and ``on_error=fail`` asked to stop on it."""

    exit_code = 1


class UnsupportedOpConfigError(ConfigError):
    """An op configuration needs something this machine cannot provide (e.g. downloaded models)."""


class TransientError(HarnessError):
    """A failure that may pass if the same work is tried again (injected by faults, or raised by
    ops that call flaky services). Retried with backoff up to ``error_handling.max_retries``."""
