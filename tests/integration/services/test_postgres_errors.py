"""pipeline_common.postgres on a real Postgres: errors the server really raises are classed
by the one policy (and by each stage's adapter on top of it), and the advisory locks both
stages take behave as a second run needs."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest
from pg8000.exceptions import DatabaseError, InterfaceError

from ingest.exceptions import SourceQueryError
from ingest.source import database_error
from loader.exceptions import WarehouseBusyError
from loader.warehouse import translate_error
from pipeline_common.errors import (
    ConcurrentRunError,
    DatabaseUnavailableError,
    TerminalError,
)
from pipeline_common.postgres import (
    advisory_lock,
    is_transient,
    pipeline_error,
    quote_identifier,
    quote_identifiers,
    sqlstate,
    take_transaction_lock,
)

KEY = 7_300_999_001
_MY_ADVISORY_LOCKS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
)


@pytest.fixture
def conn(postgres: Any) -> Any:
    connection = postgres.connect()
    yield connection
    with contextlib.suppress(InterfaceError):  # a test may have had it terminated
        connection.close()


@pytest.fixture
def other(postgres: Any) -> Any:
    connection = postgres.connect()
    yield connection
    connection.close()


def _fail(conn: Any, sql: str) -> DatabaseError:
    with pytest.raises(DatabaseError) as caught:
        conn.run(sql)
    return caught.value


def test_a_statement_timeout_is_terminal_a_retry_would_time_out_again(conn: Any) -> None:
    conn.run("SET statement_timeout = 1")

    error = _fail(conn, "SELECT pg_sleep(1)")

    assert sqlstate(error) == "57014"  # query_canceled
    assert not is_transient("57014")
    assert type(pipeline_error(error, "x")) is TerminalError
    assert type(database_error(error, "extracting staff")) is SourceQueryError
    assert type(translate_error(error, "loading")) is TerminalError  # was WarehouseBusyError


def test_a_row_lock_another_session_holds_is_transient(conn: Any, other: Any) -> None:
    conn.run("CREATE TABLE locked (id int PRIMARY KEY)")
    conn.run("INSERT INTO locked VALUES (1)")
    conn.run("START TRANSACTION")
    conn.run("SELECT id FROM locked FOR UPDATE")

    error = _fail(other, "SELECT id FROM locked FOR UPDATE NOWAIT")
    conn.run("ROLLBACK")

    assert sqlstate(error) == "55P03"  # lock_not_available
    assert type(pipeline_error(error, "x")) is DatabaseUnavailableError
    assert type(database_error(error, "extracting locked")) is DatabaseUnavailableError
    assert type(translate_error(error, "loading")) is ConcurrentRunError


def test_a_deadlock_is_transient(conn: Any, other: Any) -> None:
    conn.run("CREATE TABLE pair (id int PRIMARY KEY, n int)")
    conn.run("INSERT INTO pair VALUES (1, 0), (2, 0)")
    errors: list[DatabaseError] = []

    def update(session: Any, first: int, second: int, started: threading.Barrier) -> None:
        session.run("START TRANSACTION")
        session.run("UPDATE pair SET n = n + 1 WHERE id = :id", id=first)
        started.wait()
        try:
            session.run("UPDATE pair SET n = n + 1 WHERE id = :id", id=second)
        except DatabaseError as exc:
            errors.append(exc)
        session.run("ROLLBACK")

    started = threading.Barrier(2)
    threads = [
        threading.Thread(target=update, args=(conn, 1, 2, started)),
        threading.Thread(target=update, args=(other, 2, 1, started)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [sqlstate(error) for error in errors] == ["40P01"]  # deadlock_detected, one victim
    assert type(pipeline_error(errors[0], "x")) is DatabaseUnavailableError
    assert type(translate_error(errors[0], "loading")) is WarehouseBusyError


def test_a_division_by_zero_is_terminal(conn: Any) -> None:
    error = _fail(conn, "SELECT 1 / 0")

    assert sqlstate(error) == "22012"
    assert type(pipeline_error(error, "x")) is TerminalError
    assert type(database_error(error, "extracting x")) is SourceQueryError


def test_a_terminated_backend_is_transient(conn: Any, other: Any) -> None:
    [[pid]] = conn.run("SELECT pg_backend_pid()")
    assert other.run("SELECT pg_terminate_backend(:pid)", pid=pid) == [[True]]
    time.sleep(0.2)  # the FATAL message is on conn's socket

    with pytest.raises((DatabaseError, InterfaceError)) as caught:
        conn.run("SELECT 1")

    error = caught.value
    if isinstance(error, DatabaseError):
        assert sqlstate(error) == "57P01"  # admin_shutdown
    assert type(pipeline_error(error, "x")) is DatabaseUnavailableError
    assert type(database_error(error, "extracting x")) is DatabaseUnavailableError
    assert translate_error(error, "loading").transient


def test_quoted_allow_listed_names_round_trip_through_the_server(conn: Any) -> None:
    table, columns = "transaction", ("order", "select_", "a" * 63)
    definitions = ", ".join(f"{quote_identifier(column)} int" for column in columns)
    conn.run(f"CREATE TABLE {quote_identifier(table)} ({definitions})")
    conn.run(
        f"INSERT INTO {quote_identifier(table)} ({quote_identifiers(columns)}) VALUES (1, 2, 3)"
    )

    rows = conn.run(f"SELECT {quote_identifiers(columns, table)} FROM {quote_identifier(table)}")

    assert rows == [[1, 2, 3]]


def test_a_held_advisory_lock_makes_a_second_run_fail_transient(conn: Any, other: Any) -> None:
    with (
        advisory_lock(conn, KEY, busy="another run holds it"),
        pytest.raises(ConcurrentRunError, match=r"^another run holds it$"),
        advisory_lock(other, KEY, busy="another run holds it"),
    ):
        pytest.fail("both sessions held the lock")

    with advisory_lock(other, KEY, busy="another run holds it"):  # released at the end
        assert other.run(_MY_ADVISORY_LOCKS) == [[1]]
    assert other.run(_MY_ADVISORY_LOCKS) == [[0]]


def test_a_waiting_lock_is_taken_once_released_and_lock_timeout_is_put_back(
    conn: Any, other: Any
) -> None:
    other.run("SET lock_timeout = '7s'")
    conn.run("SELECT pg_advisory_lock(:key)", key=KEY)
    release = threading.Timer(0.5, lambda: conn.run("SELECT pg_advisory_unlock(:key)", key=KEY))
    release.start()
    started = time.monotonic()

    with advisory_lock(other, KEY, busy="busy", wait_seconds=10):
        waited = time.monotonic() - started
    release.join()

    assert 0.3 < waited < 5
    assert other.run("SHOW lock_timeout") == [["7s"]]


def test_a_waiting_lock_gives_up_after_wait_seconds(conn: Any, other: Any) -> None:
    conn.run("SELECT pg_advisory_lock(:key)", key=KEY)
    started = time.monotonic()

    with (
        pytest.raises(ConcurrentRunError, match="busy"),
        advisory_lock(other, KEY, busy="busy", wait_seconds=0.3),
    ):
        pytest.fail("both sessions held the lock")

    assert 0.2 < time.monotonic() - started < 5
    assert other.run("SHOW lock_timeout") == [["0"]]
    assert other.run("SELECT 1") == [[1]]  # the session is usable


def test_a_transaction_lock_is_held_until_the_transaction_ends(conn: Any, other: Any) -> None:
    conn.run("START TRANSACTION")
    take_transaction_lock(conn, KEY)
    assert other.run("SELECT pg_try_advisory_lock(:key)", key=KEY) == [[False]]

    conn.run("COMMIT")

    assert other.run("SELECT pg_try_advisory_lock(:key)", key=KEY) == [[True]]
