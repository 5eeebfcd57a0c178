"""Postgres connections from a DbSecret (TCP, or a unix socket when host is a directory)."""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any

import pg8000.native
from pg8000.exceptions import InterfaceError

from pipeline_common.errors import DatabaseUnavailableError, TlsError
from pipeline_common.secrets import DbSecret
from pipeline_common.tls import TlsPolicy, tls_policy, unverified_context


def connect(
    secret: DbSecret, *, application_name: str, timeout: float = 30.0
) -> pg8000.native.Connection:
    """Open a native pg8000 connection with the secret's sslmode; an unreachable server
    raises a transient error, TLS short of the sslmode a terminal one (TlsError).

    A host starting with "/" is a unix-socket directory (as libpq reads it), which is how
    the embedded `pgserver` Postgres listens; awswrangler's connect() has no such path.
    libpq never asks for TLS over a unix socket whatever the sslmode, and nor does this.
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
            tls = tls_policy(secret.sslmode, secret.sslrootcert)
            conn = tcp_connection(secret.host, secret.port, tls=tls, **kwargs)
    except (InterfaceError, OSError, TimeoutError) as exc:
        where = secret.host if secret.host.startswith("/") else f"{secret.host}:{secret.port}"
        raise DatabaseUnavailableError(
            f"cannot connect to Postgres at {where}/{secret.dbname}: {exc}"
        ) from exc
    conn.run("SET TIME ZONE 'UTC'")
    return conn


def tcp_connection(
    host: str, port: int, *, tls: TlsPolicy, **kwargs: Any
) -> pg8000.native.Connection:
    """pg8000 over a TCP socket set up as libpq sets up its own: keep-alive on and Nagle's
    algorithm off (TCP_NODELAY). pg8000's own socket leaves Nagle on, so the small CopyDone
    that ends every COPY FROM STDIN waits for the server's delayed ACK (~40 ms on Linux).

    TLS is negotiated here by `tls.mode` (libpq's sslmode), not by pg8000, which builds a
    new CA-loaded context for every connection before it even asks the server.
    """
    sock: socket.socket = socket.create_connection((host, port), kwargs.get("timeout"))
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if tls.mode != "disable":
            sock = negotiate_tls(sock, host, tls)
        return GuardedConnection(
            host=host, sock=sock, ssl_context=False, verified=tls.verified, **kwargs
        )
    except BaseException:
        sock.close()
        raise


_SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # the protocol's SSLRequest message


def negotiate_tls(sock: socket.socket, host: str, tls: TlsPolicy) -> socket.socket:
    """Ask the server for TLS (SSLRequest); wrap the socket if it accepts ("S"). A refusal
    ("N") keeps the plain socket only under sslmode=prefer; a certificate that fails the
    mode's checks raises TlsError before any startup message is sent."""
    sock.sendall(_SSL_REQUEST)
    answer = sock.recv(1)
    if answer == b"S":
        context = tls.context or unverified_context()
        try:
            return context.wrap_socket(sock, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            raise TlsError(
                f"TLS certificate of {host} fails sslmode={tls.mode}: {exc.verify_message}"
            ) from exc
    if answer != b"N":
        raise InterfaceError(f"unexpected answer to the SSL request: {answer!r}")
    if tls.mode != "prefer":
        raise TlsError(f"server {host} refuses TLS, which sslmode={tls.mode} requires")
    return sock


_CLEARTEXT_PASSWORD, _MD5_PASSWORD = 3, 5  # AuthenticationCleartextPassword, ...MD5Password


class GuardedConnection(pg8000.native.Connection):
    """pg8000's connection that refuses to send a password (cleartext or MD5: both give it,
    or a replayable hash, to whoever is on the path) unless the server's certificate was
    verified; SCRAM proves the password without sending it, so it is always allowed."""

    def __init__(self, *args: Any, verified: bool, **kwargs: Any) -> None:
        self._verified = verified  # set first: pg8000 authenticates inside __init__
        super().__init__(*args, **kwargs)

    def handle_AUTHENTICATION_REQUEST(self, data: bytes, context: Any) -> None:
        """Refuse password requests over an unverified channel; else pg8000's handling."""
        (code,) = struct.unpack_from("!i", data)
        if code in (_CLEARTEXT_PASSWORD, _MD5_PASSWORD) and not self._verified:
            kind = "cleartext" if code == _CLEARTEXT_PASSWORD else "MD5"
            raise TlsError(
                f"server asked for {kind} password authentication over a connection whose "
                "certificate is not verified; use sslmode=verify-full (or SCRAM on the server)"
            )
        super().handle_AUTHENTICATION_REQUEST(data, context)
