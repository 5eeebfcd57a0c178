"""Fact transforms and date bounds on small hand-built frames: exact rows and types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from glue_jobs import star_schema as job

B1 = "20241115T144100123456Z"
B2 = "20241115T144400000000Z"
D = dt.date

SALES_ORDER = (
    "sales_order_id INT, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ, design_id INT,"
    " staff_id INT, counterparty_id INT, units_sold INT, unit_price DECIMAL(10,2),"
    " currency_id INT, agreed_delivery_date DATE, agreed_payment_date DATE,"
    " agreed_delivery_location_id INT, _batch_id STRING"
)
FACT_SALES_ORDER = (
    "sales_order_id INT, created_date DATE, created_time STRING, last_updated_date DATE,"
    " last_updated_time STRING, sales_staff_id INT, counterparty_id INT, units_sold INT,"
    " unit_price DECIMAL(10,2), currency_id INT, design_id INT, agreed_payment_date DATE,"
    " agreed_delivery_date DATE, agreed_delivery_location_id INT"
)
CREATED = dt.datetime(2024, 11, 15, 14, 40, 1, 123000)
AMENDED = dt.datetime(2024, 11, 15, 16, 2, 0, 500000)
MIDNIGHT = dt.datetime(2024, 11, 16, 0, 0, 0)


def sales_rows() -> list[tuple[Any, ...]]:
    original = (1, CREATED, CREATED, 3, 19, 8, 42972, Decimal("3.94"), 2, D(2024, 11, 20))
    return [
        (*original, D(2024, 11, 21), 8, B1),
        # The same version delivered again by a later batch: still one record.
        (*original, D(2024, 11, 21), 8, B2),
        # The amended order: a second version, a second record.
        (
            1,
            CREATED,
            AMENDED,
            3,
            19,
            8,
            40000,
            Decimal("3.50"),
            2,
            D(2024, 11, 22),
            D(2024, 11, 23),
            8,
            B2,
        ),
        # A long-tail delivery date, two years out.
        (
            2,
            MIDNIGHT,
            MIDNIGHT,
            4,
            10,
            4,
            1,
            Decimal("0.01"),
            3,
            D(2026, 11, 13),
            D(2024, 11, 18),
            19,
            B2,
        ),
    ]


def test_fact_sales_order_has_one_record_per_version(frame: Any, expect: Any) -> None:
    expect(
        job.build_fact_sales_order(frame(sales_rows(), SALES_ORDER)),
        [
            (1, D(2024, 11, 15), "14:40:01.123", D(2024, 11, 15), "14:40:01.123", 19, 8, 42972,
             Decimal("3.94"), 2, 3, D(2024, 11, 21), D(2024, 11, 20), 8),
            (1, D(2024, 11, 15), "14:40:01.123", D(2024, 11, 15), "16:02:00.500", 19, 8, 40000,
             Decimal("3.50"), 2, 3, D(2024, 11, 23), D(2024, 11, 22), 8),
            (2, D(2024, 11, 16), "00:00:00.000", D(2024, 11, 16), "00:00:00.000", 10, 4, 1,
             Decimal("0.01"), 3, 4, D(2024, 11, 18), D(2026, 11, 13), 19),
        ],
        FACT_SALES_ORDER,
    )  # fmt: skip


def test_fact_purchase_order(frame: Any, expect: Any) -> None:
    purchase = frame(
        [
            (7, CREATED, AMENDED, 11, 5, "ZDOI5EA", 371, Decimal("361.39"), 1,
             D(2024, 11, 18), D(2024, 11, 25), 6, B1),
        ],
        "purchase_order_id INT, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ,"
        " staff_id INT, counterparty_id INT, item_code STRING, item_quantity INT,"
        " item_unit_price DECIMAL(10,2), currency_id INT, agreed_delivery_date DATE,"
        " agreed_payment_date DATE, agreed_delivery_location_id INT, _batch_id STRING",
    )  # fmt: skip
    expect(
        job.build_fact_purchase_order(purchase),
        [
            (7, D(2024, 11, 15), "14:40:01.123", D(2024, 11, 15), "16:02:00.500", 11, 5,
             "ZDOI5EA", 371, Decimal("361.39"), 1, D(2024, 11, 18), D(2024, 11, 25), 6),
        ],
        "purchase_order_id INT, created_date DATE, created_time STRING, last_updated_date DATE,"
        " last_updated_time STRING, staff_id INT, counterparty_id INT, item_code STRING,"
        " item_quantity INT, item_unit_price DECIMAL(10,2), currency_id INT,"
        " agreed_delivery_date DATE, agreed_payment_date DATE, agreed_delivery_location_id INT",
    )  # fmt: skip


def test_fact_payment(frame: Any, expect: Any) -> None:
    payment = frame(
        [
            (2, CREATED, CREATED, 2, 15, Decimal("552548.62"), 2, 3, False, D(2024, 11, 16),
             67305075, 31622269, B1),
            (2, CREATED, AMENDED, 2, 15, Decimal("552548.62"), 2, 3, True, D(2024, 11, 16),
             67305075, 31622269, B2),
        ],
        "payment_id INT, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ,"
        " transaction_id INT, counterparty_id INT, payment_amount DECIMAL(10,2),"
        " currency_id INT, payment_type_id INT, paid BOOLEAN, payment_date DATE,"
        " company_ac_number INT, counterparty_ac_number INT, _batch_id STRING",
    )  # fmt: skip
    expect(
        job.build_fact_payment(payment),
        [
            (2, D(2024, 11, 15), "14:40:01.123", D(2024, 11, 15), "14:40:01.123", 2, 15,
             Decimal("552548.62"), 2, 3, False, D(2024, 11, 16)),
            (2, D(2024, 11, 15), "14:40:01.123", D(2024, 11, 15), "16:02:00.500", 2, 15,
             Decimal("552548.62"), 2, 3, True, D(2024, 11, 16)),
        ],
        "payment_id INT, created_date DATE, created_time STRING, last_updated_date DATE,"
        " last_updated_time STRING, transaction_id INT, counterparty_id INT,"
        " payment_amount DECIMAL(10,2), currency_id INT, payment_type_id INT, paid BOOLEAN,"
        " payment_date DATE",
    )  # fmt: skip


def test_date_bounds_cover_every_date_column_including_the_long_tail(
    frame: Any, expect: Any
) -> None:
    fact = job.build_fact_sales_order(frame(sales_rows(), SALES_ORDER))
    expect(
        job.date_bounds(fact, "fact_sales_order"),
        [(3, D(2024, 11, 15), D(2026, 11, 13))],
        "rows BIGINT, min_date DATE, max_date DATE",
    )
    expect(
        job.date_bounds(fact, "fact_sales_order", "sales_order_id"),
        [(1, 2, D(2024, 11, 15), D(2024, 11, 23)), (2, 1, D(2024, 11, 16), D(2026, 11, 13))],
        "sales_order_id INT, rows BIGINT, min_date DATE, max_date DATE",
    )


def test_every_fact_date_column_is_a_dim_date_source() -> None:
    assert job.FACT_DATE_COLUMNS == {
        "fact_sales_order": (
            "created_date",
            "last_updated_date",
            "agreed_payment_date",
            "agreed_delivery_date",
        ),
        "fact_purchase_order": (
            "created_date",
            "last_updated_date",
            "agreed_delivery_date",
            "agreed_payment_date",
        ),
        "fact_payment": ("created_date", "last_updated_date", "payment_date"),
    }
