"""The ToteSys side of a run: the run lock, one consistent snapshot, and table descriptions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pg8000.native
from aws_lambda_powertools import Logger
from pg8000.exceptions import DatabaseError, InterfaceError

from ingest.exceptions import SourceQueryError, SourceSchemaError
from pipeline_common.contracts.manifests import SourceColumn as Column
from pipeline_common.contracts.source import WATERMARK_COLUMN
from pipeline_common.errors import PipelineError
from pipeline_common.postgres import advisory_lock, pipeline_error

logger = Logger(child=True)

SOURCE_SCHEMA = "public"

# pg_try_advisory_lock key held by a run for its whole length (arbitrary, fixed, documented
# in docs/contracts.md): two overlapping runs cannot both read the same window and write.
RUN_LOCK_KEY = 7_300_111_042

_COLUMNS_SQL = """
SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.udt_name::text,
       (c.is_nullable = 'YES'), c.numeric_precision::int, c.numeric_scale::int
FROM information_schema.columns AS c
WHERE c.table_schema = :schema AND c.table_name = ANY(CAST(:tables AS text[]))
ORDER BY c.table_name, c.ordinal_position
"""

# pg_catalog, not information_schema.table_constraints: the latter hides constraints from a
# role that has only SELECT on a table, which is exactly how a read-only ingest user reads.
_PRIMARY_KEY_SQL = """
SELECT c.relname::text, a.attname::text, c.reltuples::float8
FROM pg_catalog.pg_index AS i
JOIN pg_catalog.pg_class AS c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE i.indisprimary AND n.nspname = :schema AND c.relname = ANY(CAST(:tables AS text[]))
ORDER BY c.relname, k.position
"""


@dataclass(frozen=True)
class TableSpec:
    """What ingest needs to extract a table: its columns in order and its primary key."""

    name: str
    columns: tuple[Column, ...]
    primary_key: str
    estimated_rows: float = 0.0
    """pg_class.reltuples, the planner's estimate (-1: never analysed); orders the run only."""


def database_error(exc: Exception, doing: str) -> PipelineError:
    """A pg8000 failure on the source as a transient or terminal pipeline error (the one
    policy of pipeline_common.postgres, in ingest's words)."""
    return pipeline_error(exc, doing, server="source", terminal=SourceQueryError)


@contextmanager
def hold_run_lock(conn: pg8000.native.Connection) -> Iterator[None]:
    """Hold the session advisory lock for a run; raise ConcurrentRunError if another has it."""
    busy = "another ingest run holds the source lock; this run did nothing"
    with advisory_lock(conn, RUN_LOCK_KEY, busy=busy, translate=database_error):
        yield


@contextmanager
def snapshot(conn: pg8000.native.Connection) -> Iterator[dt.datetime]:
    """One REPEATABLE READ, READ ONLY transaction; yields its now() in UTC, cut to ms.

    Every table is read inside it, so a batch is one consistent state of ToteSys. now() is
    cut to milliseconds, the precision of ToteSys's timestamp(3) columns, so a stored
    last_updated can equal a window bound exactly (and the boundary behaves as written).
    """
    try:
        conn.run("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.run("SET LOCAL DateStyle = 'ISO, MDY'")
        conn.run("SET LOCAL IntervalStyle = 'postgres'")
        [[now]] = conn.run("SELECT date_trunc('milliseconds', now() AT TIME ZONE 'UTC')")
    except (InterfaceError, DatabaseError, OSError) as exc:
        raise database_error(exc, "opening the snapshot") from exc
    try:
        yield now
    finally:
        try:
            conn.run("ROLLBACK")  # read only: nothing to commit
        except (InterfaceError, DatabaseError, OSError):
            logger.debug("snapshot not rolled back explicitly; the connection is gone")


def describe_tables(
    conn: pg8000.native.Connection, tables: tuple[str, ...]
) -> dict[str, TableSpec]:
    """Columns (ordinal order) and primary key of each table; a missing table is an error."""
    try:
        column_rows = conn.run(_COLUMNS_SQL, schema=SOURCE_SCHEMA, tables=list(tables))
        key_rows = conn.run(_PRIMARY_KEY_SQL, schema=SOURCE_SCHEMA, tables=list(tables))
    except (InterfaceError, DatabaseError, OSError) as exc:
        raise database_error(exc, "reading table descriptions") from exc
    columns: dict[str, list[Column]] = {}
    for table, name, data_type, udt_name, nullable, precision, scale in column_rows:
        columns.setdefault(table, []).append(
            Column(name, data_type, udt_name, bool(nullable), precision, scale)
        )
    keys: dict[str, list[str]] = {}
    estimates: dict[str, float] = {}
    for table, name, estimate in key_rows:
        keys.setdefault(table, []).append(name)
        estimates[table] = float(estimate)
    missing = [table for table in tables if table not in columns]
    if missing:
        raise SourceSchemaError(
            f"source tables missing from schema {SOURCE_SCHEMA!r} (or not readable): "
            f"{', '.join(missing)}"
        )
    specs: dict[str, TableSpec] = {}
    for table in tables:
        names = [column.name for column in columns[table]]
        if WATERMARK_COLUMN not in names:
            raise SourceSchemaError(f"source table {table!r} has no {WATERMARK_COLUMN} column")
        key = keys.get(table, [])
        if len(key) != 1:
            raise SourceSchemaError(
                f"source table {table!r} must have a one-column primary key, has {key!r}"
            )
        specs[table] = TableSpec(table, tuple(columns[table]), key[0], estimates[table])
    return specs
