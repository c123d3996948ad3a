"""Rows waiting at a barrier are spilled to disk so memory does not grow with the dataset."""
from __future__ import annotations

import os
import pickle
import tempfile
from typing import Iterator

from harness.data.batch import ROW_ID, Batch, batch_len, take


class SpillFile:
    """Append batches, then read them back once, keeping only chosen row ids."""

    def __init__(self, directory: str = "") -> None:
        fd, self.path = tempfile.mkstemp(prefix="harness-spill-", suffix=".pkl",
                                         dir=os.path.expanduser(directory) or None)
        self._file = os.fdopen(fd, "wb")
        self.rows = 0

    def write(self, batch: Batch) -> None:
        if batch_len(batch):
            pickle.dump(batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self.rows += batch_len(batch)

    def read_kept(self, kept: set[int]) -> Iterator[tuple[Batch, int]]:
        """Yield (kept rows of each spilled batch, how many were dropped), then delete the file."""
        self._file.close()
        try:
            with open(self.path, "rb") as f:
                while True:
                    try:
                        batch: Batch = pickle.load(f)
                    except EOFError:
                        break
                    ids = batch[ROW_ID]
                    keep = [i for i, row_id in enumerate(ids) if row_id in kept]
                    yield (batch if len(keep) == len(ids) else take(batch, keep)), len(ids) - len(keep)
        finally:
            self.discard()

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
