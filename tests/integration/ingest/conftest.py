"""Fixtures for ingest against a real Postgres (seeded ToteSys) and moto over HTTP.

The ingest package is imported inside the fixtures, not here: this conftest can load before
pytest_configure sets POWERTOOLS_SERVICE_NAME, and Powertools names a module's child logger
from that variable when the module is imported.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from local.totesys.generator import seed
from local.totesys.schema import create_schema, reset_sequences

BUCKET = "totesys-ingest-test"
SECRET_ID = "totesys/source"  # nosec B105 - a secret's name, not a secret
SEED_ORDERS = 300

# Rows no generator would produce: every way CSV and text can go wrong. Timestamps are in
# the past (before any run's hi) with the millisecond forms Postgres prints differently.
TRICKY_SQL: list[tuple[str, dict[str, Any]]] = [
    (
        "INSERT INTO address (address_id, address_line_1, address_line_2, district, city, "
        "postal_code, country, phone, created_at, last_updated) VALUES "
        "(9001, :l1, NULL, '', :city, ' 00042 ', :country, '\\N', "
        "'2024-11-14 09:00:00.100', '2024-11-14 09:00:00'), "
        "(9002, 'a,b', '', NULL, :tab, :crlf, '\"', ',', "
        "'2024-11-14 09:00:01.001', '2024-11-14 09:00:01.999')",
        {
            "l1": 'Flat 1, "The Old Mill"\nBack Lane',
            "city": "Zürich – Łódź 東京 😀",  # noqa: RUF001 - non-ASCII on purpose
            "country": "Côte d'Ivoire",
            "tab": "tab\there",
            "crlf": "crlf\r\nend",
        },
    ),
    (
        "INSERT INTO department (department_id, department_name, location, manager, "
        "created_at, last_updated) VALUES (9001, 'Sales, \"Special\"', NULL, '', "
        "'2024-11-14 09:00:02.5', '2024-11-14 09:00:02.5')",
        {},
    ),
    (
        "INSERT INTO design (design_id, design_name, file_location, file_name, created_at, "
        "last_updated) VALUES (9001, 'Ünïcödé', '/x/\"q\"/', :name, "
        "'2024-11-14 09:00:03.123', '2024-11-14 09:00:03.123')",
        {"name": "a\nb.json"},
    ),
    (
        "INSERT INTO currency (currency_id, currency_code, created_at, last_updated) "
        "VALUES (9001, 'XTS', '2024-11-14 09:00:04', '2024-11-14 09:00:04')",
        {},
    ),
    (
        "INSERT INTO payment_type (payment_type_id, payment_type_name, created_at, "
        "last_updated) VALUES (9001, 'SALES_REFUND', '2024-11-14 09:00:05', "
        "'2024-11-14 09:00:05')",
        {},
    ),
    (
        "INSERT INTO counterparty (counterparty_id, counterparty_legal_name, "
        "legal_address_id, commercial_contact, delivery_contact, created_at, last_updated) "
        "VALUES (9001, 'O''Brien & Sons, Ltd.', 9001, NULL, '', "
        "'2024-11-14 09:00:06', '2024-11-14 09:00:06')",
        {},
    ),
    (
        "INSERT INTO staff (staff_id, first_name, last_name, department_id, email_address, "
        "created_at, last_updated) VALUES (9001, 'Zoë', ' spaced ', 9001, "
        "'zoe@terrifictotes.com', '2024-11-14 09:00:07', '2024-11-14 09:00:07')",
        {},
    ),
    (
        "INSERT INTO sales_order (sales_order_id, created_at, last_updated, design_id, "
        "staff_id, counterparty_id, units_sold, unit_price, currency_id, "
        "agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id) VALUES "
        "(900001, '2024-11-14 09:00:08.010', '2024-11-14 09:00:08.010', 9001, 9001, 9001, "
        "1, 3.5, 9001, '2024-11-20', '2024-11-21', 9002), "
        "(900002, '2024-11-14 09:00:08.020', '2024-11-14 09:00:08.020', 9001, 9001, 9001, "
        "2, 0.1, 9001, '', '2024-11-21', 9002), "
        "(900003, '2024-11-14 09:00:08.030', '2024-11-14 09:00:08.030', 9001, 9001, 9001, "
        "3, 99999999.99, 9001, '2024-11-20', '2024-11-21', 9002)",
        {},
    ),
    (
        "INSERT INTO purchase_order (purchase_order_id, created_at, last_updated, staff_id, "
        "counterparty_id, item_code, item_quantity, item_unit_price, currency_id, "
        "agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id) VALUES "
        "(900001, '2024-11-14 09:00:09', '2024-11-14 09:00:09', 9001, 9001, 'ZZ,\"Q\"', 5, "
        "0.00, 9001, '2024-11-20', '2024-11-21', 9001)",
        {},
    ),
    (
        'INSERT INTO "transaction" (transaction_id, transaction_type, sales_order_id, '
        "purchase_order_id, created_at, last_updated) VALUES "
        "(900001, 'SALE', 900001, NULL, '2024-11-14 09:00:10', '2024-11-14 09:00:10'), "
        "(900002, 'PURCHASE', NULL, 900001, '2024-11-14 09:00:10', '2024-11-14 09:00:10')",
        {},
    ),
    (
        "INSERT INTO payment (payment_id, created_at, last_updated, transaction_id, "
        "counterparty_id, payment_amount, currency_id, payment_type_id, paid, payment_date, "
        "company_ac_number, counterparty_ac_number) VALUES "
        "(900001, '2024-11-14 09:00:11', '2024-11-14 09:00:11.5', 900001, 9001, 3.50, 9001, "
        "9001, false, '2024-11-21', 12345678, 87654321), "
        "(900002, '2024-11-14 09:00:11', '2024-11-14 09:00:11.5', 900002, 9001, 0.00, 9001, "
        "9001, true, '', 1, 2)",
        {},
    ),
]


def add_tricky_rows(conn: Any) -> None:
    for sql, params in TRICKY_SQL:
        conn.run(sql, **params)
    reset_sequences(conn)


@pytest.fixture
def totesys(postgres: Any) -> Iterator[Any]:
    """A seeded ToteSys (generator, 300 orders) plus the tricky rows; an open connection."""
    conn = postgres.connect()
    try:
        seed(conn, SEED_ORDERS, 11)
        add_tricky_rows(conn)
        conn.run("SET TIME ZONE 'UTC'")
        yield conn
    finally:
        conn.close()


@pytest.fixture
def empty_totesys(postgres: Any) -> Iterator[Any]:
    """The ToteSys schema with no rows; an open connection."""
    conn = postgres.connect()
    try:
        create_schema(conn)
        conn.run("SET TIME ZONE 'UTC'")
        yield conn
    finally:
        conn.close()


@pytest.fixture
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return BUCKET


@pytest.fixture
def source_secret(secretsmanager: Any, postgres: Any) -> str:
    secretsmanager.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret))
    return SECRET_ID


@pytest.fixture
def settings(bucket: str, source_secret: str) -> Any:
    """Lag 0 so the tests' own changes (stamped now()) are due at once; see the lag test."""
    from ingest.settings import Settings

    return Settings(ingest_bucket=bucket, source_secret_id=source_secret, commit_lag_seconds=0)


@pytest.fixture
def ingest(settings: Any, s3: Any, secretsmanager: Any) -> Callable[..., Any]:
    """Run ingest once, with settings overridden as given, through real boto3 clients."""
    from ingest.run import run_ingest

    def run(*, s3_client: Any = None, **overrides: Any) -> Any:
        return run_ingest(
            dataclasses.replace(settings, **overrides),
            s3=s3_client or s3,
            secretsmanager=secretsmanager,
        )

    return run


@pytest.fixture
def new_s3_client(aws: str) -> Callable[[], Any]:
    """A separate boto3 S3 client (so a test can hook its HTTP calls only)."""
    return lambda: boto3.client("s3")
