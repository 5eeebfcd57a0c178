"""Hostile values and the rows that carry them into every text column of ToteSys."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import cycle
from typing import Any

import pg8000.native

from tests.reliability.changes import NOW

# Text that breaks naive SQL, CSV, JSON, logging or shells if anything builds them from data.
HOSTILE: tuple[str, ...] = (
    "Robert'); DROP TABLE staff;--",
    '"; DROP TABLE dim_staff; --',
    "' OR '1'='1",
    "$$; DELETE FROM etl_loaded_batch; $$",
    "\\N",
    "\\",
    "NULL",
    "",
    'a,b,"c",d',
    "line one\nline two\r\nline three",
    "  padded  ",
    "tab\there",
    "ünïcödé ✓ 中文 🚀",
    "${jndi:ldap://127.0.0.1/x}",
    "%s %n %x {0} {}",
    "<script>alert(1)</script>",
    '"',
    "'",
    "--",
    "1; SELECT pg_sleep(10)",
)
# varchar(3) currency codes: none is an ISO 4217 code.
HOSTILE_CODES: tuple[str, ...] = ("';-", '"\n,')


def _one(conn: pg8000.native.Connection, sql: str, **params: Any) -> int:
    return int(conn.run(sql, **params)[0][0])


def insert_hostile_rows(source: pg8000.native.Connection) -> dict[str, list[int]]:
    """New rows in every table that has a text column, every text column hostile.

    The rows are consistent (foreign keys hold), so all of them must flow whole.
    """
    values: Iterator[str] = cycle(HOSTILE)
    ids: dict[str, list[int]] = {}

    def add(table: str, row_id: int) -> int:
        ids.setdefault(table, []).append(row_id)
        return row_id

    for i in range(4):
        address = add(
            "address",
            _one(
                source,
                "INSERT INTO address (address_line_1, address_line_2, district, city, "
                "postal_code, country, phone, created_at, last_updated) VALUES "
                f"(:a, :b, :c, :d, :e, :f, :g, {NOW}, {NOW}) RETURNING address_id",
                **{k: next(values) for k in "abcdefg"},
            ),
        )
        department = add(
            "department",
            _one(
                source,
                "INSERT INTO department (department_name, location, manager, created_at, "
                f"last_updated) VALUES (:a, :b, :c, {NOW}, {NOW}) RETURNING department_id",
                **{k: next(values) for k in "abc"},
            ),
        )
        staff = add(
            "staff",
            _one(
                source,
                "INSERT INTO staff (first_name, last_name, department_id, email_address, "
                f"created_at, last_updated) VALUES (:a, :b, :d, :c, {NOW}, {NOW}) "
                "RETURNING staff_id",
                d=department,
                **{k: next(values) for k in "abc"},
            ),
        )
        counterparty = add(
            "counterparty",
            _one(
                source,
                "INSERT INTO counterparty (counterparty_legal_name, legal_address_id, "
                "commercial_contact, delivery_contact, created_at, last_updated) VALUES "
                f"(:a, :addr, :b, :c, {NOW}, {NOW}) RETURNING counterparty_id",
                addr=address,
                **{k: next(values) for k in "abc"},
            ),
        )
        design = add(
            "design",
            _one(
                source,
                "INSERT INTO design (design_name, file_location, file_name, created_at, "
                f"last_updated) VALUES (:a, :b, :c, {NOW}, {NOW}) RETURNING design_id",
                **{k: next(values) for k in "abc"},
            ),
        )
        currency = add(
            "currency",
            _one(
                source,
                "INSERT INTO currency (currency_code, created_at, last_updated) VALUES "
                f"(:code, {NOW}, {NOW}) RETURNING currency_id",
                code=HOSTILE_CODES[i % len(HOSTILE_CODES)],
            ),
        )
        add(
            "purchase_order",
            _one(
                source,
                "INSERT INTO purchase_order (created_at, last_updated, staff_id, "
                "counterparty_id, item_code, item_quantity, item_unit_price, currency_id, "
                "agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id) "
                f"VALUES ({NOW}, {NOW}, :staff, :cp, :code, 3, 1.25, :cur, '2025-01-02', "
                "'2025-01-09', :addr) RETURNING purchase_order_id",
                staff=staff,
                cp=counterparty,
                code=next(values),
                cur=currency,
                addr=address,
            ),
        )
        add(
            "sales_order",
            _one(
                source,
                "INSERT INTO sales_order (created_at, last_updated, design_id, staff_id, "
                "counterparty_id, units_sold, unit_price, currency_id, agreed_delivery_date, "
                "agreed_payment_date, agreed_delivery_location_id) VALUES "
                f"({NOW}, {NOW}, :design, :staff, :cp, 7, 2.50, :cur, '2025-01-03', "
                "'2025-01-10', :addr) RETURNING sales_order_id",
                design=design,
                staff=staff,
                cp=counterparty,
                cur=currency,
                addr=address,
            ),
        )
        next(values)  # shift by one, so each value lands in a different column next time
    # Existing rows too: an edit that makes a clean value hostile must flow the same way.
    source.run(
        f"UPDATE staff SET last_name = :v, last_updated = {NOW} "
        "WHERE staff_id = (SELECT min(staff_id) FROM staff)",
        v=HOSTILE[0],
    )
    return ids


def new_sales_order(
    source: pg8000.native.Connection,
    *,
    payment_date: str = "2025-02-01",
    delivery_date: str = "2025-02-03",
    last_updated: str = NOW,
) -> int:
    """One sales order on existing reference rows (dates as given, unchecked)."""
    return _one(
        source,
        "INSERT INTO sales_order (created_at, last_updated, design_id, staff_id, "
        "counterparty_id, units_sold, unit_price, currency_id, agreed_delivery_date, "
        "agreed_payment_date, agreed_delivery_location_id) SELECT "
        f"{NOW}, {last_updated}, (SELECT min(design_id) FROM design), "
        "(SELECT min(staff_id) FROM staff), (SELECT min(counterparty_id) FROM counterparty), "
        "4, 9.99, (SELECT min(currency_id) FROM currency), :delivery, :payment, "
        "(SELECT min(address_id) FROM address) RETURNING sales_order_id",
        delivery=delivery_date,
        payment=payment_date,
    )
