"""What the commit fence adds to a run: each table's no-change read with and without it.

In one REPEATABLE READ snapshot, as ingest reads: every table's COPY over a window that
holds no row (`[now - 1 ms, now)`), once as before the fence (`lo <= last_updated < hi`)
and once with it (`last_updated < hi AND (last_updated >= lo OR <fence>)`, the fence
spanning from this snapshot's xmin, as after a batch a moment ago), the two taking turns
going first. Before them, the `seen_xids` statement a run sends when it writes a batch
while another transaction (of any database on the server) is in progress, which the fence
then excludes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

from bench.measure import child_main, secret_from_env
from bench.source import TOTESYS_TABLES
from ingest.extract import copy_sql
from ingest.fence import Fence, read_current_snapshot, read_seen_xids
from ingest.source import describe_tables
from ingest.window import Window, format_timestamp
from local.services import connect_secret
from pipeline_common.copy import copy_rows_out


class _Sink:
    """Discards the rows it is handed, counting them."""

    def __init__(self) -> None:
        self.rows = 0

    def write_rows(self, rows: list[bytes]) -> None:
        self.rows += len(rows)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--turn", type=int, default=0, help="odd: the fenced read goes first")


def _copy(conn: Any, sql: str, sink: _Sink) -> float:
    started = time.perf_counter()
    copy_rows_out(conn, sql, sink)
    return time.perf_counter() - started


def _work(args: argparse.Namespace) -> dict[str, Any]:
    conn = connect_secret(secret_from_env("BENCH_SOURCE_SECRET"))
    sink = _Sink()
    plain = fenced = 0.0
    try:
        conn.run("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        [[now]] = conn.run("SELECT date_trunc('milliseconds', now() AT TIME ZONE 'UTC')")
        current = read_current_snapshot(conn)
        window = Window(format_timestamp(now - dt.timedelta(milliseconds=1)), format_timestamp(now))
        specs = describe_tables(conn, TOTESYS_TABLES)
        watermarks = {table: window.hi for table in specs}
        started = time.perf_counter()
        seen = read_seen_xids(conn, specs.values(), watermarks, current)
        seen_seconds = time.perf_counter() - started
        # As the next run's fence over this snapshot would be, read in this same snapshot:
        # every id from its xmin on, but those it saw commit.
        fence = Fence(current.age_of(current.xmin), tuple(current.age_of(x) for x in seen))
        for spec in specs.values():
            reads = [(False, copy_sql(spec, window)), (True, copy_sql(spec, window, fence))]
            for is_fenced, sql in reads[::-1] if args.turn % 2 else reads:
                seconds = _copy(conn, sql, sink)
                if is_fenced:
                    fenced += seconds
                else:
                    plain += seconds
        conn.run("ROLLBACK")
    finally:
        conn.close()
    return {
        "seconds": fenced,
        "plain_seconds": plain,
        "added_seconds": fenced - plain,
        "seen_xids_seconds": seen_seconds,
        "seen_xids": len(seen),
        "rows": sink.rows - 2 * len(TOTESYS_TABLES),  # each COPY sends a header line
        "tables": len(TOTESYS_TABLES),
    }


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
