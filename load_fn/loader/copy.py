"""Bulk path into Postgres: Arrow record batches -> CSV chunks -> COPY into a table.

SQL here is built only from allow-listed, quoted identifiers (pipeline_common.postgres);
"nosec B608" marks those lines for bandit. No value is ever part of the SQL text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from loader.schema import StarTable
from loader.warehouse import Connection
from pipeline_common.copy import ChunkStream, copy_in
from pipeline_common.postgres import quote_identifier, quote_identifiers

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
        f"CREATE TEMPORARY TABLE {quote_identifier(name)} ON COMMIT DROP AS "  # nosec B608
        f"SELECT {quote_identifiers(table.column_names)} "
        f"FROM {quote_identifier(table.name)} WITH NO DATA"
    )
    return name


class CsvStream(ChunkStream):
    """CSV bytes of record batches, one chunk per batch (bounded by the batch size).

    An error raised while producing the rows ends the stream early and is kept in `error`
    (pipeline_common.copy.ChunkStream); copy_in raises it once the COPY has returned.
    """

    def __init__(self, batches: Iterable[pa.RecordBatch | pa.Table]) -> None:
        self.rows = 0
        super().__init__(self._csv_chunks(batches))

    def _csv_chunks(self, batches: Iterable[pa.RecordBatch | pa.Table]) -> Iterator[bytes]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, _CSV)
            self.rows += batch.num_rows
            yield buffer.getvalue()


def copy_batches(
    conn: Connection, target: str, table: StarTable, batches: Iterable[pa.RecordBatch | pa.Table]
) -> int:
    """COPY batches (in `table`'s column order) into `target` (the table or its staging
    table); returns rows sent."""
    stream = CsvStream(batches)
    copy_in(
        conn,
        f"COPY {quote_identifier(target)} ({quote_identifiers(table.column_names)}) "
        "FROM STDIN (FORMAT csv)",
        stream,
    )
    return stream.rows
