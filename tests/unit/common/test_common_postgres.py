"""pipeline_common.postgres without a server: the one SQLSTATE policy both stages retry by,
the driver-error translation, and the identifier allow-list."""

from __future__ import annotations

import pytest
from pg8000.exceptions import DatabaseError, InterfaceError

from pipeline_common.errors import (
    DatabaseUnavailableError,
    PipelineError,
    SecretError,
    TerminalError,
    TransientError,
    UnsafeIdentifierError,
)
from pipeline_common.postgres import (
    is_transient,
    pipeline_error,
    quote_identifier,
    quote_identifiers,
    sqlstate,
)


def server_error(code: str, message: str = "m", **fields: str) -> DatabaseError:
    return DatabaseError({"S": "ERROR", "C": code, "M": message, **fields})


# https://www.postgresql.org/docs/15/errcodes-appendix.html
TRANSIENT = [
    "08000",  # connection_exception
    "08003",  # connection_does_not_exist
    "08006",  # connection_failure
    "08001",  # sqlclient_unable_to_establish_sqlconnection
    "08004",  # sqlserver_rejected_establishment_of_sqlconnection
    "25P03",  # idle_in_transaction_session_timeout
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now
    "57P05",  # idle_session_timeout
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "53300",  # too_many_connections
    "55P03",  # lock_not_available
]
TERMINAL = [
    "08P01",  # protocol_violation: class 08, but no retry fixes it
    "53000",  # insufficient_resources
    "53100",  # disk_full
    "53200",  # out_of_memory
    "53400",  # configuration_limit_exceeded
    "57000",  # operator_intervention
    "57014",  # query_canceled (statement_timeout)
    "57P04",  # database_dropped
    "40000",  # transaction_rollback
    "40002",  # transaction_integrity_constraint_violation
    "40003",  # statement_completion_unknown
    "25P02",  # in_failed_sql_transaction
    "55000",  # object_not_in_prerequisite_state
    "55006",  # object_in_use
    "22012",  # division_by_zero
    "23505",  # unique_violation
    "42501",  # insufficient_privilege
    "42P01",  # undefined_table
    "XX000",  # internal_error
    "",  # no SQLSTATE at all
]


@pytest.mark.parametrize("code", TRANSIENT)
def test_the_codes_a_retry_can_get_past_are_transient(code: str) -> None:
    assert is_transient(code) is True


@pytest.mark.parametrize("code", TERMINAL)
def test_every_other_code_is_terminal(code: str) -> None:
    assert is_transient(code) is False


def test_sqlstate_is_the_error_fields_c() -> None:
    assert sqlstate(server_error("40P01")) == "40P01"
    assert sqlstate(DatabaseError("no fields")) == ""
    assert sqlstate(DatabaseError()) == ""
    assert sqlstate(InterfaceError("network error")) == ""


@pytest.mark.parametrize("code", TRANSIENT)
def test_a_transient_server_error_becomes_database_unavailable(code: str) -> None:
    error = pipeline_error(server_error(code, "try later"), "reading staff")

    assert type(error) is DatabaseUnavailableError
    assert error.transient is True
    assert str(error) == f"Postgres failed while reading staff: {code} try later"


@pytest.mark.parametrize("code", [c for c in TERMINAL if c])
def test_a_terminal_server_error_becomes_a_terminal_error(code: str) -> None:
    error = pipeline_error(server_error(code, "no"), "reading staff")

    assert type(error) is TerminalError
    assert error.transient is False
    assert str(error) == f"Postgres refused reading staff: {code} no"


def test_a_stage_gives_its_own_words_and_classes() -> None:
    class StageBusyError(TransientError):
        pass

    class StageRefusedError(TerminalError):
        pass

    kinds = {"server": "source", "transient": StageBusyError, "terminal": StageRefusedError}
    busy = pipeline_error(server_error("40001", "could not serialize"), "extracting x", **kinds)
    refused = pipeline_error(server_error("42501", "permission denied"), "extracting x", **kinds)
    lost = pipeline_error(InterfaceError("network error"), "extracting x", **kinds)

    assert type(busy) is StageBusyError
    assert str(busy) == "source failed while extracting x: 40001 could not serialize"
    assert type(refused) is StageRefusedError
    assert str(refused) == "source refused extracting x: 42501 permission denied"
    assert type(lost) is DatabaseUnavailableError
    assert str(lost) == "source connection lost while extracting x: network error"


def test_lost_connections_are_transient_and_pipeline_errors_pass_through() -> None:
    for exc in (InterfaceError("network error"), ConnectionResetError("reset"), TimeoutError()):
        assert type(pipeline_error(exc, "x")) is DatabaseUnavailableError
    own = SecretError("secret 'x' lacks keys: password")
    assert pipeline_error(own, "x") is own


def test_anything_else_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="not a database error"):
        pipeline_error(ValueError("bad"), "x")


def test_row_values_never_reach_the_message() -> None:
    exc = server_error("23505", "duplicate key", D="Key (email)=(a@b.c) already exists.")

    error = pipeline_error(exc, "loading staff")

    assert "a@b.c" not in str(error) and "a@b.c" not in repr(exc.args)


def test_an_allowed_identifier_is_quoted_as_is() -> None:
    assert quote_identifier("fact_sales_order") == '"fact_sales_order"'
    assert quote_identifier("_prisma_migrations") == '"_prisma_migrations"'
    assert quote_identifier("bench_copy_keys") == '"bench_copy_keys"'
    assert quote_identifier("a" * 63) == '"' + "a" * 63 + '"'


@pytest.mark.parametrize(
    "name",
    [
        'a"b',
        "Name",
        "a" * 64,
        "1abc",
        "",
        "sales order",
        "t;drop",
        "é",
        "staff.email",
        "staff\n",
        None,
    ],
)
def test_anything_outside_the_allow_list_is_refused(name: str) -> None:
    with pytest.raises(UnsafeIdentifierError) as raised:
        quote_identifier(name)

    assert str(raised.value) == f"not an allowed SQL identifier: {name!r}"
    assert isinstance(raised.value, TerminalError) and isinstance(raised.value, PipelineError)
    assert isinstance(raised.value, ValueError)  # what callers caught before
    assert raised.value.transient is False


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ('a"b', "not an allowed SQL identifier: 'a\"b'"),
        ("Name", "not an allowed SQL identifier: 'Name'"),
        ("1abc", "not an allowed SQL identifier: '1abc'"),
        ("b" * 64, f"not an allowed SQL identifier: '{'b' * 64}'"),
    ],
)
def test_the_refusal_names_the_name(name: str, message: str) -> None:
    with pytest.raises(UnsafeIdentifierError) as raised:
        quote_identifier(name)

    assert str(raised.value) == message


def test_a_list_is_comma_separated_and_optionally_qualified() -> None:
    assert quote_identifiers(("a", "b")) == '"a", "b"'
    assert quote_identifiers(["a", "b"], "t") == '"t"."a", "t"."b"'
    assert quote_identifiers(iter(["x"]), "excluded") == '"excluded"."x"'
    assert quote_identifiers(()) == ""


def test_one_bad_name_in_a_list_or_as_its_prefix_refuses_the_list() -> None:
    with pytest.raises(UnsafeIdentifierError, match="'B'"):
        quote_identifiers(["a", "B"])
    with pytest.raises(UnsafeIdentifierError, match="'T'"):
        quote_identifiers(["a"], "T")
