"""The ToteSys schema of record (schema.sql) and the allow-list of its tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pg8000.native

from local.totesys.exceptions import NotEmptyError, SchemaExistsError, SchemaMissingError
from pipeline_common.contracts.source import TOTESYS_TABLES
from pipeline_common.postgres import quote_identifier  # on sys.path: see local/__init__.py

SCHEMA_SQL = Path(__file__).with_name("schema.sql")

# The 11 ToteSys tables in foreign-key order (a table follows every table it references).
TABLES: tuple[str, ...] = TOTESYS_TABLES


def primary_key(table: str) -> str:
    """Every ToteSys table's primary key is `<table>_id`."""
    if table not in TABLES:
        raise ValueError(f"not a ToteSys table: {table!r}")
    return f"{table}_id"


def schema_statements() -> list[str]:
    """schema.sql split into single statements (pg8000 runs one statement per call)."""
    text = SCHEMA_SQL.read_text(encoding="utf-8")
    without_comments = "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("--")
    )
    return [stmt.strip() for stmt in without_comments.split(";") if stmt.strip()]


def create_schema(conn: pg8000.native.Connection) -> None:
    """Create the ToteSys types and tables from schema.sql, all or nothing."""
    present = [table for table in TABLES if table not in missing_tables(conn)]
    if present:
        raise SchemaExistsError(f"ToteSys tables already exist: {', '.join(present)}")
    conn.run("BEGIN")
    try:
        for statement in schema_statements():
            conn.run(statement)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise


def missing_tables(conn: pg8000.native.Connection) -> list[str]:
    """ToteSys tables absent from the connection's search path."""
    rows = conn.run(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ANY(:names)",
        names=list(TABLES),
    )
    present = {row[0] for row in rows}
    return [table for table in TABLES if table not in present]


def require_schema(conn: pg8000.native.Connection) -> None:
    """Raise unless every ToteSys table exists."""
    missing = missing_tables(conn)
    if missing:
        raise SchemaMissingError(f"ToteSys tables missing: {', '.join(missing)}; run create")


def ensure_empty_schema(conn: pg8000.native.Connection) -> None:
    """Create the schema when absent; raise when any ToteSys table already holds rows."""
    missing = missing_tables(conn)
    if len(missing) == len(TABLES):
        create_schema(conn)
        return
    require_schema(conn)
    filled = [
        table
        for table in TABLES
        if conn.run(f"SELECT 1 FROM {quote_identifier(table)} LIMIT 1")  # nosec B608
    ]
    if filled:
        raise NotEmptyError(f"ToteSys tables already hold rows: {', '.join(filled)}")


def row_counts(conn: pg8000.native.Connection) -> dict[str, int]:
    """Rows per ToteSys table."""
    return {
        table: int(conn.run(f"SELECT count(*) FROM {quote_identifier(table)}")[0][0])  # nosec B608
        for table in TABLES
    }


def reset_sequences(conn: pg8000.native.Connection) -> None:
    """Point every id sequence past the largest id, so later inserts never collide."""
    for table in TABLES:
        key = primary_key(table)
        conn.run(
            f"SELECT setval(pg_get_serial_sequence(:table, :key), "  # nosec B608
            f"coalesce(max({quote_identifier(key)}), 0) + 1, false) FROM {quote_identifier(table)}",
            table=quote_identifier(table),
            key=key,
        )


@contextmanager
def foreign_keys_dropped(conn: pg8000.native.Connection) -> Iterator[None]:
    """Drop the ToteSys foreign keys for a bulk load and add them back after it.

    Checking a key row by row (a trigger per row) costs more than the load itself; adding
    the constraint back validates every row in one pass. Run inside a transaction, so a
    failure leaves the schema as it was.
    """
    rows = conn.run(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
        "WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace "
        "AND t.relname = ANY(:tables) ORDER BY t.relname, c.conname",
        tables=list(TABLES),
    )
    for table, name, _ in rows:
        conn.run(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    for table, name, definition in rows:
        conn.run(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
