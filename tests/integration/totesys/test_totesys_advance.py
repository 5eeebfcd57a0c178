"""advance: new orders and changes now, every written row stamped with the database's now()."""

from __future__ import annotations

import datetime as dt

import pytest

from local.totesys import TABLES, advance, create_schema, seed
from local.totesys.exceptions import NotSeededError
from tests.integration.totesys.totesys_support import db_now_ms, scalar

ORDERS = 1000


@pytest.fixture
def live(make_database):
    """A freshly seeded database (1,000 orders, seed 3) that a test may change."""
    conn = make_database().connect()
    seed(conn, orders=ORDERS, seed=3)
    yield conn
    conn.close()


def _stamps(conn, table):
    """{id: (created_at, last_updated)} of every row."""
    return {
        row[0]: (row[1], row[2])
        for row in conn.run(f'SELECT {table}_id, created_at, last_updated FROM "{table}"')
    }


def _changes(before, after):
    inserted = {key: after[key] for key in after.keys() - before.keys()}
    updated = {
        key: (before[key], after[key])
        for key in after.keys() & before.keys()
        if after[key] != before[key]
    }
    return inserted, updated


def test_advance_stamps_every_row_it_writes_with_the_database_now(live):
    before = {table: _stamps(live, table) for table in TABLES}
    start = db_now_ms(live)
    summary = advance(live, hours=72, seed=5)
    end = db_now_ms(live)
    stamp = dt.datetime.fromisoformat(summary["last_updated"])
    assert start <= stamp <= end
    assert summary["business_date"] == scalar(
        live, "SELECT CAST((now() AT TIME ZONE 'UTC')::date AS text)"
    )
    for table in TABLES:
        inserted, updated = _changes(before[table], _stamps(live, table))
        assert summary["inserts"][table] == len(inserted), table
        assert summary["updates"][table] == len(updated), table
        for created_at, last_updated in inserted.values():
            assert created_at == last_updated == stamp, table
        for (old_created, old_updated), (created_at, last_updated) in updated.values():
            assert created_at == old_created, table
            assert last_updated == stamp > old_updated, table
    assert all(summary["inserts"][t] > 0 for t in ("sales_order", "purchase_order"))
    assert (
        summary["inserts"]["transaction"]
        == summary["inserts"]["payment"]
        == (summary["inserts"]["sales_order"] + summary["inserts"]["purchase_order"])
    )
    changed = {t for t, n in summary["updates"].items() if n}
    assert changed == {
        "address",
        "counterparty",
        "department",
        "staff",
        "sales_order",
        "purchase_order",
        "payment",
    }
    # ~2.7 orders per trading hour (the real rate, the floor for small databases) x 72 h.
    placed = summary["inserts"]["transaction"]
    assert 140 < placed < 260


def test_advance_keeps_every_key_and_order_invariant(live):
    for step in range(3):
        advance(live, hours=48, seed=step)
    broken = live.run(
        "SELECT "
        '(SELECT count(*) FROM sales_order s LEFT JOIN "transaction" t USING (sales_order_id) '
        "  WHERE t.transaction_id IS NULL), "
        "(SELECT count(*) FROM purchase_order o "
        '  LEFT JOIN "transaction" t USING (purchase_order_id) WHERE t.transaction_id IS NULL), '
        '(SELECT count(*) FROM "transaction" t LEFT JOIN payment p USING (transaction_id) '
        "  WHERE p.payment_id IS NULL), "
        '(SELECT count(*) FROM payment p JOIN "transaction" t USING (transaction_id) '
        "  JOIN sales_order s USING (sales_order_id) "
        "  WHERE p.payment_amount <> s.units_sold * s.unit_price "
        "  OR p.payment_date <> s.agreed_payment_date OR p.counterparty_id <> s.counterparty_id), "
        '(SELECT count(*) FROM payment p JOIN "transaction" t USING (transaction_id) '
        "  JOIN purchase_order o USING (purchase_order_id) "
        "  WHERE p.payment_amount <> o.item_quantity * o.item_unit_price "
        "  OR p.payment_date <> o.agreed_payment_date), "
        "(SELECT count(*) FROM sales_order s JOIN design d USING (design_id) "
        "  WHERE d.created_at > s.created_at), "
        "(SELECT count(*) FROM staff WHERE email_address <> "
        "  replace(lower(first_name || '.' || last_name), ' ', '') || '@terrifictotes.com')"
    )[0]
    assert broken == [0, 0, 0, 0, 0, 0, 0]
    assert (
        scalar(
            live,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated "
            "AND connamespace = 'public'::regnamespace",
        )
        == 17
    )
    # Sequences stay ahead of the ids advance took.
    sales_next = scalar(
        live, "SELECT nextval(pg_get_serial_sequence('sales_order', 'sales_order_id'))"
    )
    assert sales_next == scalar(live, "SELECT max(sales_order_id) + 1 FROM sales_order")


def test_payments_run_pays_what_fell_due_in_the_last_week(live):
    today = dt.date.fromisoformat(
        scalar(live, "SELECT CAST((now() AT TIME ZONE 'UTC')::date AS text)")
    )
    ids = [
        row[0]
        for row in live.run("SELECT payment_id FROM payment WHERE NOT paid ORDER BY 1 LIMIT 4")
    ]
    due = {
        ids[0]: today - dt.timedelta(days=2),  # due this week: paid
        ids[1]: today,  # due today: paid
        ids[2]: today + dt.timedelta(days=1),  # not yet due
        ids[3]: today - dt.timedelta(days=30),  # long overdue: written off, as in the history
    }
    for payment_id, day in due.items():
        live.run(
            "UPDATE payment SET payment_date = :day WHERE payment_id = :id",
            day=day.isoformat(),
            id=payment_id,
        )
    summary = advance(live, hours=0, seed=1)
    assert summary["inserts"] == dict.fromkeys(TABLES, 0)
    assert summary["updates"] == {**dict.fromkeys(TABLES, 0), "payment": 2}
    paid = dict(
        live.run("SELECT payment_id, paid FROM payment WHERE payment_id = ANY(:ids)", ids=ids)
    )
    assert paid == {ids[0]: True, ids[1]: True, ids[2]: False, ids[3]: False}


def test_a_later_advance_pays_orders_placed_earlier_and_due_by_then(live):
    first = advance(live, hours=48, seed=8)
    placed = live.run(
        "SELECT payment_id, payment_date FROM payment WHERE created_at = :at",
        at=dt.datetime.fromisoformat(first["last_updated"]),
    )
    second = advance(live, hours=0, seed=9)
    due = {pid for pid, day in placed if day <= second["business_date"]}
    assert due  # 0-day payments are due the day they are agreed
    flipped = {
        row[0]
        for row in live.run(
            "SELECT payment_id FROM payment WHERE paid AND last_updated = :at",
            at=dt.datetime.fromisoformat(second["last_updated"]),
        )
    }
    assert flipped == due
    assert second["updates"]["payment"] == len(due)


def test_same_seed_on_the_same_database_does_the_same_things(make_database):
    first, second = make_database().connect(), make_database().connect()
    results = []
    for conn in (first, second):
        seed(conn, orders=800, seed=4)
        summary = advance(conn, hours=40, seed=21)
        results.append(
            (
                {k: v for k, v in summary.items() if k in ("inserts", "updates")},
                conn.run(
                    "SELECT sales_order_id, design_id, staff_id, counterparty_id, units_sold, "
                    "unit_price, currency_id, agreed_delivery_location_id FROM sales_order "
                    "WHERE last_updated > '2025-01-01' ORDER BY 1"
                ),
                conn.run(
                    "SELECT address_id, phone FROM address WHERE last_updated > '2025-01-01' "
                    "ORDER BY 1"
                ),
            )
        )
        conn.close()
    assert results[0] == results[1]
    assert results[0][1]  # the comparison covered some rows


def test_advance_needs_a_seeded_database(postgres):
    conn = postgres.connect()
    create_schema(conn)
    with pytest.raises(NotSeededError, match="reference data missing"):
        advance(conn, hours=1, seed=1)
    with pytest.raises(ValueError, match="hours must be >= 0"):
        advance(conn, hours=-1, seed=1)
    conn.close()
