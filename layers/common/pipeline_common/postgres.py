"""Postgres connections from a DbSecret (TCP, or a unix socket when host is a directory)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

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
    kwargs: dict[str, Any] = {
        "user": secret.username,
        "password": secret.password or None,
        "database": secret.dbname,
        "application_name": application_name,
        "timeout": timeout,
    }
    try:
        if secret.host.startswith("/"):
            conn = pg8000.native.Connection(
                **kwargs, unix_sock=f"{secret.host}/.s.PGSQL.{secret.port}"
            )
        else:
            if ssl_context is not None:
                kwargs["ssl_context"] = ssl_context
            conn = tcp_connection(secret.host, secret.port, **kwargs)
    except (InterfaceError, OSError, TimeoutError) as exc:
        where = secret.host if secret.host.startswith("/") else f"{secret.host}:{secret.port}"
        raise DatabaseUnavailableError(
            f"cannot connect to Postgres at {where}/{secret.dbname}: {exc}"
        ) from exc
    conn.run("SET TIME ZONE 'UTC'")
    return conn


def tcp_connection(host: str, port: int, **kwargs: Any) -> pg8000.native.Connection:
    """pg8000 over a TCP socket set up as libpq sets up its own: keep-alive on and Nagle's
    algorithm off (TCP_NODELAY). pg8000's own socket leaves Nagle on, so the small CopyDone
    that ends every COPY FROM STDIN waits for the server's delayed ACK (~40 ms on Linux).
    """
    sock = socket.create_connection((host, port), kwargs.get("timeout"))
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return pg8000.native.Connection(host=host, sock=sock, **kwargs)  # host: TLS's name
    except BaseException:
        sock.close()
        raise
