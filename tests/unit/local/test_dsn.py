from __future__ import annotations

import pytest

from local.dsn import DsnError, dsn_to_secret, secret_to_dsn


def test_tcp_dsn_becomes_the_secret_shape_awswrangler_reads() -> None:
    assert dsn_to_secret("postgresql://etl:p%40ss@db.example:6543/totesys") == {
        "engine": "postgres",
        "host": "db.example",
        "port": 6543,
        "dbname": "totesys",
        "username": "etl",
        "password": "p@ss",
        "sslmode": "prefer",
    }


def test_dsn_without_password_or_port_uses_defaults() -> None:
    assert dsn_to_secret("postgresql://postgres@127.0.0.1/wh") == {
        "engine": "postgres",
        "host": "127.0.0.1",
        "port": 5432,
        "dbname": "wh",
        "username": "postgres",
        "password": "",
        "sslmode": "prefer",
    }


def test_unix_socket_dsn_keeps_the_socket_directory_as_host() -> None:
    secret = dsn_to_secret("postgresql://postgres:@/postgres?host=/tmp/pg")
    assert secret["host"] == "/tmp/pg"
    assert secret["port"] == 5432
    assert dsn_to_secret(secret_to_dsn(secret)) == secret


def test_round_trip_with_special_characters() -> None:
    secret = {
        "engine": "postgres",
        "host": "h",
        "port": 5432,
        "dbname": "d b",
        "username": "u:x",
        "password": "a/b@c",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca dir/root.crt",
    }
    assert dsn_to_secret(secret_to_dsn(secret)) == secret


def test_other_schemes_are_refused() -> None:
    with pytest.raises(DsnError, match="postgresql://"):
        dsn_to_secret("mysql://root@localhost/db")


def test_sslmode_and_sslrootcert_are_read_as_libpq_reads_them() -> None:
    secret = dsn_to_secret("postgresql://u@db/x?sslmode=verify-ca&sslrootcert=/ca/rds.pem")
    assert (secret["sslmode"], secret["sslrootcert"]) == ("verify-ca", "/ca/rds.pem")
    assert dsn_to_secret(secret_to_dsn(secret)) == secret


def test_an_unescaped_slash_in_the_password_is_refused_without_quoting_it() -> None:
    with pytest.raises(DsnError, match="invalid port") as caught:
        dsn_to_secret("postgresql://etl:hunter/2secret@db.example:5432/totesys")
    assert "hunter" not in str(caught.value) and "2secret" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
