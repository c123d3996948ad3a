"""The registry refuses ambiguity and explains every refusal."""
from __future__ import annotations

import pytest

from harness.errors import ConfigError, UnknownOpError, UnsupportedOpConfigError
from harness.ops import Filter, build_op, get_op_class, register_op, registered_ops


def test_duplicate_name_is_refused() -> None:
    existing = get_op_class("text_length_filter")

    class Impostor(Filter):
        stat_key = "text_len"

        @property
        def bounds(self) -> tuple[float, float]:
            return 0, 1

    with pytest.raises(ValueError, match="already registered"):
        register_op("text_length_filter")(Impostor)
    assert get_op_class("text_length_filter") is existing


def test_unknown_op_lists_close_matches() -> None:
    with pytest.raises(UnknownOpError) as info:
        build_op({"text_lenght_filter": {"min_len": 5}})
    message = str(info.value)
    assert "text_lenght_filter" in message
    assert "Did you mean" in message and "text_length_filter" in message


def test_unknown_param_names_key_and_allowed_params() -> None:
    with pytest.raises(ConfigError) as info:
        build_op({"character_repetition_filter": {"rep_length": 5}})
    message = str(info.value)
    assert "'rep_length'" in message
    for allowed in ("rep_len", "min_ratio", "max_ratio", "text_key"):
        assert allowed in message


@pytest.mark.parametrize(
    "entry",
    [
        {"words_num_filter": {"tokenization": True}},
        {"alphanumeric_filter": {"tokenization": True}},
        {"word_repetition_filter": {"tokenization": True}},
    ],
)
def test_tokenization_true_is_rejected_clearly(entry: dict) -> None:
    with pytest.raises(UnsupportedOpConfigError) as info:
        build_op(entry)
    message = str(info.value)
    assert "tokenization" in message and "sentencepiece" in message


def test_minhash_sentencepiece_is_rejected_clearly() -> None:
    with pytest.raises(UnsupportedOpConfigError, match="sentencepiece"):
        build_op({"document_minhash_deduplicator": {"tokenization": "sentencepiece"}})


def test_every_spec_op_is_registered() -> None:
    spec_ops = {
        "whitespace_normalization_mapper", "clean_email_mapper", "clean_links_mapper",
        "punctuation_normalization_mapper", "remove_repeat_sentences_mapper",
        "text_length_filter", "words_num_filter", "alphanumeric_filter",
        "character_repetition_filter", "word_repetition_filter", "special_characters_filter",
        "average_line_length_filter", "maximum_line_length_filter",
        "document_deduplicator", "document_minhash_deduplicator",
    }
    assert spec_ops <= set(registered_ops())


@pytest.mark.parametrize("name", sorted(
    n for n in registered_ops() if n != "document_simhash_deduplicator"
))
def test_op_rebuilds_from_its_spec(name: str) -> None:
    op = build_op({name: {}})
    again = build_op({op.spec()[0]: op.spec()[1]})
    assert again.signature() == op.signature()
