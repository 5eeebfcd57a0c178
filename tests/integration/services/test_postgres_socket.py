"""The Lambdas' Postgres connections over TCP: the socket is set up as libpq sets up its own."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import pytest
from pg8000.exceptions import DatabaseError, InterfaceError

import pipeline_common.postgres as pg_postgres
import pipeline_common.tls as tls
from pipeline_common.errors import TlsError
from pipeline_common.postgres import connect
from pipeline_common.secrets import DbSecret
from pipeline_common.tls import TlsPolicy


def tcp_secret(postgres: Any, **changes: Any) -> DbSecret:
    secret = postgres.secret
    if str(secret["host"]).startswith("/"):
        pytest.skip("this Postgres listens on a unix socket only (the embedded pgserver)")
    values = {
        "host": secret["host"],
        "port": int(secret["port"]),
        "dbname": secret["dbname"],
        "username": secret["username"],
        "password": secret.get("password") or "",
        **changes,
    }
    return DbSecret(**values)


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> list[socket.socket]:
    """Every TCP socket opened from here on."""
    made: list[socket.socket] = []
    real = socket.create_connection

    def recording(*args: Any, **kwargs: Any) -> socket.socket:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(socket, "create_connection", recording)
    return made


def test_nagle_is_off_and_keepalive_on(postgres: Any, sockets: list[socket.socket]) -> None:
    # sslmode=disable keeps the socket unwrapped so its options can be read here; TLS
    # wraps the same socket, and socket options belong to it, not to the TLS layer.
    conn = connect(tcp_secret(postgres, sslmode="disable"), application_name="test")
    try:
        assert conn.run("SELECT 1") == [[1]]
        [sock] = sockets
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    finally:
        conn.close()


def test_a_refused_start_up_raises_and_closes_the_socket(
    postgres: Any, sockets: list[socket.socket]
) -> None:
    secret = tcp_secret(postgres, dbname="no_such_database", sslmode="disable")
    with pytest.raises(DatabaseError, match="no_such_database"):
        connect(secret, application_name="test")
    [sock] = sockets
    assert sock.fileno() == -1


def _server_has_tls(postgres: Any) -> bool:
    conn = postgres.connect()
    try:
        return bool(conn.run("SHOW ssl")[0][0] == "on")
    finally:
        conn.close()


def test_preferred_tls_on_a_server_without_it_is_plain_text_and_builds_no_context(
    postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _server_has_tls(postgres):
        pytest.skip("this Postgres offers TLS")
    built: list[object] = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1) or real())
    tls.unverified_context.cache_clear()

    conn = connect(tcp_secret(postgres, sslmode="prefer"), application_name="test")
    try:
        in_tls = conn.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        conn.close()

    assert in_tls == [[False]]
    assert built == []  # pg8000 alone builds a CA-loaded context for every connection


def test_required_tls_on_a_server_without_it_is_refused_and_the_socket_closed(
    postgres: Any, sockets: list[socket.socket]
) -> None:
    if _server_has_tls(postgres):
        pytest.skip("this Postgres offers TLS")
    with pytest.raises(TlsError, match="refuses TLS, which sslmode=require requires"):
        connect(tcp_secret(postgres, sslmode="require"), application_name="test")
    assert sockets[-1].fileno() == -1  # (the one before it asked the server about TLS)


@pytest.fixture
def wrapped(monkeypatch: pytest.MonkeyPatch) -> list[tuple[ssl.SSLContext, socket.socket, str]]:
    """Every SSLContext.wrap_socket call, made to return the plain socket (no handshake:
    the peer here is a socketpair, not a TLS server)."""
    calls: list[tuple[ssl.SSLContext, socket.socket, str]] = []

    def wrap_socket(self: ssl.SSLContext, sock: socket.socket, server_hostname: str) -> Any:
        calls.append((self, sock, server_hostname))
        return sock

    monkeypatch.setattr(ssl.SSLContext, "wrap_socket", wrap_socket)
    tls.unverified_context.cache_clear()
    return calls


@pytest.mark.parametrize("answer", [b"S", b"N"])
def test_tls_is_asked_for_with_the_protocols_ssl_request_and_a_given_context_used(
    answer: bytes, wrapped: list[tuple[ssl.SSLContext, socket.socket, str]]
) -> None:
    context = ssl.create_default_context()
    client, server = socket.socketpair()
    with client, server:
        server.sendall(answer)

        policy = TlsPolicy("verify-full", context)
        if answer == b"S":
            assert pg_postgres.negotiate_tls(client, "db.example", policy) is client
        else:
            with pytest.raises(TlsError, match="refuses TLS"):
                pg_postgres.negotiate_tls(client, "db.example", policy)

        assert server.recv(8) == bytes.fromhex("0000000804d2162f")  # length 8, code 80877103
    assert wrapped == ([(context, client, "db.example")] if answer == b"S" else [])


def test_preferred_tls_a_server_accepts_uses_one_unverified_context_per_process(
    wrapped: list[tuple[ssl.SSLContext, socket.socket, str]],
) -> None:
    for _ in range(2):
        client, server = socket.socketpair()
        with client, server:
            server.sendall(b"S")
            assert pg_postgres.negotiate_tls(client, "db.example", TlsPolicy("prefer")) is client

    (first, _, _), (second, _, _) = wrapped
    assert first is second
    assert first.verify_mode == ssl.CERT_NONE and first.check_hostname is False


def test_an_answer_that_is_not_s_or_n_is_an_error() -> None:
    client, server = socket.socketpair()
    with client, server:
        server.sendall(b"E")
        with pytest.raises(InterfaceError, match="unexpected answer to the SSL request: b'E'"):
            pg_postgres.negotiate_tls(client, "db.example", TlsPolicy("prefer"))
