"""A fact batch and a first load of a dimension are COPYed straight into the star table;
a batch whose keys collide falls back to the staging merge with the same result."""

from __future__ import annotations

from typing import Any

import pytest

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


def test_a_first_load_leaves_every_key_and_constraint_as_the_migrations_made_them(
    s3, processed_bucket, settings, secretsmanager, wh_conn
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
    s3, processed_bucket, settings, secretsmanager, wh_conn
) -> None:
    staff = [*BATCH_1["dim_staff"], {**STAFF_2, "department_name": "Dispatch"}]
    write_batch(s3, processed_bucket, PID_1, {**BATCH_1, "dim_staff": staff})

    with pytest.raises(DuplicateKeyError, match="dim_staff: the batch holds staff_id=2 more"):
        run(settings, s3, secretsmanager)

    assert set(row_counts(wh_conn).values()) == {0}
