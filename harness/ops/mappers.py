"""Text mappers with Data-Juicer's semantics."""
from __future__ import annotations

import re
from typing import Optional

import regex

from harness.data.batch import Batch
from harness.ops.base import Mapper
from harness.ops.constants import constants, various_whitespaces
from harness.ops.registry import register_op


@register_op("whitespace_normalization_mapper")
class WhitespaceNormalizationMapper(Mapper):
    """Strip the text, then turn each of the 23 'various whitespaces' into ' ' (newlines kept)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._table = str.maketrans({c: " " for c in various_whitespaces()})

    def process_text(self, text: str) -> str:
        return text.strip().translate(self._table)

    def process_batched(self, batch: Batch) -> Batch:
        table = self._table
        out = dict(batch)
        out[self.text_key] = [t.strip().translate(table) for t in self.texts(batch)]
        return out


def unwrap_raw_pattern(pattern: str) -> str:
    """Data-Juicer accepts a pattern written as ``r'...'`` (or ``r"..."``) and drops the wrapper."""
    if len(pattern) > 2 and (
        (pattern.startswith("r'") and pattern.endswith("'"))
        or (pattern.startswith('r"') and pattern.endswith('"'))
    ):
        return pattern[2:-1]
    return pattern


class _PatternSubMapper(Mapper):
    """Substitutes every match of a ``regex`` pattern (DOTALL, as Data-Juicer) with ``repl``."""

    #: Key of the default pattern in ``data-juicer-constants.json``.
    default_pattern_key = ""

    def __init__(self, pattern: Optional[str] = None, repl: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.pattern, self.repl = pattern, repl
        self._remember(pattern=pattern, repl=repl)
        source = constants()[self.default_pattern_key] if pattern is None else unwrap_raw_pattern(pattern)
        # Compiled once; Data-Juicer compiles per call through regex's cache, same semantics.
        self._regex = regex.compile(source, flags=regex.DOTALL)

    def process_text(self, text: str) -> str:
        return self._regex.sub(self.repl, text)

    def process_batched(self, batch: Batch) -> Batch:
        sub, repl = self._regex.sub, self.repl
        out = dict(batch)
        out[self.text_key] = [sub(repl, t) for t in self.texts(batch)]
        return out


@register_op("clean_email_mapper")
class CleanEmailMapper(_PatternSubMapper):
    """Replace e-mail addresses (default pattern from Data-Juicer, or ``pattern``) with ``repl``."""

    default_pattern_key = "clean_email_default_pattern"


@register_op("clean_links_mapper")
class CleanLinksMapper(_PatternSubMapper):
    """Replace URLs (scheme://, www., domain.tld/; case-insensitive by default) with ``repl``."""

    default_pattern_key = "clean_links_default_pattern"


@register_op("punctuation_normalization_mapper")
class PunctuationNormalizationMapper(Mapper):
    """Map each character through Data-Juicer's 34-entry punctuation map (e.g. '，' -> ',')."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._table = str.maketrans(constants()["punctuation_normalization_map"])

    def process_text(self, text: str) -> str:
        return text.translate(self._table)

    def process_batched(self, batch: Batch) -> Batch:
        table = self._table
        out = dict(batch)
        out[self.text_key] = [t.translate(table) for t in self.texts(batch)]
        return out


# Data-Juicer's split_sentence, kept byte for byte: the last class really is the character set
# [.。!！？?{6}…2] (the quantifiers are literal inside brackets), so e.g. '6”' ends a sentence too.
_SENTENCE_END = (
    (re.compile("([.。！!？\\?])([^’”])"), r"\1\n\2"),
    (re.compile("(\\.{6})([^’”])"), r"\1\n\2"),
    (re.compile("(\\…{2})([^’”])"), r"\1\n\2"),
    (re.compile("([.。!！？\\?\\.{6}\\…{2}][’”])([^’”])"), r"\1\n\2"),
)


def split_sentences(line: str) -> list[str]:
    """Sentences of one line, each keeping its leading space and closing quote (Data-Juicer)."""
    for pattern, repl in _SENTENCE_END:
        line = pattern.sub(repl, line)
    return line.split("\n")


@register_op("remove_repeat_sentences_mapper")
class RemoveRepeatSentencesMapper(Mapper):
    """Drop sentences whose key already occurred earlier in the document (short keys always stay)."""

    def __init__(
        self,
        lowercase: bool = False,
        ignore_special_character: bool = True,
        min_repeat_sentence_length: int = 2,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.lowercase = lowercase
        self.ignore_special_character = ignore_special_character
        self.min_repeat_sentence_length = min_repeat_sentence_length
        self._remember(
            lowercase=lowercase,
            ignore_special_character=ignore_special_character,
            min_repeat_sentence_length=min_repeat_sentence_length,
        )
        self._remove = (
            re.compile("[^a-zA-Z0-9\u4e00-\u9fa5\n\t ]") if ignore_special_character else None
        )

    def process_text(self, text: str) -> str:
        lowercase, remove, minimum = self.lowercase, self._remove, self.min_repeat_sentence_length
        seen: set[str] = set()
        new_lines = []
        for line in text.split("\n"):
            kept = []
            if line:
                for sentence in split_sentences(line):
                    key = sentence.strip()
                    if lowercase:
                        key = key.lower()
                    if remove is not None:
                        key = remove.sub("", key)
                    if len(key) < minimum:
                        kept.append(sentence)
                    elif key not in seen:
                        seen.add(key)
                        kept.append(sentence)
            new_lines.append("".join(kept))
        return "\n".join(new_lines)
