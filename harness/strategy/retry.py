"""Exponential backoff with jitter for transient errors."""
from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): base·2^(attempt-1), capped,
    with ±50% jitter so parallel workers do not retry in lockstep."""
    if base <= 0:
        return 0.0
    delay = min(cap, base * (2 ** (attempt - 1)))
    return delay * (0.5 + rng.random())
