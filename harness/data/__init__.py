"""Data room: batches (dicts of equal-length lists), streaming readers and writers, sample data."""
from harness.data.batch import (
    INTERNAL_PREFIX,
    ROW_ID,
    STATS,
    Batch,
    batch_len,
    batch_to_rows,
    concat_batches,
    public_columns,
    rows_to_batch,
    select,
    slice_batch,
    split_batch,
    take,
)
from harness.data.readers import (
    SUPPORTED_SUFFIXES,
    BadRow,
    CountHint,
    ReadChunk,
    count_hint,
    read_dataset,
)
from harness.data.sample import sample_dataset_path
from harness.data.writers import EXPORT_STATS, DatasetWriter, open_writer

__all__ = [
    "Batch",
    "ROW_ID",
    "STATS",
    "INTERNAL_PREFIX",
    "EXPORT_STATS",
    "SUPPORTED_SUFFIXES",
    "batch_len",
    "batch_to_rows",
    "concat_batches",
    "public_columns",
    "rows_to_batch",
    "select",
    "slice_batch",
    "split_batch",
    "take",
    "BadRow",
    "CountHint",
    "ReadChunk",
    "count_hint",
    "read_dataset",
    "DatasetWriter",
    "open_writer",
    "sample_dataset_path",
]
