"""Shared text helpers with Data-Juicer's exact semantics (words, refined words).

Most real text is ASCII; for it the helpers take C-level fast paths (bytes.translate, one compiled
regex) that give exactly the result of Data-Juicer's per-character loops. Other text takes the
plain loop.
"""
from __future__ import annotations

import re
from functools import lru_cache
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


@lru_cache(maxsize=1)
def _ascii_tables() -> tuple[bytes, bytes, "re.Pattern[str]"]:
    """(special ASCII bytes, special ASCII bytes that do not separate words, refined-word regex)."""
    special = "".join(sorted(c for c in special_characters() if len(c) == 1 and c.isascii()))
    non_separator = "".join(c for c in special if c not in " \n\t")
    s = re.escape(special)
    # A refined word runs from the first to the last non-special character of a word.
    refined = re.compile(f"[^{s}](?:[^ \\n\\t]*[^{s}])?")
    return special.encode("ascii"), non_separator.encode("ascii"), refined


def refined_words_of(text: str, lowercase: bool = False) -> list[str]:
    """``refine_words(split_words(text), lowercase)``, fast for ASCII text."""
    if lowercase:
        # Lowercasing never creates or removes a separator, so it commutes with the split.
        text = text.lower()
    if text.isascii():
        return _ascii_tables()[2].findall(text)
    return refine_words(split_words(text))


def count_refined_words(text: str) -> int:
    """``len(refine_words(split_words(text)))``: words holding at least one non-special character."""
    if text.isascii():
        # Delete every special character except the separators; bytes.split() then splits on
        # ' ', '\t', '\n' only (its other separators '\r', '\v', '\f' were deleted).
        return len(text.encode("ascii").translate(None, _ascii_tables()[1]).split())
    return len(refine_words(split_words(text)))


@lru_cache(maxsize=1)
def _special_delete_table() -> dict[int, None]:
    return dict.fromkeys(ord(c) for c in special_characters() if len(c) == 1)


def count_special_characters(text: str) -> int:
    """Characters of ``text`` in Data-Juicer's special set (tested per character)."""
    if text.isascii():
        return len(text) - len(text.encode("ascii").translate(None, _ascii_tables()[0]))
    return len(text) - len(text.translate(_special_delete_table()))


_ASCII_ALNUM = bytes(c for c in range(128) if chr(c).isalnum())


def count_alnum(text: str) -> int:
    """Characters of ``text`` for which ``str.isalnum()`` holds."""
    if text.isascii():
        return len(text) - len(text.encode("ascii").translate(None, _ASCII_ALNUM))
    return sum(map(str.isalnum, text))
