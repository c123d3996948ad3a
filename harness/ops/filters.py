"""Text filters with Data-Juicer's semantics: a statistic per row, kept when min <= stat <= max."""
from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

from harness.errors import UnsupportedOpConfigError
from harness.ops.base import MAXSIZE, Filter
from harness.ops.registry import register_op
from harness.ops.text import (
    count_alnum,
    count_refined_words,
    count_special_characters,
    refined_words_of,
)


def reject_tokenization(op_name: str, tokenization: bool) -> None:
    """``tokenization: true`` needs downloaded tokenizer models, which harness does not fetch."""
    if tokenization:
        raise UnsupportedOpConfigError(
            f"op {op_name!r}: tokenization=true needs a downloaded sentencepiece model, which "
            f"harness does not fetch; set tokenization: false (words split on whitespace)"
        )


class LengthRangeFilter(Filter):
    """A filter whose keep range is Data-Juicer's ``min_len`` / ``max_len`` pair."""

    def __init__(self, min_len: int = 10, max_len: int = MAXSIZE, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.min_len, self.max_len = min_len, max_len
        self._remember(min_len=min_len, max_len=max_len)

    @property
    def bounds(self) -> tuple[float, float]:
        return self.min_len, self.max_len


@register_op("text_length_filter")
class TextLengthFilter(LengthRangeFilter):
    """Keep rows whose number of characters lies in [min_len, max_len]."""

    stat_key = "text_len"

    def compute_stats_list(self, texts: Sequence[str]) -> list[int]:
        return [len(t) for t in texts]


@register_op("words_num_filter")
class WordsNumFilter(Filter):
    """Keep rows whose number of refined words lies in [min_num, max_num]."""

    stat_key = "num_words"

    def __init__(
        self,
        lang: str = "en",
        tokenization: bool = False,
        min_num: int = 10,
        max_num: int = MAXSIZE,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        reject_tokenization(self.name, tokenization)
        self.min_num, self.max_num = min_num, max_num
        self._remember(lang=lang, tokenization=tokenization, min_num=min_num, max_num=max_num)

    @property
    def bounds(self) -> tuple[float, float]:
        return self.min_num, self.max_num

    def compute_stat(self, text: str) -> int:
        return count_refined_words(text)

    def compute_stats_list(self, texts: Sequence[str]) -> list[int]:
        return [count_refined_words(t) for t in texts]


@register_op("alphanumeric_filter")
class AlphanumericFilter(Filter):
    """Keep rows whose share of ``str.isalnum()`` characters lies in [min_ratio, max_ratio]."""

    stat_key = "alnum_ratio"

    def __init__(
        self,
        tokenization: bool = False,
        min_ratio: float = 0.25,
        max_ratio: float = MAXSIZE,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        reject_tokenization(self.name, tokenization)
        self.min_ratio, self.max_ratio = min_ratio, max_ratio
        self._remember(tokenization=tokenization, min_ratio=min_ratio, max_ratio=max_ratio)

    @property
    def bounds(self) -> tuple[float, float]:
        return self.min_ratio, self.max_ratio

    def compute_stat(self, text: str) -> float:
        return count_alnum(text) / len(text) if text else 0.0

    def compute_stats_list(self, texts: Sequence[str]) -> list[float]:
        return [count_alnum(t) / len(t) if t else 0.0 for t in texts]


def char_repetition_ratio(text: str, n: int) -> float:
    """Share of character n-grams taken by the floor(sqrt(D)) most frequent repeated ones."""
    total = len(text) - n + 1
    if total <= 0:
        return 0.0
    counts = Counter(text[i : i + n] for i in range(total)).values()
    repeated = sorted((c for c in counts if c > 1), reverse=True)
    k = min(math.isqrt(len(counts)), len(repeated))
    return sum(repeated[:k]) / total


@register_op("character_repetition_filter")
class CharacterRepetitionFilter(Filter):
    """Keep rows whose character n-gram repetition ratio lies in [min_ratio, max_ratio]."""

    stat_key = "char_rep_ratio"

    def __init__(
        self, rep_len: int = 10, min_ratio: float = 0.0, max_ratio: float = 0.5, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        self.rep_len, self.min_ratio, self.max_ratio = rep_len, min_ratio, max_ratio
        self._remember(rep_len=rep_len, min_ratio=min_ratio, max_ratio=max_ratio)

    @property
    def bounds(self) -> tuple[float, float]:
        return self.min_ratio, self.max_ratio

    def compute_stat(self, text: str) -> float:
        return char_repetition_ratio(text, self.rep_len)

    def compute_stats_list(self, texts: Sequence[str]) -> list[float]:
        n = self.rep_len
        return [char_repetition_ratio(t, n) for t in texts]


def word_repetition_ratio(words: list[str], n: int) -> float:
    """Share of word n-grams that occur more than once (counted with multiplicity)."""
    total = len(words) - n + 1
    if total <= 0 or n <= 0:
        return 0.0
    # Words hold no separator and are never empty, so the n-tuple identifies ' '.join(n-gram).
    counts = Counter(zip(*[words[i:] for i in range(n)]))
    if len(counts) == total:
        return 0.0
    return sum(c for c in counts.values() if c > 1) / total


@register_op("word_repetition_filter")
class WordRepetitionFilter(Filter):
    """Keep rows whose word n-gram repetition ratio (lowercased refined words) is in range."""

    stat_key = "word_rep_ratio"

    def __init__(
        self,
        lang: str = "en",
        tokenization: bool = False,
        rep_len: int = 10,
        min_ratio: float = 0.0,
        max_ratio: float = 0.5,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        reject_tokenization(self.name, tokenization)
        self.rep_len, self.min_ratio, self.max_ratio = rep_len, min_ratio, max_ratio
        self._remember(
            lang=lang, tokenization=tokenization, rep_len=rep_len,
            min_ratio=min_ratio, max_ratio=max_ratio,
        )

    @property
    def bounds(self) -> tuple[float, float]:
        return self.min_ratio, self.max_ratio

    def compute_stat(self, text: str) -> float:
        return word_repetition_ratio(refined_words_of(text, lowercase=True), self.rep_len)

    def compute_stats_list(self, texts: Sequence[str]) -> list[float]:
        n = self.rep_len
        return [word_repetition_ratio(refined_words_of(t, lowercase=True), n) for t in texts]


@register_op("special_characters_filter")
class SpecialCharactersFilter(Filter):
    """Keep rows whose share of special characters lies in [min_ratio, max_ratio]."""

    stat_key = "special_char_ratio"

    def __init__(self, min_ratio: float = 0.0, max_ratio: float = 0.25, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.min_ratio, self.max_ratio = min_ratio, max_ratio
        self._remember(min_ratio=min_ratio, max_ratio=max_ratio)

    @property
    def bounds(self) -> tuple[float, float]:
        return self.min_ratio, self.max_ratio

    def compute_stat(self, text: str) -> float:
        return count_special_characters(text) / len(text) if text else 0.0

    def compute_stats_list(self, texts: Sequence[str]) -> list[float]:
        return [count_special_characters(t) / len(t) if t else 0.0 for t in texts]


@register_op("average_line_length_filter")
class AverageLineLengthFilter(LengthRangeFilter):
    """Keep rows whose length per ``splitlines()`` line lies in [min_len, max_len]."""

    stat_key = "avg_line_length"

    def compute_stat(self, text: str) -> float:
        lines = text.splitlines()
        return len(text) / len(lines) if lines else 0.0


@register_op("maximum_line_length_filter")
class MaximumLineLengthFilter(LengthRangeFilter):
    """Keep rows whose longest ``splitlines()`` line has a length in [min_len, max_len]."""

    stat_key = "max_line_length"

    def compute_stat(self, text: str) -> int:
        return max(map(len, text.splitlines()), default=0)

    def compute_stats_list(self, texts: Sequence[str]) -> list[int]:
        return [max(map(len, t.splitlines()), default=0) for t in texts]
