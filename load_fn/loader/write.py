"""One star table of a batch into the warehouse: COPY straight in when nothing can conflict,
else COPY into a staging table and merge.

A fact is append-only and a batch normally brings only versions the warehouse has never
seen, and an empty dimension has nothing to update: for both, the rows are COPYed straight
into the table inside a savepoint, one pass over the data (what a bare COPY does). If the
table's unique key objects (a version already loaded, a re-delivered batch whose
bookkeeping was lost, an id twice in the batch), the savepoint is rolled back and the rows
take the merge path (loader.upsert), which skips known versions and upserts dimensions.
Either way the batch's transaction holds the result and the row counts are the same.

SQL here is built only from allow-listed, quoted identifiers (pipeline_common.postgres);
"nosec B608" marks those lines for bandit. No value is ever part of the SQL text.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from pg8000.exceptions import DatabaseError

from loader.copy import copy_batches, create_staging_table
from loader.exceptions import RowCountMismatchError
from loader.manifest import TablePlan
from loader.read import LakeReader
from loader.schema import STAR_TABLES, StarTable
from loader.upsert import insert_facts, upsert_dimension
from loader.warehouse import Connection
from pipeline_common.postgres import quote_identifier, sqlstate

logger = Logger(child=True)

UNIQUE_VIOLATION = "23505"

BULK_FACT_ROWS = 50_000
"""Fact rows from which the foreign keys are checked once per batch, not per row (re-adding
a key reads the whole table, so below this a non-empty table keeps the per-row checks)."""

BULK_DIMENSION_ROWS = 10_000
"""Rows from which an empty dimension's primary key is built once after its COPY instead of
row by row during it (dim_transaction, 100k rows: COPY 223-243 ms with the key; 66-130 ms
without it, plus 26 ms to build it). Below this, dropping and re-adding the foreign keys
that refer to the key costs more than it saves."""


@dataclass(frozen=True)
class Constraint:
    """A constraint as the catalog holds it, to drop and add back unchanged."""

    table: str
    name: str
    definition: str


@dataclass
class Timing:
    """Where a batch's time went: COPYing from the lake, and merging/checking constraints."""

    copy_seconds: float = 0.0
    merge_seconds: float = 0.0


@dataclass(frozen=True)
class TableCount:
    """Rows read from the lake for a table, and rows that changed the warehouse."""

    read: int
    written: int


def write_dimension(
    conn: Connection, lake: LakeReader, plan: TablePlan, timing: Timing
) -> TableCount:
    """An empty dimension gets a straight COPY; any other is upserted from staging.

    A large one has its primary key built after the COPY, with the foreign keys that refer
    to it, when those are all on empty facts (a first load: re-adding them reads nothing).
    """
    if not _is_empty(conn, plan.table):
        return _merge(conn, lake, plan, timing)
    large = (plan.rows or 0) >= BULK_DIMENSION_ROWS
    keys = _dimension_keys(conn, plan.table) if large else []
    return _copy_or_merge(conn, lake, plan, timing, keys)


def write_facts(conn: Connection, lake: LakeReader, plan: TablePlan, timing: Timing) -> TableCount:
    """Append a fact's new versions: a straight COPY, merged only if a version is known.

    Foreign keys are checked once for the whole table instead of per row when the batch is
    large, or when the table is empty (a first load: validating then reads only this batch).
    """
    empty = _is_empty(conn, plan.table)
    once = empty or (plan.rows or 0) >= BULK_FACT_ROWS
    foreign = _constraints(conn, plan.table, "f") if once else []
    with _constraints_added_after(conn, foreign, timing):
        keys = _constraints(conn, plan.table, "pu") if empty else []
        return _copy_or_merge(conn, lake, plan, timing, keys)


def _is_empty(conn: Connection, table: StarTable) -> bool:
    rows = conn.run(f"SELECT NOT EXISTS (SELECT FROM {quote_identifier(table.name)})")  # nosec B608
    return bool(rows[0][0])


def _copy_or_merge(
    conn: Connection,
    lake: LakeReader,
    plan: TablePlan,
    timing: Timing,
    keys_built_after: list[Constraint],
) -> TableCount:
    conn.run("SAVEPOINT straight_copy")
    try:
        with _constraints_added_after(conn, keys_built_after, timing):
            rows = _copy(conn, lake, plan, plan.table.name, timing)
    except DatabaseError as exc:
        if sqlstate(exc) != UNIQUE_VIOLATION:
            raise
        conn.run("ROLLBACK TO SAVEPOINT straight_copy")
        logger.info(
            "batch repeats a key the table holds; merging through staging",
            extra={"table": plan.table.name},
        )
        return _merge(conn, lake, plan, timing)
    conn.run("RELEASE SAVEPOINT straight_copy")
    return TableCount(rows, rows)


def _merge(conn: Connection, lake: LakeReader, plan: TablePlan, timing: Timing) -> TableCount:
    staging = create_staging_table(conn, plan.table)
    rows = _copy(conn, lake, plan, staging, timing)
    started = time.monotonic()
    if plan.table.kind == "dimension":
        written = upsert_dimension(conn, plan.table, staging)
    else:
        written = insert_facts(conn, plan.table, staging)
    timing.merge_seconds += time.monotonic() - started
    return TableCount(rows, written)


def _copy(conn: Connection, lake: LakeReader, plan: TablePlan, target: str, timing: Timing) -> int:
    """COPY every object of the plan into `target` in one COPY; the rows must match the plan."""
    started = time.monotonic()
    batches = lake.table_batches(plan)
    rows = copy_batches(conn, target, plan.table, batches)
    timing.copy_seconds += time.monotonic() - started
    if plan.rows is not None and rows != plan.rows:
        raise RowCountMismatchError(
            f"{plan.table.name}: read {rows} rows, manifest says {plan.rows}"
        )
    return rows


def _constraints(conn: Connection, table: StarTable, kinds: str) -> list[Constraint]:
    """The table's constraints of the given pg_constraint.contype kinds.

    Names and definitions come from the catalog of the warehouse schema this loader's own
    migrations created (pg_get_constraintdef), never from loaded data.
    """
    rows = conn.run(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:table AS regclass) AND contype = ANY(:kinds) "
        "ORDER BY contype, conname",
        table=quote_identifier(table.name),
        kinds=list(kinds),
    )
    return [Constraint(table.name, name, definition) for name, definition in rows]


def _dimension_keys(conn: Connection, table: StarTable) -> list[Constraint]:
    """The foreign keys that refer to the dimension, then its primary key, when every one of
    those keys is on an empty star fact; else none (a table the loader does not own, or one
    holding rows, is never altered for a faster COPY)."""
    rows = conn.run(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE confrelid = CAST(:table AS regclass) AND contype = 'f' ORDER BY 1, 2",
        table=quote_identifier(table.name),
    )
    referring = {row[0] for row in rows}
    if not referring <= STAR_TABLES.keys():
        return []
    if not all(_is_empty(conn, STAR_TABLES[name]) for name in sorted(referring)):
        return []
    return [Constraint(*row) for row in rows] + _constraints(conn, table, "p")


@contextlib.contextmanager
def _constraints_added_after(
    conn: Connection, keys: list[Constraint], timing: Timing
) -> Iterator[None]:
    """Drop these constraints in order, write, then add them back as they were, in reverse.

    Adding a constraint checks the whole table in one statement, where keeping it checks
    row by row: one trigger query per row and foreign key ("f": nine per fact, ~90% of a
    million-row backfill, bench/load_throughput.py), one index insertion per row and key
    (an index built once is about twice as fast, as Postgres's "Populating a Database"
    advises). All of it runs in the batch's transaction, so a violation (23503, or the 23505
    of a duplicate, which sends the batch to the merge path) rolls back to constraints that
    exist before and after. The price is an ACCESS EXCLUSIVE lock on the tables while the
    batch loads.
    """
    for key in keys:
        conn.run(
            f"ALTER TABLE {quote_identifier(key.table)} "
            f"DROP CONSTRAINT {quote_identifier(key.name)}"
        )
    yield
    started = time.monotonic()
    for key in reversed(keys):
        conn.run(
            f"ALTER TABLE {quote_identifier(key.table)} "
            f"ADD CONSTRAINT {quote_identifier(key.name)} {key.definition}"
        )
    timing.merge_seconds += time.monotonic() - started
