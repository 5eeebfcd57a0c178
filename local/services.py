"""Local stand-ins for the cloud: a Postgres server and moto in server mode.

Tests and the local runner share these, so both talk to the same kind of services.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pg8000.native

from local.dsn import dsn_to_secret, secret_to_dsn

LOCAL_REGION = "eu-west-2"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect_secret(secret: dict[str, Any], dbname: str | None = None) -> pg8000.native.Connection:
    """A pg8000 connection from a secret document (unix socket when host is a directory)."""
    kwargs: dict[str, Any] = {
        "user": secret["username"],
        "password": secret.get("password") or None,
        "database": dbname or secret["dbname"],
        "timeout": 30,
    }
    if str(secret["host"]).startswith("/"):
        kwargs["unix_sock"] = f"{secret['host']}/.s.PGSQL.{secret['port']}"
        return pg8000.native.Connection(**kwargs)
    from local.lambda_runtime import ensure_layers_on_path

    ensure_layers_on_path()
    from pipeline_common.postgres import tcp_connection  # the socket the Lambdas use
    from pipeline_common.tls import tls_policy

    tls = tls_policy(str(secret.get("sslmode", "prefer")), str(secret.get("sslrootcert", "")))
    return tcp_connection(str(secret["host"]), int(secret["port"]), tls=tls, **kwargs)


@dataclass
class PgServer:
    """A Postgres server we may create and drop databases on."""

    admin_secret: dict[str, Any]
    kind: str
    _handle: Any = field(default=None, repr=False)

    def connect(self, dbname: str | None = None) -> pg8000.native.Connection:
        return connect_secret(self.admin_secret, dbname)

    def secret(self, dbname: str) -> dict[str, Any]:
        return {**self.admin_secret, "dbname": dbname}

    def dsn(self, dbname: str) -> str:
        return secret_to_dsn(self.secret(dbname))

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = self.connect()
        try:
            conn.run(f'CREATE DATABASE "{name}"')  # name is generated above, never user input
        finally:
            conn.close()
        return name

    def drop_database(self, name: str) -> None:
        conn = self.connect()
        try:
            conn.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


def _answers(secret: dict[str, Any]) -> bool:
    try:
        conn = connect_secret(secret)
    except Exception:  # noqa: BLE001 - any failure means "not usable here"
        return False
    conn.close()
    return True


def find_pg_server(data_dir: str | None = None) -> PgServer:
    """$TEST_PG_DSN if set, else a server on 127.0.0.1:5432, else an embedded pgserver."""
    env_dsn = os.environ.get("TEST_PG_DSN")
    if env_dsn:
        return PgServer(dsn_to_secret(env_dsn), "TEST_PG_DSN")
    machine = dsn_to_secret("postgresql://postgres@127.0.0.1:5432/postgres")
    if _answers(machine):
        return PgServer(machine, "machine")
    return start_embedded_pg(data_dir)


def start_embedded_pg(data_dir: str | None = None) -> PgServer:
    """An embedded Postgres from the `pgserver` package (listens on a unix socket)."""
    directory = data_dir or tempfile.mkdtemp(prefix="pgserver-")
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); /tmp is fine.
        warnings.simplefilter("ignore")
        import pgserver  # imported here: it is only needed where no server is installed

        server = pgserver.get_server(directory, cleanup_mode="stop")
    secret = dsn_to_secret(server.get_uri())
    return PgServer(secret, "pgserver", server)


@dataclass
class MotoServer:
    """moto in server mode: the HTTP API boto3 and awswrangler use in AWS."""

    endpoint: str
    _server: Any = field(repr=False)

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - loopback moto only
            f"{self.endpoint}/moto-api/reset", method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310  # nosec B310 - loopback moto only
            pass

    def stop(self) -> None:
        self._server.stop()


def start_moto_server(port: int | None = None) -> MotoServer:
    """Start moto's ThreadedMotoServer on loopback."""
    import logging

    from moto.server import ThreadedMotoServer

    # werkzeug logs every request to stderr; the CLI's output is the pipeline's, not moto's.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return MotoServer(f"http://127.0.0.1:{port}", server)


def aws_env(endpoint: str) -> dict[str, str]:
    """Environment that points boto3 and awswrangler at a local moto server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # nosec B105 - moto's dummy credential
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
    }


@contextlib.contextmanager
def patched_env(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (None: unset) environment variables for a block, restoring the previous values."""
    old = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
