"""Shared fixtures: a real Postgres, moto in server mode, a local SparkSession.

Part-specific fixtures live in the conftest.py of each test folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pg8000.native
import pytest

from local.services import (
    MotoServer,
    PgServer,
    aws_env,
    find_pg_server,
    start_moto_server,
)

# Set before any test module imports a handler, so module-scope loggers and metrics get them.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ToteSysPipelineTests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"
SNAPSHOT_DIR = REPO_ROOT.parent / "shared" / "data" / "totesys-2024-11-15"


@dataclass
class PgDatabase:
    """A fresh database of its own for one test."""

    server: PgServer
    name: str

    @property
    def secret(self) -> dict[str, Any]:
        return self.server.secret(self.name)

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.name)

    def connect(self) -> pg8000.native.Connection:
        return self.server.connect(self.name)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> PgServer:
    """$TEST_PG_DSN, else the machine's 127.0.0.1:5432, else an embedded pgserver."""
    return find_pg_server(str(tmp_path_factory.mktemp("pgserver")))


@pytest.fixture
def postgres(pg_server: PgServer) -> Iterator[PgDatabase]:
    """A fresh, empty database, dropped after the test."""
    name = pg_server.create_database()
    try:
        yield PgDatabase(pg_server, name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def make_database(pg_server: PgServer) -> Iterator[Any]:
    """Factory for several fresh databases in one test (source and warehouse)."""
    created: list[str] = []

    def make() -> PgDatabase:
        name = pg_server.create_database()
        created.append(name)
        return PgDatabase(pg_server, name)

    yield make
    for name in created:
        pg_server.drop_database(name)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = start_moto_server()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto over HTTP, with AWS_ENDPOINT_URL and dummy credentials set for this test only."""
    moto_server.reset()
    for key, value in aws_env(moto_server.endpoint).items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    yield moto_server.endpoint


@pytest.fixture
def s3(aws: str) -> Any:
    return boto3.client("s3")


@pytest.fixture
def secretsmanager(aws: str) -> Any:
    return boto3.client("secretsmanager")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession per run: local[2], UTC, UI off, few shuffle partitions."""
    from local.spark import local_spark_session

    session = local_spark_session("totesys-tests", cores=2)
    yield session
    session.stop()


@pytest.fixture
def snapshot_dir() -> Path:
    """The real ToteSys snapshot in ../shared/data; tests using it skip cleanly without it."""
    if not SNAPSHOT_DIR.is_dir():
        pytest.skip(f"real ToteSys snapshot not present at {SNAPSHOT_DIR}")
    return SNAPSHOT_DIR
