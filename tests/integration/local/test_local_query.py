"""`python -m local query`: SQL over the lake exactly as the catalog registers it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local.__main__ import main
from local.query import LakeQueryError, duckdb_type, run_query
from local.statedir import StateDir

BUCKET = "lake-local"


def _table(name: str, location: str, columns: list, partition_keys: list | None = None) -> dict:
    return {
        "table": {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": n, "Type": t} for n, t in partition_keys or []],
            "StorageDescriptor": {
                "Location": location,
                "Columns": [{"Name": n, "Type": t} for n, t in columns],
            },
        },
        "partitions": [],
    }


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    """A lake of two tables: a dimension snapshot and a date-partitioned fact."""
    state = StateDir(tmp_path / "state").create()
    lake = state.bucket_dir(BUCKET)
    old = lake / "dim_currency/snapshot=p1"
    new = lake / "dim_currency/snapshot=p2"
    for path in (old, new):
        path.mkdir(parents=True)
    pq.write_table(pa.table({"currency_id": [1], "currency_code": ["GBP"]}), old / "part-0.parquet")
    pq.write_table(
        pa.table({"currency_id": pa.array([1, 2], pa.int32()), "currency_code": ["GBP", "EUR"]}),
        new / "part-0.snappy.parquet",
    )
    money = pa.decimal128(10, 2)
    for month, day, ids, prices in (
        ("2024-10", dt.date(2024, 10, 31), [1, 2], ["2.50", "3.00"]),
        ("2024-11", dt.date(2024, 11, 15), [3], ["4.00"]),
    ):
        part = lake / f"fact_sales_order/created_month={month}"
        part.mkdir(parents=True)
        pq.write_table(
            pa.table(
                {
                    "sales_order_id": pa.array(ids, pa.int32()),
                    "created_date": pa.array([day] * len(ids), pa.date32()),
                    "unit_price": pa.array([Decimal(p) for p in prices], money),
                }
            ),
            part / "batch-p2-00000.snappy.parquet",
        )
    state.write_json(
        state.catalog_path,
        {
            "format_version": 1,
            "database": {"Name": "lake_db"},
            "tables": [
                _table(
                    "dim_currency",
                    f"s3://{BUCKET}/dim_currency/snapshot=p2/",
                    [("currency_id", "int"), ("currency_code", "string")],
                ),
                _table(
                    "fact_sales_order",
                    f"s3://{BUCKET}/fact_sales_order/",
                    [
                        ("sales_order_id", "int"),
                        ("created_date", "date"),
                        ("unit_price", "decimal(10,2)"),
                    ],
                    [("created_month", "string")],
                ),
                _table("fact_payment", f"s3://{BUCKET}/fact_payment/", [("payment_id", "int")]),
            ],
        },
    )
    return state


def test_a_dimension_reads_only_the_snapshot_the_catalog_points_at(state: StateDir) -> None:
    columns, rows = run_query(state, "SELECT * FROM dim_currency ORDER BY currency_id")
    assert columns == ["currency_id", "currency_code"]
    assert rows == [(1, "GBP"), (2, "EUR")]


def test_a_fact_has_catalog_types_and_its_partition_column(state: StateDir) -> None:
    columns, rows = run_query(
        state,
        "SELECT created_month, created_date, sales_order_id, unit_price "
        "FROM lake_db.fact_sales_order ORDER BY sales_order_id",
    )
    assert columns == ["created_month", "created_date", "sales_order_id", "unit_price"]
    assert rows == [
        ("2024-10", dt.date(2024, 10, 31), 1, Decimal("2.50")),
        ("2024-10", dt.date(2024, 10, 31), 2, Decimal("3.00")),
        ("2024-11", dt.date(2024, 11, 15), 3, Decimal("4.00")),
    ]


def test_a_table_without_files_is_empty_not_an_error(state: StateDir) -> None:
    assert run_query(state, "SELECT count(*) FROM fact_payment") == (["count_star()"], [(0,)])


def test_bad_sql_and_missing_catalog_raise_one_line_errors(state: StateDir, tmp_path: Path) -> None:
    with pytest.raises(LakeQueryError, match="nope"):
        run_query(state, "SELECT * FROM nope")
    with pytest.raises(LakeQueryError, match="run `python -m local run`"):
        run_query(StateDir(tmp_path / "empty"), "SELECT 1")
    with pytest.raises(LakeQueryError, match="map<string,int>"):
        duckdb_type("map<string,int>")


def test_cli_csv_has_a_header_row(state: StateDir, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "query",
            "--state-dir",
            str(state.root),
            "--format",
            "csv",
            "SELECT created_date, sum(unit_price) AS total FROM fact_sales_order "
            "GROUP BY 1 ORDER BY 1",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out == "created_date,total\n2024-10-31,5.50\n2024-11-15,4.00\n"


def test_cli_query_failure_exits_non_zero_with_one_line(
    state: StateDir, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "--state-dir", str(state.root), "SELECT * FROM nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("query failed: ") and err.count("\n") == 1
