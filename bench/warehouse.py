"""The warehouse as the load baselines see it: star tables, their columns, scratch copies."""

from __future__ import annotations

import pg8000.native

from bench.transform_duckdb import STAR_TABLES
from pipeline_common.postgres import quote_identifier

DIMENSION_KEYS = {
    "dim_date": "date_id",
    "dim_staff": "staff_id",
    "dim_location": "location_id",
    "dim_design": "design_id",
    "dim_currency": "currency_id",
    "dim_counterparty": "counterparty_id",
    "dim_payment_type": "payment_type_id",
    "dim_transaction": "transaction_id",
}
LOAD_ORDER = tuple(t for t in STAR_TABLES if t.startswith("dim_")) + tuple(
    t for t in STAR_TABLES if t.startswith("fact_")
)


def loadable_columns(
    conn: pg8000.native.Connection, table: str, schema: str = "public"
) -> list[str]:
    """A star table's columns in order, without the warehouse-assigned serial record id."""
    rows = conn.run(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = :s AND table_name = :t "
        "AND coalesce(column_default, '') NOT LIKE 'nextval(%' ORDER BY ordinal_position",
        s=schema,
        t=table,
    )
    if not rows:
        raise LookupError(f"warehouse table {schema}.{table} does not exist")
    return [row[0] for row in rows]


def star_row_counts(conn: pg8000.native.Connection, schema: str = "public") -> dict[str, int]:
    """Exact row counts of the 11 star tables in a schema."""
    qualifier = quote_identifier(schema)
    return {
        t: int(conn.run(f"SELECT count(*) FROM {qualifier}.{quote_identifier(t)}")[0][0])  # nosec B608
        for t in STAR_TABLES
    }


def recreate_scratch_schema(
    conn: pg8000.native.Connection, schema: str, *, like: str = "INCLUDING DEFAULTS"
) -> None:
    """Empty copies of the star tables in `schema` (`LIKE public.<t>`; no foreign keys).

    The public star tables are made first by the loader's own migrations (a no-op when
    they exist), so a baseline can run before the loader on a fresh warehouse database.
    """
    from loader.migrations import apply_migrations  # load_fn is on the children's path

    apply_migrations(conn)
    conn.run(f"DROP SCHEMA IF EXISTS {quote_identifier(schema)} CASCADE")
    conn.run(f"CREATE SCHEMA {quote_identifier(schema)}")
    for table in STAR_TABLES:
        conn.run(
            f"CREATE TABLE {quote_identifier(schema)}.{quote_identifier(table)} "
            f"(LIKE public.{quote_identifier(table)} {like})"
        )
