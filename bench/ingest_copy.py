"""The source's limit: bare `COPY (SELECT ...) TO STDOUT` of every table, drained to nothing.

The rows are read as ingest reads them (pipeline_common.copy, whole buffers of CopyData
messages at a time), so the limit is what Postgres sends, not what pg8000's one-call-per-row
loop can take: on a million-order source (3.0M rows) that loop costs 3.7 s of client CPU
where the server needs 1.9 s; the drain takes 3.7 s through it and 2.5 s this way.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.measure import child_main, secret_from_env, timed
from bench.source import TOTESYS_TABLES, select_sql
from local.services import connect_secret
from pipeline_common.copy import copy_rows_out


class _Sink:
    """Discards the rows it is handed, counting their bytes."""

    def __init__(self) -> None:
        self.bytes = 0

    def write_rows(self, rows: list[bytes]) -> None:
        self.bytes += sum(map(len, rows))


def _arguments(parser: argparse.ArgumentParser) -> None:
    """No options besides --out: the source secret comes in BENCH_SOURCE_SECRET."""


def _work(args: argparse.Namespace) -> dict[str, Any]:
    conn = connect_secret(secret_from_env("BENCH_SOURCE_SECRET"))
    sink = _Sink()
    rows: dict[str, int] = {}
    try:
        with timed() as clock:
            conn.run("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for table in TOTESYS_TABLES:
                sql = select_sql(conn, table)
                copy_rows_out(conn, f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)", sink)
                rows[table] = int(conn.row_count)
            conn.run("COMMIT")
    finally:
        conn.close()
    return {
        "seconds": clock["seconds"],
        "rows": sum(rows.values()),
        "tables": rows,
        "bytes": sink.bytes,
    }


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
