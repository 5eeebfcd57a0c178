"""load-snapshot: a pandas-made Parquet dump back into Postgres with exact types."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local.totesys import TABLES, load_snapshot, seed
from local.totesys.exceptions import NotEmptyError, SnapshotError
from tests.integration.totesys.totesys_support import scalar

REAL_COUNTS = {
    "address": 30,
    "counterparty": 20,
    "currency": 3,
    "department": 8,
    "design": 473,
    "payment": 15836,
    "payment_type": 4,
    "purchase_order": 4649,
    "sales_order": 11187,
    "staff": 20,
    "transaction": 15836,
}


def test_real_snapshot_loads_with_exact_counts_and_two_decimal_money(postgres, snapshot_dir):
    conn = postgres.connect()
    counts = load_snapshot(conn, snapshot_dir)
    assert counts == REAL_COUNTS
    for table, column in (
        ("sales_order", "unit_price"),
        ("purchase_order", "item_unit_price"),
        ("payment", "payment_amount"),
    ):
        off = scalar(
            conn, f"SELECT count(*) FROM {table} WHERE {column}::text !~ '^[0-9]+[.][0-9]{{2}}$'"
        )
        assert off == 0, column
    # Values as the real dump has them (its floats rounded back to the cent).
    assert conn.run("SELECT payment_amount FROM payment WHERE payment_id IN (2, 3) ORDER BY 1") == [
        [Decimal("205952.22")],
        [Decimal("552548.62")],
    ]
    assert conn.run("SELECT item_unit_price FROM purchase_order WHERE purchase_order_id = 1") == [
        [Decimal("361.39")]
    ]
    links = conn.run(
        "SELECT count(*) FILTER (WHERE sales_order_id IS NULL), "
        'count(*) FILTER (WHERE purchase_order_id IS NULL) FROM "transaction"'
    )[0]
    assert links == [4649, 11187]
    assert conn.run(
        'SELECT transaction_type::text, sales_order_id, purchase_order_id FROM "transaction" '
        "WHERE transaction_id IN (1, 3) ORDER BY transaction_id"
    ) == [["PURCHASE", None, 2], ["SALE", 1, None]]
    assert scalar(conn, "SELECT max(last_updated) FROM payment") == dt.datetime(
        2024, 11, 15, 14, 40, 10, 188000
    )
    assert scalar(conn, "SELECT sum(payment_amount) FROM payment WHERE paid") > 0
    assert scalar(conn, "SELECT nextval(pg_get_serial_sequence('payment', 'payment_id'))") == 15837
    conn.close()


def _write_float_dump(conn, directory):
    """Dump seeded tables the way the real snapshot was made: money and nullable ids as float."""
    for table in TABLES:
        names = [
            r[0]
            for r in conn.run(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                "ORDER BY ordinal_position",
                t=table,
            )
        ]
        rows = conn.run(f'SELECT * FROM "{table}" ORDER BY 1')
        columns = {}
        for i, name in enumerate(names):
            values = [row[i] for row in rows]
            if isinstance(values[0], Decimal) or (
                name in ("sales_order_id", "purchase_order_id") and table == "transaction"
            ):
                columns[name] = pa.array([np.nan if v is None else float(v) for v in values])
            elif isinstance(values[0], dt.datetime):
                columns[name] = pa.array(values, type=pa.timestamp("ns"))
            else:
                columns[name] = pa.array(values)
        # Column order need not match the table's (the real design file differs).
        pq.write_table(
            pa.table(dict(reversed(list(columns.items())))), directory / f"{table}.parquet"
        )


def test_a_float_dump_restores_exact_decimals_and_integer_ids(make_database, tmp_path):
    source = make_database().connect()
    seed(source, orders=300, seed=2)
    _write_float_dump(source, tmp_path)
    target = make_database().connect()
    counts = load_snapshot(target, tmp_path)
    assert counts["transaction"] == 300
    for table in TABLES:
        query = f'SELECT * FROM "{table}" ORDER BY 1'
        assert target.run(query) == source.run(query), table
    source.close()
    target.close()


def test_a_money_float_just_off_the_cent_rounds_to_it(postgres, tmp_path, snapshot_dir):
    for table in TABLES:
        shutil.copy(snapshot_dir / f"{table}.parquet", tmp_path)
    data = pq.read_table(tmp_path / "payment.parquet")
    amounts = data.column("payment_amount").to_numpy().copy()
    amounts[0] = 0.1 + 0.2  # 0.30000000000000004
    amounts[1] = 0.29  # x 100 = 28.999999999999996
    data = data.set_column(
        data.schema.get_field_index("payment_amount"), "payment_amount", pa.array(amounts)
    )
    pq.write_table(data, tmp_path / "payment.parquet")
    conn = postgres.connect()
    load_snapshot(conn, tmp_path)
    first_two = conn.run(
        "SELECT payment_amount FROM payment WHERE payment_id = ANY(:ids) ORDER BY payment_id",
        ids=[int(data.column("payment_id")[0].as_py()), int(data.column("payment_id")[1].as_py())],
    )
    assert sorted(first_two) == sorted([[Decimal("0.30")], [Decimal("0.29")]])
    conn.close()


def test_load_refuses_a_directory_missing_a_table(postgres, tmp_path):
    with pytest.raises(SnapshotError, match="no Parquet file for address, counterparty"):
        load_snapshot(postgres.connect(), tmp_path)


def test_load_refuses_a_fractional_id(postgres, tmp_path, snapshot_dir):
    for table in TABLES:
        shutil.copy(snapshot_dir / f"{table}.parquet", tmp_path)
    data = pq.read_table(tmp_path / "transaction.parquet")
    ids = data.column("sales_order_id").to_numpy().copy()
    ids[2] = 1.5
    index = data.schema.get_field_index("sales_order_id")
    pq.write_table(
        data.set_column(index, "sales_order_id", pa.array(ids)), tmp_path / "transaction.parquet"
    )
    conn = postgres.connect()
    with pytest.raises(
        SnapshotError, match=r"transaction\.parquet:sales_order_id: not a whole number"
    ):
        load_snapshot(conn, tmp_path)
    assert scalar(conn, "SELECT count(*) FROM address") == 0  # all or nothing
    conn.close()


def test_load_refuses_tables_that_hold_rows(postgres, snapshot_dir):
    conn = postgres.connect()
    seed(conn, orders=0, seed=1)
    with pytest.raises(NotEmptyError, match="already hold rows: address, counterparty"):
        load_snapshot(conn, snapshot_dir)
    conn.close()
