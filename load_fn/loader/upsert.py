"""Staged rows into the star tables: dimensions upserted, facts appended once per version.

SQL here is built only from allow-listed, quoted identifiers (loader.schema); "nosec B608"
marks those lines for bandit. No value is ever part of the SQL text.
"""

from __future__ import annotations

from loader.exceptions import DuplicateKeyError
from loader.schema import StarTable, column_list, quote_ident
from loader.warehouse import Connection


def upsert_dimension(conn: Connection, table: StarTable, staging: str) -> int:
    """Insert new ids, update changed ones, leave unchanged rows untouched; returns rows written.

    The WHERE on the update means an unchanged row is not rewritten (no new row version,
    no dead tuple), so re-delivered batches cost reads only.
    """
    duplicate = conn.run(
        f"SELECT {column_list(table.key)} FROM {quote_ident(staging)} "  # nosec B608
        f"GROUP BY {column_list(table.key)} HAVING count(*) > 1 LIMIT 1"
    )
    if duplicate:
        raise DuplicateKeyError(
            f"{table.name}: the batch holds {table.key[0]}={duplicate[0][0]} more than once"
        )
    columns = column_list(table.column_names)
    values = table.value_columns
    if values:
        action = (
            f"DO UPDATE SET {_assignments(values)} "  # nosec B608
            f"WHERE ({column_list(values, 't')}) IS DISTINCT FROM "
            f"({column_list(values, 'excluded')})"
        )
    else:
        action = "DO NOTHING"
    conn.run(
        f"INSERT INTO {quote_ident(table.name)} AS t ({columns}) "  # nosec B608
        f"SELECT {columns} FROM {quote_ident(staging)} "
        f"ON CONFLICT ({column_list(table.key)}) {action}"
    )
    return int(conn.row_count or 0)


def _assignments(names: tuple[str, ...]) -> str:
    """`"a" = "excluded"."a", ...` for the columns an upsert overwrites."""
    excluded = quote_ident("excluded")
    return ", ".join(f"{quote_ident(n)} = {excluded}.{quote_ident(n)}" for n in names)


BULK_FACT_ROWS = 50_000
"""Staged fact rows above which the foreign keys are checked once per batch, not per row."""


def insert_facts(conn: Connection, table: StarTable, staging: str, staged_rows: int = 0) -> int:
    """Append the staged fact records not already present; returns records added.

    A record is one (<source>_id, last_updated_date, last_updated_time) version; a version
    the warehouse already holds (a re-delivered batch) is skipped, never duplicated.
    """
    columns = column_list(table.column_names)
    insert = (
        f"INSERT INTO {quote_ident(table.name)} ({columns}) "  # nosec B608
        f"SELECT {columns} FROM {quote_ident(staging)} "
        f"ORDER BY {column_list(table.key)} "
        f"ON CONFLICT ({column_list(table.key)}) DO NOTHING"
    )
    if staged_rows < BULK_FACT_ROWS:
        conn.run(insert)
        return int(conn.row_count or 0)
    return _insert_with_set_based_checks(conn, table, insert)


def _insert_with_set_based_checks(conn: Connection, table: StarTable, insert: str) -> int:
    """A large batch: drop the fact's foreign keys, insert, re-add and VALIDATE them.

    Postgres checks a foreign key with one trigger query per inserted row; with nine of them
    a million-row backfill spends ~90% of its time there (bench/load_throughput.py).
    VALIDATE CONSTRAINT checks the whole table with one anti-join per key instead. All of it
    runs in the batch's transaction: a violation rolls everything back, and the constraints
    exist before and after. The price is an ACCESS EXCLUSIVE lock on the fact table for the
    length of the batch, which only large backfills pay.
    """
    # Names and definitions come from the catalog of the warehouse schema this loader's own
    # migrations created (pg_get_constraintdef), never from loaded data.
    keys = conn.run(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:table AS regclass) AND contype = 'f' ORDER BY conname",
        table=quote_ident(table.name),
    )
    target = quote_ident(table.name)
    for name, _ in keys:
        conn.run(f"ALTER TABLE {target} DROP CONSTRAINT {quote_ident(name)}")
    conn.run(insert)
    written = int(conn.row_count or 0)
    for name, definition in keys:
        conn.run(f"ALTER TABLE {target} ADD CONSTRAINT {quote_ident(name)} {definition} NOT VALID")
        conn.run(f"ALTER TABLE {target} VALIDATE CONSTRAINT {quote_ident(name)}")
    return written
