"""MinHash: the torch signatures equal a plain numpy uint64 reference bit for bit; LSH bands and
the union-find keep rule behave like Data-Juicer's."""
from __future__ import annotations

import hashlib
import re
import struct

import numpy as np
import regex
import torch
from hypothesis import given
from hypothesis import strategies as st

from harness.ops import build_op
from harness.ops.constants import constants
from harness.ops.minhash import (
    MinHashLSHIndex,
    bands_and_rows,
    optimal_param,
    permuted_low32,
)

PRIME = np.uint64((1 << 61) - 1)
MAX = np.uint64((1 << 32) - 1)


def reference_signature(text: str, tokenization: str, window: int, lowercase: bool,
                        num_perm: int) -> np.ndarray:
    """Data-Juicer's compute_hash, written out with numpy uint64 arithmetic."""
    if lowercase:
        text = text.lower()
    if tokenization == "character":
        tokens = {text[i : i + window].encode() for i in range(len(text) - window + 1)}
    else:
        if tokenization == "punctuation":
            words = regex.split(r"\p{P}", text)
        else:
            words = [w for w in re.split(" ", text) if w]
        tokens = {" ".join(words[i : i + window]).encode() for i in range(len(words) - window + 1)}
    gen = np.random.RandomState(seed=42)
    a, b = np.array(
        [(gen.randint(1, PRIME, dtype=np.uint64), gen.randint(0, PRIME, dtype=np.uint64))
         for _ in range(num_perm)],
        dtype=np.uint64,
    ).T
    if not tokens:
        return np.full(num_perm, MAX, dtype=np.uint64)
    hv = np.array(
        [struct.unpack("<I", hashlib.sha1(t).digest()[:4])[0] for t in tokens], dtype=np.uint64
    )
    with np.errstate(over="ignore"):
        phv = np.bitwise_and((hv[:, None] * a + b) % PRIME, MAX)
    return phv.min(axis=0)


_words = st.sampled_from(["a", "b", "the", "ünï", "数据", "x.y", "!", "", " ", "\n", "\t", "😀"])
_texts = st.one_of(
    st.text(max_size=60),
    st.lists(_words, max_size=30).map(" ".join),
    st.lists(_words, max_size=30).map("".join),
    st.sampled_from(["", " ", "a", "A B C D E F", "a b c d e", "a  b   c d e f g"]),
)


@given(
    texts=st.lists(_texts, min_size=1, max_size=8),
    tokenization=st.sampled_from(["space", "punctuation", "character"]),
    window=st.integers(min_value=1, max_value=6),
    lowercase=st.booleans(),
    num_perm=st.sampled_from([1, 7, 64, 256]),
)
def test_torch_signatures_equal_numpy_reference(texts, tokenization, window, lowercase, num_perm):
    op = build_op({"document_minhash_deduplicator": {
        "tokenization": tokenization, "window_size": window, "lowercase": lowercase,
        "num_permutations": num_perm, "num_bands": 1, "num_rows_per_band": 1,
    }})
    op.shingle_block = 5  # several blocks, blocks that split rows
    got = op.signatures(texts).cpu().numpy().astype(np.uint64)
    want = np.stack([reference_signature(t, tokenization, window, lowercase, num_perm) for t in texts])
    assert np.array_equal(got, want)


@given(st.lists(st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1), min_size=1, max_size=50),
       st.lists(st.integers(min_value=0, max_value=7), max_size=5))
def test_permuted_low32_matches_unsigned_mod(values, near_prime_tails):
    # Add values whose bits 3..60 are all set: the only ones where the fast formula needs the
    # exact path (s >= 2**61 - 1 becomes possible).
    crafted = [((top << 61) | ((1 << 61) - 8) | low) for top in (0, 3, 7) for low in near_prime_tails]
    crafted = [c - (1 << 64) if c >= (1 << 63) else c for c in crafted]
    ints = values + crafted
    want = [((v % (1 << 64)) % ((1 << 61) - 1)) & 0xFFFFFFFF for v in ints]
    for exact_only in (False, True):
        v = torch.tensor(ints, dtype=torch.int64)
        got = permuted_low32(v, torch.empty_like(v), exact_only).tolist()
        assert got == want


def test_rows_without_shingles_get_max_hash_and_collide() -> None:
    op = build_op({"document_minhash_deduplicator": {}})
    sig = op.signatures(["", "two words", "a b c d e f g h"]).cpu().numpy()
    assert (sig[0] == 0xFFFFFFFF).all() and (sig[1] == 0xFFFFFFFF).all()
    assert not (sig[2] == 0xFFFFFFFF).all()
    assert op.keep_flags({"text": ["", "two words", "a b c d e f g h"]}) == [True, False, True]


def test_ignore_pattern_and_lowercase() -> None:
    op = build_op({"document_minhash_deduplicator": {"ignore_pattern": r"\d+", "window_size": 2}})
    flags = op.keep_flags({"text": ["Alpha beta gamma delta", "alpha1 BETA gamma2 delta33"]})
    assert flags == [True, False]
    keep_case = build_op({"document_minhash_deduplicator": {"lowercase": False, "window_size": 2}})
    assert keep_case.keep_flags({"text": ["Alpha beta gamma", "alpha beta gamma"]}) == [True, True]


def test_band_table_lookup_and_computed_pairs() -> None:
    table = constants()["minhash_lsh_bands_rows_by_threshold_and_permutations"]
    assert bands_and_rows(0.7, 256) == (25, 10)
    for key, (bands, rows) in table.items():
        threshold, perms = key.split("/")
        assert bands_and_rows(float(threshold), int(perms)) == (bands, rows)
        # the computation reproduces every shipped entry
        assert optimal_param(float(threshold), int(perms)) == (bands, rows)
    b, r = bands_and_rows(0.75, 100)  # not in the table: computed
    assert (b, r) == optimal_param(0.75, 100) and b * r <= 100


def test_given_bands_and_rows_are_used_only_together() -> None:
    both = build_op({"document_minhash_deduplicator": {"num_bands": 4, "num_rows_per_band": 3}})
    assert (both.num_bands, both.num_rows_per_band) == (4, 3)
    one = build_op({"document_minhash_deduplicator": {"num_bands": 4}})
    assert (one.num_bands, one.num_rows_per_band) == (25, 10)  # Data-Juicer ignores a lone one


def _index(keys: list[tuple[bytes, ...]], ids: list[int] | None = None) -> set[int]:
    index = MinHashLSHIndex(num_bands=len(keys[0]), band_bytes=len(keys[0][0]))
    ids = list(range(len(keys))) if ids is None else ids
    half = len(keys) // 2
    index.add(ids[:half], [b"".join(k) for k in keys[:half]])
    index.add(ids[half:], [b"".join(k) for k in keys[half:]])
    return index.kept_ids()


def test_union_find_keeps_smallest_of_component_when_later_row_joins_two() -> None:
    # rows 0 and 1 share nothing; row 2 shares band 0 with row 0 and band 1 with row 1, so the
    # later row 2 merges two earlier components and only row 0 of them stays.
    keys = [
        (b"A", b"X"),
        (b"B", b"Y"),
        (b"A", b"Y"),   # joins {0} and {1}
        (b"C", b"Z"),   # alone
        (b"D", b"Z"),   # joins 3 through band 1
        (b"B", b"W"),   # joins component of 0 through row 1
    ]
    assert _index(keys) == {0, 3}
    # ids need not start at 0 or be dense; the decision uses them
    assert _index(keys, ids=[10, 11, 15, 20, 21, 30]) == {10, 20}


def _reference_kept(keys: list[tuple[bytes, ...]]) -> set[int]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        if parent[x] != x:
            parent[x] = find(parent[x])
        return parent[x]

    def union(x: int, y: int) -> None:
        px, py = find(x), find(y)
        parent[px] = parent[py] = min(px, py)

    for band in range(len(keys[0])):
        buckets: dict[bytes, set[int]] = {}
        for i, k in enumerate(keys):
            buckets.setdefault(k[band], set()).add(i)
        for members in buckets.values():
            if len(members) > 1:
                low = min(members)
                for x in members:
                    union(x, low)
    return {i for i in range(len(keys)) if find(i) == i}


@given(st.lists(st.tuples(st.sampled_from([b"a", b"b", b"c", b"d", b"e"]),
                          st.sampled_from([b"p", b"q", b"r", b"s", b"t"]),
                          st.sampled_from([b"u", b"v", b"w", b"x", b"y"])), min_size=1, max_size=40))
def test_index_matches_data_juicer_union_find(keys):
    assert _index(keys) == _reference_kept(keys)


def test_device_memory_model_grows_with_batch() -> None:
    op = build_op({"document_minhash_deduplicator": {}})
    small = op.device_memory_bytes({"text": ["a b c d e f g"] * 10})
    large = op.device_memory_bytes({"text": ["a b c d e f g " * 50] * 100})
    assert 0 < small < large
    assert op.bytes_per_row_estimate() > 256 * 8
    # honest: at least the output signatures plus one block's working set
    assert large >= 100 * 256 * 8 + op.shingle_block * 256 * 8
