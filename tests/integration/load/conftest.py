"""Fixtures of the loader tests: a processed bucket in moto, a warehouse behind a secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pg8000.native
import pytest

from loader.settings import Settings

SECRET_ID = "totesys/warehouse"
REGION = "eu-west-2"


@dataclass
class Warehouse:
    """The warehouse database and the id of the secret that points at it."""

    db: Any
    secret_id: str

    def connect(self) -> pg8000.native.Connection:
        return self.db.connect()


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context that Powertools reads."""

    function_name: str = "totesys-load"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-2:123456789012:function:totesys-load"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@pytest.fixture
def processed_bucket(s3: Any) -> str:
    name = "totesys-processed-test"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture
def warehouse(postgres: Any, secretsmanager: Any) -> Warehouse:
    import json

    secretsmanager.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret))
    return Warehouse(postgres, SECRET_ID)


@pytest.fixture
def settings(processed_bucket: str, warehouse: Warehouse) -> Settings:
    return Settings(processed_bucket=processed_bucket, warehouse_secret_id=warehouse.secret_id)


@pytest.fixture
def load_env(
    monkeypatch: pytest.MonkeyPatch, processed_bucket: str, warehouse: Warehouse
) -> Iterator[None]:
    """The environment the template gives the load function."""
    monkeypatch.setenv("PROCESSED_BUCKET", processed_bucket)
    monkeypatch.setenv("WAREHOUSE_SECRET_ID", warehouse.secret_id)
    yield


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def wh_conn(warehouse: Warehouse) -> Iterator[pg8000.native.Connection]:
    """A separate connection for the test's own reads."""
    conn = warehouse.connect()
    yield conn
    conn.close()
