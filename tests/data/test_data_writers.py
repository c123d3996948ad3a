"""Writers: formats, column selection, atomic commit/abort, empty outputs, schema changes."""
from __future__ import annotations

import gzip
import json
import os

import pyarrow.parquet as pq
import pytest

from harness.data import ROW_ID, STATS, open_writer, read_dataset
from harness.errors import ConfigError, HarnessError


def read_rows(path):
    return [
        {k: v for k, v in row.items() if k != ROW_ID}
        for chunk in read_dataset(path)
        for row in (dict(zip(chunk.batch, vals)) for vals in zip(*chunk.batch.values()))
    ]


BATCH = {
    "text": ["héllo “world”", "中文。", "tab\there"],
    "n": [1, 2, 3],
    ROW_ID: [0, 1, 2],
    STATS: [{"len": 13}, {"len": 3}, {"len": 8}],
    "__other_internal__": ["x", "y", "z"],
}


def test_jsonl_output_drops_internal_columns_and_keeps_unicode(tmp_path):
    path = tmp_path / "out.jsonl"
    with open_writer(path) as w:
        w.write(BATCH)
    lines = path.read_bytes().decode("utf-8").splitlines()
    assert lines[0] == '{"text": "héllo “world”", "n": 1}'
    assert [json.loads(line) for line in lines] == [
        {"text": "héllo “world”", "n": 1},
        {"text": "中文。", "n": 2},
        {"text": "tab\there", "n": 3},
    ]
    assert w.rows_written == 3


def test_keep_stats_exports_dj_stats(tmp_path):
    path = tmp_path / "out.jsonl"
    with open_writer(path, keep_stats=True) as w:
        w.write(BATCH)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0] == {"text": "héllo “world”", "n": 1, "__dj__stats__": {"len": 13}}
    ppath = tmp_path / "out.parquet"
    with open_writer(ppath, keep_stats=True) as w:
        w.write(BATCH)
    assert pq.read_table(ppath).column_names == ["text", "n", "__dj__stats__"]


@pytest.mark.parametrize("name", ["o.jsonl", "o.json", "o.jsonl.gz", "o.parquet"])
def test_round_trip_in_several_batches(tmp_path, name):
    rows = [{"text": f"t{i} ✓", "n": i, "meta": {"src": "s"}} for i in range(10)]
    path = tmp_path / "nested" / "dir" / name  # parents are created
    with open_writer(path) as w:
        for i in range(0, 10, 3):
            part = rows[i:i + 3]
            w.write({"text": [r["text"] for r in part], "n": [r["n"] for r in part],
                     "meta": [r["meta"] for r in part], ROW_ID: list(range(i, i + len(part)))})
    assert w.rows_written == 10
    assert read_rows(path) == rows
    if name.endswith(".gz"):
        assert gzip.decompress(path.read_bytes()).count(b"\n") == 10
    if name.endswith(".json"):
        assert path.read_text().startswith('{"text"')  # JSON lines, like Data-Juicer's export


def test_gzip_output_is_byte_reproducible(tmp_path):
    outs = []
    for name in ("a.jsonl.gz", "b.jsonl.gz"):
        with open_writer(tmp_path / name) as w:
            w.write(BATCH)
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]


@pytest.mark.parametrize("name", ["o.jsonl", "o.jsonl.gz", "o.parquet"])
def test_abort_leaves_no_partial_output_and_no_temp_file(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(RuntimeError):
        with open_writer(path) as w:
            w.write(BATCH)
            assert not path.exists(), "rows must not reach the destination before commit"
            assert w.temp_path.exists() and w.temp_path.parent == tmp_path
            raise RuntimeError("boom")
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_abort_keeps_previous_output_untouched(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text('{"text": "old"}\n')
    w = open_writer(path)
    w.write(BATCH)
    w.abort()
    w.abort()  # idempotent
    assert path.read_text() == '{"text": "old"}\n'
    assert os.listdir(tmp_path) == ["o.jsonl"]


def test_commit_replaces_and_closes(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text("old\n")
    w = open_writer(path)
    w.write(BATCH)
    assert path.read_text() == "old\n"
    assert w.commit() == path
    assert len(path.read_text().splitlines()) == 3
    assert os.listdir(tmp_path) == ["o.jsonl"]
    with pytest.raises(HarnessError, match="already committed"):
        w.write(BATCH)
    w.abort()  # no effect after commit
    assert path.exists()


def test_empty_outputs(tmp_path):
    with open_writer(tmp_path / "e.jsonl") as w:
        pass
    assert (tmp_path / "e.jsonl").read_bytes() == b""
    with open_writer(tmp_path / "e.jsonl.gz") as w:
        w.write({"text": []})
    assert gzip.decompress((tmp_path / "e.jsonl.gz").read_bytes()) == b""
    with open_writer(tmp_path / "none.parquet") as w:
        pass
    assert pq.read_table(tmp_path / "none.parquet").num_rows == 0
    with open_writer(tmp_path / "cols.parquet") as w:
        w.write({"text": [], "n": [], ROW_ID: []})
    table = pq.read_table(tmp_path / "cols.parquet")
    assert table.num_rows == 0 and table.column_names == ["text", "n"]
    assert list(read_dataset(tmp_path / "cols.parquet")) == []
    assert w.rows_written == 0


def test_parquet_schema_evolves_across_batches(tmp_path):
    path = tmp_path / "evolve.parquet"
    with open_writer(path) as w:
        w.write({"text": ["a"], "maybe": [None], "n": [1]})          # all-null column
        w.write({"text": ["b"], "maybe": ["now text"], "n": [2]})   # null -> string: rewrite
        w.write({"text": ["c"], "n": [3]})                          # missing column -> null
        w.write({"text": ["d"], "maybe": ["x"], "n": [4], "extra": [True]})  # new column
        w.write({"text": ["e"], "maybe": [None], "n": [5.5], "extra": [False]})  # int -> float
    assert read_rows(path) == [
        {"text": "a", "maybe": None, "n": 1.0, "extra": None},
        {"text": "b", "maybe": "now text", "n": 2.0, "extra": None},
        {"text": "c", "maybe": None, "n": 3.0, "extra": None},
        {"text": "d", "maybe": "x", "n": 4.0, "extra": True},
        {"text": "e", "maybe": None, "n": 5.5, "extra": False},
    ]
    assert sorted(os.listdir(tmp_path)) == ["evolve.parquet"]


def test_parquet_mixed_types_explain_themselves(tmp_path):
    with pytest.raises(HarnessError, match="one value type per column"):
        with open_writer(tmp_path / "m.parquet") as w:
            w.write({"text": ["a", "b"], "v": [1, "one"]})
    assert os.listdir(tmp_path) == []


def test_unsupported_output_suffix(tmp_path):
    with pytest.raises(ConfigError, match=r"\.jsonl.*\.parquet"):
        open_writer(tmp_path / "out.csv")
    assert os.listdir(tmp_path) == []


def test_write_rows_and_numpy_values(tmp_path):
    import numpy as np
    path = tmp_path / "o.jsonl"
    with open_writer(path) as w:
        w.write_rows([{"text": "a", "score": np.float32(0.5), "ids": np.arange(2)}])
    assert json.loads(path.read_text()) == {"text": "a", "score": 0.5, "ids": [0, 1]}
