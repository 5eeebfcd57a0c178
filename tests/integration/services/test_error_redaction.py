"""Errors from a real Postgres and DEBUG logs from a real botocore carry no row data and no
secret: what a stage raises, chains and logs names the schema, never the values."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from pg8000.exceptions import DatabaseError

from ingest.source import database_error
from loader.warehouse import translate_error
from pipeline_common.secrets import read_db_secret
from tests.reliability.rig import error_chain

EMAIL = "jeanette.erdman@terrifictotes.com"
PHONE = "0117 496 0000"


def _fail(conn: Any, sql: str, **params: Any) -> DatabaseError:
    with pytest.raises(DatabaseError) as caught:
        conn.run(sql, **params)
    return caught.value


@pytest.fixture
def staff(postgres: Any) -> Any:
    conn = postgres.connect()
    conn.run(
        "CREATE TABLE staff_r (staff_id int PRIMARY KEY, email text NOT NULL, phone text,"
        " joined date)"
    )
    conn.run("INSERT INTO staff_r VALUES (1, :e, :p, '2024-01-01')", e=EMAIL, p=PHONE)
    yield conn
    conn.close()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "INSERT INTO staff_r VALUES (2, NULL, :p, NULL)",  # DETAIL: Failing row contains
            '23502 null value in column "email" of relation "staff_r" violates not-null '
            "constraint (table staff_r, column email)",
        ),
        (
            "INSERT INTO staff_r VALUES (1, :p, :p, NULL)",  # DETAIL: Key (staff_id)=(1) ...
            '23505 duplicate key value violates unique constraint "staff_r_pkey" '
            "(table staff_r, constraint staff_r_pkey)",
        ),
        (
            "INSERT INTO staff_r VALUES (3, 'x', 'y', :p::date)",  # the value in the message
            "22008 date/time field value out of range",
        ),
    ],
)
def test_database_errors_name_the_schema_never_the_rows_values(
    staff: Any, sql: str, expected: str
) -> None:
    error = _fail(staff, sql, p=PHONE)
    loader_error = translate_error(error, "loading staff")
    error_again = _fail(staff, sql, p=PHONE)
    try:
        raise database_error(error_again, "reading staff") from error_again
    except Exception as ingest_error:  # raised as the stage raises it: chained
        chained = error_chain(ingest_error)
    for text in (str(loader_error), chained, repr(error.args)):
        assert PHONE not in text and EMAIL not in text
    assert str(loader_error).endswith(expected)
    assert f"reading staff: {expected}" in chained


def test_botocore_debug_logs_never_hold_the_secret_string(
    secretsmanager: Any, caplog: pytest.LogCaptureFixture
) -> None:
    password = "pw-that-must-not-be-logged-7f3a"  # nosec B105 - the test's own secret
    document = {"host": "h", "port": 5432, "dbname": "d", "username": "u", "password": password}

    # at_level restores botocore's level: a DEBUG left behind would flood later tests' logs.
    with caplog.at_level(logging.DEBUG, logger="botocore"):
        secretsmanager.create_secret(Name="redaction/db", SecretString=json.dumps(document))
        assert read_db_secret("redaction/db", secretsmanager).password == password

    texts = [record.getMessage() for record in caplog.records]
    # botocore did log both calls at DEBUG, by name, without their params or responses
    assert any("name=CreateSecret) (params not logged)" in text for text in texts)
    assert any("GetSecretValue" in text for text in texts)
    assert not [text for text in texts if password in text]
    assert logging.getLogger("botocore").level == logging.NOTSET
