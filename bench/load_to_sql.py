"""The awswrangler alternative: `wr.postgresql.to_sql`, upsert for dimensions, append for facts.

Writes into `LIKE public.<t> INCLUDING ALL` copies of the star tables (same columns, types,
primary and unique keys, no foreign keys) in a scratch schema rebuilt before the clock
starts. DataFrames are read from the Parquet export before the clock: the clock times
`to_sql` only. `--limits` caps rows per table (a sample: to_sql is too slow for 1M rows).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

from bench.measure import child_main, secret_from_env, timed
from bench.source import dbapi_connect
from bench.warehouse import DIMENSION_KEYS, LOAD_ORDER, recreate_scratch_schema, star_row_counts
from local.services import connect_secret

SCHEMA = "bench_to_sql"


def read_frame(path: Path, limit: int | None) -> Any:
    """A Parquet export as pandas, as awswrangler reads it (nullable ints stay integers)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if limit is not None:
        table = table.slice(0, limit)
    mapping = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
    }
    return table.to_pandas(types_mapper=mapping.get)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parquet-dir", required=True, type=Path)
    parser.add_argument("--limits", default="{}", help='JSON {"table": max rows} for sampling')


def _work(args: argparse.Namespace) -> dict[str, Any]:
    import awswrangler as wr

    secret = secret_from_env("BENCH_WAREHOUSE_SECRET")
    limits: dict[str, int | None] = json.loads(args.limits)
    native = connect_secret(secret)
    try:
        recreate_scratch_schema(native, SCHEMA, like="INCLUDING ALL")
    finally:
        native.close()
    frames = {t: read_frame(args.parquet_dir / f"{t}.parquet", limits.get(t)) for t in LOAD_ORDER}
    conn = dbapi_connect(secret)
    warnings.filterwarnings("ignore", category=UserWarning)
    try:
        with timed() as clock:
            for table in LOAD_ORDER:
                frame = frames[table]
                if frame.empty:
                    continue  # to_sql raises on an empty frame
                if table in DIMENSION_KEYS:
                    wr.postgresql.to_sql(
                        frame,
                        conn,
                        table=table,
                        schema=SCHEMA,
                        mode="upsert",
                        upsert_conflict_columns=[DIMENSION_KEYS[table]],
                        use_column_names=True,
                    )
                else:
                    wr.postgresql.to_sql(
                        frame,
                        conn,
                        table=table,
                        schema=SCHEMA,
                        mode="append",
                        use_column_names=True,
                    )
    finally:
        conn.close()
    native = connect_secret(secret)
    try:
        tables = star_row_counts(native, SCHEMA)
        native.run(f'DROP SCHEMA "{SCHEMA}" CASCADE')
    finally:
        native.close()
    return {
        "seconds": clock["seconds"],
        "rows": sum(tables.values()),
        "tables": tables,
        "sampled": any(v is not None for v in limits.values()),
    }


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
