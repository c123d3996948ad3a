"""Dataset writers: JSONL (plain or gzip) and Parquet, written atomically.

Rows go to a temporary file next to the destination; :meth:`DatasetWriter.commit` flushes,
fsyncs and renames it into place with ``os.replace``, so the destination either holds the whole
output or is left as it was. :meth:`DatasetWriter.abort` removes the temporary file. Used as a
context manager, a writer commits when the block ends normally and aborts on an exception.

Harness-internal columns (``__row_id__`` and the like) are never written; with
``keep_stats=True`` the ``__stats__`` column is exported as ``__dj__stats__``, the name
Data-Juicer uses.
"""
from __future__ import annotations

import gzip
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.data.batch import STATS, Batch, batch_len, public_columns, rows_to_batch
from harness.errors import ConfigError, HarnessError

#: Name of the stats column in exported files (Data-Juicer's ``Fields.stats``).
EXPORT_STATS = "__dj__stats__"

JSONL_OUT_SUFFIXES = (".jsonl", ".json", ".ndjson")
JSONL_GZ_OUT_SUFFIXES = (".jsonl.gz", ".json.gz", ".ndjson.gz")
PARQUET_OUT_SUFFIXES = (".parquet",)


class DatasetWriter:
    """Base writer: owns the temporary file, the commit/abort protocol and column selection.

    Subclasses fill in :meth:`_write_batch` (columns already made public) and :meth:`_finish`.
    """

    def __init__(self, path: str | os.PathLike[str], keep_stats: bool = False) -> None:
        self.path = Path(path)
        self.keep_stats = keep_stats
        self.rows_written = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temp_path = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}.tmp")
        fd = os.open(self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self._file = os.fdopen(fd, "wb")
        self._state = "open"

    # ---- public -----------------------------------------------------------------------------
    def write(self, batch: Batch) -> None:
        """Append the rows of ``batch`` (internal columns dropped)."""
        self._check_open()
        columns = public_columns(batch, keep_stats=self.keep_stats)
        if STATS in columns:
            columns = {(EXPORT_STATS if k == STATS else k): v for k, v in columns.items()}
        n = batch_len(batch)
        self._write_batch(columns, n)
        self.rows_written += n

    def write_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append row dicts (a convenience over :meth:`write`)."""
        self.write(rows_to_batch([dict(r) for r in rows]))

    def commit(self) -> Path:
        """Finish the file, fsync it and move it into place. Returns the destination path."""
        self._check_open()
        try:
            self._finish()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.temp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        _fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        """Drop everything written; the destination is left untouched. Safe to call twice."""
        if self._state == "committed":
            return
        self._state = "aborted"
        try:
            self._close_quietly()
        finally:
            try:
                os.unlink(self.temp_path)
            except FileNotFoundError:
                pass

    @property
    def closed(self) -> bool:
        return self._state != "open"

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._state != "open":
            return
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, rows_written={self.rows_written}, {self._state})"

    # ---- hooks ------------------------------------------------------------------------------
    def _write_batch(self, columns: Batch, n: int) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Write trailers into ``self._file`` (it is flushed and fsynced afterwards)."""

    def _close_quietly(self) -> None:
        try:
            self._file.close()
        except Exception:
            pass

    def _check_open(self) -> None:
        if self._state != "open":
            raise HarnessError(
                f"writer for {self.path} is already {self._state}; open a new writer to write again"
            )


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays, sets, bytes: give them a JSON shape instead of failing the export
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "backslashreplace")
    raise TypeError(f"value of type {type(value).__name__} cannot be written as JSON")


class JsonlWriter(DatasetWriter):
    """One JSON object per line (``ensure_ascii=False``), optionally gzip-compressed."""

    def __init__(self, path: str | os.PathLike[str], keep_stats: bool = False, compress: bool = False) -> None:
        super().__init__(path, keep_stats)
        self._out = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._file, mtime=0, compresslevel=6) if compress else self._file
        )
        self._encoder = json.JSONEncoder(ensure_ascii=False, default=_json_default)

    def _write_batch(self, columns: Batch, n: int) -> None:
        if not n:
            return
        keys = list(columns)
        encode = self._encoder.encode
        try:
            lines = [encode(dict(zip(keys, values))) for values in zip(*columns.values())]
        except (TypeError, ValueError) as e:
            raise HarnessError(f"cannot write a row to {self.path} as JSON: {e}") from e
        lines.append("")
        self._out.write("\n".join(lines).encode("utf-8", "surrogatepass"))

    def _finish(self) -> None:
        if self._out is not self._file:
            self._out.close()  # writes the gzip trailer; the underlying file stays open

    def _close_quietly(self) -> None:
        if self._out is not self._file:
            try:
                self._out.close()
            except Exception:
                pass
        super()._close_quietly()


class ParquetWriter(DatasetWriter):
    """Parquet via ``pyarrow.parquet.ParquetWriter``; the schema comes from the first rows.

    Later batches are cast to that schema. When they do not fit (a new column, a column that was
    all null so far, a wider type), the schemas are unified and what was written so far is
    rewritten once under the unified schema.
    """

    def __init__(self, path: str | os.PathLike[str], keep_stats: bool = False) -> None:
        super().__init__(path, keep_stats)
        self._writer = None
        self._schema = None
        self._known_columns: dict[str, None] = {}

    def _table(self, columns: Batch):
        import pyarrow as pa

        try:
            return pa.Table.from_pydict(columns)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as e:
            raise HarnessError(
                f"cannot write to Parquet file {self.path}: {e}. Parquet needs one value type per "
                "column; make the column's values consistent or write JSONL (.jsonl) instead."
            ) from e

    def _write_batch(self, columns: Batch, n: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for key in columns:
            self._known_columns.setdefault(key, None)
        if not n:
            return
        table = self._table(columns)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self._file, self._schema)
            self._writer.write_table(table)
            return
        fitted = self._fit(table, self._schema)
        if fitted is None:
            try:
                unified = pa.unify_schemas([self._schema, table.schema], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise HarnessError(
                    f"cannot write to Parquet file {self.path}: a later batch's columns do not fit "
                    f"the earlier ones ({e}). Make the column types consistent or write JSONL instead."
                ) from e
            self._rewrite(unified)
            fitted = self._fit(table, unified)
            if fitted is None:
                raise HarnessError(
                    f"cannot write to Parquet file {self.path}: batch schema {table.schema} does not "
                    f"fit {unified}. Make the column types consistent or write JSONL instead."
                )
        self._writer.write_table(fitted)

    @staticmethod
    def _fit(table, schema):
        """``table`` with ``schema``'s columns, in order, cast; None if it does not fit."""
        import pyarrow as pa

        if table.schema.equals(schema):
            return table
        if any(name not in schema.names for name in table.column_names):
            return None
        arrays = []
        for f in schema:
            if f.name in table.column_names:
                col = table.column(f.name)
                if not col.type.equals(f.type):
                    try:
                        col = col.cast(f.type)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                        return None
            else:
                col = pa.nulls(table.num_rows, f.type)
            arrays.append(col)
        return pa.Table.from_arrays(arrays, schema=schema)

    def _rewrite(self, schema) -> None:
        """Start the temporary file again under ``schema``, copying the rows written so far."""
        import pyarrow.parquet as pq

        self._writer.close()
        self._file.flush()
        old_path = self.temp_path
        old_schema = self._schema
        new_path = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}.tmp")
        fd = os.open(new_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        new_file = os.fdopen(fd, "wb")
        try:
            writer = pq.ParquetWriter(new_file, schema)
            for rb in pq.ParquetFile(old_path).iter_batches(batch_size=65536):
                import pyarrow as pa

                fitted = self._fit(pa.Table.from_batches([rb], schema=old_schema), schema)
                writer.write_table(fitted)
        except BaseException:
            new_file.close()
            os.unlink(new_path)
            raise
        self._file.close()
        os.unlink(old_path)
        self._file, self.temp_path = new_file, new_path
        self._writer, self._schema = writer, schema

    def _finish(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            table = pa.table({name: pa.array([], pa.null()) for name in self._known_columns})
            pq.write_table(table, self._file)
        else:
            self._writer.close()

    def _close_quietly(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:
                pass
        super()._close_quietly()


def open_writer(path: str | os.PathLike[str], keep_stats: bool = False) -> DatasetWriter:
    """A writer for ``path`` chosen by suffix: ``.jsonl``/``.json``/``.ndjson`` (JSON lines, as
    Data-Juicer exports), the same with ``.gz`` (gzip), or ``.parquet``."""
    name = Path(path).name.lower()
    if name.endswith(JSONL_GZ_OUT_SUFFIXES):
        return JsonlWriter(path, keep_stats, compress=True)
    if name.endswith(JSONL_OUT_SUFFIXES):
        return JsonlWriter(path, keep_stats)
    if name.endswith(PARQUET_OUT_SUFFIXES):
        return ParquetWriter(path, keep_stats)
    supported = ", ".join(JSONL_OUT_SUFFIXES + JSONL_GZ_OUT_SUFFIXES + PARQUET_OUT_SUFFIXES)
    raise ConfigError(
        f"cannot write {path}: unsupported output format. Use a path ending in one of: {supported}."
    )
