"""A database secret's sslmode: libpq's names only, verify-full where the secret is silent."""

from __future__ import annotations

import json

import pytest

from pipeline_common.errors import SecretError
from pipeline_common.secrets import parse_db_secret

BASE = {"host": "db.example", "port": 5432, "dbname": "d", "username": "u", "password": "pw"}


def test_a_secret_without_sslmode_verifies_the_full_certificate_with_the_layers_bundle() -> None:
    secret = parse_db_secret("s", json.dumps(BASE))
    assert (secret.sslmode, secret.sslrootcert) == ("verify-full", "")


def test_sslmode_and_sslrootcert_are_read_from_the_secret() -> None:
    text = json.dumps({**BASE, "sslmode": "verify-ca", "sslrootcert": "/opt/ca.pem"})
    secret = parse_db_secret("s", text)
    assert (secret.sslmode, secret.sslrootcert) == ("verify-ca", "/opt/ca.pem")


@pytest.mark.parametrize("sslmode", ["allow", "VERIFY-FULL", "true", ""])
def test_an_sslmode_libpq_does_not_define_here_is_a_secret_error(sslmode: str) -> None:
    expected = (
        f"secret 's': sslmode '{sslmode}' is not one of "
        "disable, prefer, require, verify-ca, verify-full"
    )
    with pytest.raises(SecretError) as caught:
        parse_db_secret("s", json.dumps({**BASE, "sslmode": sslmode}))
    assert str(caught.value) == expected


def test_the_password_stays_out_of_the_secrets_repr() -> None:
    secret = parse_db_secret("s", json.dumps(BASE))
    assert "pw" not in repr(secret) and "sslmode='verify-full'" in repr(secret)
