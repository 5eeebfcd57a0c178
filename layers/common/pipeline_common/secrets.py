"""Database credentials from AWS Secrets Manager (never from code, template or event)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline_common.errors import ConfigError, SecretError, TransientError
from pipeline_common.redact import drop_botocore_bodies
from pipeline_common.tls import SslMode, parse_sslmode

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
else:
    SecretsManagerClient = Any

_REQUIRED = ("host", "port", "dbname", "username", "password")

# Whoever sets botocore's loggers to DEBUG must not get the SecretString in a log line.
drop_botocore_bodies()


@dataclass(frozen=True)
class DbSecret:
    """The secret shape `awswrangler.postgresql.connect(secret_id=...)` also reads."""

    host: str
    port: int
    dbname: str
    username: str
    password: str = ""
    engine: str = "postgres"
    # libpq's connection settings of the same names; a deployed secret without them gets
    # the strictest mode and the CA bundle baked into the common layer (docs/deploy.md).
    sslmode: SslMode = "verify-full"
    sslrootcert: str = ""

    def __repr__(self) -> str:  # never let the password reach a log line
        return (
            f"DbSecret(host={self.host!r}, port={self.port}, "
            f"dbname={self.dbname!r}, username={self.username!r}, sslmode={self.sslmode!r})"
        )

    __str__ = __repr__


def parse_db_secret(secret_id: str, text: str) -> DbSecret:
    """Validate a secret's JSON; the error names the secret and the problem, not the values."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SecretError(f"secret {secret_id!r} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise SecretError(f"secret {secret_id!r} must be a JSON object")
    missing = [key for key in _REQUIRED if key not in data or data[key] is None]
    if missing:
        raise SecretError(f"secret {secret_id!r} lacks keys: {', '.join(missing)}")
    engine = str(data.get("engine", "postgres"))
    if engine not in ("postgres", "postgresql"):
        raise SecretError(f"secret {secret_id!r} has engine {engine!r}; expected postgres")
    try:
        port = int(data["port"])
    except (TypeError, ValueError) as exc:
        raise SecretError(f"secret {secret_id!r} has a non-numeric port") from exc
    try:
        sslmode = parse_sslmode(str(data.get("sslmode", "verify-full")))
    except ConfigError as exc:
        raise SecretError(f"secret {secret_id!r}: {exc}") from exc
    return DbSecret(
        host=str(data["host"]),
        port=port,
        dbname=str(data["dbname"]),
        username=str(data["username"]),
        password=str(data["password"]),
        engine="postgres",
        sslmode=sslmode,
        sslrootcert=str(data.get("sslrootcert") or ""),
    )


def read_db_secret(secret_id: str, client: SecretsManagerClient) -> DbSecret:
    """Fetch and validate a database secret."""
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        terminal = ("ResourceNotFoundException", "AccessDeniedException", "InvalidRequestException")
        if code in terminal:
            raise SecretError(f"secret {secret_id!r} cannot be read: {code}") from exc
        raise TransientError(f"secret {secret_id!r}: Secrets Manager error {code}") from exc
    text = response.get("SecretString")
    if text is None:
        raise SecretError(f"secret {secret_id!r} has no SecretString")
    return parse_db_secret(secret_id, text)
