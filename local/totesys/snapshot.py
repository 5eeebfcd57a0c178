"""Load a Parquet dump of the 11 ToteSys tables (one `<table>.parquet` each) into Postgres.

The real snapshot was dumped through pandas, which turned money into float64 and nullable
ids into float64 with NaN; this restores exact numeric(10,2) (rounded to the cent) and
integer ids (NaN -> NULL), and takes every column by name, whatever order the file has.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pg8000.native
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from local.totesys.bulk import copy_table, money_from_cents
from local.totesys.exceptions import SnapshotError
from local.totesys.schema import (
    TABLES,
    ensure_empty_schema,
    foreign_keys_dropped,
    reset_sequences,
    row_counts,
)


def _columns(conn: pg8000.native.Connection, table: str) -> list[tuple[str, str]]:
    """(name, data_type) of the table's columns, in order."""
    rows = conn.run(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = :table ORDER BY ordinal_position",
        table=table,
    )
    return [(str(name), str(data_type)) for name, data_type in rows]


def _floats(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    values = column.to_numpy().astype(np.float64)
    return values, np.isnan(values)


def _as_integer(column: pa.ChunkedArray, where: str) -> pa.Array:
    if pa.types.is_integer(column.type):
        return pc.cast(column, pa.int32()).combine_chunks()
    values, missing = _floats(column)
    whole = np.rint(np.where(missing, 0, values))
    if not np.array_equal(whole, np.where(missing, 0, values)):
        raise SnapshotError(f"{where}: not a whole number")
    return pa.array(whole.astype(np.int64), mask=missing).cast(pa.int32())


def _as_money(column: pa.ChunkedArray, where: str) -> pa.Array:
    if pa.types.is_decimal(column.type):
        return pc.cast(column, pa.decimal128(10, 2)).combine_chunks()
    values, missing = _floats(column)
    if missing.any():
        raise SnapshotError(f"{where}: missing money value")
    return money_from_cents(np.rint(values * 100).astype(np.int64))


def _as_timestamp(column: pa.ChunkedArray, where: str) -> pa.Array:
    if getattr(column.type, "tz", None):  # an aware timestamp: its UTC wall clock
        column = pa.chunked_array([chunk.cast(pa.timestamp("us")) for chunk in column.chunks])
    try:
        return pc.cast(column, pa.timestamp("ms")).combine_chunks()
    except pa.ArrowInvalid as exc:
        raise SnapshotError(f"{where}: finer than a millisecond ({exc})") from exc


def _convert(column: pa.ChunkedArray, data_type: str, where: str) -> pa.Array:
    """One Parquet column as the Postgres column of `data_type` wants it."""
    if data_type == "integer":
        return _as_integer(column, where)
    if data_type == "numeric":
        return _as_money(column, where)
    if data_type.startswith("timestamp"):
        return _as_timestamp(column, where)
    if data_type == "boolean":
        return pc.cast(column, pa.bool_()).combine_chunks()
    return pc.cast(column, pa.string()).combine_chunks()


def read_snapshot_table(path: Path, columns: list[tuple[str, str]]) -> pa.Table:
    """The Parquet file as the table's columns, typed for COPY."""
    data = pq.read_table(path)
    expected = {name for name, _ in columns}
    extra = [n for n in data.column_names if n not in expected and not n.startswith("__")]
    missing = [name for name, _ in columns if name not in data.column_names]
    if extra or missing:
        raise SnapshotError(f"{path.name}: columns missing {missing}, unexpected {extra}")
    return pa.table(
        {
            name: _convert(data.column(name), data_type, f"{path.name}:{name}")
            for name, data_type in columns
        }
    )


def load_snapshot(conn: pg8000.native.Connection, directory: Path) -> dict[str, int]:
    """Load `<directory>/<table>.parquet` for every table into empty ToteSys tables
    (created if absent), all or nothing; returns the row count of every table."""
    directory = Path(directory)
    absent = [table for table in TABLES if not (directory / f"{table}.parquet").is_file()]
    if absent:
        raise SnapshotError(f"{directory}: no Parquet file for {', '.join(absent)}")
    ensure_empty_schema(conn)
    conn.run("BEGIN")
    try:
        with foreign_keys_dropped(conn):
            for table in TABLES:
                data = read_snapshot_table(directory / f"{table}.parquet", _columns(conn, table))
                copy_table(conn, table, data)
        reset_sequences(conn)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise
    conn.run("ANALYZE")
    return row_counts(conn)
