"""What every lease and reservation shares: release once (again is a no-op), or use ``with``."""
from __future__ import annotations

from typing import Any, Callable


class Held:
    """Something taken from a pool; ``release()`` hands it back through the pool's callback."""

    def __init__(self, give_back: Callable[[Any], None]) -> None:
        self._give_back = give_back
        self.released = False

    def release(self) -> None:
        self._give_back(self)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _state(self) -> str:
        return "released" if self.released else "held"
