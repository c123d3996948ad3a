"""Property: any list of rows written as JSONL or Parquet and read back equals the input."""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data import ROW_ID, open_writer, read_dataset, rows_to_batch, split_batch

unicode_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "text": unicode_text,
            "id": st.integers(min_value=-(2**63), max_value=2**63 - 1),
            "score": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
            "meta": st.fixed_dictionaries({"lang": unicode_text, "ok": st.booleans()}),
        }
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(rows=rows_strategy, batch_size=st.integers(1, 8),
       suffix=st.sampled_from([".jsonl", ".jsonl.gz", ".parquet"]))
def test_written_rows_read_back_equal(rows, batch_size, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"out{suffix}"
        with open_writer(path) as writer:
            batch = rows_to_batch(rows)
            batch[ROW_ID] = list(range(len(rows)))
            for part in split_batch(batch, batch_size):
                writer.write(part)
        assert writer.rows_written == len(rows)
        back, ids = [], []
        for chunk in read_dataset(path, batch_size=batch_size):
            assert chunk.bad_rows == []
            ids.extend(chunk.batch[ROW_ID])
            cols = [c for c in chunk.batch if c != ROW_ID]
            back.extend(dict(zip(cols, vals)) for vals in zip(*(chunk.batch[c] for c in cols)))
        assert back == rows
        assert ids == list(range(len(rows)))
