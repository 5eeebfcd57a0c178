"""`python -m bench [--orders N] [--repeat R]`: run, write results.json, print the table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.children import BenchError
from bench.harness import STAGES, Options, run_bench
from bench.report import notes, render_table, summarize

DEFAULT_OUT = Path(__file__).with_name("results.json")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to generate")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON path")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"comma list of stages to run (default all: {','.join(STAGES)})",
    )
    parser.add_argument(
        "--pandas-rows",
        type=int,
        default=300_000,
        help="above this many source rows the pandas baseline runs on a sample",
    )
    parser.add_argument(
        "--to-sql-rows",
        type=int,
        default=20_000,
        help="above this many star rows the to_sql baseline runs on a sample",
    )
    parser.add_argument(
        "--incremental-hours",
        type=int,
        default=24,
        help="business hours to advance before the incremental ingest",
    )
    parser.add_argument(
        "--e2e-hours",
        type=int,
        default=1,
        help="business hours to advance before each end-to-end cycle",
    )
    parser.add_argument("--work-dir", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile each measurement (.prof in the logs)"
    )
    args = parser.parse_args(argv)
    args.stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = set(args.stages) - set(STAGES)
    if unknown or args.repeat < 1 or args.orders < 1:
        parser.error(f"bad --stages {sorted(unknown)}" if unknown else "--orders, --repeat >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = Options(
        orders=args.orders,
        repeat=args.repeat,
        seed=args.seed,
        stages=args.stages,
        pandas_rows=args.pandas_rows,
        to_sql_rows=args.to_sql_rows,
        incremental_hours=args.incremental_hours,
        e2e_hours=args.e2e_hours,
        work_dir=args.work_dir,
        keep=args.keep or args.profile,
        profile=args.profile,
    )
    try:
        results = run_bench(options)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    results["notes"] = notes(results)
    results["summary"] = summarize(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(render_table(results))
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
