"""Pure parts of the ToteSys generator: calendar, money, CSV dialect, order draws, content."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from local.totesys import content, timeline
from local.totesys.__main__ import _parser
from local.totesys.bulk import csv_bytes, date_texts, money_from_cents
from local.totesys.generator import design_count
from local.totesys.orders import draw_orders, payment_table, transaction_table
from local.totesys.schema import TABLES, schema_statements
from local.totesys.simulator import orders_per_hour
from pipeline_common.postgres import quote_identifier


def test_trading_days_are_the_531_weekdays_after_loading_until_the_snapshot():
    days = timeline.trading_days()
    assert days.size == 531
    assert str(days[0]) == "2022-11-04" and str(days[-1]) == "2024-11-15"
    assert all(dt.date.fromisoformat(str(d)).isoweekday() <= 5 for d in days)
    # 530 full days of 11 hours, and the last day from 08:00 to 14:40:10.188.
    assert timeline.trading_hours() == pytest.approx(
        530 * 11 + (6 * 3600 + 40 * 60 + 10.188) / 3600
    )


def test_a_payments_run_stamps_one_millisecond_per_day_just_before_eight():
    days = np.array(["2024-11-15", "2024-11-15", "2024-11-14"], dtype="datetime64[D]")
    runs = timeline.payments_run_at(days)
    assert runs[0] == runs[1] != runs[2]
    assert all(str(r)[11:19] == "07:55:11" for r in runs)


def test_money_from_cents_is_exact_decimal():
    cents = np.array([0, 5, 350, 99_999_999_99, -1234], dtype=np.int64)
    assert money_from_cents(cents).to_pylist() == [
        Decimal("0.00"),
        Decimal("0.05"),
        Decimal("3.50"),
        Decimal("99999999.99"),
        Decimal("-12.34"),
    ]


def test_csv_is_in_the_copy_dialect_null_unquoted_empty_string_quoted():
    table = pa.table(
        {
            "text": pa.array(['a,"b"\nc', "", None]),
            "money": money_from_cents(np.array([350, 5, 1])),
            "day": date_texts(
                np.array(["2024-01-02", "2024-11-15", "2022-11-03"], "datetime64[D]")
            ),
            "at": pa.array(
                np.array(["2022-11-03T14:20:49.962"] * 3, "datetime64[ms]"), pa.timestamp("ms")
            ),
        }
    )
    assert csv_bytes(table) == (
        b'"a,""b""\nc",3.50,"2024-01-02",2022-11-03 14:20:49.962\n'
        b'"",0.05,"2024-11-15",2022-11-03 14:20:49.962\n'
        b',0.01,"2022-11-03",2022-11-03 14:20:49.962\n'
    )


def _draw(size=20_000, seed=1):
    rng = np.random.default_rng(seed)
    created = np.full(size, np.datetime64("2024-01-10T10:00:00.000"), dtype="datetime64[ms]")
    ids = np.arange(1, 31)
    return draw_orders(
        rng,
        created,
        first_ids=(100, 200, 10, 20),
        design_id=np.full(size, 7),
        staff_ids=ids[:20],
        counterparty_ids=ids[:20],
        currency_ids=ids[:3],
        address_ids=ids,
    )


def test_drawn_orders_stay_in_the_real_ranges():
    orders = _draw()
    sale, purchase = orders.is_sale, ~orders.is_sale
    assert 0.69 < sale.mean() < 0.72
    assert orders.quantity[sale].min() >= 1000 and orders.quantity[sale].max() <= 100_000
    assert orders.price_cents[sale].min() >= 200 and orders.price_cents[sale].max() <= 400
    assert orders.quantity[purchase].min() >= 1 and orders.quantity[purchase].max() <= 999
    assert orders.price_cents[purchase].min() >= 300
    assert orders.price_cents[purchase].max() <= 100_000
    pay = (orders.payment_date - np.datetime64("2024-01-10")).astype(int)
    assert set(np.unique(pay)) == set(range(7))
    delivery = (orders.delivery_date - np.datetime64("2024-01-10")).astype(int)
    tail = delivery > 7
    assert 0.003 < tail.mean() < 0.009 and delivery.max() <= 730 and delivery.min() == 0
    # 0 and the last day are half as likely as the days between, as in the real data.
    assert 0.4 < (pay == 0).sum() / (pay == 3).sum() < 0.6


def test_drawn_orders_number_sales_purchases_and_transactions_apart():
    orders = _draw(size=6)
    sales = orders.order_id[orders.is_sale]
    purchases = orders.order_id[~orders.is_sale]
    assert list(sales) == list(range(10, 10 + sales.size))
    assert list(purchases) == list(range(20, 20 + purchases.size))
    assert list(orders.transaction_id) == list(range(100, 106))
    assert list(orders.payment_id) == list(range(200, 206))


def test_transactions_link_exactly_one_order_and_payments_carry_its_amount():
    orders = _draw(size=50)
    transactions = transaction_table(orders).to_pylist()
    for row, is_sale, order_id in zip(transactions, orders.is_sale, orders.order_id, strict=True):
        assert row["transaction_type"] == ("SALE" if is_sale else "PURCHASE")
        assert (row["sales_order_id"], row["purchase_order_id"]) == (
            (order_id, None) if is_sale else (None, order_id)
        )
    payments = payment_table(
        orders, paid=np.zeros(50, bool), last_updated=orders.created, payment_type_ids=(1, 3)
    ).to_pylist()
    for row, quantity, cents, is_sale in zip(
        payments, orders.quantity, orders.price_cents, orders.is_sale, strict=True
    ):
        assert row["payment_amount"] == Decimal(int(quantity * cents)) / 100
        assert row["payment_type_id"] == (1 if is_sale else 3)


def test_designs_scale_with_orders_like_the_real_data():
    assert design_count(15836) == 473
    assert design_count(1_000_000) == 29_869
    assert design_count(10) == 10


def test_orders_per_hour_is_the_seeded_rate_with_the_real_rate_as_floor():
    real = 15836 / timeline.trading_hours()
    assert orders_per_hour(500) == pytest.approx(real)
    assert orders_per_hour(1_000_000) == pytest.approx(1_000_000 / timeline.trading_hours())
    assert 165 < orders_per_hour(1_000_000) < 175  # so 24 hours of advance ~ 4,100 orders


def test_content_helpers_follow_the_real_shapes():
    assert content.email_address("Irving", "O'Keefe") == "irving.o'keefe@terrifictotes.com"
    assert content.design_file_stem('Canvas "Heavy"') == "canvas-heavy"
    assert content.design_file_stem("Crème Brûlée") == "crème-brûlée"
    rng = np.random.default_rng(0)
    phone = content.phone_number(rng)
    assert len(phone) == 11 and phone[4] == " " and phone.replace(" ", "").isdigit()


def test_schema_sql_splits_into_two_enums_and_twelve_tables():
    statements = schema_statements()
    assert [s.split("(")[0].split()[:3] for s in statements][:2] == [
        ["CREATE", "TYPE", '"PaymentTypeName"'],
        ["CREATE", "TYPE", '"TransactionType"'],
    ]
    tables = [s.split()[2].strip('"') for s in statements[2:]]
    assert tables == [*TABLES, "_prisma_migrations"]  # TABLES is in foreign-key order


def test_identifiers_are_quoted_and_only_plain_names_pass():
    assert quote_identifier("transaction") == '"transaction"'
    with pytest.raises(ValueError, match="not an allowed SQL identifier"):
        quote_identifier('x"; DROP TABLE address; --')


def test_cli_parses_the_four_subcommands():
    parser = _parser()
    args = parser.parse_args(
        ["seed", "--dsn", "postgresql://u@h/d", "--orders", "5", "--seed", "2"]
    )
    assert (args.command, args.orders, args.seed) == ("seed", 5, 2)
    args = parser.parse_args(["advance", "--dsn", "postgresql://u@h/d", "--hours", "0.5"])
    assert (args.command, args.hours, args.seed) == ("advance", 0.5, 0)
    args = parser.parse_args(["load-snapshot", "--dsn", "postgresql://u@h/d", "--from", "/x"])
    assert str(args.directory) == "/x"
    with pytest.raises(SystemExit):
        parser.parse_args(["seed", "--dsn", "postgresql://u@h/d"])  # --orders is required
