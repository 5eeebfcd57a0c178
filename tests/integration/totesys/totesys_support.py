"""Helpers shared by the ToteSys generator tests."""

from __future__ import annotations

import io
from typing import Any

import pg8000.native

from local.totesys import TABLES

SEEDED_ORDERS = 2000
SEEDED_SEED = 11


def dump_table(conn: pg8000.native.Connection, table: str) -> bytes:
    """Every row of a ToteSys table as Postgres writes CSV, in primary-key order."""
    assert table in TABLES
    out = io.BytesIO()
    conn.run(
        f'COPY (SELECT * FROM "{table}" ORDER BY 1) TO STDOUT WITH (FORMAT csv, HEADER)',
        stream=out,
    )
    return out.getvalue()


def scalar(conn: pg8000.native.Connection, sql: str, **params: Any) -> Any:
    """The single value a query returns."""
    return conn.run(sql, **params)[0][0]


def db_now_ms(conn: pg8000.native.Connection) -> Any:
    """The database's now() as advance stamps rows: UTC wall clock, truncated to the ms."""
    return scalar(conn, "SELECT date_trunc('milliseconds', now() AT TIME ZONE 'UTC')")
