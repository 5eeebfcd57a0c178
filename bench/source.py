"""The ToteSys tables as the bench reads them: names, primary keys, columns, row counts.

Kept independent of ingest_fn on purpose: the baselines must not borrow the project's code.
"""

from __future__ import annotations

from typing import Any

import pg8000.native

from local.totesys.schema import TABLES
from pipeline_common.postgres import quote_identifier, quote_identifiers

# The source's own table list (the generator's schema of record), not ingest_fn's.
TOTESYS_TABLES = TABLES


def primary_key(table: str) -> str:
    """Every ToteSys table's primary key is `<table>_id`."""
    return f"{table}_id"


def table_columns(conn: pg8000.native.Connection, table: str) -> list[str]:
    """A table's columns in ordinal order, from information_schema."""
    rows = conn.run(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = :t ORDER BY ordinal_position",
        t=table,
    )
    if not rows:
        raise LookupError(f"table {table!r} does not exist in the source")
    return [row[0] for row in rows]


def select_sql(conn: pg8000.native.Connection, table: str, limit: int | None = None) -> str:
    """SELECT of every column of a table, ordered by its primary key, as ingest extracts it."""
    cols = quote_identifiers(table_columns(conn, table))
    order = quote_identifier(primary_key(table))
    sql = f"SELECT {cols} FROM {quote_identifier(table)} ORDER BY {order}"  # nosec B608 - allow-list
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql


def row_counts(conn: pg8000.native.Connection) -> dict[str, int]:
    """Exact row counts of the ToteSys tables."""
    return {
        t: int(conn.run(f"SELECT count(*) FROM {quote_identifier(t)}")[0][0])  # nosec B608
        for t in TOTESYS_TABLES
    }


def sample_limits(counts: dict[str, int], cap: int | None) -> dict[str, int | None]:
    """Per-table LIMITs that keep the total under `cap` rows, in proportion; None = all rows."""
    total = sum(counts.values())
    if cap is None or total <= cap:
        return dict.fromkeys(counts)
    share = cap / total
    return {t: max(1, int(n * share)) for t, n in counts.items()}


def server_version(conn: pg8000.native.Connection) -> str:
    """The Postgres server's version string."""
    return str(conn.run("SHOW server_version")[0][0])


def describe(secret: dict[str, Any]) -> str:
    """A secret's host/port/dbname for progress lines (never the password)."""
    return f"{secret['host']}:{secret['port']}/{secret['dbname']}"


def dbapi_connect(secret: dict[str, Any]) -> Any:
    """A pg8000 DB-API connection that pandas.read_sql and awswrangler.postgresql both take.

    awswrangler checks `isinstance(con, pg8000.Connection)`, which is pg8000's legacy
    DB-API class (pg8000.dbapi.Connection is not a subclass), so connect with pg8000.connect.
    """
    import pg8000

    kwargs: dict[str, Any] = {
        "user": secret["username"],
        "password": secret.get("password") or None,
        "database": secret["dbname"],
        "timeout": 300,
    }
    if str(secret["host"]).startswith("/"):
        kwargs["unix_sock"] = f"{secret['host']}/.s.PGSQL.{secret['port']}"
    else:
        kwargs["host"] = secret["host"]
        kwargs["port"] = int(secret["port"])
    return pg8000.connect(**kwargs)
