"""Staged rows merged into the star tables: dimensions upserted, facts appended once per version.

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


def insert_facts(conn: Connection, table: StarTable, staging: str) -> int:
    """Append the staged fact records not already present; returns records added.

    A record is one (<source>_id, last_updated_date, last_updated_time) version; a version
    the warehouse already holds (a re-delivered batch) is skipped, never duplicated.
    """
    columns = column_list(table.column_names)
    conn.run(
        f"INSERT INTO {quote_ident(table.name)} ({columns}) "  # nosec B608
        f"SELECT {columns} FROM {quote_ident(staging)} "
        f"ORDER BY {column_list(table.key)} "
        f"ON CONFLICT ({column_list(table.key)}) DO NOTHING"
    )
    return int(conn.row_count or 0)
