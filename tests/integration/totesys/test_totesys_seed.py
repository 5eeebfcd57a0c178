"""Seeding: deterministic, shaped like the real data, every key holding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from local.totesys import TABLES, seed
from local.totesys.exceptions import NotEmptyError
from tests.integration.totesys.totesys_support import (
    SEEDED_ORDERS,
    dump_table,
    scalar,
)


def _orders(conn):
    return scalar(conn, "SELECT (SELECT count(*) FROM sales_order) + count(*) FROM purchase_order")


def test_seed_returns_the_row_count_of_every_table(make_database):
    conn = make_database().connect()
    counts = seed(conn, orders=500, seed=1)
    sales, purchases = counts["sales_order"], counts["purchase_order"]
    assert sales + purchases == 500
    assert counts == {
        "address": 30,
        "counterparty": 20,
        "currency": 3,
        "department": 8,
        "design": 15,  # ~473 per 11,187 sales orders, 10 at least
        "payment_type": 4,
        "staff": 20,
        "sales_order": sales,
        "purchase_order": purchases,
        "transaction": 500,
        "payment": 500,
    }
    conn.close()


def test_same_seed_gives_identical_tables_and_another_seed_differs(make_database):
    first, second, other = (make_database().connect() for _ in range(3))
    seed(first, orders=1500, seed=42)
    seed(second, orders=1500, seed=42)
    seed(other, orders=1500, seed=43)
    for table in TABLES:
        assert dump_table(first, table) == dump_table(second, table), table
    differing = [t for t in TABLES if dump_table(first, t) != dump_table(other, t)]
    # Currencies and payment types are fixed lists; everything drawn differs.
    assert sorted(differing) == sorted(set(TABLES) - {"currency", "payment_type"})
    for conn in (first, second, other):
        conn.close()


def test_seed_refuses_tables_that_hold_rows(seeded):
    with pytest.raises(NotEmptyError, match="already hold rows: address, counterparty"):
        seed(seeded, orders=10, seed=1)


def test_reference_tables_have_the_real_sizes_and_values(seeded):
    assert scalar(seeded, "SELECT array_agg(currency_code ORDER BY currency_id) FROM currency") == [
        "GBP",
        "USD",
        "EUR",
    ]
    assert scalar(
        seeded, "SELECT array_agg(department_name ORDER BY department_id) FROM department"
    ) == [
        "Sales",
        "Purchasing",
        "Production",
        "Dispatch",
        "Finance",
        "Facilities",
        "Communications",
        "HR",
    ]
    assert scalar(seeded, "SELECT count(*) FROM staff") == 20
    assert scalar(seeded, "SELECT count(*) FROM address") == 30
    assert scalar(seeded, "SELECT count(*) FROM counterparty") == 20
    assert scalar(seeded, "SELECT count(*) FROM design") == 60  # 2,000 orders x 0.706 x 0.0423
    emails_off_scheme = scalar(
        seeded,
        "SELECT count(*) FROM staff "
        "WHERE email_address <> "
        "replace(lower(first_name || '.' || last_name), ' ', '') || '@terrifictotes.com'",
    )
    assert emails_off_scheme == 0


def test_one_transaction_and_one_payment_per_order(seeded):
    assert _orders(seeded) == SEEDED_ORDERS
    assert scalar(seeded, 'SELECT count(*) FROM "transaction"') == SEEDED_ORDERS
    assert scalar(seeded, "SELECT count(*) FROM payment") == SEEDED_ORDERS
    unmatched_sales = scalar(
        seeded,
        "SELECT count(*) FROM sales_order s "
        'LEFT JOIN "transaction" t ON t.sales_order_id = s.sales_order_id '
        "WHERE t.transaction_id IS NULL OR t.transaction_type <> 'SALE' "
        "OR t.purchase_order_id IS NOT NULL",
    )
    unmatched_purchases = scalar(
        seeded,
        "SELECT count(*) FROM purchase_order p "
        'LEFT JOIN "transaction" t ON t.purchase_order_id = p.purchase_order_id '
        "WHERE t.transaction_id IS NULL OR t.transaction_type <> 'PURCHASE' "
        "OR t.sales_order_id IS NOT NULL",
    )
    assert (unmatched_sales, unmatched_purchases) == (0, 0)
    sales_share = scalar(seeded, "SELECT count(*) FROM sales_order") / SEEDED_ORDERS
    assert 0.67 < sales_share < 0.74  # real: 11,187 of 15,836 = 0.706


def test_payments_follow_their_order(seeded):
    mismatched = seeded.run(
        "SELECT count(*) FILTER (WHERE p.payment_amount <> s.units_sold * s.unit_price), "
        "count(*) FILTER (WHERE p.payment_date <> s.agreed_payment_date), "
        "count(*) FILTER (WHERE p.counterparty_id <> s.counterparty_id "
        "  OR p.currency_id <> s.currency_id), "
        "count(*) FILTER (WHERE pt.payment_type_name <> 'SALES_RECEIPT'), "
        "count(*) FILTER (WHERE p.created_at <> s.created_at OR t.created_at <> s.created_at) "
        'FROM payment p JOIN "transaction" t USING (transaction_id) '
        "JOIN sales_order s USING (sales_order_id) JOIN payment_type pt USING (payment_type_id)"
    )[0]
    assert mismatched == [0, 0, 0, 0, 0]
    purchase_mismatched = seeded.run(
        "SELECT count(*) FILTER (WHERE p.payment_amount <> o.item_quantity * o.item_unit_price), "
        "count(*) FILTER (WHERE p.payment_date <> o.agreed_payment_date), "
        "count(*) FILTER (WHERE pt.payment_type_name <> 'PURCHASE_PAYMENT') "
        'FROM payment p JOIN "transaction" t USING (transaction_id) '
        "JOIN purchase_order o USING (purchase_order_id) "
        "JOIN payment_type pt USING (payment_type_id)"
    )[0]
    assert purchase_mismatched == [0, 0, 0]
    ac_numbers = seeded.run(
        "SELECT min(least(company_ac_number, counterparty_ac_number)), "
        "max(greatest(company_ac_number, counterparty_ac_number)) FROM payment"
    )[0]
    assert ac_numbers[0] >= 10_000_000 and ac_numbers[1] <= 99_999_999


def test_quantities_and_prices_stay_in_the_real_ranges(seeded):
    sales = seeded.run(
        "SELECT min(units_sold), max(units_sold), min(unit_price), max(unit_price) FROM sales_order"
    )[0]
    assert 1000 <= sales[0] < 5000 and 95_000 < sales[1] <= 100_000
    assert Decimal("2.00") <= sales[2] < Decimal("2.05") and Decimal("3.95") < sales[3] <= 4
    purchases = seeded.run(
        "SELECT min(item_quantity), max(item_quantity), min(item_unit_price), "
        "max(item_unit_price), count(*) FILTER (WHERE item_code !~ '^[A-Z0-9]{7}$') "
        "FROM purchase_order"
    )[0]
    assert 1 <= purchases[0] < 10 and 990 < purchases[1] <= 999
    assert Decimal("3.00") <= purchases[2] < 10 and 990 < purchases[3] <= 1000
    assert purchases[4] == 0


def test_agreed_dates_are_days_after_the_order_with_a_rare_long_tail(seeded):
    for table in ("sales_order", "purchase_order"):
        payment_days = seeded.run(
            f"SELECT DISTINCT agreed_payment_date::date - created_at::date FROM {table} ORDER BY 1"
        )
        assert [row[0] for row in payment_days] == [0, 1, 2, 3, 4, 5, 6], table
    delivery = seeded.run(
        "SELECT count(*) FILTER (WHERE d BETWEEN 0 AND 7), count(*) FILTER (WHERE d > 7), "
        "min(d), max(d) FROM (SELECT agreed_delivery_date::date - created_at::date AS d "
        "FROM sales_order UNION ALL SELECT agreed_delivery_date::date - created_at::date "
        "FROM purchase_order) x"
    )[0]
    within, tail, shortest, longest = delivery
    assert shortest == 0 and 7 < longest <= 730
    assert within + tail == SEEDED_ORDERS
    assert 1 <= tail <= 30  # real: 0.57%, so ~11 of 2,000


def test_orders_are_placed_on_weekdays_between_8_and_19(seeded):
    for table in ("sales_order", "purchase_order", "design"):
        outside = scalar(
            seeded,
            f"SELECT count(*) FROM {table} WHERE created_at > '2022-11-04' AND "
            "(extract(isodow FROM created_at) > 5 OR created_at::time < '08:00' "
            "OR created_at::time >= '19:00')",
        )
        assert outside == 0, table
    span = seeded.run("SELECT min(created_at), max(created_at) FROM sales_order")[0]
    assert span[0] >= dt.datetime(2022, 11, 3, 14, 20, 52, 186000)
    assert span[1] <= dt.datetime(2024, 11, 15, 14, 40, 10, 188000)
    days = scalar(seeded, "SELECT count(DISTINCT created_at::date) FROM sales_order")
    assert days > 400  # spread over the two years' 531 trading days


def test_rows_share_millisecond_timestamps(seeded):
    shared_orders = scalar(
        seeded,
        "SELECT count(*) FROM (SELECT created_at FROM sales_order GROUP BY 1 "
        "HAVING count(*) > 1) x",
    )
    assert shared_orders > 5
    paid_runs = seeded.run(
        "SELECT count(*), max(n) FROM (SELECT last_updated, count(*) AS n FROM payment "
        "WHERE paid GROUP BY 1) x"
    )[0]
    assert paid_runs[1] > 1  # one payments run stamps all it pays with one millisecond


def test_history_pays_weekday_dues_at_0755_and_leaves_the_rest_unpaid(seeded):
    paid = seeded.run(
        "SELECT count(*) FILTER (WHERE paid), count(*) FILTER (WHERE NOT paid), "
        "count(*) FILTER (WHERE paid AND (last_updated::date::text <> payment_date "
        "  OR last_updated::time NOT BETWEEN '07:55:11' AND '07:55:12' "
        "  OR extract(isodow FROM last_updated) > 5)), "
        "count(*) FILTER (WHERE NOT paid AND last_updated <> created_at) FROM payment"
    )[0]
    paid_count, unpaid_count, misplaced, touched_unpaid = paid
    assert (misplaced, touched_unpaid) == (0, 0)
    assert 0.55 < paid_count / SEEDED_ORDERS < 0.68  # real: 61% paid
    assert paid_count + unpaid_count == SEEDED_ORDERS


def test_sales_orders_use_designs_that_exist_when_placed(seeded):
    late = scalar(
        seeded,
        "SELECT count(*) FROM sales_order s JOIN design d USING (design_id) "
        "WHERE d.created_at > s.created_at",
    )
    assert late == 0


def test_every_foreign_key_holds_and_is_validated(seeded):
    constraints = seeded.run(
        "SELECT count(*), bool_and(convalidated) FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
    )[0]
    assert constraints == [17, True]
    orphans = seeded.run(
        "SELECT "
        "(SELECT count(*) FROM counterparty c LEFT JOIN address a "
        "  ON a.address_id = c.legal_address_id WHERE a.address_id IS NULL), "
        "(SELECT count(*) FROM staff s LEFT JOIN department d USING (department_id) "
        "  WHERE d.department_id IS NULL), "
        "(SELECT count(*) FROM sales_order s LEFT JOIN design d USING (design_id) "
        "  WHERE d.design_id IS NULL), "
        '(SELECT count(*) FROM payment p LEFT JOIN "transaction" t USING (transaction_id) '
        "  WHERE t.transaction_id IS NULL)"
    )[0]
    assert orphans == [0, 0, 0, 0]


def test_sequences_continue_after_the_seeded_ids(seeded):
    for table in TABLES:
        nextval, max_id = seeded.run(
            f"SELECT nextval(pg_get_serial_sequence('\"{table}\"', '{table}_id')), "
            f'(SELECT max({table}_id) FROM "{table}")'
        )[0]
        assert nextval == max_id + 1, table
