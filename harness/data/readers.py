"""Streaming dataset readers: JSONL (plain or gzip), JSON arrays, Parquet, in-memory rows.

``read_dataset`` yields :class:`ReadChunk` objects. Every input record gets a row id (its 0-based
position among all records of the input, in order); a record that is not a valid row becomes a
:class:`BadRow` that still consumes its id, so ``rows in == good rows + bad rows`` always holds.

Chunks hold at most ``batch_size`` records (good and bad together), so memory stays bounded even
for an input that is all junk. Chunks run across file boundaries when the source is a directory.
"""
from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Union

from harness.data.batch import ROW_ID, Batch, batch_to_rows
from harness.errors import BadInputRowError, ConfigError, InputError

Source = Union[str, "os.PathLike[str]", Iterable[Mapping[str, Any]], Mapping[str, Sequence[Any]]]

#: Source name used for in-memory rows.
ROWS_SOURCE = "<rows>"

#: Suffixes read as JSON lines (one object per line).
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
#: Suffixes read as a JSON array of objects (or as JSON lines when the file does not start with '[').
JSON_SUFFIXES = (".json", ".json.gz")
PARQUET_SUFFIXES = (".parquet",)
SUPPORTED_SUFFIXES = JSONL_SUFFIXES + JSON_SUFFIXES + PARQUET_SUFFIXES

ON_BAD_INPUT = ("quarantine", "fail")

_JSON_READ_CHUNK = 1 << 20  # characters decoded per read while streaming a JSON array


@dataclass(frozen=True)
class BadRow:
    """One input record that is not a valid row.

    ``source``: the file path, or ``'<rows>'`` for in-memory rows.
    ``line``: 1-based line number (JSONL), element index (JSON array) or row number (Parquet, rows).
    ``reason``: what is wrong, in plain words.
    ``raw``: the record as read: the parsed value when it parsed, else the line's text (invalid
    bytes shown as ``\\xNN`` escapes).
    ``row_id``: the row id this record consumed.
    """

    source: str
    line: int
    reason: str
    raw: Any
    row_id: int

    def describe(self) -> str:
        """``source:line: reason`` — the form used in error messages and logs."""
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class ReadChunk:
    """Good rows as a batch (with a ``__row_id__`` column) plus the bad records met on the way."""

    batch: Batch
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def num_records(self) -> int:
        """Good rows plus bad rows in this chunk."""
        return len(self.batch.get(ROW_ID, ())) + len(self.bad_rows)


@dataclass(frozen=True)
class CountHint:
    """What is cheaply known about a source's size before reading it.

    ``rows``: exact record count when known without reading (Parquet metadata, sized sequences),
    else None. ``bytes``: total size on disk of the files (compressed size for gzip), else None.
    A progress bar can use ``rows`` when present and fall back to ``bytes``.
    """

    rows: int | None
    bytes: int | None


# --------------------------------------------------------------------------------------------
# public entry points


def read_dataset(
    source: Source,
    text_keys: Sequence[str] | str = ("text",),
    batch_size: int = 1000,
    on_bad_input: str = "quarantine",
) -> Iterator[ReadChunk]:
    """Stream ``source`` in chunks of at most ``batch_size`` records.

    ``source``: a file or directory path, an iterable of row dicts, or a batch (dict of column
    lists). Files are read by suffix (see :data:`SUPPORTED_SUFFIXES`); a directory reads its
    supported files in sorted name order. Each row must be a JSON object whose ``text_keys`` are
    present and strings. ``on_bad_input='quarantine'`` puts invalid records into
    ``ReadChunk.bad_rows`` and goes on; ``'fail'`` raises :class:`BadInputRowError` at the first.
    Missing paths and unsupported formats raise :class:`InputError` before anything is yielded.
    """
    if isinstance(text_keys, str):
        text_keys = [text_keys]
    text_keys = list(text_keys)
    if on_bad_input not in ON_BAD_INPUT:
        raise ConfigError(
            f"on_bad_input must be one of {', '.join(ON_BAD_INPUT)}, got {on_bad_input!r}"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")

    readers = _plan(source)  # raises InputError early, before the generator starts
    return _chunks(readers, text_keys, batch_size, on_bad_input == "fail")


def count_hint(source: Source) -> CountHint:
    """Rows and/or bytes of ``source`` when cheaply known (see :class:`CountHint`)."""
    if isinstance(source, (str, os.PathLike)):
        files = _files_of(Path(source))
        rows: int | None = 0
        total = 0
        for path in files:
            total += path.stat().st_size
            if rows is not None and _kind(path) == "parquet":
                import pyarrow.parquet as pq

                rows += pq.ParquetFile(path).metadata.num_rows
            else:
                rows = None
        return CountHint(rows=rows, bytes=total)
    if isinstance(source, Mapping):
        values = next(iter(source.values()), [])
        return CountHint(rows=len(values), bytes=None)
    try:
        return CountHint(rows=len(source), bytes=None)  # type: ignore[arg-type]
    except TypeError:
        return CountHint(rows=None, bytes=None)


# --------------------------------------------------------------------------------------------
# planning: which records come from where

# A record producer yields (line, value, None) for a parsed record (validated by the chunker) or
# (line, raw_text, reason) for one that could not be parsed. Row ids are assigned by the chunker.
_Record = tuple


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(JSON_SUFFIXES):
        return "json"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return None


def _supported_list() -> str:
    return ", ".join(SUPPORTED_SUFFIXES)


def _files_of(path: Path) -> list[Path]:
    if not path.exists():
        raise InputError(
            f"input dataset not found: {path} (resolved to {path.absolute()}). "
            "Check the dataset path (dataset_path in the recipe) and that the file exists."
        )
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and _kind(p) is not None
        )
        if not files:
            raise InputError(
                f"input directory {path} holds no readable dataset files. "
                f"Put files with one of these suffixes there: {_supported_list()}."
            )
        return files
    if _kind(path) is None:
        raise InputError(
            f"cannot read {path}: unsupported format {''.join(path.suffixes) or '(no suffix)'!r}. "
            f"Supported formats: {_supported_list()}. Rename or convert the file."
        )
    return [path]


def _plan(source: Source) -> list[tuple[str, Callable[[], Iterator[_Record]]]]:
    if isinstance(source, (str, os.PathLike)):
        plan = []
        for path in _files_of(Path(source)):
            kind = _kind(path)
            producer = {"jsonl": _jsonl_records, "json": _json_records, "parquet": _parquet_records}[kind]  # type: ignore[index]
            plan.append((str(path), (lambda p=path, f=producer: f(p))))
        return plan
    if isinstance(source, Mapping):
        rows: Iterable[Any] = batch_to_rows({k: list(v) for k, v in source.items()})
    elif isinstance(source, (bytes, bytearray)) or not hasattr(source, "__iter__"):
        raise InputError(
            f"cannot read a dataset from a {type(source).__name__}; pass a file or directory path, "
            "an iterable of row dicts, or a dict of column lists"
        )
    else:
        rows = source
    return [(ROWS_SOURCE, lambda: _iter_records(rows))]


def _iter_records(rows: Iterable[Any]) -> Iterator[_Record]:
    for line, row in enumerate(rows, 1):
        yield line, (dict(row) if isinstance(row, dict) else row), None


# --------------------------------------------------------------------------------------------
# chunking and validation


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return type(value).__name__


def _chunks(
    readers: list[tuple[str, Callable[[], Iterator[_Record]]]],
    text_keys: list[str],
    batch_size: int,
    fail: bool,
) -> Iterator[ReadChunk]:
    good: list[dict[str, Any]] = []
    ids: list[int] = []
    bad: list[BadRow] = []
    next_id = 0
    for source_name, open_records in readers:
        for line, value, reason in open_records():
            row_id = next_id
            next_id += 1
            if reason is None:
                if type(value) is dict:
                    for key in text_keys:
                        text = value.get(key, _MISSING)
                        if type(text) is not str:
                            if text is _MISSING:
                                reason = f"missing text field {key!r}"
                            elif isinstance(text, str):
                                continue
                            else:
                                reason = f"text field {key!r} is not a string (got {_type_name(text)})"
                            break
                else:
                    reason = f"row is not a JSON object (got {_json_type_name(value)})"
            if reason is None:
                good.append(value)
                ids.append(row_id)
            else:
                bad_row = BadRow(source=source_name, line=line, reason=reason, raw=value, row_id=row_id)
                if fail:
                    err = BadInputRowError(
                        f"bad input row at {bad_row.describe()} (row id {row_id}). Fix or remove "
                        "that record, or set on_bad_input=quarantine to set bad rows aside and go on."
                    )
                    err.bad_row = bad_row  # type: ignore[attr-defined]
                    raise err
                bad.append(bad_row)
            if len(ids) + len(bad) >= batch_size:
                yield ReadChunk(_to_batch(good, ids), bad)
                good, ids, bad = [], [], []
    if ids or bad:
        yield ReadChunk(_to_batch(good, ids), bad)


_MISSING = object()


def _json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _to_batch(rows: list[dict[str, Any]], ids: list[int]) -> Batch:
    # Fast path: most datasets have the same keys in every row.
    if not rows:
        return {ROW_ID: ids}
    first = rows[0]
    keys = list(first)
    if ROW_ID in first:
        keys.remove(ROW_ID)
    nkeys = len(first)
    if not _uniform(rows, first, nkeys):
        seen: dict[str, None] = {}
        for r in rows:
            for k in r:
                seen.setdefault(k, None)
        seen.pop(ROW_ID, None)
        keys = list(seen)
        batch = {k: [r.get(k) for r in rows] for k in keys}
    else:
        batch = {k: [r[k] for r in rows] for k in keys}
    batch[ROW_ID] = ids
    return batch


def _uniform(rows: list[dict[str, Any]], first: dict[str, Any], nkeys: int) -> bool:
    first_keys = first.keys()
    for r in rows:
        if len(r) != nkeys or r.keys() != first_keys:
            return False
    return True


# --------------------------------------------------------------------------------------------
# formats


def _open_binary(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb", buffering=1 << 20)


def _json_error(e: json.JSONDecodeError) -> str:
    return f"invalid JSON: {e.msg} at column {e.colno}" if e.lineno == 1 else \
        f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}"


def _guarded(path: Path, records: Callable[[Path], Iterator[_Record]]) -> Iterator[_Record]:
    """Turn I/O and decompression errors into an InputError (nothing read yet) or a final BadRow
    standing for the unreadable rest of the file (after some records were read)."""
    last_line = 0
    try:
        for record in records(path):
            last_line = record[0]
            yield record
    except (OSError, EOFError, zlib.error) as e:
        if last_line == 0:
            raise InputError(
                f"cannot read {path}: {e}. Check that the file is complete, readable, and that its "
                "suffix matches its format (.gz files must be gzip-compressed)."
            ) from e
        yield last_line + 1, "", f"unreadable data: {e}; the rest of the file could not be read"


def _jsonl_records(path: Path) -> Iterator[_Record]:
    return _guarded(path, _jsonl_file)


def _jsonl_file(path: Path) -> Iterator[_Record]:
    with _open_binary(path) as f:
        yield from _jsonl_lines(f, json.loads)


def _jsonl_lines(f, loads, first_line: int = 1) -> Iterator[_Record]:
    lineno = first_line - 1
    for raw in f:
        lineno += 1
        if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield lineno, raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace"), \
                f"invalid UTF-8 at byte {e.start + 1}"
            continue
        try:
            value = loads(text)
        except json.JSONDecodeError as e:
            if text.isspace() or not text:
                continue  # blank lines are not records
            yield lineno, text.rstrip("\r\n"), _json_error(e)
            continue
        except RecursionError:
            yield lineno, text.rstrip("\r\n"), "invalid JSON: nested too deeply"
            continue
        yield lineno, value, None


def _first_char(path: Path) -> bytes:
    """First non-whitespace byte of a (possibly gzipped) file, after a UTF-8 BOM; b'' if none."""
    with _open_binary(path) as f:
        head = f.read(3)
        if head.startswith(codecs.BOM_UTF8):
            head = head[3:]
        while True:
            stripped = head.lstrip()
            if stripped:
                return stripped[:1]
            head = f.read(4096)
            if not head:
                return b""


_WS = re.compile(r"[ \t\n\r]*")
_SURROGATE_ESCAPE = re.compile("[\udc80-\udcff]")


def _json_records(path: Path) -> Iterator[_Record]:
    """A JSON array, streamed element by element; a file not starting with '[' is read as JSONL."""
    return _guarded(path, _json_file)


def _json_file(path: Path) -> Iterator[_Record]:
    first = _first_char(path)
    if first == b"":
        return
    if first != b"[":
        yield from _jsonl_file(path)
        return
    decoder = json.JSONDecoder()
    raw_decode = decoder.raw_decode
    ws_end = lambda s, i: _WS.match(s, i).end()  # noqa: E731
    with _open_binary(path) as f:
        incremental = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        buf = ""
        eof = False

        def more() -> bool:
            nonlocal buf, eof
            if eof:
                return False
            data = f.read(_JSON_READ_CHUNK)
            if not data:
                eof = True
                buf += incremental.decode(b"", final=True)
                return False
            buf += incremental.decode(data)
            return True

        pos = 0
        while True:  # find the opening '[' (after an optional BOM and whitespace)
            if buf.startswith("\ufeff"):
                buf = buf[1:]
            pos = ws_end(buf, 0)
            if pos < len(buf) or not more():
                break
        pos += 1  # past '[' (_first_char saw it)
        index = 0
        expect_value = True
        while True:
            # compact consumed text
            if pos > _JSON_READ_CHUNK:
                buf = buf[pos:]
                pos = 0
            pos = ws_end(buf, pos)
            while pos >= len(buf) and more():
                pos = ws_end(buf, pos)
            if pos >= len(buf):
                yield index + 1, buf[pos:], "invalid JSON: the array is not closed with ']'"
                return
            ch = buf[pos]
            if ch == "]" and (index == 0 or not expect_value):
                pos += 1
                break
            if not expect_value:
                if ch != ",":
                    yield index + 1, _snippet(buf, pos), (
                        f"invalid JSON: expected ',' or ']' after array element {index}; "
                        "the rest of the file could not be read")
                    return
                pos += 1
                expect_value = True
                continue
            # decode one element; make sure it is complete (a number could be cut by the chunk end)
            while True:
                try:
                    value, end = raw_decode(buf, pos)
                except json.JSONDecodeError as e:
                    if more():
                        continue
                    index += 1
                    yield index, _snippet(buf, pos), (
                        f"invalid JSON: {e.msg} in array element {index}; "
                        "the rest of the file could not be read")
                    return
                except RecursionError:
                    index += 1
                    yield index, _snippet(buf, pos), "invalid JSON: nested too deeply; " \
                        "the rest of the file could not be read"
                    return
                after = ws_end(buf, end)
                if after >= len(buf) and more():
                    continue
                break
            index += 1
            element_text = buf[pos:end]
            if _SURROGATE_ESCAPE.search(element_text):
                bad = element_text.encode("utf-8", "surrogateescape")
                try:
                    bad.decode("utf-8")
                    offset = 0
                except UnicodeDecodeError as e:
                    offset = e.start
                yield index, bad.decode("utf-8", "backslashreplace"), \
                    f"invalid UTF-8 at byte {offset + 1} of the element"
            else:
                yield index, value, None
            pos = end
            expect_value = False
        # trailing content after the closing bracket
        while True:
            pos = ws_end(buf, pos)
            if pos < len(buf):
                yield index + 1, _snippet(buf, pos), "unexpected data after the closing ']' of the array"
                return
            if not more():
                return


def _snippet(buf: str, pos: int, limit: int = 200) -> str:
    text = buf[pos:pos + limit]
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _parquet_records(path: Path) -> Iterator[_Record]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid / OSError for non-Parquet files
        raise InputError(
            f"cannot read {path} as Parquet: {e}. Check that the file is a complete Parquet file."
        ) from e
    line = 0
    for record_batch in pf.iter_batches(batch_size=4096):
        for row in record_batch.to_pylist():
            line += 1
            yield line, row, None
