"""Loading processed batches into a real Postgres warehouse from moto S3: exactly once, whole."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from loader.load import load_batch, run
from pipeline_common.contracts.keys import manifest_key
from pipeline_common.errors import TerminalError
from tests.integration.load.load_lake import (
    BATCH_1,
    BATCH_2,
    ORDER_1_AMENDED,
    ORDER_3,
    PID_1,
    PID_2,
    STAFF_1,
    STAFF_2_MOVED,
    TABLES,
    as_warehouse,
    expected,
    parquet_bytes,
    read_all,
    read_table,
    row_counts,
    write_batch,
)


def xmins(conn: Any) -> dict[str, dict[str, str]]:
    """Row version (xmin) of every row of every star table, by primary key."""
    keys = {
        table: conn.run(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
            "WHERE i.indrelid = CAST(:t AS regclass) AND i.indisprimary",
            t=table,
        )[0][0]
        for table in TABLES
    }
    return {
        table: dict(conn.run(f'SELECT "{key}"::text, xmin::text FROM "{table}"'))
        for table, key in keys.items()
    }


def warehouse_state(conn: Any) -> dict[str, Any]:
    """Everything a load could change: contents, counts, row versions, bookkeeping."""
    return {
        "rows": read_all(conn),
        "counts": row_counts(conn),
        "xmin": xmins(conn),
        "record_ids": {
            "fact_sales_order": conn.run(
                "SELECT sales_record_id, sales_order_id FROM fact_sales_order ORDER BY 1"
            ),
        },
        "batches": conn.run(
            "SELECT batch_id, manifest_key, loaded_at, row_counts::text FROM etl_loaded_batch "
            "ORDER BY batch_id"
        ),
    }


def test_a_first_load_yields_exactly_the_batch_rows_in_all_11_tables(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)

    result = run(settings, s3, secretsmanager)

    assert [b.batch_id for b in result.batches] == [PID_1]
    contents = read_all(wh_conn)
    for table in TABLES:
        assert contents[table] == expected(table, BATCH_1), table
    # exact values that are easy to get wrong on the way through CSV
    location_2 = contents["dim_location"][1]
    assert location_2["address_line_2"] == "" and location_2["district"] is None
    assert location_2["phone"] == '9621 "880720"'
    assert contents["fact_sales_order"][1]["unit_price"] == Decimal("99999999.99")
    assert contents["fact_payment"][1]["payment_amount"] == Decimal("-0.01")
    assert contents["fact_sales_order"][0]["created_time"] == dt.time(9, 12, 30, 1000)
    assert contents["dim_transaction"][0]["purchase_order_id"] is None
    assert wh_conn.run(
        "SELECT sales_record_id, sales_order_id FROM fact_sales_order ORDER BY 1"
    ) == [[1, 1], [2, 2]]
    [[batch_id, key, counts]] = wh_conn.run(
        "SELECT batch_id, manifest_key, row_counts FROM etl_loaded_batch"
    )
    assert (batch_id, key) == (PID_1, f"_manifests/{PID_1}.json")
    assert counts == {
        "dim_date": {"read": 61, "written": 61},
        "dim_staff": {"read": 2, "written": 2},
        "dim_location": {"read": 2, "written": 2},
        "dim_design": {"read": 2, "written": 2},
        "dim_currency": {"read": 3, "written": 3},
        "dim_counterparty": {"read": 2, "written": 2},
        "dim_payment_type": {"read": 4, "written": 4},
        "dim_transaction": {"read": 2, "written": 2},
        "fact_sales_order": {"read": 2, "written": 2},
        "fact_purchase_order": {"read": 1, "written": 1},
        "fact_payment": {"read": 2, "written": 2},
    }


def test_a_second_batch_adds_a_fact_version_moves_staff_and_leaves_unchanged_rows_alone(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    run(settings, s3, secretsmanager)
    before = xmins(wh_conn)
    write_batch(s3, processed_bucket, PID_2, BATCH_2)

    result = run(settings, s3, secretsmanager)

    assert [b.batch_id for b in result.batches] == [PID_2]
    assert result.batches[0].row_counts() == {
        "dim_staff": {"read": 2, "written": 1},
        "dim_transaction": {"read": 1, "written": 1},
        "fact_sales_order": {"read": 2, "written": 2},
        "fact_payment": {"read": 1, "written": 1},
    }
    # the fact keeps the old version of order 1 and gains the amended one
    orders = read_table(wh_conn, "fact_sales_order")
    assert orders == [
        as_warehouse("fact_sales_order", BATCH_1["fact_sales_order"][0]),
        as_warehouse("fact_sales_order", ORDER_1_AMENDED),
        as_warehouse("fact_sales_order", BATCH_1["fact_sales_order"][1]),
        as_warehouse("fact_sales_order", ORDER_3),
    ]
    current = wh_conn.run(
        "SELECT sales_order_id, units_sold, last_updated_time FROM fact_sales_order_current "
        "ORDER BY sales_order_id"
    )
    assert current == [
        [1, 120, dt.time(14, 42, 10, 250000)],
        [2, 47839, dt.time(14, 30, 0, 500000)],
        [3, 100, dt.time(14, 43)],
    ]
    assert wh_conn.run("SELECT payment_id FROM fact_payment_current ORDER BY 1") == [[1], [2], [3]]
    assert read_table(wh_conn, "dim_staff") == [STAFF_1, STAFF_2_MOVED]
    after = xmins(wh_conn)
    assert after["dim_staff"]["1"] == before["dim_staff"]["1"]  # re-delivered, unchanged
    assert after["dim_staff"]["2"] != before["dim_staff"]["2"]  # the department move
    for table in ("dim_date", "dim_location", "dim_design", "dim_currency", "dim_counterparty"):
        assert after[table] == before[table], table
    assert after["dim_transaction"] == {
        **before["dim_transaction"],
        "3": after["dim_transaction"]["3"],
    }
    for table in TABLES:
        assert read_table(wh_conn, table) == expected(table, BATCH_1, BATCH_2), table


def test_loading_a_batch_that_is_already_loaded_changes_nothing(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    run(settings, s3, secretsmanager)
    before = warehouse_state(wh_conn)

    again = load_batch(wh_conn, s3, processed_bucket, manifest_key(PID_1))

    assert again.already_loaded is True
    assert warehouse_state(wh_conn) == before


def test_reloading_a_batch_whose_bookkeeping_was_lost_adds_no_rows_and_rewrites_none(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    """The unique fact keys and the IS DISTINCT FROM upsert are a second line of defence."""
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    run(settings, s3, secretsmanager)
    wh_conn.run("DELETE FROM etl_loaded_batch")
    before = warehouse_state(wh_conn)

    again = load_batch(wh_conn, s3, processed_bucket, manifest_key(PID_1))

    assert again.already_loaded is False
    assert {name: c.written for name, c in again.tables.items()} == dict.fromkeys(TABLES, 0)
    after = warehouse_state(wh_conn)
    for part in ("rows", "xmin", "record_ids"):
        assert after[part] == before[part], part
    assert [row[0] for row in after["batches"]] == [PID_1]


def test_a_failure_after_the_dimensions_and_before_the_facts_leaves_the_warehouse_as_before(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    run(settings, s3, secretsmanager)
    before = warehouse_state(wh_conn)
    # the first statement after the dimension upserts is the insert into fact_sales_order
    wh_conn.run(
        "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'injected failure before the facts'; END $$"
    )
    wh_conn.run(
        "CREATE TRIGGER inject_failure BEFORE INSERT ON fact_sales_order "
        "FOR EACH STATEMENT EXECUTE FUNCTION inject_failure()"
    )
    write_batch(s3, processed_bucket, PID_2, BATCH_2)

    with pytest.raises(TerminalError, match="injected failure before the facts"):
        run(settings, s3, secretsmanager)

    assert warehouse_state(wh_conn) == before  # dim_staff's move rolled back too
    wh_conn.run("DROP TRIGGER inject_failure ON fact_sales_order")
    result = run(settings, s3, secretsmanager)
    assert [b.batch_id for b in result.batches] == [PID_2]
    for table in TABLES:
        assert read_table(wh_conn, table) == expected(table, BATCH_1, BATCH_2), table


def test_a_constraint_violation_in_the_second_fact_table_rolls_back_the_whole_batch(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    run(settings, s3, secretsmanager)
    before = warehouse_state(wh_conn)
    bad_payment = {**BATCH_2["fact_payment"][0], "transaction_id": 99}
    manifest = write_batch(s3, processed_bucket, PID_2, {**BATCH_2, "fact_payment": [bad_payment]})

    with pytest.raises(
        TerminalError, match=r"23503 .*fact_payment.*constraint fact_payment_transaction_id_fkey"
    ) as raised:
        run(settings, s3, secretsmanager)
    assert "99" not in str(raised.value)  # the row's value (Postgres's DETAIL) is redacted

    assert warehouse_state(wh_conn) == before
    # a Glue re-run rewrites the same deterministic key with correct rows; the loader retries
    [payment_object] = manifest["tables"]["fact_payment"]["objects"]
    s3.put_object(
        Bucket=processed_bucket,
        Key=payment_object["key"],
        Body=parquet_bytes("fact_payment", BATCH_2["fact_payment"]),
    )
    run(settings, s3, secretsmanager)
    for table in TABLES:
        assert read_table(wh_conn, table) == expected(table, BATCH_1, BATCH_2), table


def test_a_manifest_naming_a_missing_object_is_a_clear_error_and_loads_nothing(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    manifest = write_batch(s3, processed_bucket, PID_1, BATCH_1)
    missing = manifest["tables"]["fact_payment"]["objects"][0]["key"]
    s3.delete_object(Bucket=processed_bucket, Key=missing)

    from pipeline_common.s3objects import ObjectNotFoundError

    with pytest.raises(ObjectNotFoundError, match=f"s3://{processed_bucket}/{missing} does not"):
        run(settings, s3, secretsmanager)

    assert row_counts(wh_conn) == dict.fromkeys((*TABLES, "etl_loaded_batch"), 0)


def test_an_empty_table_in_a_batch_is_skipped(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    run(settings, s3, secretsmanager)
    write_batch(s3, processed_bucket, PID_2, BATCH_2, empty=("fact_purchase_order", "dim_design"))

    result = run(settings, s3, secretsmanager)

    counts = result.batches[0].row_counts()
    assert counts["fact_purchase_order"] == {"read": 0, "written": 0}
    assert counts["dim_design"] == {"read": 0, "written": 0}
    for table in TABLES:
        assert read_table(wh_conn, table) == expected(table, BATCH_1, BATCH_2), table


def test_a_row_count_that_differs_from_the_manifest_loads_nothing(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    manifest = write_batch(s3, processed_bucket, PID_1, BATCH_1)
    manifest["tables"]["fact_sales_order"]["rows"] = 3
    s3.put_object(
        Bucket=processed_bucket, Key=manifest_key(PID_1), Body=json.dumps(manifest).encode()
    )

    from loader.exceptions import RowCountMismatchError

    with pytest.raises(
        RowCountMismatchError, match="fact_sales_order: read 2 rows, manifest says 3"
    ):
        run(settings, s3, secretsmanager)

    assert row_counts(wh_conn) == dict.fromkeys((*TABLES, "etl_loaded_batch"), 0)


def test_a_float_where_the_contract_says_decimal_is_rejected_before_anything_is_written(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = write_batch(s3, processed_bucket, PID_1, BATCH_1)
    key = manifest["tables"]["fact_sales_order"]["objects"][0]["key"]
    table = pq.read_table(
        io.BytesIO(s3.get_object(Bucket=processed_bucket, Key=key)["Body"].read())
    )
    table = table.set_column(
        table.schema.get_field_index("unit_price"),
        "unit_price",
        table.column("unit_price").cast(pa.float64()),
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    s3.put_object(Bucket=processed_bucket, Key=key, Body=buffer.getvalue())

    from loader.exceptions import LakeSchemaError

    with pytest.raises(LakeSchemaError, match="unit_price is double, expected decimal"):
        run(settings, s3, secretsmanager)

    assert row_counts(wh_conn) == dict.fromkeys((*TABLES, "etl_loaded_batch"), 0)


def test_a_batch_older_than_the_loaded_one_is_refused(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    write_batch(s3, processed_bucket, PID_2, BATCH_2)
    run(settings, s3, secretsmanager)
    wh_conn.run("DELETE FROM etl_loaded_batch WHERE batch_id = :b", b=PID_1)
    before = warehouse_state(wh_conn)

    from loader.exceptions import BatchOrderError

    with pytest.raises(BatchOrderError, match=f"{PID_1} is older than loaded batch {PID_2}"):
        load_batch(wh_conn, s3, processed_bucket, manifest_key(PID_1))

    assert warehouse_state(wh_conn) == before
