"""Contract: the warehouse's star tables agree with the lake's (names equal, types compatible).

Two sources for the lake side, compared to the same warehouse:
- the hand-written list of docs/contracts.md section 3 (`CONTRACT_COLUMNS`);
- the Glue Data Catalog as the transform registers it: `register_catalog_like_the_transform`
  uses glue_jobs/star_schema.py's own schemas and registration calls against moto, and
  `read_glue_catalog_columns` is what consumes a catalog (from that, or from a full local
  pipeline run in moto). So lake and warehouse cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from loader.migrations import apply_migrations

# docs/contracts.md section 3 and the DESIGN.md table list; the lake's types, in column order.
# created_date of a fact is the Hive partition column (a partition key in the catalog).
CONTRACT_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "dim_date": [
        ("date_id", "date"),
        ("year", "int"),
        ("month", "int"),
        ("day", "int"),
        ("day_of_week", "int"),
        ("day_name", "string"),
        ("month_name", "string"),
        ("quarter", "int"),
    ],
    "dim_staff": [
        ("staff_id", "int"),
        ("first_name", "string"),
        ("last_name", "string"),
        ("department_name", "string"),
        ("location", "string"),
        ("email_address", "string"),
    ],
    "dim_location": [
        ("location_id", "int"),
        ("address_line_1", "string"),
        ("address_line_2", "string"),
        ("district", "string"),
        ("city", "string"),
        ("postal_code", "string"),
        ("country", "string"),
        ("phone", "string"),
    ],
    "dim_design": [
        ("design_id", "int"),
        ("design_name", "string"),
        ("file_location", "string"),
        ("file_name", "string"),
    ],
    "dim_currency": [
        ("currency_id", "int"),
        ("currency_code", "string"),
        ("currency_name", "string"),
    ],
    "dim_counterparty": [
        ("counterparty_id", "int"),
        ("counterparty_legal_name", "string"),
        ("counterparty_legal_address_line_1", "string"),
        ("counterparty_legal_address_line_2", "string"),
        ("counterparty_legal_district", "string"),
        ("counterparty_legal_city", "string"),
        ("counterparty_legal_postal_code", "string"),
        ("counterparty_legal_country", "string"),
        ("counterparty_legal_phone_number", "string"),
    ],
    "dim_payment_type": [("payment_type_id", "int"), ("payment_type_name", "string")],
    "dim_transaction": [
        ("transaction_id", "int"),
        ("transaction_type", "string"),
        ("sales_order_id", "int"),
        ("purchase_order_id", "int"),
    ],
    "fact_sales_order": [
        ("sales_order_id", "int"),
        ("created_date", "date"),
        ("created_time", "string"),
        ("last_updated_date", "date"),
        ("last_updated_time", "string"),
        ("sales_staff_id", "int"),
        ("counterparty_id", "int"),
        ("units_sold", "int"),
        ("unit_price", "decimal(10,2)"),
        ("currency_id", "int"),
        ("design_id", "int"),
        ("agreed_payment_date", "date"),
        ("agreed_delivery_date", "date"),
        ("agreed_delivery_location_id", "int"),
    ],
    "fact_purchase_order": [
        ("purchase_order_id", "int"),
        ("created_date", "date"),
        ("created_time", "string"),
        ("last_updated_date", "date"),
        ("last_updated_time", "string"),
        ("staff_id", "int"),
        ("counterparty_id", "int"),
        ("item_code", "string"),
        ("item_quantity", "int"),
        ("item_unit_price", "decimal(10,2)"),
        ("currency_id", "int"),
        ("agreed_delivery_date", "date"),
        ("agreed_payment_date", "date"),
        ("agreed_delivery_location_id", "int"),
    ],
    "fact_payment": [
        ("payment_id", "int"),
        ("created_date", "date"),
        ("created_time", "string"),
        ("last_updated_date", "date"),
        ("last_updated_time", "string"),
        ("transaction_id", "int"),
        ("counterparty_id", "int"),
        ("payment_amount", "decimal(10,2)"),
        ("currency_id", "int"),
        ("payment_type_id", "int"),
        ("paid", "boolean"),
        ("payment_date", "date"),
    ],
}

WAREHOUSE_ONLY = {
    "fact_sales_order": "sales_record_id",
    "fact_purchase_order": "purchase_record_id",
    "fact_payment": "payment_record_id",
}


def compatible_warehouse_types(column: str, lake_type: str) -> set[str]:
    """Postgres types that hold a lake column exactly (contracts section 3)."""
    if lake_type == "string" and column.endswith("_time"):
        return {"time(3)"}  # `HH:MM:SS.fff` text in the lake; Athena has no time type
    return {
        "int": {"integer"},
        "decimal(10,2)": {"numeric(10,2)"},
        "date": {"date"},
        "string": {"text"},
        "boolean": {"boolean"},
    }.get(lake_type, set())


def read_warehouse_columns(conn: Any) -> dict[str, list[tuple[str, str]]]:
    """Every star table's columns and normalised types, as the warehouse has them."""
    rows = conn.run(
        "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale, "
        "datetime_precision FROM information_schema.columns "
        "WHERE table_schema = 'public' AND (table_name LIKE 'dim\\_%' OR table_name LIKE "
        "'fact\\_%') AND table_name NOT LIKE '%\\_current' ORDER BY table_name, ordinal_position"
    )
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type, precision, scale, time_precision in rows:
        if data_type == "numeric":
            kind = f"numeric({precision},{scale})"
        elif data_type == "time without time zone":
            kind = f"time({time_precision})"
        else:
            kind = data_type
        columns.setdefault(table, []).append((column, kind))
    return columns


def read_glue_catalog_columns(glue: Any, database: str) -> dict[str, list[tuple[str, str]]]:
    """The star tables of a Glue catalog database: columns then partition keys, with types.

    This is the function that consumes the real catalog the transform registers.
    """
    tables: dict[str, list[tuple[str, str]]] = {}
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        for table in page["TableList"]:
            columns = table["StorageDescriptor"]["Columns"] + table.get("PartitionKeys", [])
            tables[table["Name"]] = [(c["Name"], c["Type"].replace(" ", "")) for c in columns]
    return tables


def register_catalog_like_the_transform(glue: Any, database: str) -> None:
    """Register the 11 tables with glue_jobs/star_schema.py's own schemas and calls.

    Mirrors what its write steps do after writing Parquet (dimensions: all columns; facts:
    all columns plus the partition key created_month), without running Spark.
    """
    from glue_jobs import star_schema as star

    star.ensure_database(glue, database)
    for name, schema in star.STAR_SCHEMAS.items():
        if name.startswith("fact_"):
            table = star.table_input(
                name,
                star.catalog_columns(schema),
                f"s3://processed/{name}/",
                [{"Name": star.FACT_PARTITION_KEY, "Type": "string"}],
            )
        else:
            table = star.table_input(
                name, star.catalog_columns(schema), f"s3://processed/{name}/snapshot=x/"
            )
        star.upsert_table(glue, database, table)


def assert_lake_matches_warehouse(
    lake: dict[str, list[tuple[str, str]]], warehouse: dict[str, list[tuple[str, str]]]
) -> None:
    """Same tables; same column names; every type compatible."""
    assert sorted(lake) == sorted(warehouse)
    for table, lake_columns in lake.items():
        warehouse_columns = [c for c in warehouse[table] if c[0] != WAREHOUSE_ONLY.get(table)]
        assert [n for n, _ in lake_columns] == [n for n, _ in warehouse_columns], table
        warehouse_types = dict(warehouse_columns)
        for column, lake_type in lake_columns:
            assert warehouse_types[column] in compatible_warehouse_types(column, lake_type), (
                f"{table}.{column}: lake {lake_type}, warehouse {warehouse_types[column]}"
            )


@pytest.fixture
def warehouse_columns(postgres) -> dict[str, list[tuple[str, str]]]:
    conn = postgres.connect()
    try:
        apply_migrations(conn)
        return read_warehouse_columns(conn)
    finally:
        conn.close()


def test_warehouse_columns_and_types_agree_with_the_contract_list(warehouse_columns) -> None:
    assert_lake_matches_warehouse(CONTRACT_COLUMNS, warehouse_columns)
    # and in the design's column order, record id first on facts
    for table, columns in CONTRACT_COLUMNS.items():
        names = [n for n, _ in warehouse_columns[table]]
        prefix = [WAREHOUSE_ONLY[table]] if table in WAREHOUSE_ONLY else []
        assert names == prefix + [n for n, _ in columns], table


def test_warehouse_columns_and_types_agree_with_the_glue_catalog_the_transform_registers(
    aws, warehouse_columns
) -> None:
    glue = boto3.client("glue")
    register_catalog_like_the_transform(glue, "totesys_star")

    catalog = read_glue_catalog_columns(glue, "totesys_star")

    for table in [t for t in catalog if t.startswith("fact_")]:
        # the partition key is the lake's alone: facts keep created_date in their files
        assert catalog[table].pop() == ("created_month", "string"), table
    assert_lake_matches_warehouse(catalog, warehouse_columns)


def test_the_contract_check_catches_a_drifted_type(warehouse_columns) -> None:
    drifted = {**CONTRACT_COLUMNS, "dim_staff": [*CONTRACT_COLUMNS["dim_staff"]]}
    drifted["dim_staff"][0] = ("staff_id", "bigint")
    with pytest.raises(
        AssertionError, match=r"dim_staff\.staff_id: lake bigint, warehouse integer"
    ):
        assert_lake_matches_warehouse(drifted, warehouse_columns)
