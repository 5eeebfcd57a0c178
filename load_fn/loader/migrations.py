"""Warehouse schema migrations: SQL files applied in order, once each, at every start."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from aws_lambda_powertools import Logger
from pg8000.exceptions import DatabaseError

from loader.exceptions import MigrationError
from loader.warehouse import MIGRATION_LOCK_KEY, Connection, describe, transaction
from pipeline_common.postgres import take_transaction_lock

logger = Logger(child=True)

_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One SQL file; `version` is its name without ".sql" (e.g. "0001_star_schema")."""

    version: str
    sql: str


def read_migrations() -> list[Migration]:
    """The packaged migration files in version order (their 4-digit prefixes must be unique)."""
    folder = resources.files("loader") / "sql"
    found: dict[str, Migration] = {}
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if not match:
            continue
        number = match.group(1)
        if number in found:
            raise MigrationError(f"two migrations numbered {number}")
        found[number] = Migration(entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
    return [found[number] for number in sorted(found)]


def apply_migrations(conn: Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply every migration not yet recorded, under an advisory lock; returns those applied.

    All of it is one transaction: a failed file leaves the schema as it was. A second
    loader starting at the same moment waits on the lock, then finds nothing to do.
    """
    pending = read_migrations() if migrations is None else migrations
    applied: list[str] = []
    with transaction(conn, "applying schema migrations"):
        take_transaction_lock(conn, MIGRATION_LOCK_KEY)
        conn.run(_BOOTSTRAP)
        done = {row[0] for row in conn.run("SELECT version FROM schema_migrations")}
        for migration in pending:
            if migration.version in done:
                continue
            try:
                conn.run(migration.sql)
            except DatabaseError as exc:
                raise MigrationError(
                    f"migration {migration.version} failed: {describe(exc)}"
                ) from exc
            conn.run(
                "INSERT INTO schema_migrations (version) VALUES (:version)",
                version=migration.version,
            )
            applied.append(migration.version)
    if applied:
        logger.info("applied schema migrations", extra={"migrations": applied})
    return applied
