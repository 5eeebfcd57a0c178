"""Postgres connections from a DbSecret (TCP, or a unix socket when host is a directory)."""

from __future__ import annotations

import ssl

import pg8000.native
from pg8000.exceptions import InterfaceError

from pipeline_common.errors import DatabaseUnavailableError
from pipeline_common.secrets import DbSecret


def connect(
    secret: DbSecret,
    *,
    application_name: str,
    timeout: float = 30.0,
    ssl_context: ssl.SSLContext | bool | None = None,
) -> pg8000.native.Connection:
    """Open a native pg8000 connection; an unreachable server raises a transient error.

    A host starting with "/" is a unix-socket directory (as libpq reads it), which is how
    the embedded `pgserver` Postgres listens; awswrangler's connect() has no such path.
    """
    kwargs: dict[str, object] = {
        "user": secret.username,
        "password": secret.password or None,
        "database": secret.dbname,
        "application_name": application_name,
        "timeout": timeout,
    }
    if secret.host.startswith("/"):
        kwargs["unix_sock"] = f"{secret.host}/.s.PGSQL.{secret.port}"
    else:
        kwargs["host"] = secret.host
        kwargs["port"] = secret.port
        if ssl_context is not None:
            kwargs["ssl_context"] = ssl_context
    try:
        conn = pg8000.native.Connection(**kwargs)  # type: ignore[arg-type]
    except (InterfaceError, OSError, TimeoutError) as exc:
        where = secret.host if secret.host.startswith("/") else f"{secret.host}:{secret.port}"
        raise DatabaseUnavailableError(
            f"cannot connect to Postgres at {where}/{secret.dbname}: {exc}"
        ) from exc
    conn.run("SET TIME ZONE 'UTC'")
    return conn
