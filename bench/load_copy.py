"""The warehouse's limit: bare `COPY ... FROM STDIN` of the same rows into empty tables.

The tables are `LIKE` the project's star tables (same columns and types, no keys or
indexes), in a scratch schema rebuilt before the clock starts; the CSV files were written
from the same Parquet the loader reads, before this process started.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.measure import child_main, secret_from_env, timed
from bench.source import quote_ident
from bench.warehouse import LOAD_ORDER, recreate_scratch_schema, star_row_counts
from local.services import connect_secret

SCHEMA = "bench_copy"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--csv-dir", required=True, type=Path)


def _work(args: argparse.Namespace) -> dict[str, Any]:
    conn = connect_secret(secret_from_env("BENCH_WAREHOUSE_SECRET"))
    try:
        recreate_scratch_schema(conn, SCHEMA)
        with timed() as clock:
            conn.run("START TRANSACTION")
            for table in LOAD_ORDER:
                path = args.csv_dir / f"{table}.csv"
                with path.open("rb") as stream:
                    header = stream.readline().decode().rstrip("\r\n").split(",")
                    cols = ", ".join(quote_ident(c) for c in header)
                    conn.run(
                        f"COPY {quote_ident(SCHEMA)}.{quote_ident(table)} ({cols}) "
                        f"FROM STDIN (FORMAT csv)",
                        stream=stream,
                    )
            conn.run("COMMIT")
        tables = star_row_counts(conn, SCHEMA)
        conn.run(f"DROP SCHEMA {quote_ident(SCHEMA)} CASCADE")
    finally:
        conn.close()
    return {"seconds": clock["seconds"], "rows": sum(tables.values()), "tables": tables}


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
