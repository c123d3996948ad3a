"""Readers: formats, batching, row ids, bad-input handling."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.data import ROW_ID, BadRow, ReadChunk, count_hint, read_dataset
from harness.data import readers as readers_mod
from harness.errors import BadInputRowError, ConfigError, InputError


def read_all(source, **kw) -> tuple[list[dict], list[BadRow], list[ReadChunk]]:
    chunks = list(read_dataset(source, **kw))
    rows, bad = [], []
    for chunk in chunks:
        cols = list(chunk.batch)
        for values in zip(*(chunk.batch[c] for c in cols)):
            rows.append(dict(zip(cols, values)))
        bad.extend(chunk.bad_rows)
    return rows, bad, chunks


def strip_ids(rows):
    return [{k: v for k, v in r.items() if k != ROW_ID} for r in rows]


ROWS = [
    {"id": i, "text": f"row {i} “quoted” 中文 {'x' * (i % 7)}", "meta": {"lang": "en", "n": i}}
    for i in range(25)
]


def write_jsonl(path: Path, rows, gz=False):
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# ---- formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["d.jsonl", "d.ndjson", "d.jsonl.gz", "d.json", "d.json.gz"])
def test_jsonl_like_files_read_back(tmp_path, name):
    path = write_jsonl(tmp_path / name, ROWS, gz=name.endswith(".gz"))
    rows, bad, _ = read_all(path, batch_size=10)
    assert bad == []
    assert strip_ids(rows) == ROWS
    assert [r[ROW_ID] for r in rows] == list(range(len(ROWS)))


@pytest.mark.parametrize("indent", [None, 2])
def test_json_array_read_back(tmp_path, indent):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(ROWS, ensure_ascii=False, indent=indent), encoding="utf-8")
    rows, bad, _ = read_all(path, batch_size=7)
    assert bad == []
    assert strip_ids(rows) == ROWS


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64])
def test_json_array_streams_across_read_boundaries(tmp_path, monkeypatch, chunk):
    # tiny read chunks cut numbers, strings and multi-byte characters in every possible place
    monkeypatch.setattr(readers_mod, "_JSON_READ_CHUNK", chunk)
    rows_in = [{"text": "é中" * i, "n": 12345678901234 + i, "f": 1.5e-7 * i} for i in range(6)]
    path = tmp_path / "d.json"
    path.write_text(" \n\ufeff"[2:] + json.dumps(rows_in, ensure_ascii=False), encoding="utf-8")
    rows, bad, _ = read_all(path)
    assert bad == []
    assert strip_ids(rows) == rows_in


def test_json_array_empty_and_with_bom(tmp_path):
    (tmp_path / "e.json").write_text("  [ ]  \n")
    assert list(read_dataset(tmp_path / "e.json")) == []
    (tmp_path / "b.json").write_bytes(b"\xef\xbb\xbf" + json.dumps([{"text": "a"}]).encode())
    rows, bad, _ = read_all(tmp_path / "b.json")
    assert strip_ids(rows) == [{"text": "a"}] and bad == []


def test_json_file_without_bracket_is_read_as_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "lines.json", ROWS[:3])
    rows, bad, _ = read_all(path)
    assert strip_ids(rows) == ROWS[:3] and bad == []


def test_parquet_read_back(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path, row_group_size=4)
    rows, bad, chunks = read_all(path, batch_size=10)
    assert bad == []
    assert strip_ids(rows) == ROWS
    assert [len(c.batch[ROW_ID]) for c in chunks] == [10, 10, 5]
    assert count_hint(path).rows == len(ROWS)


def test_iterable_and_column_dict_sources():
    rows_in = [dict(r) for r in ROWS[:5]]
    rows, bad, _ = read_all(iter(rows_in), batch_size=2)
    assert strip_ids(rows) == ROWS[:5] and bad == []
    assert all(ROW_ID not in r for r in rows_in), "input dicts must not be mutated"
    columns = {"text": ["a", "b"], "n": [1, 2]}
    rows, _, _ = read_all(columns)
    assert rows == [{"text": "a", "n": 1, ROW_ID: 0}, {"text": "b", "n": 2, ROW_ID: 1}]
    assert count_hint(rows_in).rows == 5


def test_rows_with_different_keys_fill_none():
    rows, _, chunks = read_all([{"text": "a", "x": 1}, {"text": "b", "y": 2}])
    assert chunks[0].batch == {"text": ["a", "b"], "x": [1, None], "y": [None, 2], ROW_ID: [0, 1]}


def test_multiple_text_keys():
    rows_in = [{"q": "a", "a": "b"}, {"q": "c", "a": 3}, {"q": "d"}]
    rows, bad, _ = read_all(rows_in, text_keys=["q", "a"])
    assert strip_ids(rows) == [rows_in[0]]
    assert [(b.line, b.reason) for b in bad] == [
        (2, "text field 'a' is not a string (got int)"),
        (3, "missing text field 'a'"),
    ]
    # a single string is accepted as one key
    assert len(read_all(rows_in, text_keys="q")[0]) == 3


# ---- batching and row ids ------------------------------------------------------------------------


def test_batch_sizes_and_row_id_continuity(tmp_path):
    rows_in = [{"text": f"t{i}"} for i in range(2500)]
    path = write_jsonl(tmp_path / "big.jsonl", rows_in)
    _, _, chunks = read_all(path, batch_size=1000)
    assert [len(c.batch["text"]) for c in chunks] == [1000, 1000, 500]
    ids = [i for c in chunks for i in c.batch[ROW_ID]]
    assert ids == list(range(2500))
    assert [c.batch["text"][0] for c in chunks] == ["t0", "t1000", "t2000"]


def test_directory_reads_sorted_files_with_continuous_ids(tmp_path):
    d = tmp_path / "ds"
    d.mkdir()
    write_jsonl(d / "b.jsonl", [{"text": f"b{i}"} for i in range(4)])
    write_jsonl(d / "a.jsonl.gz", [{"text": f"a{i}"} for i in range(3)], gz=True)
    pq.write_table(pa.Table.from_pylist([{"text": f"c{i}"} for i in range(2)]), d / "c.parquet")
    (d / "notes.txt").write_text("ignored")
    (d / ".hidden.jsonl").write_text('{"text": "hidden"}\n')
    rows, bad, chunks = read_all(d, batch_size=4)
    assert [r["text"] for r in rows] == ["a0", "a1", "a2", "b0", "b1", "b2", "b3", "c0", "c1"]
    assert [r[ROW_ID] for r in rows] == list(range(9))
    assert [len(c.batch[ROW_ID]) for c in chunks] == [4, 4, 1]
    assert count_hint(d).rows is None and count_hint(d).bytes > 0


def test_bad_rows_consume_ids_and_count_toward_chunk_size(tmp_path):
    lines = []
    for i in range(10):
        lines.append(json.dumps({"text": f"t{i}"}) if i % 3 else "{broken")
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rows, bad, chunks = read_all(path, batch_size=4)
    assert [c.num_records for c in chunks] == [4, 4, 2]
    assert sorted([r[ROW_ID] for r in rows] + [b.row_id for b in bad]) == list(range(10))
    assert [b.row_id for b in bad] == [0, 3, 6, 9]
    assert [b.line for b in bad] == [1, 4, 7, 10]


def test_chunk_with_only_bad_rows_has_empty_batch():
    chunks = list(read_dataset([1, 2], batch_size=5))
    assert len(chunks) == 1
    assert chunks[0].batch == {ROW_ID: []}
    assert [b.reason for b in chunks[0].bad_rows] == ["row is not a JSON object (got number)"] * 2


# ---- bad input -----------------------------------------------------------------------------------


def bad_jsonl(tmp_path) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"text": "good 0"}\n'                    # line 1, id 0
        b'{"text": "a" "b"}\n'                     # line 2, id 1: invalid JSON
        b'{"content": "no text"}\n'                # line 3, id 2: missing key
        b'{"text": 42}\n'                          # line 4, id 3: not a string
        b'\n'                                      # line 5: blank, not a record
        b'{"text": "caf\xe9 bad bytes"}\n'          # line 6, id 4: invalid UTF-8 at byte 14
        b'["text", "a list"]\n'                    # line 7, id 5: not an object
        b'{"text": null}\n'                        # line 8, id 6: null text
        b'{"text": "good 7"}'                      # line 9, id 7 (no final newline)
    )
    return path


def test_bad_jsonl_rows_are_quarantined_with_file_line_reason_and_id(tmp_path):
    path = bad_jsonl(tmp_path)
    rows, bad, _ = read_all(path, batch_size=100)
    assert [(r["text"], r[ROW_ID]) for r in rows] == [("good 0", 0), ("good 7", 7)]
    got = [(b.source, b.line, b.row_id, b.reason) for b in bad]
    assert got == [
        (str(path), 2, 1, "invalid JSON: Expecting ',' delimiter at column 14"),
        (str(path), 3, 2, "missing text field 'text'"),
        (str(path), 4, 3, "text field 'text' is not a string (got int)"),
        (str(path), 6, 4, "invalid UTF-8 at byte 14"),
        (str(path), 7, 5, "row is not a JSON object (got array)"),
        (str(path), 8, 6, "text field 'text' is not a string (got null)"),
    ]
    assert bad[0].raw == '{"text": "a" "b"}'
    assert bad[1].raw == {"content": "no text"}
    assert bad[3].raw == '{"text": "caf\\xe9 bad bytes"}'
    assert len(rows) + len(bad) == 8


def test_bad_json_array_elements(tmp_path):
    path = tmp_path / "arr.json"
    path.write_bytes(b'[{"text": "ok"}, 5, {"text": "caf\xe9"}, {"x": 1}, "str", {"text": "end"}]')
    rows, bad, _ = read_all(path)
    assert [(r["text"], r[ROW_ID]) for r in rows] == [("ok", 0), ("end", 5)]
    assert [(b.line, b.row_id, b.reason) for b in bad] == [
        (2, 1, "row is not a JSON object (got number)"),
        (3, 2, "invalid UTF-8 at byte 14 of the element"),
        (4, 3, "missing text field 'text'"),
        (5, 4, "row is not a JSON object (got string)"),
    ]


@pytest.mark.parametrize(
    "content, reason_start",
    [
        (b'[{"text": "a"}, {"text": }]', "invalid JSON: Expecting value in array element 2"),
        (b'[{"text": "a"} {"text": "b"}]', "invalid JSON: expected ',' or ']' after array element 1"),
        (b'[{"text": "a"}, ', "invalid JSON: the array is not closed"),
        (b'[{"text": "a"}] trailing', "unexpected data after the closing ']'"),
    ],
)
def test_broken_json_array_keeps_good_prefix_and_reports_the_rest(tmp_path, content, reason_start):
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    rows, bad, _ = read_all(path)
    assert [r["text"] for r in rows] == ["a"]
    assert len(bad) == 1 and bad[0].reason.startswith(reason_start)
    assert bad[0].row_id == 1


def test_bad_parquet_rows(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"text": ["a", None, "c"], "n": [1, 2, 3]}), path)
    rows, bad, _ = read_all(path)
    assert [r["text"] for r in rows] == ["a", "c"]
    assert [(b.line, b.row_id, b.reason) for b in bad] == [
        (2, 1, "text field 'text' is not a string (got null)")
    ]
    rows, bad, _ = read_all(path, text_keys=["body"])
    assert rows == [] and {b.reason for b in bad} == {"missing text field 'body'"}


def test_in_memory_bad_rows_use_rows_source():
    _, bad, _ = read_all([{"text": "a"}, {"text": b"bytes"}])
    assert bad == [BadRow("<rows>", 2, "text field 'text' is not a string (got bytes)", {"text": b"bytes"}, 1)]


@pytest.mark.parametrize("name", ["bad.jsonl", "bad.json"])
def test_fail_mode_raises_at_first_bad_row_with_file_and_line(tmp_path, name):
    path = bad_jsonl(tmp_path)
    if name == "bad.json":
        path = path.rename(tmp_path / name)  # no '[' at the start: read as JSON lines
    seen = []
    with pytest.raises(BadInputRowError) as info:
        for chunk in read_dataset(path, batch_size=1, on_bad_input="fail"):
            seen.extend(chunk.batch["text"])
    message = str(info.value)
    assert f"{path}:2:" in message
    assert "invalid JSON" in message and "on_bad_input" in message
    assert info.value.bad_row.line == 2
    assert seen == ["good 0"]


# ---- empty, missing, unsupported -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["e.jsonl", "e.json", "e.ndjson"])
def test_empty_files_yield_nothing(tmp_path, name):
    path = tmp_path / name
    path.write_text("" if name != "e.ndjson" else "\n\n  \n")
    assert list(read_dataset(path)) == []


def test_empty_gzip_and_parquet_yield_nothing(tmp_path):
    (tmp_path / "e.jsonl.gz").write_bytes(gzip.compress(b""))
    assert list(read_dataset(tmp_path / "e.jsonl.gz")) == []
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "e.parquet")
    assert list(read_dataset(tmp_path / "e.parquet")) == []
    assert list(read_dataset([])) == []


def test_missing_file_raises_input_error_naming_the_path(tmp_path):
    missing = tmp_path / "nope" / "data.jsonl"
    with pytest.raises(InputError) as info:
        read_dataset(missing)  # raised at call time, before iteration
    assert str(missing) in str(info.value)
    assert "not found" in str(info.value)
    assert info.value.exit_code == 2


def test_unsupported_suffix_lists_supported_formats(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text\nhello\n")
    with pytest.raises(InputError) as info:
        read_dataset(path)
    for suffix in (".jsonl", ".jsonl.gz", ".json", ".parquet"):
        assert suffix in str(info.value)


def test_directory_without_dataset_files(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(InputError, match="no readable dataset files"):
        read_dataset(tmp_path)


def test_not_a_parquet_file(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_text("not parquet")
    with pytest.raises(InputError, match="cannot read .* as Parquet"):
        list(read_dataset(path))


def test_invalid_arguments():
    with pytest.raises(ConfigError, match="on_bad_input"):
        read_dataset([], on_bad_input="ignore")
    with pytest.raises(ConfigError, match="batch_size"):
        read_dataset([], batch_size=0)
    with pytest.raises(InputError):
        read_dataset(42)  # type: ignore[arg-type]


def test_count_hint_for_files(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ROWS)
    hint = count_hint(path)
    assert hint.rows is None and hint.bytes == path.stat().st_size
    assert count_hint(iter([])).rows is None


def test_truncated_gzip_keeps_good_lines_and_reports_the_rest(tmp_path):
    rows_in = [{"text": f"line {i} " + "x" * 50} for i in range(2000)]
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in rows_in).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    rows, bad, _ = read_all(path)
    assert 0 < len(rows) < 2000
    assert strip_ids(rows) == rows_in[: len(rows)]
    assert len(bad) == 1 and "the rest of the file could not be read" in bad[0].reason
    assert bad[0].row_id == len(rows) and bad[0].line == len(rows) + 1


def test_not_gzip_despite_suffix(tmp_path):
    path = tmp_path / "plain.jsonl.gz"
    path.write_text('{"text": "a"}\n')
    with pytest.raises(InputError, match="gzip"):
        list(read_dataset(path))


def test_truncated_gzipped_json_array(tmp_path, monkeypatch):
    monkeypatch.setattr(readers_mod, "_JSON_READ_CHUNK", 4096)
    data = gzip.compress(json.dumps([{"text": "y" * 100}] * 3000).encode())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    rows, bad, _ = read_all(path)
    assert len(rows) > 0 and len(bad) == 1 and bad[0].row_id == len(rows)
    assert "the rest of the file could not be read" in bad[0].reason
