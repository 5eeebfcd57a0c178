"""Large fact batches check foreign keys once per batch; the guarantees stay the same."""

from __future__ import annotations

from typing import Any

import pytest

from loader import write
from loader.load import run
from loader.migrations import apply_migrations
from pipeline_common.errors import TerminalError
from tests.integration.load.load_lake import (
    BATCH_1,
    BATCH_2,
    PID_1,
    PID_2,
    TABLES,
    expected,
    read_table,
    write_batch,
)

FACTS = ("fact_sales_order", "fact_purchase_order", "fact_payment")


def foreign_keys(conn: Any) -> list[list[str]]:
    return conn.run(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), "
        "convalidated::text FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2"
    )


@pytest.fixture
def bulk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fact batch takes the bulk path (the tiny test batches are far below 50k)."""
    monkeypatch.setattr(write, "BULK_FACT_ROWS", 1)


def test_bulk_path_loads_the_same_rows_and_restores_every_foreign_key(
    s3, processed_bucket, settings, secretsmanager, wh_conn, bulk_path
) -> None:
    apply_migrations(wh_conn)
    keys_before = foreign_keys(wh_conn)
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    write_batch(s3, processed_bucket, PID_2, BATCH_2)

    run(settings, s3, secretsmanager)

    for table in TABLES:
        assert read_table(wh_conn, table) == expected(table, BATCH_1, BATCH_2), table
    keys_after = foreign_keys(wh_conn)
    fact_keys = [k for k in keys_after if k[0] in FACTS]
    assert len(fact_keys) == 24
    assert all(validated == "true" for *_, validated in fact_keys)
    assert keys_after == keys_before


def test_bulk_path_violation_rolls_back_and_keeps_the_constraints(
    s3, processed_bucket, settings, secretsmanager, wh_conn, bulk_path
) -> None:
    write_batch(s3, processed_bucket, PID_1, BATCH_1)
    run(settings, s3, secretsmanager)
    keys_before = foreign_keys(wh_conn)
    rows_before = {table: read_table(wh_conn, table) for table in TABLES}
    bad_payment = {**BATCH_2["fact_payment"][0], "transaction_id": 99}
    write_batch(s3, processed_bucket, PID_2, {**BATCH_2, "fact_payment": [bad_payment]})

    with pytest.raises(TerminalError, match=r"23503.*fact_payment"):
        run(settings, s3, secretsmanager)

    assert foreign_keys(wh_conn) == keys_before
    assert {table: read_table(wh_conn, table) for table in TABLES} == rows_before
