"""The warehouse schema: migrations applied once, under a lock, and the constraints they make."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from loader.exceptions import MigrationError
from loader.migrations import Migration, apply_migrations, read_migrations
from loader.schema import STAR_TABLES
from loader.warehouse import MIGRATION_LOCK_KEY


def test_migrations_apply_once_and_are_a_no_op_at_every_later_start(postgres) -> None:
    conn = postgres.connect()
    try:
        assert apply_migrations(conn) == ["0001_star_schema"]
        assert apply_migrations(conn) == []
        assert apply_migrations(conn) == []
        rows = conn.run("SELECT version FROM schema_migrations")
        assert rows == [["0001_star_schema"]]
    finally:
        conn.close()


def test_two_loaders_starting_together_apply_the_migrations_once(postgres) -> None:
    holder, first, second = postgres.connect(), postgres.connect(), postgres.connect()
    results: dict[str, Any] = {}

    def start(name: str, conn: Any) -> None:
        try:
            results[name] = apply_migrations(conn)
        except Exception as exc:  # reported by the assertion below
            results[name] = exc

    try:
        holder.run("SELECT pg_advisory_lock(:k)", k=MIGRATION_LOCK_KEY)  # both must queue
        threads = [
            threading.Thread(target=start, args=("first", first)),
            threading.Thread(target=start, args=("second", second)),
        ]
        for thread in threads:
            thread.start()
        waiting = 0
        for _ in range(100):  # until both wait on the advisory lock
            waiting = holder.run(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )[0][0]
            if waiting == 2:
                break
            threading.Event().wait(0.05)
        assert waiting == 2
        holder.run("SELECT pg_advisory_unlock(:k)", k=MIGRATION_LOCK_KEY)
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for conn in (holder, first, second):
            conn.close()
    assert sorted(results.values(), key=len) == [[], ["0001_star_schema"]]


def test_a_failing_migration_leaves_the_schema_as_it_was(postgres) -> None:
    conn = postgres.connect()
    try:
        bad = [
            Migration("0001_good", "CREATE TABLE good_table (id integer)"),
            Migration("0002_bad", "CREATE TABLE bad_table (id nosuchtype)"),
        ]
        with pytest.raises(MigrationError, match='0002_bad failed: 42704 type "nosuchtype"'):
            apply_migrations(conn, bad)
        tables = conn.run(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == []
    finally:
        conn.close()


def test_migration_files_are_numbered_and_read_in_order() -> None:
    migrations = read_migrations()
    assert [m.version for m in migrations] == ["0001_star_schema"]
    assert "CREATE TABLE fact_payment" in migrations[0].sql


@pytest.fixture
def schema_conn(postgres) -> Any:
    conn = postgres.connect()
    apply_migrations(conn)
    yield conn
    conn.close()


def test_dimensions_have_their_id_as_primary_key_and_facts_a_serial_record_id(
    schema_conn,
) -> None:
    rows = schema_conn.run(
        "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name) "
        "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public' "
        "ORDER BY 1"
    )
    assert rows == [
        ["dim_counterparty", "counterparty_id"],
        ["dim_currency", "currency_id"],
        ["dim_date", "date_id"],
        ["dim_design", "design_id"],
        ["dim_location", "location_id"],
        ["dim_payment_type", "payment_type_id"],
        ["dim_staff", "staff_id"],
        ["dim_transaction", "transaction_id"],
        ["etl_loaded_batch", "batch_id"],
        ["fact_payment", "payment_record_id"],
        ["fact_purchase_order", "purchase_record_id"],
        ["fact_sales_order", "sales_record_id"],
        ["schema_migrations", "version"],
    ]
    serials = schema_conn.run(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_default LIKE 'nextval(%' ORDER BY 1"
    )
    assert serials == [
        ["fact_payment", "payment_record_id"],
        ["fact_purchase_order", "purchase_record_id"],
        ["fact_sales_order", "sales_record_id"],
    ]


def test_each_fact_is_unique_on_its_source_id_and_last_updated(schema_conn) -> None:
    rows = schema_conn.run(
        "SELECT tc.table_name, string_agg(kcu.column_name, ',' ORDER BY kcu.ordinal_position) "
        "FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name) "
        "WHERE tc.constraint_type = 'UNIQUE' AND tc.table_schema = 'public' "
        "GROUP BY tc.table_name, tc.constraint_name ORDER BY 1"
    )
    assert rows == [
        ["fact_payment", "payment_id,last_updated_date,last_updated_time"],
        ["fact_purchase_order", "purchase_order_id,last_updated_date,last_updated_time"],
        ["fact_sales_order", "sales_order_id,last_updated_date,last_updated_time"],
    ]


def test_facts_refer_to_their_dimensions_and_every_fact_date_to_dim_date(schema_conn) -> None:
    rows = schema_conn.run(
        "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname "
        "FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1] "
        "WHERE c.contype = 'f' ORDER BY 1, 2"
    )
    assert {tuple(r) for r in rows} == {
        ("fact_payment", "counterparty_id", "dim_counterparty", "counterparty_id"),
        ("fact_payment", "created_date", "dim_date", "date_id"),
        ("fact_payment", "currency_id", "dim_currency", "currency_id"),
        ("fact_payment", "last_updated_date", "dim_date", "date_id"),
        ("fact_payment", "payment_date", "dim_date", "date_id"),
        ("fact_payment", "payment_type_id", "dim_payment_type", "payment_type_id"),
        ("fact_payment", "transaction_id", "dim_transaction", "transaction_id"),
        ("fact_purchase_order", "agreed_delivery_date", "dim_date", "date_id"),
        ("fact_purchase_order", "agreed_delivery_location_id", "dim_location", "location_id"),
        ("fact_purchase_order", "agreed_payment_date", "dim_date", "date_id"),
        ("fact_purchase_order", "counterparty_id", "dim_counterparty", "counterparty_id"),
        ("fact_purchase_order", "created_date", "dim_date", "date_id"),
        ("fact_purchase_order", "currency_id", "dim_currency", "currency_id"),
        ("fact_purchase_order", "last_updated_date", "dim_date", "date_id"),
        ("fact_purchase_order", "staff_id", "dim_staff", "staff_id"),
        ("fact_sales_order", "agreed_delivery_date", "dim_date", "date_id"),
        ("fact_sales_order", "agreed_delivery_location_id", "dim_location", "location_id"),
        ("fact_sales_order", "agreed_payment_date", "dim_date", "date_id"),
        ("fact_sales_order", "counterparty_id", "dim_counterparty", "counterparty_id"),
        ("fact_sales_order", "created_date", "dim_date", "date_id"),
        ("fact_sales_order", "currency_id", "dim_currency", "currency_id"),
        ("fact_sales_order", "design_id", "dim_design", "design_id"),
        ("fact_sales_order", "last_updated_date", "dim_date", "date_id"),
        ("fact_sales_order", "sales_staff_id", "dim_staff", "staff_id"),
    }
    assert len(rows) == 24


def test_the_loaders_allow_list_matches_the_tables_the_migrations_create(schema_conn) -> None:
    """loader.schema (what the loader copies) and the SQL files (what exists) cannot drift."""
    for table in STAR_TABLES.values():
        rows = schema_conn.run(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = :t "
            "AND coalesce(column_default, '') NOT LIKE 'nextval(%' ORDER BY ordinal_position",
            t=table.name,
        )
        assert tuple(r[0] for r in rows) == table.column_names, table.name


def test_the_current_views_show_the_latest_record_per_source_id(schema_conn) -> None:
    schema_conn.run(
        "INSERT INTO dim_date (date_id, year, month, day, day_of_week, day_name, month_name, "
        "quarter) VALUES ('2024-11-14', 2024, 11, 14, 4, 'Thursday', 'November', 4), "
        "('2024-11-15', 2024, 11, 15, 5, 'Friday', 'November', 4)"
    )
    schema_conn.run("INSERT INTO dim_staff (staff_id) VALUES (1)")
    schema_conn.run("INSERT INTO dim_counterparty (counterparty_id) VALUES (1)")
    schema_conn.run("INSERT INTO dim_currency (currency_id) VALUES (1)")
    schema_conn.run("INSERT INTO dim_design (design_id) VALUES (1)")
    schema_conn.run("INSERT INTO dim_location (location_id) VALUES (1)")
    for order_id, day, clock, units in [
        (7, "2024-11-14", "23:59:59.999", 1),
        (7, "2024-11-15", "00:00:00.000", 2),  # later day, earlier clock: the latest
        (8, "2024-11-15", "10:00:00.001", 3),
        (8, "2024-11-15", "10:00:00.000", 4),
    ]:
        schema_conn.run(
            "INSERT INTO fact_sales_order (sales_order_id, created_date, created_time, "
            "last_updated_date, last_updated_time, sales_staff_id, counterparty_id, units_sold, "
            "unit_price, currency_id, design_id, agreed_payment_date, agreed_delivery_date, "
            "agreed_delivery_location_id) VALUES (:o, '2024-11-14', '00:00', CAST(:d AS date), "
            "CAST(:t AS time), 1, 1, :u, 1.00, 1, 1, '2024-11-15', '2024-11-15', 1)",
            o=order_id,
            d=day,
            t=clock,
            u=units,
        )
    current = schema_conn.run(
        "SELECT sales_order_id, units_sold FROM fact_sales_order_current ORDER BY 1"
    )
    assert current == [[7, 2], [8, 3]]
    views = schema_conn.run(
        "SELECT table_name FROM information_schema.views WHERE table_schema = 'public' ORDER BY 1"
    )
    assert views == [
        ["fact_payment_current"],
        ["fact_purchase_order_current"],
        ["fact_sales_order_current"],
    ]
