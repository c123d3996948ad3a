"""Near-duplicate removal with MinHash LSH, bit-compatible with Data-Juicer's
``document_minhash_deduplicator``.

The row-local part (shingles -> SHA-1 token hashes -> 'permuted' hashes -> per-row minimum) runs
as torch tensor work over a whole batch at once, in blocks of shingles so memory stays bounded;
the same code runs on the CPU and on CUDA. The global part is a barrier: union-find over the LSH
buckets, keeping the smallest row id of each connected component.
"""
from __future__ import annotations

import hashlib
import warnings
from functools import lru_cache
from itertools import accumulate
from typing import Any, ClassVar, Optional, Sequence

import numpy as np
import regex
import torch

from harness.data.batch import Batch, batch_len
from harness.errors import ConfigError, UnsupportedOpConfigError
from harness.ops.base import DedupIndex, Deduplicator
from harness.ops.constants import constants
from harness.ops.registry import register_op

MERSENNE_PRIME = (1 << 61) - 1
MAX_HASH = (1 << 32) - 1
TOKENIZATIONS = ("space", "punctuation", "character")
_PUNCTUATION = regex.compile(r"\p{P}")
#: v | _SUSPECT_MASK == -1 exactly when bits 3..60 of v are all set (as int64: 7 | 7 << 61).
_SUSPECT_MASK = (7 | (7 << 61)) - (1 << 64)


@lru_cache(maxsize=8)
def permutations(num_permutations: int) -> tuple[np.ndarray, np.ndarray]:
    """Data-Juicer's (a, b) as uint64: RandomState(42) draws a then b for each permutation."""
    gen = np.random.RandomState(seed=42)
    pairs = [
        (
            gen.randint(1, np.uint64(MERSENNE_PRIME), dtype=np.uint64),
            gen.randint(0, np.uint64(MERSENNE_PRIME), dtype=np.uint64),
        )
        for _ in range(num_permutations)
    ]
    a, b = np.array(pairs, dtype=np.uint64).T
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


@lru_cache(maxsize=32)
def optimal_param(threshold: float, num_perm: int, fp_weight: float = 0.5,
                  fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimizing the weighted false positive + false negative areas (datasketch).

    The integrands are polynomials of degree bands*rows <= num_perm, so Gauss-Legendre with
    num_perm/2 + 2 nodes integrates them exactly (up to rounding), as scipy's quad does.
    """
    x, w = np.polynomial.legendre.leggauss(num_perm // 2 + 2)
    s_fp = (x + 1) * threshold / 2                       # nodes on [0, threshold]
    s_fn = threshold + (x + 1) * (1 - threshold) / 2     # nodes on [threshold, 1]
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = float(np.dot(1 - (1 - s_fp ** float(r)) ** float(b), w) * threshold / 2)
            fn = float(np.dot((1 - s_fn ** float(r)) ** float(b), w) * (1 - threshold) / 2)
            error = fp * fp_weight + fn * fn_weight
            if error < best:
                best, opt = error, (b, r)
    return opt


def permuted_low32(v: torch.Tensor, work: torch.Tensor, exact_only: bool = False) -> torch.Tensor:
    """In place: ``v`` (int64 read as uint64) becomes ``(v mod (2**61 - 1)) & 0xFFFFFFFF``.

    With u = hi * 2**61 + lo, u mod (2**61 - 1) = s mod (2**61 - 1) where s = hi + lo < 2 * (2**61 - 1).
    The low 32 bits of s are those of v + hi. Only when s >= 2**61 - 1 (which needs bits 3..60 of v
    all set: odds about 2**-58 per value) do they differ; a tensor holding such a value takes the
    exact formula. ``exact_only`` forces it. ``work`` is scratch space of ``v``'s shape.
    """
    exact = exact_only or bool(torch.bitwise_or(v, _SUSPECT_MASK, out=work).max().item() == -1)
    torch.bitwise_right_shift(v, 61, out=work)
    work.bitwise_and_(7)                                   # hi
    if exact:
        v.bitwise_and_(MERSENNE_PRIME).add_(work)          # s = lo + hi
        v.sub_(torch.ge(v, MERSENNE_PRIME).to(torch.int64) * MERSENNE_PRIME)
    else:
        v.add_(work)                                       # same low 32 bits as s
    return v.bitwise_and_(MAX_HASH)


def bands_and_rows(threshold: float, num_permutations: int) -> tuple[int, int]:
    """From the shipped table when the pair is there, else computed like Data-Juicer."""
    table = constants()["minhash_lsh_bands_rows_by_threshold_and_permutations"]
    hit = table.get(f"{float(threshold)!r}/{int(num_permutations)}")
    if hit is not None:
        return int(hit[0]), int(hit[1])
    return optimal_param(float(threshold), int(num_permutations))


class MinHashLSHIndex(DedupIndex):
    """Barrier: rows sharing a band value are joined; the smallest id of each component stays."""

    streaming = False

    def __init__(self, num_bands: int, band_bytes: int) -> None:
        self.num_bands, self.band_bytes = num_bands, band_bytes
        self._ids: list[int] = []
        self._keys: list[bytes] = []

    def add(self, row_ids: Sequence[int], hashes: Sequence[Any]) -> None:
        self._ids.extend(row_ids)
        self._keys.extend(hashes)
        return None

    def kept_ids(self) -> set[int]:
        n = len(self._ids)
        if n == 0:
            return set()
        ids = np.asarray(self._ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        keys = np.frombuffer(b"".join(self._keys), dtype=np.uint8)
        keys = keys.reshape(len(self._keys), self.num_bands, self.band_bytes)[order]
        void = np.dtype((np.void, self.band_bytes))
        src: list[np.ndarray] = []
        dst: list[np.ndarray] = []
        for band in range(self.num_bands):
            values = np.ascontiguousarray(keys[:, band, :]).view(void).ravel()
            # first: each bucket's smallest position (positions are sorted by row id)
            _, first, bucket = np.unique(values, return_index=True, return_inverse=True)
            root = first[bucket.ravel()]
            joined = root != np.arange(n)
            src.append(np.nonzero(joined)[0])
            dst.append(root[joined])
        label = connected_min_labels(n, np.concatenate(src), np.concatenate(dst))
        return set(ids[label == np.arange(n)].tolist())


def connected_min_labels(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """For each of n nodes, the smallest node of its connected component under edges (u, v)."""
    label = np.arange(n, dtype=np.int64)
    if len(u) == 0:
        return label
    while True:
        old = label.copy()
        lu, lv = label[u], label[v]
        low = np.minimum(lu, lv)
        np.minimum.at(label, u, low)
        np.minimum.at(label, v, low)
        label = label[label]  # pointer jumping: a label is always a smaller node of the component
        if np.array_equal(label, old):
            return label


@register_op("document_minhash_deduplicator")
class DocumentMinhashDeduplicator(Deduplicator):
    """Near-duplicate dedup by MinHash LSH over shingles; keeps the first row of each cluster."""

    default_batch_size: ClassVar[int] = 1000
    #: Shingles per block of the signature computation (bounds the working set; not a recipe param).
    shingle_block: ClassVar[int] = 1024

    def __init__(
        self,
        tokenization: str = "space",
        window_size: int = 5,
        lowercase: bool = True,
        ignore_pattern: Optional[str] = None,
        num_permutations: int = 256,
        jaccard_threshold: float = 0.7,
        num_bands: Optional[int] = None,
        num_rows_per_band: Optional[int] = None,
        tokenizer_model: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if tokenization == "sentencepiece":
            raise UnsupportedOpConfigError(
                f"op {self.name!r}: tokenization='sentencepiece' needs a downloaded sentencepiece "
                f"model, which harness does not fetch; use one of {', '.join(TOKENIZATIONS)}"
            )
        if tokenization not in TOKENIZATIONS:
            raise ConfigError(
                f"op {self.name!r}: tokenization must be one of {', '.join(TOKENIZATIONS)}, "
                f"got {tokenization!r}"
            )
        if int(window_size) < 1 or int(num_permutations) < 1:
            raise ConfigError(
                f"op {self.name!r}: window_size and num_permutations must be positive, "
                f"got {window_size} and {num_permutations}"
            )
        if not 0 <= float(jaccard_threshold) <= 1:
            raise ConfigError(
                f"op {self.name!r}: jaccard_threshold must lie in [0, 1], got {jaccard_threshold}"
            )
        self.tokenization, self.window_size, self.lowercase = tokenization, int(window_size), lowercase
        self.ignore_pattern = ignore_pattern
        self.num_permutations, self.jaccard_threshold = int(num_permutations), float(jaccard_threshold)
        self._remember(
            tokenization=tokenization, window_size=window_size, lowercase=lowercase,
            ignore_pattern=ignore_pattern, num_permutations=num_permutations,
            jaccard_threshold=jaccard_threshold, num_bands=num_bands,
            num_rows_per_band=num_rows_per_band, tokenizer_model=tokenizer_model,
        )
        # As Data-Juicer: both given, or both chosen together.
        if num_bands is None or num_rows_per_band is None:
            num_bands, num_rows_per_band = bands_and_rows(self.jaccard_threshold, self.num_permutations)
        self.num_bands, self.num_rows_per_band = int(num_bands), int(num_rows_per_band)
        if self.num_bands * self.num_rows_per_band > self.num_permutations:
            raise ConfigError(
                f"op {self.name!r}: num_bands * num_rows_per_band = "
                f"{self.num_bands * self.num_rows_per_band} exceeds num_permutations="
                f"{self.num_permutations}"
            )
        self._ignore = regex.compile(ignore_pattern) if ignore_pattern else None
        a, b = permutations(self.num_permutations)
        # a, b < 2**61, so their int64 reading is the same number.
        self._perm_a = torch.from_numpy(a.view(np.int64).copy())
        self._perm_b = torch.from_numpy(b.view(np.int64).copy())

    # -- shingles ---------------------------------------------------------------------------
    def _prepare(self, text: str) -> str:
        if self.lowercase:
            text = text.lower()
        if self._ignore is not None:
            text = self._ignore.sub("", text)
        return text

    def shingles(self, text: str) -> list[bytes]:
        """The row's shingles, UTF-8 encoded; words are split on ' ' only, as Data-Juicer does.

        Data-Juicer hashes the *set* of shingles; repeats here cannot change a minimum.
        """
        text, w = self._prepare(text), self.window_size
        if self.tokenization == "character":
            return [text[i : i + w].encode("utf-8") for i in range(len(text) - w + 1)]
        if self.tokenization == "punctuation":
            tokens = _PUNCTUATION.split(text)
            return [" ".join(tokens[i : i + w]).encode("utf-8") for i in range(len(tokens) - w + 1)]
        # space: b' ' only occurs as ' ' in UTF-8, so splitting the bytes equals splitting the text;
        # a window of the single-spaced rejoined text is the window's ' '.join.
        words = [t for t in text.encode("utf-8").split(b" ") if t]
        if len(words) < w:
            return []
        joined = b" ".join(words)
        ends = list(accumulate(len(t) + 1 for t in words))  # one past each word's separator
        starts = [0, *ends[: len(words) - w]]
        return [joined[a : e - 1] for a, e in zip(starts, ends[w - 1 :])]

    def token_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """All rows' shingle hashes (uint32 as int64) and each row's start offset (len n+1)."""
        sha1 = hashlib.sha1
        digests: list[bytes] = []
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        for i, text in enumerate(texts):
            digests.extend([sha1(t).digest() for t in self.shingles(text)])
            offsets[i + 1] = len(digests)
        # h = the first 4 digest bytes read little-endian: word 0 of each 20-byte digest.
        words = np.frombuffer(b"".join(digests), dtype="<u4").reshape(-1, 5)
        return words[:, 0].astype(np.int64), offsets

    # -- signatures -------------------------------------------------------------------------
    def signatures(self, texts: Sequence[str]) -> torch.Tensor:
        """(rows, num_permutations) int64 MinHash signatures on ``self.torch_device``."""
        hashes, offsets = self.token_hashes(texts)
        return self.signatures_from_hashes(hashes, offsets)

    def signatures_from_hashes(
        self, hashes: np.ndarray, offsets: np.ndarray, exact_only: bool = False
    ) -> torch.Tensor:
        """Signatures from concatenated token hashes; rows without shingles get all MAX_HASH.

        Per block of shingles, v = a*h + b wraps in int64 exactly like uint64 does, then
        ``permuted_low32`` takes the unsigned value mod 2**61 - 1 and its low 32 bits, and
        ``index_reduce_`` keeps each row's minimum. ``exact_only`` is passed to permuted_low32.
        """
        device = torch.device(self.torch_device)
        rows, perms = len(offsets) - 1, self.num_permutations
        out = torch.full((rows, perms), MAX_HASH, dtype=torch.int64, device=device)
        total = int(offsets[-1])
        if total == 0:
            return out
        a, b = self._perm_a.to(device), self._perm_b.to(device)
        segment = torch.from_numpy(np.repeat(np.arange(rows, dtype=np.int64), np.diff(offsets)))
        segment = segment.to(device)
        h_all = torch.from_numpy(np.ascontiguousarray(hashes, dtype=np.int64)).to(device)
        block = max(1, min(self.shingle_block, total))
        v_buf = torch.empty((block, perms), dtype=torch.int64, device=device)
        w_buf = torch.empty((block, perms), dtype=torch.int64, device=device)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*index_reduce.*beta.*")
            for start in range(0, total, block):
                stop = min(start + block, total)
                v, w = v_buf[: stop - start], w_buf[: stop - start]
                torch.mul(h_all[start:stop, None], a, out=v)
                v.add_(b)
                permuted_low32(v, w, exact_only)
                out.index_reduce_(0, segment[start:stop], v, "amin", include_self=True)
        return out

    def band_keys(self, signatures: torch.Tensor) -> list[bytes]:
        """Per row: the bands' values as little-endian uint32 bytes, band after band."""
        used = self.num_bands * self.num_rows_per_band
        sig = signatures[:, :used].to("cpu").numpy().astype("<u4")
        return [row.tobytes() for row in sig]

    def compute_hash_batched(self, batch: Batch) -> list[bytes]:
        """One ``bytes`` per row: its band values, 4 * num_rows_per_band bytes per band."""
        if batch_len(batch) == 0:
            return []
        return self.band_keys(self.signatures(self.texts(batch)))

    def new_index(self) -> MinHashLSHIndex:
        return MinHashLSHIndex(self.num_bands, 4 * self.num_rows_per_band)

    # -- device memory model ----------------------------------------------------------------
    def _working_bytes(self, shingles: int, rows: int) -> int:
        block = min(max(1, self.shingle_block), max(1, shingles))
        perms = self.num_permutations
        # h*a (+b in place), hi (shift, and), the where() result and the & result live at once:
        # ~4 int64 block x perms tensors; plus the expanded index view (no copy) and the inputs.
        working = 4 * block * perms * 8
        inputs = shingles * 8 * 2 + 2 * perms * 8
        output = rows * perms * 8
        return working + inputs + output

    def device_memory_bytes(self, batch: Batch) -> int:
        """Bytes of device memory the signatures of ``batch`` need (estimated shingle count)."""
        texts = self.texts(batch)
        if self.tokenization == "character":
            shingles = sum(max(0, len(t) - self.window_size) for t in texts)
        else:
            shingles = sum(max(0, t.count(" ") + 1 - self.window_size) for t in texts)
        return self._working_bytes(shingles, len(texts))

    def bytes_per_row_estimate(self) -> int:
        """Marginal bytes of one more row with ~100 shingles: its signature row and its share of
        the shingle inputs (the fixed block working set is not per row)."""
        return self.num_permutations * 8 + 100 * 8 * 2
