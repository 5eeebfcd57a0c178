from __future__ import annotations

from pathlib import Path

import pytest

from local.dsn import DsnError, dsn_to_secret, fill_password, secret_to_dsn
from local.statedir import NAMES, StateDir


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


def test_a_dsn_without_a_password_takes_pgpassword_and_keeps_its_own_otherwise() -> None:
    env = {"PGPASSWORD": "from/env@1"}
    filled = fill_password("postgresql://etl@db.example:6543/totesys", env)
    assert dsn_to_secret(filled)["password"] == "from/env@1"
    own = "postgresql://etl:own@db.example/totesys"
    assert fill_password(own, env) == own


def test_a_pgpass_line_matching_host_port_database_and_user_gives_the_password(
    tmp_path: Path,
) -> None:
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(
        "# comment\n"
        "other.example:5432:totesys:etl:wrong\n"
        "db.example:6543:*:etl:p\\:w/x\\\\y\n"
        "*:*:*:*:fallback\n"
    )
    pgpass.chmod(0o600)
    env = {"PGPASSFILE": str(pgpass)}
    filled = fill_password("postgresql://etl@db.example:6543/totesys", env)
    assert dsn_to_secret(filled)["password"] == "p:w/x\\y"
    other = fill_password("postgresql://bob@db.example:6543/totesys", env)
    assert dsn_to_secret(other)["password"] == "fallback"


def test_a_pgpass_file_others_can_read_is_ignored_as_libpq_ignores_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("*:*:*:*:secret-pw\n")
    pgpass.chmod(0o644)
    dsn = "postgresql://etl@db.example/totesys"
    assert fill_password(dsn, {"PGPASSFILE": str(pgpass)}) == dsn
    err = capsys.readouterr().err
    assert "readable by others" in err and "secret-pw" not in err


def test_state_directories_are_only_the_users(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir(mode=0o755)
    state = StateDir(root).create()
    for path in (state.root, state.logs_dir, state.work_dir, state.bucket_dir(NAMES.ingest_bucket)):
        assert path.stat().st_mode & 0o777 == 0o700, path
