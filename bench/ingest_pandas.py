"""The approach most teams use: `pandas.read_sql` per table, `to_csv` gzip, upload to S3."""

from __future__ import annotations

import argparse
import io
import json
import warnings
from typing import Any

import boto3
import pandas as pd

from bench.measure import child_main, secret_from_env, timed
from bench.source import TOTESYS_TABLES, dbapi_connect, select_sql
from local.services import connect_secret


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--limits", default="{}", help='JSON {"table": max rows} for sampling')


def _work(args: argparse.Namespace) -> dict[str, Any]:
    secret = secret_from_env("BENCH_SOURCE_SECRET")
    limits: dict[str, int | None] = json.loads(args.limits)
    native = connect_secret(secret)
    try:  # the statements are built outside the clock, from the same catalog ingest reads
        sqls = {t: select_sql(native, t, limits.get(t)) for t in TOTESYS_TABLES}
    finally:
        native.close()
    s3 = boto3.client("s3")
    conn = dbapi_connect(secret)
    rows: dict[str, int] = {}
    size = 0
    warnings.filterwarnings("ignore", message=".*SQLAlchemy.*")  # pandas: "only SQLAlchemy..."
    try:
        with timed() as clock:
            for table in TOTESYS_TABLES:
                frame = pd.read_sql(sqls[table], conn)
                buffer = io.BytesIO()
                frame.to_csv(buffer, index=False, compression="gzip")
                size += buffer.tell()
                s3.put_object(
                    Bucket=args.bucket, Key=f"{table}/part-00000.csv.gz", Body=buffer.getvalue()
                )
                rows[table] = len(frame)
                del frame, buffer
    finally:
        conn.close()
    return {
        "seconds": clock["seconds"],
        "rows": sum(rows.values()),
        "tables": rows,
        "bytes": size,
        "sampled": any(v is not None for v in limits.values()),
    }


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
