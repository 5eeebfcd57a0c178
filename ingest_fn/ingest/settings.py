"""The ingest function's configuration: one typed dataclass read from the environment once."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline_common.contracts.source import TOTESYS_TABLES
from pipeline_common.errors import ConfigError

# 0: the commit fence (ingest/fence.py) takes a change committed after a run's snapshot on
# the next run, so no margin is needed; a lag only delays every change by that much.
DEFAULT_COMMIT_LAG_SECONDS = 0
# Measured on generated ToteSys rows (bench/ingest_memory.py prints CSV bytes per row):
# sales_order ~99, purchase_order ~103, payment ~106, transaction ~65 bytes a row, so a
# million rows make a part of 65-106 MB of CSV, inside the 64-128 MB target. Memory does
# not depend on it: parts are streamed.
DEFAULT_PART_ROWS = 1_000_000

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know besides its clients; validated on construction."""

    ingest_bucket: str
    source_secret_id: str
    commit_lag_seconds: int = DEFAULT_COMMIT_LAG_SECONDS
    tables: tuple[str, ...] = TOTESYS_TABLES
    part_rows: int = DEFAULT_PART_ROWS

    def __post_init__(self) -> None:
        if not _BUCKET_NAME.fullmatch(self.ingest_bucket):
            raise ConfigError(f"INGEST_BUCKET {self.ingest_bucket!r} is not an S3 bucket name")
        if not self.source_secret_id.strip():
            raise ConfigError("SOURCE_SECRET_ID is empty")
        if self.commit_lag_seconds < 0:
            raise ConfigError("COMMIT_LAG_SECONDS must be 0 or more")
        if self.part_rows < 1:
            raise ConfigError("PART_ROWS must be 1 or more")
        check_tables(self.tables)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read INGEST_BUCKET, SOURCE_SECRET_ID, COMMIT_LAG_SECONDS, TABLES, PART_ROWS."""
        env = os.environ if environ is None else environ
        return cls(
            ingest_bucket=_required(env, "INGEST_BUCKET"),
            source_secret_id=_required(env, "SOURCE_SECRET_ID"),
            commit_lag_seconds=_integer(env, "COMMIT_LAG_SECONDS", DEFAULT_COMMIT_LAG_SECONDS),
            tables=parse_tables(env.get("TABLES", "")),
            part_rows=_integer(env, "PART_ROWS", DEFAULT_PART_ROWS),
        )


def parse_tables(text: str) -> tuple[str, ...]:
    """A comma list of table names, checked against the allow-list; blank means all 11."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        return TOTESYS_TABLES
    check_tables(names)
    return tuple(table for table in TOTESYS_TABLES if table in names)


def check_tables(names: tuple[str, ...]) -> None:
    """Refuse any name outside the allow-list (before any SQL can see it) and duplicates."""
    if not names:
        raise ConfigError("TABLES names no table")
    unknown = [name for name in names if name not in TOTESYS_TABLES]
    if unknown:
        raise ConfigError(
            f"TABLES holds names outside the ToteSys allow-list: {unknown!r}; "
            f"allowed: {', '.join(TOTESYS_TABLES)}"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"TABLES names a table twice: {list(names)!r}")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {text!r}") from exc
