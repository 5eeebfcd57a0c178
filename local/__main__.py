"""`python -m local run|query|report|demo`: the whole pipeline on one machine, no AWS account."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from local.dsn import fill_password
from local.report import format_table, one_line


def _run(args: argparse.Namespace) -> int:
    from local.cycle import run_once

    return run_once(
        source_dsn=fill_password(args.source_dsn, os.environ),
        warehouse_dsn=fill_password(args.warehouse_dsn, os.environ),
        state_dir=Path(args.state_dir),
        commit_lag_seconds=args.commit_lag_seconds,
    )


def _query(args: argparse.Namespace) -> int:
    from local.query import LakeQueryError, run_query
    from local.statedir import StateDir

    try:
        columns, rows = run_query(StateDir(Path(args.state_dir)), args.sql)
    except LakeQueryError as exc:
        print(f"query failed: {one_line(exc)}", file=sys.stderr)
        return 1
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    else:
        print(format_table(columns, rows))
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0


def _report(args: argparse.Namespace) -> int:
    from pg8000.exceptions import DatabaseError, InterfaceError

    from local.dsn import DsnError
    from local.history import HistoryError
    from local.query import LakeQueryError
    from local.report_page import write_report

    try:
        path = write_report(
            Path(args.state_dir), Path(args.output) if args.output else None, args.warehouse_dsn
        )
    except (HistoryError, LakeQueryError, DsnError, DatabaseError, InterfaceError, OSError) as exc:
        print(f"report failed: {one_line(exc)}", file=sys.stderr)
        return 1
    print(f"report written: {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from local.demo import run_demo

    if bool(args.source_dsn) != bool(args.warehouse_dsn):
        print("demo: give both --source-dsn and --warehouse-dsn, or neither", file=sys.stderr)
        return 2
    return run_demo(
        orders=args.orders,
        cycles=args.cycles,
        hours=args.hours,
        source_dsn=fill_password(args.source_dsn, os.environ) if args.source_dsn else None,
        warehouse_dsn=fill_password(args.warehouse_dsn, os.environ) if args.warehouse_dsn else None,
        state_dir=Path(args.state_dir) if args.state_dir else None,
        seed=args.seed,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="Run the ToteSys pipeline locally: moto as AWS, Spark as Glue.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="one pipeline cycle: ingest, transform, load")
    run.add_argument(
        "--source-dsn",
        required=True,
        help="ToteSys: postgresql://user@host/db (password: PGPASSWORD or ~/.pgpass)",
    )
    run.add_argument("--warehouse-dsn", required=True, help="warehouse: postgresql://...")
    run.add_argument("--state-dir", required=True, help="local AWS state kept between runs")
    run.add_argument(
        "--commit-lag-seconds",
        type=int,
        default=0,
        help="ignore changes younger than this (default 0, as deployed: the commit fence "
        "takes late commits on the next run)",
    )
    run.set_defaults(func=_run)

    query = commands.add_parser("query", help="SQL over the lake tables of the local catalog")
    query.add_argument("--state-dir", required=True)
    query.add_argument("--format", choices=("table", "csv"), default="table")
    query.add_argument("sql")
    query.set_defaults(func=_query)

    report = commands.add_parser("report", help="one offline HTML page: answers and history")
    report.add_argument("--state-dir", required=True)
    report.add_argument("--warehouse-dsn", help="answer the questions here (default: the lake)")
    report.add_argument("--output", help="default: <state-dir>/report.html")
    report.set_defaults(func=_report)

    demo = commands.add_parser("demo", help="from nothing to answered questions, in minutes")
    demo.add_argument(
        "--orders", type=int, default=1000, help="orders (sales and purchase) to generate"
    )
    demo.add_argument("--cycles", type=int, default=3, help="pipeline cycles to run")
    demo.add_argument("--hours", type=int, default=6, help="business hours between cycles")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--source-dsn")
    demo.add_argument("--warehouse-dsn")
    demo.add_argument("--state-dir", help="default: a new temporary directory")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
