"""One table's window streamed out of Postgres with COPY into gzip CSV parts in S3.

extract_table returns once the COPY has been read, while the table's last object may
still be compressing and uploading in its own thread; TableCopy.wait() waits for it. The
run reads the next table meanwhile, so an object's upload tail (its last part and the
CompleteMultipartUpload, or its one PutObject) overlaps the next COPY instead of
following it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from ingest.fence import Fence
from ingest.source import SOURCE_SCHEMA, WATERMARK_COLUMN, TableSpec, database_error
from ingest.upload import CsvPartWriter, GzipObjectWriter, PartInfo
from ingest.window import Window
from pipeline_common.copy import copy_rows_out
from pipeline_common.postgres import quote_identifier


@dataclass(frozen=True)
class TableExtract:
    """What one table's extract wrote (no parts when its window held no rows)."""

    spec: TableSpec
    window: Window
    parts: tuple[PartInfo, ...]
    seconds: float
    """Reading the table's window out of Postgres (its uploads overlap what follows)."""

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts)

    @property
    def bytes(self) -> int:
        return sum(part.bytes for part in self.parts)

    @property
    def csv_bytes(self) -> int:
        return sum(part.csv_bytes for part in self.parts)


def copy_sql(spec: TableSpec, window: Window, fence: Fence | None = None) -> str:
    """`COPY (SELECT cols FROM t WHERE last_updated in [lo, hi) ORDER BY pk) TO STDOUT ...`.

    With a fence, rows before lo that the previous snapshot could not see are taken too.
    Table and column names are quoted identifiers (the table is on the allow-list, the
    columns come from the catalog); the window bounds are strictly checked literals and
    the fence's ages are integers.
    """
    columns = ", ".join(quote_identifier(column.name) for column in spec.columns)
    table = f"{quote_identifier(SOURCE_SCHEMA)}.{quote_identifier(spec.name)}"
    condition = window.sql_condition(
        quote_identifier(WATERMARK_COLUMN),
        or_before_lo=None if fence is None else fence.sql_condition(),
    )
    order = quote_identifier(spec.primary_key)
    # Built as text because COPY takes no bind parameters; every piece is quoted above.
    select = f"SELECT {columns} FROM {table} WHERE {condition} ORDER BY {order}"  # nosec
    return f"COPY ({select}) TO STDOUT (FORMAT csv, HEADER)"


@dataclass
class TableCopy:
    """A table's window read out of Postgres; its objects may still be uploading."""

    spec: TableSpec
    window: Window
    writer: CsvPartWriter | None
    seconds: float

    def wait(self) -> TableExtract:
        """Wait for every object of the table; a failed upload aborts the others and raises."""
        if self.writer is None:
            return TableExtract(self.spec, self.window, (), self.seconds)
        try:
            parts = self.writer.close()
        except BaseException:
            self.writer.abort()
            raise
        return TableExtract(self.spec, self.window, tuple(parts), self.seconds)

    def abort(self) -> None:
        """Abort every upload of the table not yet complete (another table failed)."""
        if self.writer is not None:
            self.writer.abort()


def extract_table(
    conn: pg8000.native.Connection,
    spec: TableSpec,
    window: Window,
    open_part: Callable[[int], GzipObjectWriter],
    *,
    part_rows: int,
    fence: Fence | None = None,
) -> TableCopy:
    """Stream a table's window (and fence) into parts; returns once the COPY is read
    (TableCopy.wait() waits for the uploads). On any failure the uploads are aborted and
    the error raised."""
    started = time.perf_counter()
    if window.is_empty and fence is None:
        return TableCopy(spec, window, None, 0.0)
    writer = CsvPartWriter(open_part, part_rows=part_rows)
    try:
        copy_rows_out(conn, copy_sql(spec, window, fence), writer)
        writer.finish()
    except (InterfaceError, DatabaseError, OSError) as exc:
        writer.abort()
        raise database_error(exc, f"extracting {spec.name}") from exc
    except BaseException:
        # The writer failed mid-COPY: rows of this COPY are still unread on the socket, so
        # the connection can never be used again. Closing it also ends the transaction and
        # releases the run lock.
        writer.abort()
        _discard(conn)
        raise
    return TableCopy(spec, window, writer, time.perf_counter() - started)


def _discard(conn: pg8000.native.Connection) -> None:
    with contextlib.suppress(InterfaceError, OSError):  # already gone: nothing to release
        conn.close()
