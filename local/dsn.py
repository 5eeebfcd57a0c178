"""Postgres DSNs (`postgresql://user[:password]@host[:port]/dbname`) to secret documents."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
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


def fill_password(dsn: str, environ: Mapping[str, str]) -> str:
    """The DSN with its password from `PGPASSWORD` or a pgpass file when it has none, as
    libpq finds one (https://www.postgresql.org/docs/current/libpq-pgpass.html), so a
    password need never be on the command line (argv is visible in `ps`). A DSN that
    already has a password is returned unchanged."""
    secret = dsn_to_secret(dsn)
    if secret["password"]:
        return dsn
    password = environ.get("PGPASSWORD") or _pgpass_password(secret, environ)
    return secret_to_dsn({**secret, "password": password}) if password else dsn


def _pgpass_path(environ: Mapping[str, str]) -> Path | None:
    if environ.get("PGPASSFILE"):
        return Path(environ["PGPASSFILE"])
    return Path(environ["HOME"]) / ".pgpass" if environ.get("HOME") else None


def _pgpass_password(secret: dict[str, Any], environ: Mapping[str, str]) -> str:
    """The first matching `host:port:db:user:password` line; `*` matches anything, `\\`
    escapes `:` and `\\`. Like libpq, a file others may read is ignored."""
    path = _pgpass_path(environ)
    if path is None or not path.is_file():
        return ""
    if path.stat().st_mode & 0o077:
        print(f"warning: ignoring {path}: readable by others (chmod 0600 it)", file=sys.stderr)
        return ""
    host = str(secret["host"])
    wanted = ("localhost" if host.startswith("/") else host, str(secret["port"]),
              str(secret["dbname"]), str(secret["username"]))  # fmt: skip
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = _split_pgpass(line)
        if len(fields) == 5 and all(f in ("*", w) for f, w in zip(fields[:4], wanted, strict=True)):
            return fields[4]
    return ""


def _split_pgpass(line: str) -> list[str]:
    fields: list[str] = []
    current, escaped = "", False
    for char in line:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == ":" and len(fields) < 4:
            fields.append(current)
            current = ""
        else:
            current += char
    return [*fields, current]
