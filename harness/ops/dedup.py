"""Exact document deduplication: md5 of the normalized text, first occurrence kept, streaming."""
from __future__ import annotations

import hashlib
import re
import string
from typing import Any, Sequence

from harness.data.batch import Batch
from harness.ops.base import DedupIndex, Deduplicator
from harness.ops.registry import register_op

_NON_CHARACTER = re.compile(r"\s+|\d+|[" + re.escape(string.punctuation) + "]")


class FirstSeenIndex(DedupIndex):
    """Keeps a row unless an earlier row had the same hash."""

    streaming = True

    def __init__(self) -> None:
        self._seen: set[Any] = set()

    def add(self, row_ids: Sequence[int], hashes: Sequence[Any]) -> list[bool]:
        seen = self._seen
        flags = []
        for value in hashes:
            if value in seen:
                flags.append(False)
            else:
                seen.add(value)
                flags.append(True)
        return flags


@register_op("document_deduplicator")
class DocumentDeduplicator(Deduplicator):
    """Exact dedup on md5 of the stripped text (optionally lowercased, non-characters removed)."""

    def __init__(
        self, lowercase: bool = False, ignore_non_character: bool = False, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        self.lowercase, self.ignore_non_character = lowercase, ignore_non_character
        self._remember(lowercase=lowercase, ignore_non_character=ignore_non_character)

    def _key_text(self, text: str) -> str:
        if self.lowercase:
            text = text.lower()
        if self.ignore_non_character:
            text = _NON_CHARACTER.sub("", text)
        return text.strip()

    def compute_hash_batched(self, batch: Batch) -> list[str]:
        return [
            hashlib.md5(self._key_text(t).encode("utf-8")).hexdigest() for t in self.texts(batch)
        ]

    def new_index(self) -> FirstSeenIndex:
        return FirstSeenIndex()
