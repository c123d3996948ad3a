"""Op base classes. The base class owns the batching loop; a subclass fills in one hook.

* ``Mapper.process_text`` (or ``process_batched`` for vectorized work) rewrites texts.
* ``Filter.compute_stat`` (or ``compute_stats_batched``) computes one statistic per row; the
  base class stores it under ``__stats__[stat_key]`` and applies the closed-interval keep rule.
* ``Deduplicator.compute_hash_batched`` is the row-local, parallel part; ``new_index`` returns
  the global decision (streaming for exact dedup, a barrier for MinHash).
"""
from __future__ import annotations

import inspect
import json
import sys
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

from harness.data.batch import STATS, Batch, batch_len
from harness.errors import ConfigError

#: Data-Juicer's generic op keys. They are accepted so recipes run unchanged; those that mean
#: nothing here are reported once (see ``Op.ignored_params``).
DATA_JUICER_GENERIC_KEYS = frozenset(
    {
        "num_proc", "mem_required", "cpu_required", "gpu_required", "skip_op_error", "turbo",
        "work_dir", "image_key", "audio_key", "video_key", "query_key", "response_key",
        "history_key", "index_key", "batch_size", "stats_export_path", "auto_op_parallelism",
    }
)


class Op(ABC):
    """One recipe step. Subclasses declare their parameters as keyword arguments of ``__init__``."""

    #: Registry name (set by ``register_op``).
    name: ClassVar[str] = ""
    #: 'mapper', 'filter' or 'deduplicator'.
    kind: ClassVar[str] = ""
    #: Preferred rows per batch.
    default_batch_size: ClassVar[int] = 1000
    #: True when the op's result for a row depends only on that row.
    row_local: ClassVar[bool] = True

    def __init__(self, text_key: str = "text", accelerator: str = "cpu", **generic: Any) -> None:
        unknown = sorted(set(generic) - DATA_JUICER_GENERIC_KEYS)
        if unknown:
            allowed = sorted(self._own_param_names() | {"text_key", "accelerator"})
            raise ConfigError(
                f"op {self.name!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters are: {', '.join(allowed)}"
            )
        if accelerator not in ("cpu", "cuda", "gpu"):
            raise ConfigError(
                f"op {self.name!r}: accelerator must be 'cpu' or 'cuda', got {accelerator!r}"
            )
        self.text_key = text_key
        #: 'cpu' or 'cuda': where the op would like to run. The strategy decides where it does.
        self.accelerator = "cuda" if accelerator == "gpu" else accelerator
        self.batch_size = int(generic.get("batch_size") or self.default_batch_size)
        #: torch device string the op computes on ('cpu', 'cuda:0'); set by the strategy.
        self.torch_device = "cpu"
        self.ignored_params = sorted(set(generic) - {"batch_size"})
        self._init_params = {"text_key": text_key, "accelerator": self.accelerator, **generic}

    @classmethod
    def _own_param_names(cls) -> set[str]:
        names: set[str] = set()
        for klass in cls.__mro__:
            if klass is Op or "__init__" not in vars(klass):
                continue
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD:
                    names.add(p.name)
        names.discard("self")
        return names

    def _remember(self, **params: Any) -> None:
        """Subclasses call this with their own parameters so the op can be rebuilt elsewhere."""
        self._init_params.update(params)

    # -- identity ---------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, Any]:
        """The parameters this op was built with (enough to rebuild it in a worker)."""
        return dict(self._init_params)

    def spec(self) -> tuple[str, dict[str, Any]]:
        """``(name, params)``: a picklable description that rebuilds an equal op."""
        return self.name, self.params

    def signature(self) -> str:
        """Stable text naming the op and its parameters (used as a cache key)."""
        return f"{self.name}:{json.dumps(self.params, sort_keys=True, default=str)}"

    # -- resources --------------------------------------------------------------------------
    #: True when ``device_memory_bytes`` models torch allocations, which a simulated device
    #: already counts as they happen; False when it models work torch cannot see.
    device_memory_is_torch: ClassVar[bool] = True

    def device_memory_bytes(self, batch: Batch) -> int:
        """Device memory one call on ``batch`` needs (the model the batch sizer and simulated
        devices use)."""
        return 0

    def bytes_per_row_estimate(self) -> int:
        """Device bytes each extra row costs, for the batch sizer (0: no model). Fixed working
        memory is left out, so the first guess can be optimistic; OOM recovery corrects it."""
        return 0

    def run_on(self, torch_device: str) -> None:
        """Point the op's tensor work at ``torch_device`` ('cpu', 'cuda:0', ...)."""
        self.torch_device = torch_device

    def texts(self, batch: Batch) -> list[Any]:
        """The column this op reads; a clear error when it is missing."""
        try:
            return batch[self.text_key]
        except KeyError:
            raise KeyError(
                f"op {self.name!r} reads column {self.text_key!r}, which the batch lacks "
                f"(columns: {sorted(batch)})"
            ) from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.signature()}>"


class Mapper(Op):
    """Rewrites the text of each row."""

    kind = "mapper"

    def process_text(self, text: str) -> str:
        """Hook: the new text for one row."""
        raise NotImplementedError(f"{type(self).__name__} must implement process_text")

    def process_batched(self, batch: Batch) -> Batch:
        """The batch with its text column rewritten."""
        out = dict(batch)
        out[self.text_key] = [self.process_text(t) for t in self.texts(batch)]
        return out


class Filter(Op):
    """Computes one statistic per row and keeps rows whose statistic lies in [min, max]."""

    kind = "filter"
    #: Key of the statistic in ``__stats__``.
    stat_key: ClassVar[str] = ""

    @property
    @abstractmethod
    def bounds(self) -> tuple[float, float]:
        """(min, max) of the keep rule, both inclusive."""

    def compute_stat(self, text: str) -> float:
        """Hook: the statistic of one text."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_stat")

    def compute_stats_list(self, texts: Sequence[str]) -> list[Any]:
        """The statistic for each text; override for vectorized work."""
        return [self.compute_stat(t) for t in texts]

    def compute_stats_batched(self, batch: Batch) -> Batch:
        """The batch with this op's statistic added to each row's ``__stats__`` dict."""
        values = self.compute_stats_list(self.texts(batch))
        old = batch.get(STATS) or [None] * batch_len(batch)
        out = dict(batch)
        out[STATS] = [
            {**(stats or {}), self.stat_key: value} for stats, value in zip(old, values)
        ]
        return out

    def process_batched(self, batch: Batch) -> list[bool]:
        """Keep flags from the statistics ``compute_stats_batched`` stored."""
        low, high = self.bounds
        return [low <= stats[self.stat_key] <= high for stats in batch[STATS]]


class DedupIndex(ABC):
    """The global part of a deduplicator: sees rows' hashes in input order."""

    #: True when ``add`` can decide at once (exact dedup); False for a barrier (MinHash).
    streaming: ClassVar[bool] = True

    @abstractmethod
    def add(self, row_ids: Sequence[int], hashes: Sequence[Any]) -> list[bool] | None:
        """Record rows (in input order). Streaming indexes return keep flags; barriers None."""

    def kept_ids(self) -> set[int]:
        """For a barrier, after every row was added: the row ids to keep."""
        raise NotImplementedError("a streaming index decides in add()")


class Deduplicator(Op):
    """Removes rows that duplicate an earlier row; keeps the first occurrence."""

    kind = "deduplicator"

    @abstractmethod
    def compute_hash_batched(self, batch: Batch) -> list[Any]:
        """Hook: one hash value per row (row-local: runs in workers, may run on a GPU)."""

    @abstractmethod
    def new_index(self) -> DedupIndex:
        """A fresh global index that turns hashes into keep decisions."""

    @property
    def is_barrier(self) -> bool:
        """True when no row can leave this op before every row has arrived."""
        return not self.new_index().streaming

    def keep_flags(self, batch: Batch) -> list[bool]:
        """Keep flags for one whole dataset given as a single batch (the op-level API)."""
        hashes = self.compute_hash_batched(batch)
        index = self.new_index()
        row_ids = list(range(batch_len(batch)))
        flags = index.add(row_ids, hashes)
        if flags is None:
            kept = index.kept_ids()
            flags = [i in kept for i in row_ids]
        return flags


MAXSIZE = sys.maxsize
