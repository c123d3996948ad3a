"""Text mappers with Data-Juicer's semantics."""
from __future__ import annotations

from harness.ops.base import Mapper
from harness.ops.constants import various_whitespaces
from harness.ops.registry import register_op


@register_op("whitespace_normalization_mapper")
class WhitespaceNormalizationMapper(Mapper):
    """Strip the text, then turn each of the 23 'various whitespaces' into ' ' (newlines kept)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._table = str.maketrans({c: " " for c in various_whitespaces()})

    def process_text(self, text: str) -> str:
        return text.strip().translate(self._table)
