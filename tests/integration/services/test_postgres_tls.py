"""The TLS matrix of pipeline_common.postgres.connect against real servers: a Postgres with
ssl=on and a certificate for DNS:localhost from a CA made here, and a rogue server with a
foreign certificate that asks for the password in cleartext or MD5."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline_common.errors import ConfigError, TlsError
from pipeline_common.postgres import connect
from pipeline_common.secrets import DbSecret
from tests.integration.services.tls_servers import (
    Pki,
    RogueServer,
    TlsPostgres,
    make_pki,
    pg_bin,
    tls_postgres,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(pki: Pki) -> Iterator[TlsPostgres]:
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip("no Postgres binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin")
    with tls_postgres(bin_dir, pki) as running:
        yield running


def secret(
    port: int, sslmode: str, sslrootcert: Path | str, *, host: str = "localhost", **more: Any
) -> DbSecret:
    values: dict[str, Any] = {"username": "scram_user", "password": "s3cret/with@signs", **more}
    return DbSecret(host=host, port=port, dbname="postgres", sslmode=sslmode,  # type: ignore[arg-type]
                    sslrootcert=str(sslrootcert), **values)  # fmt: skip


def in_tls(conn: Any) -> list[list[Any]]:
    try:
        return list(conn.run("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
    finally:
        conn.close()


def test_verify_full_to_the_certificates_name_connects_over_tls(
    server: TlsPostgres, pki: Pki
) -> None:
    conn = connect(secret(server.port, "verify-full", pki.ca), application_name="test")
    [[ssl_on, version]] = in_tls(conn)
    assert ssl_on is True and version in ("TLSv1.2", "TLSv1.3")


def test_verify_full_to_an_address_the_certificate_does_not_name_is_refused(
    server: TlsPostgres, pki: Pki
) -> None:
    with pytest.raises(
        TlsError, match=r"127\.0\.0\.1 fails sslmode=verify-full: IP address mismatch"
    ):
        connect(secret(server.port, "verify-full", pki.ca, host="127.0.0.1"), application_name="t")


def test_verify_ca_to_that_address_connects(server: TlsPostgres, pki: Pki) -> None:
    conn = connect(secret(server.port, "verify-ca", pki.ca, host="127.0.0.1"), application_name="t")
    assert in_tls(conn)[0][0] is True


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
def test_a_certificate_from_another_ca_is_refused(
    server: TlsPostgres, pki: Pki, sslmode: str
) -> None:
    with pytest.raises(TlsError, match=f"fails sslmode={sslmode}: unable to get local issuer"):
        connect(secret(server.port, sslmode, pki.foreign_ca), application_name="t")


def test_a_cleartext_password_request_is_answered_only_over_a_verified_channel(
    server: TlsPostgres, pki: Pki
) -> None:
    user = server.cleartext_user
    conn = connect(secret(server.port, "verify-full", pki.ca, username=user), application_name="t")
    assert in_tls(conn)[0][0] is True
    with pytest.raises(TlsError, match="cleartext password authentication over a connection"):
        connect(secret(server.port, "require", "", username=user), application_name="t")


def test_require_encrypts_without_verifying_and_scram_still_authenticates(
    server: TlsPostgres,
) -> None:
    conn = connect(secret(server.port, "require", "/no/such/bundle"), application_name="t")
    assert in_tls(conn)[0][0] is True


def test_verify_modes_without_the_ca_bundle_fail_before_any_connection(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: opened.append(a))
    missing = tmp_path / "rds-ca.pem"
    with pytest.raises(ConfigError, match=f"sslmode=verify-full needs a CA bundle, and {missing}"):
        connect(secret(5432, "verify-full", missing), application_name="t")
    assert opened == []


@pytest.mark.parametrize("sslmode", ["require", "verify-ca", "verify-full"])
def test_a_server_that_declines_tls_is_refused_where_the_mode_requires_it(
    pki: Pki, sslmode: str
) -> None:
    refused = f"refuses TLS, which sslmode={sslmode} requires"
    with RogueServer(pki, answer=b"N") as rogue, pytest.raises(TlsError, match=refused):
        connect(secret(rogue.port, sslmode, pki.ca), application_name="t")
    assert rogue.received == []


@pytest.mark.parametrize(
    ("sslmode", "auth_code", "error"),
    [
        ("verify-full", 3, "fails sslmode=verify-full: unable to get local issuer"),
        ("verify-ca", 3, "fails sslmode=verify-ca: unable to get local issuer"),
        ("require", 3, "cleartext password authentication"),
        ("prefer", 3, "cleartext password authentication"),
        ("require", 5, "MD5 password authentication"),
        ("prefer", 5, "MD5 password authentication"),
    ],
)
def test_the_rogue_server_never_receives_a_password(
    pki: Pki, sslmode: str, auth_code: int, error: str
) -> None:
    with RogueServer(pki, auth_code=auth_code) as rogue, pytest.raises(TlsError, match=error):
        connect(secret(rogue.port, sslmode, pki.ca), application_name="t")
    assert rogue.connections == 1
    assert b"p" not in rogue.received  # PasswordMessage's type byte
