"""This project's loader: `load_fn/app.lambda_handler` on a processed batch in moto S3.

The orchestrator sets PROCESSED_BUCKET, WAREHOUSE_SECRET_ID and the moto endpoint, and a
fresh warehouse database per run; this process creates the empty star tables with the
loader's own migrations before the clock starts (the limit's empty tables also exist before
its clock), then times the handler call alone (it still checks the migrations), then counts.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.measure import child_main, secret_from_env, timed
from bench.warehouse import star_row_counts
from local.lambda_runtime import REPO_ROOT, LambdaContext, invoke_async, load_handler
from local.services import connect_secret

FUNCTION_NAME = "totesys-load"
_FALLBACK_EVENT = {
    "version": "0",
    "source": "aws.glue",
    "detail-type": "Glue Job State Change",
    "detail": {"jobName": "star-schema", "state": "SUCCEEDED", "jobRunId": "jr_bench"},
}


def _arguments(parser: argparse.ArgumentParser) -> None:
    """No options besides --out: the warehouse secret comes in BENCH_WAREHOUSE_SECRET."""


def _work(args: argparse.Namespace) -> dict[str, Any]:
    handler = load_handler("load_fn")
    from loader.migrations import apply_migrations  # importable once load_handler set the path

    path = REPO_ROOT / "events" / "glue_job_succeeded.json"
    event = json.loads(path.read_text()) if path.exists() else _FALLBACK_EVENT
    conn = connect_secret(secret_from_env("BENCH_WAREHOUSE_SECRET"))
    try:
        apply_migrations(conn)  # the empty star tables exist before the clock, as the limit's do
        with timed() as clock:
            summary = invoke_async(handler, event, LambdaContext(function_name=FUNCTION_NAME), 0)
        tables = star_row_counts(conn)
    finally:
        conn.close()
    return {
        "seconds": clock["seconds"],
        "rows": sum(tables.values()),
        "tables": tables,
        "summary": summary,
    }


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
