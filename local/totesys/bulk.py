"""Arrow tables into Postgres with COPY FROM STDIN, and exact money from integer cents."""

from __future__ import annotations

import io

import numpy as np
import pg8000.native
import pyarrow as pa
import pyarrow.csv as pa_csv

from pipeline_common.copy import copy_in
from pipeline_common.postgres import quote_identifier, quote_identifiers

MONEY = pa.decimal128(10, 2)
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, batch_size=65_536)


def money_from_cents(cents: np.ndarray) -> pa.Array:
    """decimal(10,2) values with exactly these cents (no float on the way)."""
    low = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty(low.size * 2, dtype=np.int64)
    words[0::2] = low
    words[1::2] = low >> 63  # sign extension into the high 64 bits of each decimal128
    return pa.Array.from_buffers(MONEY, low.size, [None, pa.py_buffer(words)])


def timestamps(values: np.ndarray) -> pa.Array:
    """timestamp(3) values from datetime64[ms]."""
    return pa.array(values.astype("datetime64[ms]"), type=pa.timestamp("ms"))


def date_texts(days: np.ndarray) -> pa.Array:
    """'YYYY-MM-DD' text, as the real system stores agreed and payment dates."""
    return pa.array(days.astype("datetime64[D]"), type=pa.date32()).cast(pa.string())


def csv_bytes(table: pa.Table) -> bytes:
    """The table as CSV in Postgres' COPY dialect.

    Arrow quotes every string and writes null as an unquoted empty field, which is exactly
    how COPY (FORMAT csv) tells NULL from the empty string.
    """
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, _CSV_OPTIONS)
    return buffer.getvalue()


def copy_table(conn: pg8000.native.Connection, table: str, data: pa.Table) -> int:
    """Append the rows of `data` to `table` with COPY FROM STDIN; its columns by name."""
    if data.num_rows == 0:
        return 0
    columns = quote_identifiers(data.column_names)
    sql = f"COPY {quote_identifier(table)} ({columns}) FROM STDIN WITH (FORMAT csv)"
    copy_in(conn, sql, [csv_bytes(data)])
    return data.num_rows
