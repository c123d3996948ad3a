"""Human-readable byte sizes: ``'2GiB'``, ``'512MiB'``, ``'1.5G'``, ``'100MB'``, ``4096``.

Units: ``B``; binary ``KiB MiB GiB TiB PiB`` (also ``Ki Mi Gi Ti Pi``); decimal ``KB MB GB TB PB``.
A bare letter (``K M G T P``) is binary, as in Docker and the JVM, because these sizes are memory.
Units are case-insensitive. A fractional byte count is rounded down. ``None`` and the words
``none``, ``max``, ``unlimited`` mean "no limit" and parse to ``None``.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from harness.errors import ConfigError

_KIB = 1024
_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "k": _KIB, "ki": _KIB, "kib": _KIB, "kb": 1000,
    "m": _KIB**2, "mi": _KIB**2, "mib": _KIB**2, "mb": 1000**2,
    "g": _KIB**3, "gi": _KIB**3, "gib": _KIB**3, "gb": 1000**3,
    "t": _KIB**4, "ti": _KIB**4, "tib": _KIB**4, "tb": 1000**4,
    "p": _KIB**5, "pi": _KIB**5, "pib": _KIB**5, "pb": 1000**5,
}
_UNLIMITED = {"none", "max", "unlimited", "null"}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\s*([A-Za-z]*)\s*$")

_HINT = "use a whole number of bytes or a size such as '512MiB', '2GiB', '1.5G' or '100MB'"


def parse_size(value: str | int | float | None) -> int | None:
    """Bytes in ``value``; ``None`` for no limit. Raises ConfigError naming the value if it is not a size."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"invalid size {value!r}: a boolean is not a size; {_HINT}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"invalid size {value!r}: a size cannot be negative; {_HINT}")
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or value < 0:
            raise ConfigError(f"invalid size {value!r}: not a finite, non-negative number; {_HINT}")
        return int(value)
    if not isinstance(value, str):
        raise ConfigError(f"invalid size {value!r} of type {type(value).__name__}; {_HINT}")
    text = value.strip()
    if text.lower() in _UNLIMITED:
        return None
    match = _SIZE_RE.match(text)
    if not match:
        raise ConfigError(f"invalid size {value!r}; {_HINT}")
    number, exponent, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ConfigError(
            f"invalid size {value!r}: unknown unit {unit!r} (known: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB, K, M, G, T); {_HINT}"
        )
    try:
        amount = Decimal(number) * (Decimal(10) ** int(exponent or 0))
    except (InvalidOperation, ValueError) as exc:  # pragma: no cover - the regex admits only numbers
        raise ConfigError(f"invalid size {value!r}; {_HINT}") from exc
    return int(amount * factor)


def format_size(n: int | float | None) -> str:
    """``n`` bytes as text the way CUDA's allocator prints sizes: ``'0 bytes'``, ``'1.50 KiB'``, ``'2.00 GiB'``."""
    if n is None:
        return "unlimited"
    n = int(n)
    sign = "-" if n < 0 else ""
    size = abs(n)
    if size < _KIB:
        return f"{sign}{size} bytes"
    for unit, factor in (("KiB", _KIB), ("MiB", _KIB**2), ("GiB", _KIB**3), ("TiB", _KIB**4)):
        if round(size / factor, 2) < _KIB:
            return f"{sign}{size / factor:.2f} {unit}"
    return f"{sign}{size / _KIB**5:.2f} PiB"
