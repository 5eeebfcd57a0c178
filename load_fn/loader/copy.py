"""Bulk path into Postgres: Arrow record batches -> CSV chunks -> COPY into a table.

SQL here is built only from allow-listed, quoted identifiers (loader.schema); "nosec B608"
marks those lines for bandit. No value is ever part of the SQL text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from loader.schema import StarTable, column_list, quote_ident
from loader.warehouse import Connection

_CSV = pacsv.WriteOptions(include_header=False)
"""Arrow quotes every string, so "" is an empty string and an unquoted empty field is NULL:
exactly what `COPY ... (FORMAT csv)` reads back."""


def staging_table_name(table: StarTable) -> str:
    """Temporary table a batch's rows of `table` are staged in."""
    return f"stage_{table.name}"


def create_staging_table(conn: Connection, table: StarTable) -> str:
    """A temporary, constraint-free copy of the table's columns, dropped at commit/rollback."""
    name = staging_table_name(table)
    conn.run(
        f"CREATE TEMPORARY TABLE {quote_ident(name)} ON COMMIT DROP AS "  # nosec B608
        f"SELECT {column_list(table.column_names)} FROM {quote_ident(table.name)} WITH NO DATA"
    )
    return name


class CsvStream:
    """CSV bytes of record batches, one chunk per batch (bounded by the batch size).

    An error raised while producing the rows ends the stream early instead of escaping
    mid-COPY (which would leave the connection in the middle of the COPY protocol); the
    caller re-raises it after COPY returns, so the transaction still rolls back.
    """

    def __init__(self, batches: Iterable[pa.RecordBatch | pa.Table]) -> None:
        self._batches = batches
        self.rows = 0
        self.error: Exception | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for batch in self._batches:
                if batch.num_rows == 0:
                    continue
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, _CSV)
                self.rows += batch.num_rows
                yield buffer.getvalue()
        except Exception as exc:  # noqa: BLE001 - kept and re-raised by copy_batches
            self.error = exc


def copy_batches(
    conn: Connection, target: str, table: StarTable, batches: Iterable[pa.RecordBatch | pa.Table]
) -> int:
    """COPY batches (in `table`'s column order) into `target` (the table or its staging
    table); returns rows sent."""
    stream = CsvStream(batches)
    conn.run(
        f"COPY {quote_ident(target)} ({column_list(table.column_names)}) FROM STDIN (FORMAT csv)",
        stream=stream,
    )
    if stream.error is not None:
        raise stream.error
    return stream.rows
