"""The Lambdas' Postgres connections over TCP: the socket is set up as libpq sets up its own."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pg8000.exceptions import DatabaseError

from pipeline_common.postgres import connect
from pipeline_common.secrets import DbSecret


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
    # ssl_context=False keeps the socket unwrapped so its options can be read here; TLS
    # wraps the same socket, and socket options belong to it, not to the TLS layer.
    conn = connect(tcp_secret(postgres), application_name="test", ssl_context=False)
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
    secret = tcp_secret(postgres, dbname="no_such_database")
    with pytest.raises(DatabaseError, match="no_such_database"):
        connect(secret, application_name="test", ssl_context=False)
    [sock] = sockets
    assert sock.fileno() == -1
