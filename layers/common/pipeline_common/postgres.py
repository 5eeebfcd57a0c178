"""Postgres for both stages: connections from a DbSecret (TCP, or a unix socket when host
is a directory), the one policy for which server errors a retry can get past, identifier
quoting from an allow-list, and advisory locks."""

from __future__ import annotations

import logging
import re
import socket
import ssl
import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from pipeline_common.errors import (
    ConcurrentRunError,
    DatabaseUnavailableError,
    PipelineError,
    TerminalError,
    TlsError,
    TransientError,
    UnsafeIdentifierError,
)
from pipeline_common.redact import describe_database_error
from pipeline_common.secrets import DbSecret
from pipeline_common.tls import TlsPolicy, tls_policy, unverified_context

logger = logging.getLogger(__name__)


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


# SQLSTATEs ###############################################################################
# The codes and classes are Postgres's own, "Appendix A. PostgreSQL Error Codes"
# (https://www.postgresql.org/docs/15/errcodes-appendix.html). Transient means that the same
# statement, sent again on a new connection a little later, can succeed with nothing fixed:
TRANSIENT_SQLSTATE_CLASSES = ("08",)
"""Class 08, Connection Exception: the connection failed or was refused; a new one may not."""

TRANSIENT_SQLSTATES = frozenset(
    {
        "25P03",  # idle_in_transaction_session_timeout: the session was ended, not the query
        "57P01",  # admin_shutdown: the server is shutting down (or the backend was terminated)
        "57P02",  # crash_shutdown: another backend crashed, the server restarts
        "57P03",  # cannot_connect_now: the server is starting up or in recovery
        "57P05",  # idle_session_timeout
        "40001",  # serialization_failure: a concurrent transaction won; retry the transaction
        "40P01",  # deadlock_detected: the other transaction of the cycle went on
        "53300",  # too_many_connections: others will disconnect
        "55P03",  # lock_not_available: a lock_timeout or NOWAIT met another holder
    }
)
"""Codes outside class 08 that a retry can get past."""

TERMINAL_SQLSTATES = frozenset({"08P01"})
"""protocol_violation: class 08, but client and server disagree on the protocol (a driver
bug or a proxy in the way), so every retry breaks the same way."""

# Everything else is terminal, in particular the rest of classes 53 and 57: 53100 disk_full,
# 53200 out_of_memory and 53400 configuration_limit_exceeded need an operator, and 57014
# query_canceled (statement_timeout) runs the same statement into the same timeout again.

LOCK_NOT_AVAILABLE = "55P03"


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a pg8000 DatabaseError: its args dict's "C" ("" when there is none)."""
    detail = exc.args[0] if exc.args else None
    return str(detail.get("C", "")) if isinstance(detail, dict) else ""


def is_transient(code: str) -> bool:
    """Whether a retry can get past a server error with this SQLSTATE (the policy above)."""
    if code in TERMINAL_SQLSTATES:
        return False
    return code.startswith(TRANSIENT_SQLSTATE_CLASSES) or code in TRANSIENT_SQLSTATES


def pipeline_error(
    exc: BaseException,
    doing: str,
    *,
    server: str = "Postgres",
    transient: type[TransientError] = DatabaseUnavailableError,
    terminal: type[TerminalError] = TerminalError,
) -> PipelineError:
    """The pipeline error for a driver error met while `doing`: a lost connection and the
    transient SQLSTATEs as `transient`, every other server error as `terminal`. The message
    names the SQLSTATE, the message and the schema objects, never a row's values.

    A stage passes its own `server` name and error classes ("source", SourceQueryError).
    """
    if isinstance(exc, PipelineError):
        return exc
    if isinstance(exc, InterfaceError | OSError):
        return DatabaseUnavailableError(f"{server} connection lost while {doing}: {exc}")
    if not isinstance(exc, DatabaseError):
        raise TypeError(f"not a database error: {exc!r}")
    code = sqlstate(exc)
    message = describe_database_error(exc)  # SQLSTATE first; redacts exc's args in place
    if is_transient(code):
        return transient(f"{server} failed while {doing}: {message}")
    return terminal(f"{server} refused {doing}: {message}")


# Identifiers #############################################################################
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # fullmatch: "$" would pass a trailing newline
"""The only names spliced into SQL: lower case (what Postgres folds unquoted names to), at
most 63 bytes (NAMEDATALEN - 1, beyond which Postgres truncates), nothing to escape."""


def quote_identifier(name: str) -> str:
    """`"name"` for an allow-listed identifier; anything else raises UnsafeIdentifierError.

    Names come from the stages' own table lists and from catalogs those lists describe; a
    name that would need escaping (a quote, upper case, a space) is refused, not escaped.
    """
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise UnsafeIdentifierError(f"not an allowed SQL identifier: {name!r}")
    return f'"{name}"'


def quote_identifiers(names: Iterable[str], prefix: str = "") -> str:
    """`"a", "b"` for allow-listed names, each qualified as `"prefix"."a"` when prefix is given."""
    qualifier = f"{quote_identifier(prefix)}." if prefix else ""
    return ", ".join(f"{qualifier}{quote_identifier(name)}" for name in names)


# Advisory locks ##########################################################################
Translate = Callable[[Exception, str], PipelineError]


@contextmanager
def advisory_lock(
    conn: pg8000.native.Connection,
    key: int,
    *,
    busy: str,
    wait_seconds: float = 0,
    translate: Translate = pipeline_error,
) -> Iterator[None]:
    """Hold the session-level advisory lock `key` for the block (one run of a stage at a time).

    wait_seconds 0 asks once (pg_try_advisory_lock); more waits in the server's lock queue
    at most that long (lock_timeout, restored after). Either way a lock another session
    holds raises ConcurrentRunError(busy); a driver error while taking it is `translate`d.
    The lock is released at the end; if the connection broke, closing it releases it.
    """
    try:
        if wait_seconds > 0:
            acquired = _wait_for_lock(conn, key, wait_seconds)
        else:
            [[acquired]] = conn.run("SELECT pg_try_advisory_lock(:key)", key=key)
    except (DatabaseError, InterfaceError, OSError) as exc:
        raise translate(exc, f"taking advisory lock {key}") from exc
    if not acquired:
        raise ConcurrentRunError(busy)
    try:
        yield
    finally:
        try:
            conn.run("SELECT pg_advisory_unlock(:key)", key=key)
        except (DatabaseError, InterfaceError, OSError):
            logger.debug("advisory lock %s not released explicitly; the connection is gone", key)


def _wait_for_lock(conn: pg8000.native.Connection, key: int, wait_seconds: float) -> bool:
    [[previous]] = conn.run("SHOW lock_timeout")
    timeout = f"{max(1, round(wait_seconds * 1000))}ms"
    conn.run("SELECT set_config('lock_timeout', :value, false)", value=timeout)
    try:
        conn.run("SELECT pg_advisory_lock(:key)", key=key)
        acquired = True
    except DatabaseError as exc:
        if sqlstate(exc) != LOCK_NOT_AVAILABLE:
            raise
        acquired = False
    conn.run("SELECT set_config('lock_timeout', :value, false)", value=previous)
    return acquired


def take_transaction_lock(conn: pg8000.native.Connection, key: int) -> None:
    """Wait for the transaction-level advisory lock `key`; the transaction's end releases it
    (for work done in one transaction, such as migrations)."""
    conn.run("SELECT pg_advisory_xact_lock(:key)", key=key)
