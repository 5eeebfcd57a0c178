"""The warehouse's limit: bare `COPY ... FROM STDIN` of the same rows into empty tables.

The tables are `LIKE` the project's star tables (same columns and types, no keys or
indexes), in a scratch schema rebuilt before the clock starts; the CSV files were written
from the same Parquet the loader reads, before this process started.

With `--with-keys` the same COPYs are followed, in the same transaction and on the clock,
by adding every key the warehouse's star tables have (primary, unique, then the 24 foreign
keys, exactly as `pg_get_constraintdef` gives them): the limit for the loader's end state,
where the bare COPY is the limit for its rows alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pg8000.native

from bench.measure import child_main, secret_from_env, timed
from bench.warehouse import LOAD_ORDER, recreate_scratch_schema, star_row_counts
from local.services import connect_secret
from pipeline_common.copy import copy_in
from pipeline_common.postgres import quote_identifier, quote_identifiers

SCHEMA = "bench_copy"
SCHEMA_WITH_KEYS = "bench_copy_keys"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv-dir", required=True, type=Path)
    parser.add_argument(
        "--with-keys", action="store_true", help="add the star tables' keys after the COPYs"
    )


def star_keys(conn: pg8000.native.Connection) -> list[tuple[str, str, str]]:
    """(table, name, definition) of the public star tables' keys: primary and unique keys
    first, then foreign keys (which need the keys they refer to)."""
    rows = conn.run(
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relname = ANY(:tables) AND k.contype IN ('p', 'u', 'f') "
        "ORDER BY k.contype = 'f', c.relname, k.conname",
        tables=list(LOAD_ORDER),
    )
    return [(table, name, definition) for table, name, definition in rows]


def _work(args: argparse.Namespace) -> dict[str, Any]:
    schema = SCHEMA_WITH_KEYS if args.with_keys else SCHEMA
    conn = connect_secret(secret_from_env("BENCH_WAREHOUSE_SECRET"))
    try:
        recreate_scratch_schema(conn, schema)  # makes the public star tables if still missing
        keys = star_keys(conn) if args.with_keys else []
        with timed() as clock:
            conn.run("START TRANSACTION")
            for table in LOAD_ORDER:
                path = args.csv_dir / f"{table}.csv"
                with path.open("rb") as stream:
                    header = stream.readline().decode().rstrip("\r\n").split(",")
                    copy_in(
                        conn,
                        f"COPY {quote_identifier(schema)}.{quote_identifier(table)} "
                        f"({quote_identifiers(header)}) FROM STDIN (FORMAT csv)",
                        stream,
                    )
            # the definitions name the tables they refer to unqualified: find the scratch ones
            conn.run(f"SET LOCAL search_path = {quote_identifier(schema)}")
            for table, name, definition in keys:
                conn.run(
                    f"ALTER TABLE {quote_identifier(schema)}.{quote_identifier(table)} "
                    f"ADD CONSTRAINT {quote_identifier(name)} {definition}"
                )
            conn.run("COMMIT")
        tables = star_row_counts(conn, schema)
        conn.run(f"DROP SCHEMA {quote_identifier(schema)} CASCADE")
    finally:
        conn.close()
    return {
        "seconds": clock["seconds"],
        "rows": sum(tables.values()),
        "tables": tables,
        "keys_added": len(keys),  # each ADD CONSTRAINT above succeeded or raised
    }


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
