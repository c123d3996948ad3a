"""Shared text helpers with Data-Juicer's exact semantics (words, refined words)."""
from __future__ import annotations

import re
from typing import Iterable

from harness.ops.constants import special_characters

_WORD_SPLIT = re.compile(r"[ \n\t]+")


def split_words(text: str) -> list[str]:
    """Words: split on ' ', '\\n' and '\\t'; runs collapse, empty pieces are dropped."""
    return [w for w in _WORD_SPLIT.split(text) if w]


def strip_chars(word: str, chars: frozenset[str]) -> str:
    """``word`` without leading and trailing characters that are in ``chars``."""
    start, end = 0, len(word)
    while start < end and word[start] in chars:
        start += 1
    while end > start and word[end - 1] in chars:
        end -= 1
    return word[start:end]


def refine_words(words: Iterable[str], lowercase: bool = False) -> list[str]:
    """Words with special characters stripped from both ends; words left empty are dropped."""
    chars = special_characters()
    out = []
    for word in words:
        if lowercase:
            word = word.lower()
        word = strip_chars(word, chars)
        if word:
            out.append(word)
    return out
