"""Data-Juicer's character sets, maps, patterns and LSH table, loaded from the shipped JSON."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def constants() -> dict[str, Any]:
    """The parsed ``data-juicer-constants.json`` shipped inside the package."""
    text = resources.files("harness.ops").joinpath("data/data-juicer-constants.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def special_characters() -> frozenset[str]:
    """Data-Juicer's SPECIAL_CHARACTERS. Membership is tested per character, as Data-Juicer does."""
    return frozenset(constants()["special_characters"])


@lru_cache(maxsize=1)
def various_whitespaces() -> frozenset[str]:
    """The 23 whitespace characters Data-Juicer normalizes to ' '."""
    return frozenset(constants()["various_whitespaces"])
