"""`python -m local demo`: from nothing to business questions answered from lake and warehouse.

Databases (embedded Postgres unless DSNs are given), a generated ToteSys, K pipeline cycles
with the simulator advancing business time between them, then a summary that shows both
consumers hold the same answers.
"""

from __future__ import annotations

import re
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pg8000.native

from local import stack
from local.cycle import freshness_line, summary_table
from local.dialect import athena_to_postgres
from local.dsn import dsn_to_secret
from local.query import connect_lake, lake_tables
from local.report import Progress, format_table, one_line
from local.report_page import write_report
from local.runner import CycleReport, LocalPipeline, StageError
from local.services import PgServer, connect_secret, start_embedded_pg
from local.statedir import NAMES, StateDir
from local.wiring import WiringError

STAR_TABLES = (
    "dim_date",
    "dim_staff",
    "dim_location",
    "dim_design",
    "dim_currency",
    "dim_counterparty",
    "dim_payment_type",
    "dim_transaction",
    "fact_sales_order",
    "fact_purchase_order",
    "fact_payment",
)


SHOWN_ROWS = 6
MAX_WIDTH = 160


class DemoError(RuntimeError):
    """The demo cannot go on (a database refused, answers differ)."""


def _connect(dsn: str) -> pg8000.native.Connection:
    return connect_secret(dsn_to_secret(dsn))


def _databases(progress: Progress, work: Path) -> tuple[str, str, PgServer]:
    """Two fresh databases on an embedded Postgres (pgserver, on a unix socket)."""
    with progress.stage("postgres", "embedded server (pgserver)") as info:
        server = start_embedded_pg(str(work / "pgdata"))
        source = server.create_database("totesys")
        warehouse = server.create_database("warehouse")
        info["note"] = f"databases {source}, {warehouse}"
    return server.dsn(source), server.dsn(warehouse), server


def _generate(progress: Progress, source_dsn: str, orders: int, seed: int) -> None:
    from local.totesys import seed as seed_totesys
    from local.totesys.schema import ensure_empty_schema

    with progress.stage("generate", f"ToteSys with {orders} orders") as info:
        conn = _connect(source_dsn)
        try:
            ensure_empty_schema(conn)
            counts = seed_totesys(conn, orders=orders, seed=seed)
        finally:
            conn.close()
        info["note"] = _counts_note(counts)


def _counts_note(counts: Any) -> str:
    if not isinstance(counts, dict):
        return ""
    numbers = {k: v for k, v in counts.items() if isinstance(v, int)}
    return f"{sum(numbers.values())} rows" + (
        f" ({', '.join(f'{k} {v}' for k, v in list(numbers.items())[:4])}, ...)"
        if len(numbers) > 4
        else f" ({', '.join(f'{k} {v}' for k, v in numbers.items())})"
    )


def _advance(progress: Progress, source_dsn: str, hours: int, seed: int) -> datetime:
    """Simulate business hours of changes; returns when they were committed."""
    from local.totesys import advance

    with progress.stage("advance", f"{hours} trading hours of changes") as info:
        conn = _connect(source_dsn)
        try:
            counts = advance(conn, hours=hours, seed=seed)
        finally:
            conn.close()
        inserts = sum((counts.get("inserts") or {}).values())
        updates = sum((counts.get("updates") or {}).values())
        info["note"] = f"{inserts} rows inserted, {updates} updated"
    return datetime.now(UTC)


def warehouse_counts(warehouse_dsn: str) -> list[tuple[str, int]]:
    """Rows per star table in the warehouse."""
    conn = _connect(warehouse_dsn)
    try:
        present = {
            row[0]
            for row in conn.run(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        return [
            # names from the STAR_TABLES allow-list, quoted
            (table, int(conn.run(f'SELECT count(*) FROM "{table}"')[0][0]))  # nosec B608
            for table in STAR_TABLES
            if table in present
        ]
    finally:
        conn.close()


def lake_summary(state: StateDir) -> list[tuple[str, str, int, int]]:
    """Catalog tables: name, location, Parquet files, rows."""
    _database, tables = lake_tables(state)
    conn = connect_lake(state)
    try:
        rows = []
        for table in tables:
            # connect_lake made a view of this name only after checking it is an identifier
            sql = f'SELECT count(*) FROM "{table.name}"'  # nosec B608
            count = conn.execute(sql).fetchone()
            files = len(list(table.directory.rglob("*.parquet")))
            rows.append((table.name, table.location, files, int(count[0]) if count else 0))
        return rows
    finally:
        conn.close()


def _normal(value: Any) -> Any:
    """A value in a form both engines agree on (Decimal/float/int as rounded Decimal)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def normalise(rows: Sequence[Sequence[Any]], ordered: bool) -> list[tuple[Any, ...]]:
    """Rows comparable across DuckDB and Postgres; sorted unless the query orders them."""
    result = [tuple(_normal(v) for v in row) for row in rows]
    return result if ordered else sorted(result, key=repr)


def answer(
    sql: str, state: StateDir, warehouse_dsn: str, database: str
) -> tuple[list[str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """One question's columns and rows from the lake (DuckDB) and the warehouse (Postgres)."""
    lake = connect_lake(state)
    try:
        cursor = lake.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        lake_rows = [tuple(r) for r in cursor.fetchall()]
    finally:
        lake.close()
    conn = _connect(warehouse_dsn)
    try:
        warehouse_rows = [tuple(r) for r in conn.run(athena_to_postgres(sql, database))]
    finally:
        conn.close()
    return columns, lake_rows, warehouse_rows


def side_by_side(
    columns: list[str], lake_rows: list[tuple[Any, ...]], warehouse_rows: list[tuple[Any, ...]]
) -> str:
    """The two answers next to each other when they fit the width, else one above the other."""
    left = format_table(columns, lake_rows).splitlines()
    right = format_table(columns, warehouse_rows).splitlines()
    title = "lake (DuckDB over the catalog's Parquet)"
    width = max(len(title), *(len(line) for line in left))
    if width + 3 + max(len(line) for line in right) > MAX_WIDTH:
        stacked = [f"{title}:", *left, "warehouse (Postgres):"]
        return "\n".join([*stacked, *right])
    titles = title.ljust(width) + " | warehouse (Postgres)"
    lines = [titles]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        lines.append(f"{a.ljust(width)} | {b}".rstrip())
    return "\n".join(lines)


def _questions(progress: Progress, state: StateDir, warehouse_dsn: str) -> bool:
    template = stack.load()
    queries = stack.named_queries(template, stack.local_refs(template))
    if not queries:
        progress.say("template.yaml declares no AWS::Athena::NamedQuery: no questions to ask")
        return True
    all_equal = True
    for query in queries:
        progress.say()
        progress.say(f"Q: {query.name}" + (f" - {query.description}" if query.description else ""))
        try:
            columns, lake_rows, warehouse_rows = answer(
                query.sql, state, warehouse_dsn, NAMES.database
            )
        except Exception as exc:  # noqa: BLE001 - a question that fails is reported, not fatal
            progress.say(f"   could not be answered: {one_line(exc)}")
            all_equal = False
            continue
        ordered = bool(re.search(r"\border\s+by\b", query.sql, re.I))
        equal = normalise(lake_rows, ordered) == normalise(warehouse_rows, ordered)
        all_equal = all_equal and equal
        progress.say(side_by_side(columns, lake_rows[:SHOWN_ROWS], warehouse_rows[:SHOWN_ROWS]))
        more = max(len(lake_rows), len(warehouse_rows)) > SHOWN_ROWS
        tail = f" (first {SHOWN_ROWS} shown)" if more else ""
        verdict = "equal answers" if equal else "ANSWERS DIFFER"
        progress.say(
            f"   {verdict}: lake {len(lake_rows)} rows, warehouse {len(warehouse_rows)} rows{tail}"
        )
    return all_equal


def run_demo(
    *,
    orders: int,
    cycles: int,
    hours: int,
    source_dsn: str | None,
    warehouse_dsn: str | None,
    state_dir: Path | None,
    seed: int,
) -> int:
    """The whole demo; 0 when every stage ran and lake and warehouse agree."""
    progress = Progress()
    started = time.perf_counter()
    # A terminated demo still stops its embedded Postgres (the `finally` below runs).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="totesys-demo-"))
    state_path = state_dir or work / "state"
    server: PgServer | None = None
    last: CycleReport | None = None
    try:
        progress.say(f"ToteSys pipeline demo: {orders} orders, {cycles} cycles, work in {work}")
        if source_dsn and warehouse_dsn:
            src, wh = source_dsn, warehouse_dsn
        else:
            src, wh, server = _databases(progress, work)
        _generate(progress, src, orders, seed)
        changed_at: datetime | None = None
        with LocalPipeline(
            source_dsn=src,
            warehouse_dsn=wh,
            state_dir=state_path,
            commit_lag_seconds=0,
            progress=Progress(indent="  "),
        ) as pipeline:
            for cycle in range(1, cycles + 1):
                if cycle > 1:
                    changed_at = _advance(progress, src, hours, seed + cycle)
                progress.say(f"cycle {cycle}/{cycles}")
                last = pipeline.run_cycle()
        if last is None:
            raise DemoError("no cycle ran (--cycles must be 1 or more)")
        state = StateDir(state_path)
        progress.say()
        progress.say("last cycle, per stage and table:")
        progress.say(summary_table(last))
        progress.say()
        progress.say("warehouse (Postgres), rows per star table:")
        progress.say(format_table(("table", "rows"), warehouse_counts(wh)))
        progress.say()
        progress.say(f"lake (Glue catalog database {NAMES.database}):")
        progress.say(format_table(("table", "location", "files", "rows"), lake_summary(state)))
        progress.say()
        # Claimed only if the warehouse holds them: its newest batch's hi is after the change.
        held = (
            last.warehouse_hi is not None
            and changed_at is not None
            and (datetime.fromisoformat(last.warehouse_hi).replace(tzinfo=UTC) >= changed_at)
        )
        if held and changed_at is not None and last.finished_at is not None:
            seconds = (last.finished_at - changed_at).total_seconds()
            progress.say(
                f"freshness: the last cycle's source changes reached the warehouse "
                f"{seconds:.1f}s after they were committed (commit lag 0)"
            )
        elif changed_at is not None:
            progress.say(freshness_line(last))
        equal = _questions(progress, state, wh)
        progress.say()
        progress.say(f"report: {write_report(state_path, None, wh)}")
        progress.say(f"demo finished in {time.perf_counter() - started:.0f}s")
        progress.say(f'query the lake: python -m local query --state-dir {state_path} "SQL"')
        if not equal:
            print("error: the lake and the warehouse disagree (see above)", file=sys.stderr)
            return 1
        return 0
    except (StageError, WiringError, DemoError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI's contract: one line, non-zero
        print(f"error: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        if server is not None and server._handle is not None:
            server._handle.cleanup()
