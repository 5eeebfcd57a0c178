"""A fact batch and a first load of a dimension are COPYed straight into the star table;
a batch whose keys collide falls back to the staging merge with the same result."""

from __future__ import annotations

from typing import Any

import pytest

from loader import write
from loader.exceptions import DuplicateKeyError
from loader.load import run
from loader.migrations import apply_migrations
from tests.integration.load.load_lake import (
    BATCH_1,
    PID_1,
    STAFF_2,
    TABLES,
    expected,
    read_table,
    row_counts,
    write_batch,
)


def constraints(conn: Any) -> list[list[str]]:
    """Every constraint of the warehouse: table, name, definition, validated."""
    return conn.run(
        "SELECT c.conrelid::regclass::text, conname, pg_get_constraintdef(c.oid), "
        "convalidated::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname = 'public' ORDER BY 1, 2"
    )


@pytest.fixture(params=["dimension-keys-kept", "dimension-keys-built-after"])
def dimension_keys(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways an empty dimension is COPYed: with its primary key in place, or (from
    BULK_DIMENSION_ROWS rows, which the tiny test batches are far below) with the key and
    the foreign keys that refer to it dropped and added back after the COPY."""
    if request.param == "dimension-keys-built-after":
        monkeypatch.setattr(write, "BULK_DIMENSION_ROWS", 1)
    return str(request.param)


def test_a_first_load_leaves_every_key_and_constraint_as_the_migrations_made_them(
    s3, processed_bucket, settings, secretsmanager, wh_conn, dimension_keys
) -> None:
    apply_migrations(wh_conn)
    before = constraints(wh_conn)
    write_batch(s3, processed_bucket, PID_1, BATCH_1)

    result = run(settings, s3, secretsmanager)

    for table in TABLES:
        assert read_table(wh_conn, table) == expected(table, BATCH_1), table
    counts = result.batches[0].row_counts()
    assert all(c["read"] == c["written"] == len(BATCH_1[t]) for t, c in counts.items()), counts
    assert constraints(wh_conn) == before
    assert len([c for c in before if c[0].startswith("fact_")]) == 3 * 2 + 24  # keys + FKs


def test_a_first_batch_holding_a_fact_version_twice_loads_it_once(
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    apply_migrations(wh_conn)
    before = constraints(wh_conn)
    orders = BATCH_1["fact_sales_order"]
    write_batch(s3, processed_bucket, PID_1, {**BATCH_1, "fact_sales_order": [*orders, orders[0]]})

    result = run(settings, s3, secretsmanager)

    assert result.batches[0].row_counts()["fact_sales_order"] == {
        "read": len(orders) + 1,
        "written": len(orders),
    }
    assert read_table(wh_conn, "fact_sales_order") == expected("fact_sales_order", BATCH_1)
    assert constraints(wh_conn) == before


def test_a_first_batch_holding_a_dimension_id_twice_is_refused_and_loads_nothing(
    s3, processed_bucket, settings, secretsmanager, wh_conn, dimension_keys
) -> None:
    staff = [*BATCH_1["dim_staff"], {**STAFF_2, "department_name": "Dispatch"}]
    write_batch(s3, processed_bucket, PID_1, {**BATCH_1, "dim_staff": staff})

    with pytest.raises(DuplicateKeyError, match="dim_staff: the batch holds staff_id=2 more"):
        run(settings, s3, secretsmanager)

    assert set(row_counts(wh_conn).values()) == {0}


def test_a_key_another_table_refers_to_is_kept_and_that_table_is_left_alone(
    s3, processed_bucket, settings, secretsmanager, wh_conn, monkeypatch
) -> None:
    monkeypatch.setattr(write, "BULK_DIMENSION_ROWS", 1)
    apply_migrations(wh_conn)
    wh_conn.run(
        "CREATE TABLE staff_badge (badge_id int PRIMARY KEY, staff_id int REFERENCES dim_staff)"
    )
    kept = "SELECT conname, oid::text FROM pg_constraint WHERE conname = ANY(:names) ORDER BY 1"
    names = ["dim_staff_pkey", "staff_badge_staff_id_fkey", "dim_transaction_pkey"]
    oids_before = dict(wh_conn.run(kept, names=names))
    before = constraints(wh_conn)
    write_batch(s3, processed_bucket, PID_1, BATCH_1)

    run(settings, s3, secretsmanager)

    assert read_table(wh_conn, "dim_staff") == expected("dim_staff", BATCH_1)
    assert constraints(wh_conn) == before
    oids_after = dict(wh_conn.run(kept, names=names))
    # never dropped: the same catalog rows; dim_transaction, which only facts refer to, was
    assert oids_after["dim_staff_pkey"] == oids_before["dim_staff_pkey"]
    assert oids_after["staff_badge_staff_id_fkey"] == oids_before["staff_badge_staff_id_fkey"]
    assert oids_after["dim_transaction_pkey"] != oids_before["dim_transaction_pkey"]
