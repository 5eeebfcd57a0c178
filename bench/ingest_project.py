"""This project's ingest: `ingest_fn/app.lambda_handler` into moto S3, as Lambda runs it.

The orchestrator sets the function's environment (INGEST_BUCKET, SOURCE_SECRET_ID,
COMMIT_LAG_SECONDS) and the moto endpoint; this process only calls the handler.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from bench.measure import QueryCounter, child_main, timed
from local.lambda_runtime import REPO_ROOT, LambdaContext, invoke_async, load_handler
from pipeline_common.contracts.manifests import IngestManifest
from pipeline_common.s3objects import read_json

FUNCTION_NAME = "totesys-ingest"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count-queries", action="store_true")


def _manifest_keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="_manifests/"):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _work(args: argparse.Namespace) -> dict[str, Any]:
    import boto3

    counter = QueryCounter().install() if args.count_queries else None
    handler = load_handler("ingest_fn")
    event = (
        json.loads((REPO_ROOT / "events" / "ingest_scheduled.json").read_text())
        if (REPO_ROOT / "events" / "ingest_scheduled.json").exists()
        else {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    )
    s3 = boto3.client("s3")
    bucket = os.environ["INGEST_BUCKET"]
    before = set(_manifest_keys(s3, bucket))
    start_count = counter.count if counter else 0
    with timed() as clock:
        summary = invoke_async(handler, event, LambdaContext(function_name=FUNCTION_NAME), 0)
    queries = (counter.count - start_count) if counter else None
    new = sorted(set(_manifest_keys(s3, bucket)) - before)
    tables: dict[str, int] = {}
    size = 0
    for key in new:
        manifest = IngestManifest.from_json(read_json(s3, bucket, key), key)
        for table, entry in manifest.tables.items():
            tables[table] = tables.get(table, 0) + entry.rows
            size += entry.bytes
    return {
        "seconds": clock["seconds"],
        "rows": sum(tables.values()),
        "tables": tables,
        "bytes": size,
        "manifests": new,
        "queries": queries,
        "statements": counter.statements[start_count:] if counter else None,
        "summary": summary,
    }


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
