"""Driver errors become pipeline errors that say whether a retry can help."""

from __future__ import annotations

import pytest
from pg8000.exceptions import DatabaseError, InterfaceError

from loader.exceptions import BatchRejectedError, WarehouseBusyError
from loader.warehouse import translate_error
from pipeline_common.errors import (
    ConcurrentRunError,
    DatabaseUnavailableError,
    SecretError,
    TerminalError,
)


def server_error(code: str, message: str, detail: str | None = None) -> DatabaseError:
    fields = {"S": "ERROR", "C": code, "M": message}
    if detail:
        fields["D"] = detail
    return DatabaseError(fields)


@pytest.mark.parametrize(
    ("error", "kind", "transient", "text"),
    [
        (
            server_error("23503", "insert violates foreign key", "Key (transaction_id)=(99)"),
            BatchRejectedError,
            False,
            "rejected loading: 23503 insert violates foreign key",
        ),
        (server_error("22007", "invalid time"), BatchRejectedError, False, "22007 invalid time"),
        (server_error("40P01", "deadlock detected"), WarehouseBusyError, True, "40P01"),
        (server_error("57P01", "terminating connection"), WarehouseBusyError, True, "57P01"),
        (server_error("55P03", "lock timeout"), ConcurrentRunError, True, "another loader"),
        (server_error("42P01", "relation does not exist"), TerminalError, False, "42P01"),
        (InterfaceError("network error"), DatabaseUnavailableError, True, "lost the warehouse"),
    ],
)
def test_errors_are_classified_transient_or_terminal(error, kind, transient, text) -> None:
    translated = translate_error(error, "loading")
    assert type(translated) is kind
    assert translated.transient is transient
    assert text in str(translated)
    assert "(99)" not in str(translated) and "(99)" not in repr(error.args)  # row data


def test_a_pipeline_error_passes_through_unchanged() -> None:
    error = SecretError("secret 'x' lacks keys: password")
    assert translate_error(error, "loading") is error
