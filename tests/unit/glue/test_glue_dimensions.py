"""Dimension transforms and state merging on small hand-built frames: exact rows and types."""

from __future__ import annotations

import datetime as dt
from typing import Any

from glue_jobs import star_schema as job

T0 = dt.datetime(2022, 11, 3, 14, 20, 49, 962000)
T1 = dt.datetime(2024, 11, 15, 14, 40, 0)
T2 = dt.datetime(2024, 11, 15, 14, 43, 0)

ADDRESS = (
    "address_id INT, address_line_1 STRING, address_line_2 STRING, district STRING,"
    " city STRING, postal_code STRING, country STRING, phone STRING,"
    " created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ"
)
ADDRESSES = [
    (1, "6826 Herzog Via", None, "Avon", "New Patienceburgh", "28441", "Turkey", "1803 637401"),
    (2, "179 Alexie Cliffs", None, None, "Aliso Viejo", "99305-7380", "San Marino", "9621 880720"),
    (3, "148 Sincere Fort", "Flat 2", "", "Lake Charles", "89360", "Togo", "0730 783349"),
]


def address_rows() -> list[tuple[Any, ...]]:
    return [(*a, T0, T0) for a in ADDRESSES]


def test_dim_location_keeps_null_and_empty_address_lines(frame: Any, expect: Any) -> None:
    expect(
        job.build_dim_location(frame(address_rows(), ADDRESS)),
        ADDRESSES,
        "location_id INT, address_line_1 STRING, address_line_2 STRING, district STRING,"
        " city STRING, postal_code STRING, country STRING, phone STRING",
    )


def test_dim_counterparty_carries_its_legal_address(frame: Any, expect: Any) -> None:
    counterparty = frame(
        [
            (1, "Fahey and Sons", 2, "Micheal Toy", "Mrs. Lucy Runolfsdottir", T0, T0),
            (2, "Leannon, Predovic and Morar", 3, None, None, T0, T1),
            (3, "Armstrong Inc", 99, "Jane Wiza", "Myra Kovacek", T0, T0),
        ],
        "counterparty_id INT, counterparty_legal_name STRING, legal_address_id INT,"
        " commercial_contact STRING, delivery_contact STRING,"
        " created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    )
    expect(
        job.build_dim_counterparty(counterparty, frame(address_rows(), ADDRESS)),
        [
            (
                1,
                "Fahey and Sons",
                "179 Alexie Cliffs",
                None,
                None,
                "Aliso Viejo",
                "99305-7380",
                "San Marino",
                "9621 880720",
            ),
            (
                2,
                "Leannon, Predovic and Morar",
                "148 Sincere Fort",
                "Flat 2",
                "",
                "Lake Charles",
                "89360",
                "Togo",
                "0730 783349",
            ),
            # Its address is not (yet) known: the counterparty is kept, the address is NULL.
            (3, "Armstrong Inc", None, None, None, None, None, None, None),
        ],
        "counterparty_id INT, counterparty_legal_name STRING,"
        " counterparty_legal_address_line_1 STRING, counterparty_legal_address_line_2 STRING,"
        " counterparty_legal_district STRING, counterparty_legal_city STRING,"
        " counterparty_legal_postal_code STRING, counterparty_legal_country STRING,"
        " counterparty_legal_phone_number STRING",
    )


def test_dim_staff_takes_department_name_and_location(frame: Any, expect: Any) -> None:
    staff = frame(
        [
            (1, "Jeremie", "Franey", 2, "jeremie.franey@terrifictotes.com", T0, T0),
            (2, "Deron", "Beier", 6, "deron.beier@terrifictotes.com", T0, T1),
            (3, "Ana", "Erdman", 42, "ana.erdman@terrifictotes.com", T0, T0),
        ],
        "staff_id INT, first_name STRING, last_name STRING, department_id INT,"
        " email_address STRING, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    )
    department = frame(
        [
            (2, "Purchasing", "Manchester", "Naomi Lapaglia", T0, T0),
            (6, "Facilities", None, "Shelley Levene", T0, T0),
        ],
        "department_id INT, department_name STRING, location STRING, manager STRING,"
        " created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    )
    expect(
        job.build_dim_staff(staff, department),
        [
            (
                1,
                "Jeremie",
                "Franey",
                "Purchasing",
                "Manchester",
                "jeremie.franey@terrifictotes.com",
            ),
            (2, "Deron", "Beier", "Facilities", None, "deron.beier@terrifictotes.com"),
            (3, "Ana", "Erdman", None, None, "ana.erdman@terrifictotes.com"),
        ],
        "staff_id INT, first_name STRING, last_name STRING, department_name STRING,"
        " location STRING, email_address STRING",
    )


def test_dim_currency_names_come_from_iso_4217(frame: Any, expect: Any) -> None:
    currency = frame(
        [
            (1, "GBP", T0, T0),
            (2, "USD", T0, T0),
            (3, "EUR", T0, T0),
            (4, "JPY", T1, T1),
            (5, "CHF", T1, T1),
            (6, "ZAR", T1, T1),
            (7, "ZZZ", T1, T1),
        ],
        "currency_id INT, currency_code STRING, created_at TIMESTAMP_NTZ,"
        " last_updated TIMESTAMP_NTZ",
    )
    expect(
        job.build_dim_currency(currency),
        [
            (1, "GBP", "Pound Sterling"),
            (2, "USD", "US Dollar"),
            (3, "EUR", "Euro"),
            (4, "JPY", "Yen"),
            (5, "CHF", "Swiss Franc"),
            (6, "ZAR", "Rand"),
            (7, "ZZZ", None),
        ],
        "currency_id INT, currency_code STRING, currency_name STRING",
    )


def test_the_iso_4217_table_is_the_whole_list_not_a_few_codes() -> None:
    codes = dict(job.ISO_4217)
    assert len(codes) == len(job.ISO_4217) > 150
    assert all(len(code) == 3 and code.isupper() for code in codes)
    assert codes["INR"] == "Indian Rupee"
    assert codes["BRL"] == "Brazilian Real"


def test_dim_design_payment_type_and_transaction(frame: Any, expect: Any) -> None:
    design = frame(
        [(8, "Wooden", "/usr", "wooden-20220717-npgz.json", T0, T0)],
        "design_id INT, design_name STRING, file_location STRING, file_name STRING,"
        " created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    )
    expect(
        job.build_dim_design(design),
        [(8, "Wooden", "/usr", "wooden-20220717-npgz.json")],
        "design_id INT, design_name STRING, file_location STRING, file_name STRING",
    )
    payment_type = frame(
        [(1, "SALES_RECEIPT", T0, T0), (3, "PURCHASE_PAYMENT", T0, T0)],
        "payment_type_id INT, payment_type_name STRING, created_at TIMESTAMP_NTZ,"
        " last_updated TIMESTAMP_NTZ",
    )
    expect(
        job.build_dim_payment_type(payment_type),
        [(1, "SALES_RECEIPT"), (3, "PURCHASE_PAYMENT")],
        "payment_type_id INT, payment_type_name STRING",
    )
    transaction = frame(
        [(1, "PURCHASE", None, 2, T0, T0), (2, "SALE", 2, None, T0, T0)],
        "transaction_id INT, transaction_type STRING, sales_order_id INT,"
        " purchase_order_id INT, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ",
    )
    expect(
        job.build_dim_transaction(transaction),
        [(1, "PURCHASE", None, 2), (2, "SALE", 2, None)],
        "transaction_id INT, transaction_type STRING, sales_order_id INT, purchase_order_id INT",
    )


def test_dim_date_is_every_day_with_iso_weekday_names_and_quarter(frame: Any, expect: Any) -> None:
    bounds = frame([(dt.date(2024, 12, 29), dt.date(2025, 1, 2))], "min_date DATE, max_date DATE")
    expect(
        job.build_dim_date(bounds),
        [
            (dt.date(2024, 12, 29), 2024, 12, 29, 7, "Sunday", "December", 4),
            (dt.date(2024, 12, 30), 2024, 12, 30, 1, "Monday", "December", 4),
            (dt.date(2024, 12, 31), 2024, 12, 31, 2, "Tuesday", "December", 4),
            (dt.date(2025, 1, 1), 2025, 1, 1, 3, "Wednesday", "January", 1),
            (dt.date(2025, 1, 2), 2025, 1, 2, 4, "Thursday", "January", 1),
        ],
        "date_id DATE, year INT, month INT, day INT, day_of_week INT, day_name STRING,"
        " month_name STRING, quarter INT",
    )


STAFF_STATE = (
    "staff_id INT, first_name STRING, last_name STRING, department_id INT,"
    " email_address STRING, created_at TIMESTAMP_NTZ, last_updated TIMESTAMP_NTZ"
)


def test_merge_state_keeps_the_latest_version_of_each_key(frame: Any, expect: Any) -> None:
    previous = frame(
        [
            (1, "Jeremie", "Franey", 2, "j@x", T0, T0),
            (2, "Deron", "Beier", 6, "d@x", T0, T1),
            (5, "Untouched", "Row", 1, "u@x", T0, T0),
        ],
        STAFF_STATE,
    )
    changes = frame(
        [
            (1, "Jeremie", "Franey", 3, "j@x", T0, T1, "b1"),
            (1, "Jeremie", "Franey-Smith", 3, "j@x", T0, T2, "b2"),
            # Older than the state already holds: ignored.
            (2, "Deron", "Old", 6, "d@x", T0, T0, "b1"),
            (3, "Ana", "Erdman", 1, "a@x", T1, T1, "b1"),
            # Same last_updated in two batches: the later batch wins.
            (4, "Magdalena", "Zieme", 1, "m@x", T1, T1, "b1"),
            (4, "Magdalena", "Zieme-Late", 1, "m@x", T1, T1, "b2"),
        ],
        f"{STAFF_STATE}, _batch_id STRING",
    )
    expect(
        job.merge_state(previous, changes, "staff_id"),
        [
            (1, "Jeremie", "Franey-Smith", 3, "j@x", T0, T2),
            (2, "Deron", "Beier", 6, "d@x", T0, T1),
            (3, "Ana", "Erdman", 1, "a@x", T1, T1),
            (4, "Magdalena", "Zieme-Late", 1, "m@x", T1, T1),
            (5, "Untouched", "Row", 1, "u@x", T0, T0),
        ],
        STAFF_STATE,
    )


def test_merge_state_without_previous_state_is_the_latest_of_the_changes(
    frame: Any, expect: Any
) -> None:
    changes = frame(
        [(1, "A", "B", 1, "a@x", T0, T0, "b1"), (1, "A", "C", 1, "a@x", T0, T1, "b2")],
        f"{STAFF_STATE}, _batch_id STRING",
    )
    expect(
        job.merge_state(None, changes, "staff_id"),
        [(1, "A", "C", 1, "a@x", T0, T1)],
        STAFF_STATE,
    )


def test_changed_rows_are_the_new_and_edited_rows_only(frame: Any, expect: Any) -> None:
    schema = "payment_type_id INT, payment_type_name STRING"
    previous = frame([(1, "SALES_RECEIPT"), (2, "SALES_REFUND")], schema)
    current = frame([(1, "SALES_RECEIPT"), (2, "REFUND"), (3, "PURCHASE_PAYMENT")], schema)
    expect(job.changed_rows(current, previous), [(2, "REFUND"), (3, "PURCHASE_PAYMENT")], schema)
    expect(
        job.changed_rows(current, None),
        [(1, "SALES_RECEIPT"), (2, "REFUND"), (3, "PURCHASE_PAYMENT")],
        schema,
    )
