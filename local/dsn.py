"""Postgres DSNs (`postgresql://user[:password]@host[:port]/dbname`) to secret documents."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit


class DsnError(ValueError):
    """A DSN that is not of the postgresql:// form."""


def dsn_to_secret(dsn: str) -> dict[str, Any]:
    """The Secrets Manager document (engine, host, port, dbname, username, password) of a DSN.

    A `?host=/dir` query names a unix-socket directory, as libpq reads it (pgserver's form).
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise DsnError("DSN must start with postgresql://")
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    dbname = unquote(parts.path.lstrip("/")) or "postgres"
    return {
        "engine": "postgres",
        "host": host,
        "port": parts.port or 5432,
        "dbname": dbname,
        "username": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
    }


def secret_to_dsn(secret: dict[str, Any]) -> str:
    """The inverse of dsn_to_secret."""
    user = quote(str(secret["username"]), safe="")
    password = str(secret.get("password") or "")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = str(secret["host"])
    dbname = quote(str(secret["dbname"]), safe="")
    if host.startswith("/"):
        return f"postgresql://{auth}@:{secret['port']}/{dbname}?host={host}"
    return f"postgresql://{auth}@{host}:{secret['port']}/{dbname}"
