"""Shared hypothesis strategies: texts (with unicode), rows, and recipe entries of text ops."""
from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

#: Characters data cleaning meets: letters of several scripts, digits, punctuation, emoji,
#: whitespace of several kinds (but no surrogates, which cannot be written as UTF-8).
_ALPHABET = st.characters(
    blacklist_categories=("Cs",),
    whitelist_categories=("L", "N", "P", "S", "Zs", "Cc"),
)

#: Words joined by single or odd whitespace, so word-count and repetition filters see structure.
words = st.text(alphabet=_ALPHABET, min_size=1, max_size=12).filter(lambda w: not w.isspace())
texts = st.lists(words, min_size=0, max_size=30).flatmap(
    lambda ws: st.sampled_from([" ", "  ", "\t", "\n", "\u3000"]).map(lambda sep: sep.join(ws)))


@st.composite
def rows(draw: Any, text_key: str = "text", extra_keys: bool = True) -> dict[str, Any]:
    """One input row: a text plus (optionally) a few metadata fields of JSON types."""
    row: dict[str, Any] = {text_key: draw(texts)}
    if extra_keys:
        extras = draw(st.dictionaries(
            st.sampled_from(["id", "source", "lang", "meta"]),
            st.one_of(st.integers(-10**6, 10**6), st.text(max_size=8), st.booleans(), st.none()),
            max_size=3,
        ))
        row.update({k: v for k, v in extras.items() if k != text_key})
    return row


def datasets(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A list of rows, with deliberate exact duplicates so dedup ops have work to do."""
    return st.lists(rows(), min_size=min_size, max_size=max_size).flatmap(
        lambda rs: st.lists(st.sampled_from(rs), max_size=len(rs)).map(lambda dup: rs + dup)
        if rs else st.just(rs))


#: Recipe entries ({op_name: params}) of row-local text ops with parameters in their valid ranges.
op_entries = st.one_of(
    st.just({"whitespace_normalization_mapper": None}),
    st.just({"punctuation_normalization_mapper": None}),
    st.just({"clean_email_mapper": None}),
    st.just({"clean_links_mapper": None}),
    st.integers(0, 50).flatmap(lambda lo: st.integers(lo, 500).map(
        lambda hi: {"text_length_filter": {"min_len": lo, "max_len": hi}})),
    st.integers(0, 5).map(lambda lo: {"words_num_filter": {"lang": "en", "tokenization": False,
                                                           "min_num": lo, "max_num": 10_000}}),
    st.floats(0.1, 1.0).map(lambda hi: {"special_characters_filter": {"min_ratio": 0.0,
                                                                      "max_ratio": round(hi, 2)}}),
)

#: A short recipe: a few text ops, optionally ending in exact dedup.
recipes = st.tuples(
    st.lists(op_entries, min_size=1, max_size=4),
    st.booleans(),
).map(lambda t: t[0] + ([{"document_deduplicator": {"lowercase": False,
                                                     "ignore_non_character": False}}] if t[1] else []))
