"""Source failures map to transient (retry helps) or terminal (fix something) errors."""

from __future__ import annotations

from pg8000.exceptions import DatabaseError, InterfaceError

from ingest.exceptions import SourceQueryError
from ingest.source import database_error
from pipeline_common.errors import DatabaseUnavailableError


def _server_error(code: str, message: str) -> DatabaseError:
    return DatabaseError({"S": "ERROR", "C": code, "M": message})


def test_lost_connections_and_shutdowns_are_transient() -> None:
    for exc in (
        InterfaceError("network error"),
        ConnectionResetError("reset by peer"),
        _server_error("57P01", "terminating connection due to administrator command"),
        _server_error("08006", "connection failure"),
        _server_error("40001", "could not serialize access"),
    ):
        error = database_error(exc, "extracting staff")
        assert isinstance(error, DatabaseUnavailableError), exc
        assert error.transient
        assert "extracting staff" in str(error)


def test_refusals_are_terminal_and_say_why() -> None:
    error = database_error(_server_error("42501", "permission denied for table staff"), "x")

    assert isinstance(error, SourceQueryError)
    assert not error.transient
    assert str(error) == "source refused x: 42501 permission denied for table staff"
