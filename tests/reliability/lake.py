"""The lake read through the Glue catalog, compared with the warehouse.

Athena reads a table at the location the catalog gives and, for a partitioned fact, only the
partitions the catalog registers. So each table is read here exactly that way (DuckDB over
the Parquet of the bucket's directory mirror): a fact file outside every registered
partition is invisible, as it would be in Athena, and an orphan file inside one is counted,
as Athena would count it. Values are compared as text in the oracle's canonical form.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pg8000.native

from tests.reliability.oracle import WAREHOUSE_DIMENSIONS, WAREHOUSE_FACTS

# Star tables and their columns in warehouse order (the lake's names are the same).
DIMENSION_COLUMNS: dict[str, tuple[str, ...]] = {
    "dim_date": (
        "date_id",
        "year",
        "month",
        "day",
        "day_of_week",
        "day_name",
        "month_name",
        "quarter",
    ),
    "dim_staff": (
        "staff_id",
        "first_name",
        "last_name",
        "department_name",
        "location",
        "email_address",
    ),
    "dim_location": (
        "location_id",
        "address_line_1",
        "address_line_2",
        "district",
        "city",
        "postal_code",
        "country",
        "phone",
    ),
    "dim_design": ("design_id", "design_name", "file_location", "file_name"),
    "dim_currency": ("currency_id", "currency_code", "currency_name"),
    "dim_counterparty": (
        "counterparty_id",
        "counterparty_legal_name",
        "counterparty_legal_address_line_1",
        "counterparty_legal_address_line_2",
        "counterparty_legal_district",
        "counterparty_legal_city",
        "counterparty_legal_postal_code",
        "counterparty_legal_country",
        "counterparty_legal_phone_number",
    ),
    "dim_payment_type": ("payment_type_id", "payment_type_name"),
    "dim_transaction": (
        "transaction_id",
        "transaction_type",
        "sales_order_id",
        "purchase_order_id",
    ),
}
FACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "fact_sales_order": (
        "sales_order_id",
        "created_date",
        "created_time",
        "last_updated_date",
        "last_updated_time",
        "sales_staff_id",
        "counterparty_id",
        "units_sold",
        "unit_price",
        "currency_id",
        "design_id",
        "agreed_payment_date",
        "agreed_delivery_date",
        "agreed_delivery_location_id",
    ),
    "fact_purchase_order": (
        "purchase_order_id",
        "created_date",
        "created_time",
        "last_updated_date",
        "last_updated_time",
        "staff_id",
        "counterparty_id",
        "item_code",
        "item_quantity",
        "item_unit_price",
        "currency_id",
        "agreed_delivery_date",
        "agreed_payment_date",
        "agreed_delivery_location_id",
    ),
    "fact_payment": (
        "payment_id",
        "created_date",
        "created_time",
        "last_updated_date",
        "last_updated_time",
        "transaction_id",
        "counterparty_id",
        "payment_amount",
        "currency_id",
        "payment_type_id",
        "paid",
        "payment_date",
    ),
}
WAREHOUSE_DIM_DATE = """SELECT date_id::text, year::text, month::text, day::text,
    day_of_week::text, day_name, month_name, quarter::text FROM dim_date"""


def _directory(state_dir: Path, location: str) -> Path:
    """The bucket mirror's directory for an `s3://bucket/prefix` catalog location."""
    parts = urlsplit(location)
    if parts.scheme != "s3" or not parts.netloc:
        raise AssertionError(f"catalog location {location!r} is not s3://bucket/prefix")
    return state_dir / "buckets" / parts.netloc / parts.path.lstrip("/")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def catalog_files(state_dir: Path) -> dict[str, list[tuple[Path, dict[str, str]]]]:
    """Per catalog table, the Parquet files Athena would read, with their partition values."""
    catalog = json.loads((state_dir / "catalog.json").read_text(encoding="utf-8"))
    found: dict[str, list[tuple[Path, dict[str, str]]]] = {}
    for entry in catalog.get("tables", []):
        table = entry["table"]
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        files: list[tuple[Path, dict[str, str]]] = []
        if keys:
            for partition in entry.get("partitions", []):
                directory = _directory(state_dir, partition["StorageDescriptor"]["Location"])
                values = dict(zip(keys, partition["Values"], strict=True))
                files.extend((p, values) for p in sorted(directory.glob("*.parquet")))
        else:
            directory = _directory(state_dir, table["StorageDescriptor"]["Location"])
            files.extend((p, {}) for p in sorted(directory.rglob("*.parquet")))
        found[table["Name"]] = files
    return found


def lake_rows(
    conn: duckdb.DuckDBPyConnection,
    files: list[tuple[Path, dict[str, str]]],
    columns: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """Every row of the files as canonical text, partition values taken from the catalog."""
    if not files:
        return []
    partitions = {str(path): values for path, values in files}
    in_files = [c for c in columns if c not in files[0][1]]
    select = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in in_files)
    paths = ", ".join(_quote(str(path)) for path, _ in files)
    rows: list[tuple[Any, ...]] = []
    for *values, filename in conn.execute(
        f"SELECT {select}, filename FROM read_parquet([{paths}], filename = true, "
        "hive_partitioning = false)"
    ).fetchall():
        by_name = dict(zip(in_files, values, strict=True)) | partitions[filename]
        rows.append(tuple(by_name[c] for c in columns))
    return rows


def lake_differences(state_dir: Path, warehouse: pg8000.native.Connection) -> list[str]:
    """Row counts of every star table, dimensions as sets and facts as multisets, must agree."""
    files = catalog_files(state_dir)
    problems: list[str] = []
    conn = duckdb.connect(":memory:")
    try:
        for table, columns in {**DIMENSION_COLUMNS, **FACT_COLUMNS}.items():
            lake = Counter(lake_rows(conn, files.get(table, []), columns))
            if table == "dim_date":
                sql = WAREHOUSE_DIM_DATE
            else:
                sql = {**WAREHOUSE_DIMENSIONS, **WAREHOUSE_FACTS}[table]
            house = Counter(tuple(r) for r in warehouse.run(sql))
            if sum(lake.values()) != sum(house.values()):
                problems.append(
                    f"{table}: lake has {sum(lake.values())} rows, warehouse {sum(house.values())}"
                )
            if lake != house:
                problems.append(
                    f"{table}: lake only {sorted((lake - house).elements(), key=repr)[:3]} "
                    f"warehouse only {sorted((house - lake).elements(), key=repr)[:3]}"
                )
    finally:
        conn.close()
    return problems
