"""Text filters with Data-Juicer's semantics: a statistic per row, kept when min <= stat <= max."""
from __future__ import annotations

from harness.errors import UnsupportedOpConfigError
from harness.ops.base import MAXSIZE, Filter
from harness.ops.registry import register_op
from harness.ops.text import refine_words, split_words


def reject_tokenization(op_name: str, tokenization: bool) -> None:
    """``tokenization: true`` needs downloaded tokenizer models, which harness does not fetch."""
    if tokenization:
        raise UnsupportedOpConfigError(
            f"op {op_name!r}: tokenization=true needs a downloaded sentencepiece model, which "
            f"harness does not fetch; set tokenization: false (words split on whitespace)"
        )


@register_op("text_length_filter")
class TextLengthFilter(Filter):
    """Keep rows whose number of characters lies in [min_len, max_len]."""

    stat_key = "text_len"

    def __init__(self, min_len: int = 10, max_len: int = MAXSIZE, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.min_len, self.max_len = min_len, max_len
        self._remember(min_len=min_len, max_len=max_len)

    @property
    def bounds(self) -> tuple[float, float]:
        return self.min_len, self.max_len

    def compute_stats_list(self, texts: list[str]) -> list[int]:
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
        return len(refine_words(split_words(text)))
