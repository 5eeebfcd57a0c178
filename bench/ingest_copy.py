"""The source's limit: bare `COPY (SELECT ...) TO STDOUT` of every table, drained to nothing."""

from __future__ import annotations

import argparse
from typing import Any

from bench.measure import child_main, secret_from_env, timed
from bench.source import TOTESYS_TABLES, select_sql
from local.services import connect_secret


class _Sink:
    """A binary stream that discards what pg8000 writes to it, counting bytes."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)


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
                conn.run(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)", stream=sink)
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
