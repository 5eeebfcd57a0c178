"""The warehouse schema: migrations applied once, under a lock, and the constraints they make."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from loader.exceptions import MigrationError
from loader.migrations import Migration, apply_migrations, read_migrations
from loader.schema import FACTS, STAR_TABLES, StarTable, pg_type
from loader.warehouse import MIGRATION_LOCK_KEY


def test_migrations_apply_once_and_are_a_no_op_at_every_later_start(postgres) -> None:
    conn = postgres.connect()
    try:
        assert apply_migrations(conn) == ["0001_star_schema", "0002_loaded_batch_ingest_batches"]
        assert apply_migrations(conn) == []
        assert apply_migrations(conn) == []
        rows = conn.run("SELECT version FROM schema_migrations ORDER BY version")
        assert rows == [["0001_star_schema"], ["0002_loaded_batch_ingest_batches"]]
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
    assert sorted(results.values(), key=len) == [
        [],
        ["0001_star_schema", "0002_loaded_batch_ingest_batches"],
    ]


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
    assert [m.version for m in migrations] == [
        "0001_star_schema",
        "0002_loaded_batch_ingest_batches",
    ]
    assert "CREATE TABLE fact_payment" in migrations[0].sql


@pytest.fixture
def schema_conn(postgres) -> Any:
    conn = postgres.connect()
    apply_migrations(conn)
    yield conn
    conn.close()


def test_the_migrations_create_exactly_the_star_tables_and_the_bookkeeping(schema_conn) -> None:
    rows = schema_conn.run(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    assert {r[0] for r in rows} == {*STAR_TABLES, "etl_loaded_batch", "schema_migrations"}


def _expected_columns(table: StarTable) -> list[tuple[str, str, bool]]:
    """(name, Postgres type, NOT NULL) in order: a fact's serial record id comes first."""
    serial = [(table.record_id, "integer", True)] if table.record_id else []
    return serial + [(c.name, pg_type(c), c.required) for c in table.columns]


@pytest.mark.parametrize("name", list(STAR_TABLES))
def test_each_tables_columns_types_and_nullability_are_the_definitions(
    schema_conn, name: str
) -> None:
    """star.py (what the lake holds and the loader copies) and the SQL files cannot drift."""
    rows = schema_conn.run(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_attribute a WHERE a.attrelid = CAST(:t AS regclass) "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        t=name,
    )
    actual = [(n, t.replace(" without time zone", ""), bool(nn)) for n, t, nn in rows]
    assert actual == _expected_columns(STAR_TABLES[name])


def _constraints(conn: Any, kind: str) -> dict[str, list[tuple[str, ...]]]:
    """table -> the column lists of its constraints of one kind (p, u), in key order."""
    rows = conn.run(
        "SELECT c.conrelid::regclass::text, array_agg(a.attname::text ORDER BY k.n) "
        "FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
        "WHERE c.contype = :kind AND c.connamespace = 'public'::regnamespace "
        "GROUP BY c.oid, c.conrelid",
        kind=kind,
    )
    found: dict[str, list[tuple[str, ...]]] = {}
    for table, columns in rows:
        found.setdefault(table, []).append(tuple(columns))
    return found


def test_dimensions_have_their_key_as_primary_key_and_facts_a_serial_record_id(
    schema_conn,
) -> None:
    primary = _constraints(schema_conn, "p")
    assert primary == {
        **{t.name: [(t.record_id,) if t.record_id else t.key] for t in STAR_TABLES.values()},
        "etl_loaded_batch": [("batch_id",)],
        "schema_migrations": [("version",)],
    }
    serials = schema_conn.run(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_default LIKE 'nextval(%'"
    )
    assert {tuple(r) for r in serials} == {(t.name, t.record_id) for t in FACTS}


def test_each_fact_is_unique_on_its_natural_key(schema_conn) -> None:
    """Its source id and last_updated: the key the loader appends on (ON CONFLICT)."""
    assert _constraints(schema_conn, "u") == {t.name: [t.key] for t in FACTS}


def test_the_foreign_keys_are_the_definitions(schema_conn) -> None:
    rows = schema_conn.run(
        "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname "
        "FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1] "
        "WHERE c.contype = 'f' AND cardinality(c.conkey) = 1"
    )
    expected = [
        (t.name, c.name, *c.references)
        for t in STAR_TABLES.values()
        for c in t.columns
        if c.references
    ]
    assert sorted(tuple(r) for r in rows) == sorted(expected)
    assert len(expected) == 24  # every fact date refers to dim_date, every *_id to its dimension
    every = schema_conn.run("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")
    assert every == [[len(expected)]]  # and none over several columns


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
