"""Load throughput: the loader on N fact_sales_order rows vs a plain COPY of the same rows.

One run, one process, same Postgres database:
1. generate N fact_sales_order rows (and the dimension rows they refer to) with pyarrow;
2. plain COPY: the rows rendered as CSV in memory, `COPY ... FROM STDIN` into an empty,
   constraint-free table with the fact's columns, committed (the floor: no S3, no Parquet,
   no keys);
3. the loader: a processed batch in moto S3 (snappy Parquet per created_month + manifest),
   loaded by `loader.load.run` exactly as the Lambda does (manifest, S3 GET, Parquet ->
   Arrow -> CSV -> COPY into a temp table, INSERT ... ON CONFLICT with the unique key and
   every foreign key checked, bookkeeping row, commit), in a child process so that its
   peak RSS is the loader's own.

Usage (PYTHONPATH as the Makefile exports it: ., layers/common, load_fn):
    python -m bench.load_throughput [--rows 1000000] [--days 30] [--out result.json]
Needs Postgres (as the tests find it: $TEST_PG_DSN, 127.0.0.1:5432, or pgserver).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import subprocess  # nosec B404 - runs only this module in a child interpreter
import sys
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loader.load import run
from loader.schema import STAR_TABLES
from loader.settings import Settings
from local.services import aws_env, find_pg_server, patched_env, start_moto_server
from pipeline_common.contracts.manifests import (
    DimensionEntry,
    FactEntry,
    FactObject,
    ProcessedManifest,
    TableEntry,
)

FACT = STAR_TABLES["fact_sales_order"]
FIRST_DAY = dt.date(2024, 1, 1)
STAFF, COUNTERPARTIES, CURRENCIES, DESIGNS, LOCATIONS = 20, 20, 3, 50, 30
DIMENSION_BATCH = "20240101T000000000000Z"
FACT_BATCH = "20240101T000100000000Z"
BUCKET = "bench-processed"
SECRET_ID = "bench/warehouse"  # nosec B105 - a secret name, not a password


def generate_facts(rows: int, days: int, seed: int = 7) -> pa.Table:
    """N single-version sales orders spread evenly over `days` created dates."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1, dtype=np.int32)
    day = (ids % days).astype("timedelta64[D]")
    created = np.datetime64(FIRST_DAY) + day
    clock = pa.array(rng.integers(0, 86_400_000, rows, dtype=np.int32), pa.time32("ms"))
    clock_text = pc.cast(clock, pa.string())
    cents = rng.integers(1, 100_000, rows)
    prices = pa.array([Decimal(int(c)).scaleb(-2) for c in cents], pa.decimal128(10, 2))
    return pa.table(
        {
            "sales_order_id": ids,
            "created_date": pa.array(created, pa.date32()),
            "created_time": clock_text,
            "last_updated_date": pa.array(created, pa.date32()),
            "last_updated_time": clock_text,
            "sales_staff_id": pa.array(rng.integers(1, STAFF + 1, rows, dtype=np.int32)),
            "counterparty_id": pa.array(rng.integers(1, COUNTERPARTIES + 1, rows, dtype=np.int32)),
            "units_sold": pa.array(rng.integers(1, 100_000, rows, dtype=np.int32)),
            "unit_price": prices,
            "currency_id": pa.array(rng.integers(1, CURRENCIES + 1, rows, dtype=np.int32)),
            "design_id": pa.array(rng.integers(1, DESIGNS + 1, rows, dtype=np.int32)),
            "agreed_payment_date": pa.array(created + np.timedelta64(5, "D"), pa.date32()),
            "agreed_delivery_date": pa.array(created + np.timedelta64(3, "D"), pa.date32()),
            "agreed_delivery_location_id": pa.array(
                rng.integers(1, LOCATIONS + 1, rows, dtype=np.int32)
            ),
        }
    )


def generate_dimensions(days: int) -> dict[str, pa.Table]:
    """The dimension rows every generated fact refers to."""
    dates = [FIRST_DAY + dt.timedelta(days=n) for n in range(days + 6)]

    def ids(count: int) -> pa.Array:
        return pa.array(range(1, count + 1), pa.int32())

    def text(prefix: str, count: int) -> pa.Array:
        return pa.array([f"{prefix} {n}" for n in range(1, count + 1)])

    return {
        "dim_date": pa.table(
            {
                "date_id": pa.array(dates, pa.date32()),
                "year": pa.array([d.year for d in dates], pa.int32()),
                "month": pa.array([d.month for d in dates], pa.int32()),
                "day": pa.array([d.day for d in dates], pa.int32()),
                "day_of_week": pa.array([d.isoweekday() for d in dates], pa.int32()),
                "day_name": pa.array([d.strftime("%A") for d in dates]),
                "month_name": pa.array([d.strftime("%B") for d in dates]),
                "quarter": pa.array([(d.month - 1) // 3 + 1 for d in dates], pa.int32()),
            }
        ),
        "dim_staff": pa.table(
            {
                "staff_id": ids(STAFF),
                "first_name": text("First", STAFF),
                "last_name": text("Last", STAFF),
                "department_name": text("Dept", STAFF),
                "location": text("Town", STAFF),
                "email_address": text("mail", STAFF),
            }
        ),
        "dim_counterparty": pa.table(
            {"counterparty_id": ids(COUNTERPARTIES)}
            | {name: text(name, COUNTERPARTIES) for name in FACT_DIM_TEXT["dim_counterparty"]}
        ),
        "dim_currency": pa.table(
            {
                "currency_id": ids(CURRENCIES),
                "currency_code": pa.array(["GBP", "USD", "EUR"]),
                "currency_name": pa.array(["Pound Sterling", "US Dollar", "Euro"]),
            }
        ),
        "dim_design": pa.table(
            {"design_id": ids(DESIGNS)}
            | {name: text(name, DESIGNS) for name in FACT_DIM_TEXT["dim_design"]}
        ),
        "dim_location": pa.table(
            {"location_id": ids(LOCATIONS)}
            | {name: text(name, LOCATIONS) for name in FACT_DIM_TEXT["dim_location"]}
        ),
    }


FACT_DIM_TEXT = {
    name: STAR_TABLES[name].value_columns
    for name in ("dim_counterparty", "dim_design", "dim_location")
}


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def put_dimension_batch(s3: Any, dims: dict[str, pa.Table]) -> None:
    tables = {}
    for name, table in dims.items():
        key = f"_changes/{name}/batch={DIMENSION_BATCH}/part-00000.snappy.parquet"
        s3.put_object(Bucket=BUCKET, Key=key, Body=parquet_bytes(table))
        tables[name] = DimensionEntry(
            f"{name}/snapshot={DIMENSION_BATCH}/", table.num_rows, (), table.num_rows, (key,)
        )
    put_manifest(s3, DIMENSION_BATCH, tables)


def put_fact_batch(s3: Any, facts: pa.Table) -> int:
    """One object per created_month, as the Glue job writes them; returns the object count."""
    objects = []
    months = pc.strftime(facts.column("created_date"), format="%Y-%m")
    for month in sorted(pc.unique(months).to_pylist()):
        part = facts.filter(pc.equal(months, month))
        key = f"fact_sales_order/created_month={month}/batch-{FACT_BATCH}-00000.snappy.parquet"
        s3.put_object(Bucket=BUCKET, Key=key, Body=parquet_bytes(part))
        objects.append(FactObject(key, {"created_month": month}, part.num_rows))
    entry = FactEntry("fact_sales_order/", facts.num_rows, ("created_month",), tuple(objects))
    put_manifest(s3, FACT_BATCH, {"fact_sales_order": entry})
    return len(objects)


def put_manifest(s3: Any, batch_id: str, tables: Mapping[str, TableEntry]) -> None:
    manifest = ProcessedManifest(batch_id, (batch_id,), tables)
    s3.put_object(Bucket=BUCKET, Key=manifest.key, Body=json.dumps(manifest.to_json()).encode())


def plain_copy(conn: Any, facts: pa.Table) -> float:
    """Seconds to COPY the rows (CSV already in memory) into an empty constraint-free table."""
    columns = ", ".join(f'"{name}"' for name in FACT.column_names)
    conn.run(
        f"CREATE TABLE bench_plain_copy AS SELECT {columns} FROM fact_sales_order WITH NO DATA"  # nosec B608
    )
    chunks = []
    for batch in facts.select(list(FACT.column_names)).to_batches(max_chunksize=50_000):
        buffer = io.BytesIO()
        pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
        chunks.append(buffer.getvalue())
    started = time.perf_counter()
    conn.run("START TRANSACTION")
    conn.run(f"COPY bench_plain_copy ({columns}) FROM STDIN (FORMAT csv)", stream=chunks)
    conn.run("COMMIT")
    return time.perf_counter() - started


def measure(rows: int, days: int) -> dict[str, Any]:
    """Prepare the batch, time the plain COPY here and the loader in a child process."""
    pg = find_pg_server()
    database = pg.create_database("bench_load")
    moto = start_moto_server()
    os.environ.pop("AWS_PROFILE", None)
    try:
        with patched_env(aws_env(moto.endpoint)):
            s3 = boto3.client("s3")
            secrets = boto3.client("secretsmanager")
            s3.create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
            )
            secrets.create_secret(Name=SECRET_ID, SecretString=json.dumps(pg.secret(database)))
            settings = Settings(processed_bucket=BUCKET, warehouse_secret_id=SECRET_ID)
            facts = generate_facts(rows, days)
            put_dimension_batch(s3, generate_dimensions(days))
            run(settings, s3, secrets)  # schema and dimensions, not timed
            objects = put_fact_batch(s3, facts)
            conn = pg.connect(database)
            try:
                copy_seconds = plain_copy(conn, facts)
                copied = conn.run("SELECT count(*) FROM bench_plain_copy")[0][0]
                del facts
                loader = run_loader_child()
                loaded = conn.run("SELECT count(*) FROM fact_sales_order")[0][0]
                no_fk_seconds = insert_without_foreign_keys(conn)
            finally:
                conn.close()
    finally:
        moto.stop()
        pg.drop_database(database)
    if copied != rows or loaded != rows or loader["rows_written"] != {"fact_sales_order": rows}:
        raise RuntimeError(f"row counts differ: copied {copied}, loaded {loaded}, {loader}")
    return {
        "rows": rows,
        "fact_objects": objects,
        "plain_copy": {"seconds": round(copy_seconds, 3), "rows_per_s": round(rows / copy_seconds)},
        "loader": {
            "seconds": loader["seconds"],
            "rows_per_s": round(rows / loader["seconds"]),
            "stage_seconds": loader["stage_seconds"],
            "write_seconds": loader["write_seconds"],
            "max_rss_mb": loader["max_rss_mb"],
        },
        "loader_vs_plain_copy": round(copy_seconds / loader["seconds"], 3),
        # the loader's fact INSERT ... ON CONFLICT alone, into a copy of the table with its
        # unique key but no foreign keys: what the 9 per-row foreign-key checks cost
        "insert_on_conflict_without_foreign_keys": {
            "seconds": round(no_fk_seconds, 3),
            "rows_per_s": round(rows / no_fk_seconds),
        },
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "postgres": pg.kind,
    }


def insert_without_foreign_keys(conn: Any) -> float:
    """Seconds for the loader's fact INSERT from a staging table into a table without FKs."""
    columns = ", ".join(f'"{name}"' for name in FACT.column_names)
    key = ", ".join(f'"{name}"' for name in FACT.key)
    conn.run(
        "CREATE TABLE bench_no_fk (LIKE fact_sales_order INCLUDING DEFAULTS INCLUDING INDEXES)"
    )
    conn.run(f"CREATE TABLE bench_stage AS SELECT {columns} FROM fact_sales_order")  # nosec B608
    started = time.perf_counter()
    conn.run("START TRANSACTION")
    conn.run(
        f"INSERT INTO bench_no_fk ({columns}) SELECT {columns} FROM bench_stage "  # nosec B608
        f"ORDER BY {key} ON CONFLICT ({key}) DO NOTHING"
    )
    conn.run("COMMIT")
    return time.perf_counter() - started


def run_loader_child() -> dict[str, Any]:
    """Run the loader in a fresh interpreter (same env: moto endpoint, PYTHONPATH)."""
    completed = subprocess.run(  # nosec B603 - fixed argv: this interpreter and module
        [sys.executable, "-m", "bench.load_throughput", "--child-load"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def child_load() -> None:
    """The loader, as the Lambda runs it, on the pending batch; prints its figures."""
    settings = Settings(processed_bucket=BUCKET, warehouse_secret_id=SECRET_ID)
    s3, secrets = boto3.client("s3"), boto3.client("secretsmanager")
    started = time.perf_counter()
    result = run(settings, s3, secrets)
    seconds = time.perf_counter() - started
    [batch] = result.batches
    figures = {
        "seconds": round(seconds, 3),
        "stage_seconds": batch.stage_seconds,
        "write_seconds": batch.write_seconds,
        "rows_written": result.rows_written(),
        "max_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(figures))


def peak_rss_mb() -> int:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and
    exec, so a child of a large parent would report the parent's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--days", type=int, default=30, help="days the created dates span (one object a month)"
    )
    parser.add_argument("--out", help="also write the result JSON here")
    parser.add_argument("--child-load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_load:
        child_load()
        return
    result = measure(args.rows, args.days)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
