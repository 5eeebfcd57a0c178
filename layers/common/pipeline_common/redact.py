"""Keep row data and secrets out of errors and logs: what the stages say about a failure.

Postgres puts row values in an error's DETAIL (23502 "Failing row contains (...)", 23505
"Key (id)=(7) already exists."), its CONTEXT (COPY's "line 3, column x: "value""), and,
for data exceptions (class 22), in the message after its colon ("invalid input syntax for
type integer: "abc""). The fields are those of the protocol's ErrorResponse
(https://www.postgresql.org/docs/current/protocol-error-fields.html).
"""

from __future__ import annotations

import logging

# ErrorResponse fields that name the schema, never the data: severity, SQLSTATE, and the
# schema, table, column, data type and constraint names.
_SAFE_FIELDS = ("S", "V", "C", "s", "t", "c", "d", "n")
_BODY_MESSAGES = ("Response body", "Response headers")
_REQUEST_MESSAGE = "Making request for"


def redact_database_error(exc: Exception) -> dict[str, str]:
    """Strip the row data from a pg8000 DatabaseError in place (it is often chained as a
    cause, and a traceback prints its args) and return the fields kept."""
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else None
    if fields is None:
        return {}
    kept = {key: str(fields[key]) for key in _SAFE_FIELDS if key in fields}
    message = str(fields.get("M", ""))
    if kept.get("C", "").startswith("22"):
        message = message.split(": ", 1)[0]
    kept["M"] = message
    exc.args = (kept, *exc.args[1:])
    return kept


def describe_database_error(exc: Exception) -> str:
    """`SQLSTATE message (table t, column c, constraint n)` without any value of a row."""
    fields = redact_database_error(exc)
    if not fields:
        return type(exc).__name__
    text = f"{fields.get('C', '')} {fields.get('M', '')}".strip()
    names = [
        f"{label} {fields[key]}"
        for key, label in (("t", "table"), ("c", "column"), ("n", "constraint"))
        if fields.get(key)
    ]
    return f"{text} ({', '.join(names)})" if names else text


class _DropBodies(logging.Filter):
    """botocore logs every response's headers and body at DEBUG (GetSecretValue's
    SecretString, S3 object bytes); drop those two records, keep the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_BODY_MESSAGES)


class _DropRequestParams(logging.Filter):
    """botocore logs every request's params at DEBUG ("Making request for <operation> with
    params: {...}": CreateSecret's SecretString, PutObject's body); keep the operation's
    name, drop the params."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(_REQUEST_MESSAGE) and isinstance(record.args, tuple):
            record.msg = f"{_REQUEST_MESSAGE} %s (params not logged)"
            record.args = record.args[:1]
        return True


_FILTERS = (("botocore.parsers", _DropBodies()), ("botocore.endpoint", _DropRequestParams()))


def drop_botocore_bodies() -> None:
    """Install the filters on botocore's response parser and endpoint loggers (idempotent)."""
    for name, record_filter in _FILTERS:
        target = logging.getLogger(name)
        if record_filter not in target.filters:
            target.addFilter(record_filter)
