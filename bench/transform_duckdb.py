"""The single-node engine's limit: the star schema by DuckDB SQL over the same CSV.gz files.

Reads exactly the parts the ingest manifests name, typed from the manifests' columns, runs
bench/duckdb_star.sql and writes every star table as snappy Parquet (facts partitioned by
created_month, created_date kept in the files), as the Glue job does.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from bench.measure import child_main, timed
from local import manifest_files
from local.demo import STAR_TABLES
from pipeline_common.contracts.manifests import IngestManifest

SQL_FILE = Path(__file__).with_name("duckdb_star.sql")
_SIMPLE_TYPES = {
    "int2": "SMALLINT",
    "int4": "INTEGER",
    "int8": "BIGINT",
    "float4": "REAL",
    "float8": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
}


def duckdb_type(column: dict[str, Any]) -> str:
    """The DuckDB type of a manifest column (Postgres udt_name; enums and text are VARCHAR)."""
    udt = column.get("udt_name", "")
    if udt == "numeric":
        precision, scale = column.get("numeric_precision"), column.get("numeric_scale")
        return f"DECIMAL({precision},{scale})" if precision else "DECIMAL(38,10)"
    return _SIMPLE_TYPES.get(udt, "VARCHAR")


def read_ingest_manifests(ingest_dir: Path) -> list[IngestManifest]:
    """Every ingest manifest under a local copy of the ingest bucket, oldest first."""
    return manifest_files.ingest_manifests(ingest_dir)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def source_views(ingest_dir: Path, manifests: list[IngestManifest]) -> tuple[list[str], int]:
    """CREATE VIEW src_<table> statements over the manifests' parts, and the input row count."""
    files: dict[str, list[str]] = {}
    columns: dict[str, list[dict[str, Any]]] = {}
    rows = 0
    for manifest in manifests:
        for table, entry in manifest.tables.items():
            files.setdefault(table, []).extend(str(ingest_dir / part.key) for part in entry.parts)
            columns[table] = [column.to_json() for column in entry.columns]
            rows += entry.rows
    views = []
    for table, paths in files.items():
        struct = ", ".join(
            f"{_sql_string(c['name'])}: {_sql_string(duckdb_type(c))}" for c in columns[table]
        )
        file_list = ", ".join(_sql_string(p) for p in paths)
        views.append(
            f'CREATE VIEW "src_{table}" AS SELECT * FROM read_csv([{file_list}], header = true, '  # nosec B608
            f"auto_detect = false, hive_partitioning = false, allow_quoted_nulls = false, "
            f"columns = {{{struct}}})"
        )
    return views, rows


def build_star(ingest_dir: Path, out_dir: Path, threads: int = 2) -> tuple[dict[str, int], int]:
    """Compute and write the 11 star tables; their row counts and the input row count."""
    import duckdb

    manifests = read_ingest_manifests(ingest_dir)
    views, input_rows = source_views(ingest_dir, manifests)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    conn = duckdb.connect(":memory:", config={"threads": threads})
    try:
        for view in views:
            conn.execute(view)
        conn.execute(SQL_FILE.read_text())
        counts: dict[str, int] = {}
        for table in STAR_TABLES:
            target = _sql_string(str(out_dir / table))
            if table.startswith("fact_"):
                conn.execute(
                    f"COPY (SELECT *, strftime(created_date, '%Y-%m') AS created_month "  # nosec B608
                    f"FROM {table}) TO {target} (FORMAT parquet, COMPRESSION snappy, "
                    f"PARTITION_BY (created_month))"
                )
            else:
                (out_dir / table).mkdir()
                target = _sql_string(str(out_dir / table / "part-00000.snappy.parquet"))
                conn.execute(f"COPY {table} TO {target} (FORMAT parquet, COMPRESSION snappy)")
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # nosec B608
            counts[table] = int(row[0]) if row else 0
    finally:
        conn.close()
    return counts, input_rows


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ingest-dir", required=True, type=Path)
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)


def _work(args: argparse.Namespace) -> dict[str, Any]:
    runs: list[float] = []
    counts: dict[str, int] = {}
    input_rows = 0
    for _ in range(args.repeat):
        with timed() as clock:
            counts, input_rows = build_star(args.ingest_dir, args.out_dir, args.threads)
        runs.append(clock["seconds"])
    return {
        "runs": runs,
        "input_rows": input_rows,
        "tables": counts,
        "output_rows": sum(counts.values()),
    }


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
