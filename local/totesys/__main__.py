"""`python -m local.totesys create|seed|advance|load-snapshot --dsn DSN ...`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pg8000.exceptions import DatabaseError, InterfaceError

from local.dsn import dsn_to_secret, fill_password
from local.services import connect_secret
from local.totesys import advance, create_schema, load_snapshot, seed
from local.totesys.exceptions import TotesysError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local.totesys", description="A faithful ToteSys source database."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--dsn", required=True, help="postgresql://user[:pw]@host[:port]/db")
        return sub

    command("create", "create the 11 ToteSys tables (schema.sql)")
    seeding = command("seed", "fill empty tables with a deterministic history")
    seeding.add_argument("--orders", type=int, required=True, help="sales + purchase orders")
    seeding.add_argument("--seed", type=int, default=0)
    advancing = command("advance", "let simulated trading hours pass, now")
    advancing.add_argument("--hours", type=float, required=True)
    advancing.add_argument("--seed", type=int, default=0)
    loading = command("load-snapshot", "load a Parquet dump of the 11 tables")
    loading.add_argument("--from", dest="directory", type=Path, required=True)
    return parser


def _run(args: argparse.Namespace) -> Any:
    conn = connect_secret(dsn_to_secret(fill_password(args.dsn, os.environ)))
    try:
        if args.command == "create":
            create_schema(conn)
            return {"created": True}
        if args.command == "seed":
            return seed(conn, orders=args.orders, seed=args.seed)
        if args.command == "advance":
            return advance(conn, hours=args.hours, seed=args.seed)
        return load_snapshot(conn, args.directory)
    finally:
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and print its summary as JSON."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    try:
        summary = _run(args)
    except (TotesysError, ValueError, DatabaseError, InterfaceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({args.command: summary, "seconds": round(time.monotonic() - started, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
