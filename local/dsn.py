"""Postgres DSNs (`postgresql://user[:password]@host[:port]/dbname`) to secret documents."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit


class DsnError(ValueError):
    """A DSN that is not of the postgresql:// form (the message never quotes the DSN)."""


# libpq's default sslmode: TLS when the server offers it, unverified. A DSN says
# `?sslmode=verify-full&sslrootcert=/path/ca.pem` for more, as libpq reads it.
LOCAL_SSLMODE = "prefer"


def dsn_to_secret(dsn: str) -> dict[str, Any]:
    """The Secrets Manager document (engine, host, port, dbname, username, password,
    sslmode and, when given, sslrootcert) of a DSN.

    A `?host=/dir` query names a unix-socket directory, as libpq reads it (pgserver's form).
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise DsnError("DSN must start with postgresql://")
    try:
        port = parts.port
    except ValueError:
        # urllib's message quotes the "port", which is a password fragment when the
        # password holds an unescaped "/"; this one names neither.
        raise DsnError(
            "DSN has an invalid port (a '/', '@' or ':' in the password must be "
            "percent-encoded, or give the password in PGPASSWORD or a pgpass file)"
        ) from None
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    dbname = unquote(parts.path.lstrip("/")) or "postgres"
    secret: dict[str, Any] = {
        "engine": "postgres",
        "host": host,
        "port": port or 5432,
        "dbname": dbname,
        "username": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "sslmode": query.get("sslmode", [LOCAL_SSLMODE])[0],
    }
    if "sslrootcert" in query:
        secret["sslrootcert"] = query["sslrootcert"][0]
    return secret


def secret_to_dsn(secret: dict[str, Any]) -> str:
    """The inverse of dsn_to_secret."""
    user = quote(str(secret["username"]), safe="")
    password = str(secret.get("password") or "")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = str(secret["host"])
    dbname = quote(str(secret["dbname"]), safe="")
    query = {k: str(secret[k]) for k in ("sslmode", "sslrootcert") if secret.get(k)}
    if host.startswith("/"):
        params = urlencode({"host": host, **query}, safe="/")
        return f"postgresql://{auth}@:{secret['port']}/{dbname}?{params}"
    params = f"?{urlencode(query, safe='/')}" if query else ""
    return f"postgresql://{auth}@{host}:{secret['port']}/{dbname}{params}"
