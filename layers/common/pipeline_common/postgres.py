"""Postgres connections from a DbSecret (TCP, or a unix socket when host is a directory)."""

from __future__ import annotations

import functools
import socket
import ssl
import struct
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

    TLS is negotiated here with pg8000's meaning of `ssl_context` (None: TLS if the server
    offers it, unverified, as libpq's sslmode=prefer; True: the same, required; a context:
    required, with that context; False: never). pg8000 itself builds a new CA-loaded context
    for every connection before it even asks the server, about 30 ms of CPU per run even
    where the server has no TLS; here the unverified context is built once per process,
    and only when a server accepts TLS.
    """
    ssl_context = kwargs.pop("ssl_context", None)
    sock: socket.socket = socket.create_connection((host, port), kwargs.get("timeout"))
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if ssl_context is not False:
            sock = negotiate_tls(sock, host, ssl_context)
        return pg8000.native.Connection(host=host, sock=sock, ssl_context=False, **kwargs)
    except BaseException:
        sock.close()
        raise


_SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # the protocol's SSLRequest message


def negotiate_tls(
    sock: socket.socket, host: str, ssl_context: ssl.SSLContext | bool | None
) -> socket.socket:
    """Ask the server for TLS (SSLRequest); wrap the socket if it accepts ("S"). A refusal
    ("N") keeps the plain socket when TLS is only preferred (None), else raises."""
    sock.sendall(_SSL_REQUEST)
    answer = sock.recv(1)
    if answer == b"S":
        context = ssl_context if isinstance(ssl_context, ssl.SSLContext) else _unverified()
        return context.wrap_socket(sock, server_hostname=host)
    if answer != b"N":
        raise InterfaceError(f"unexpected answer to the SSL request: {answer!r}")
    if ssl_context is not None:
        raise InterfaceError("Server refuses SSL")
    return sock


@functools.cache
def _unverified() -> ssl.SSLContext:
    """pg8000's default context (encrypts, verifies neither the certificate nor the name)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
