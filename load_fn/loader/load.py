"""Load every pending processed batch into the warehouse, oldest first, one transaction each.

A batch is loaded completely or not at all: its rows are COPYed in (loader.write: straight
into facts and empty dimensions, else through staging), dimensions first (dim_date first of
all), facts appended, and the etl_loaded_batch row written last, all in one transaction.
The event that started the run only says *when*; what to load comes from the warehouse's
bookkeeping and the processed manifests.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pg8000.exceptions import DatabaseError, InterfaceError

from loader.exceptions import BatchOrderError
from loader.manifest import BatchPlan, read_manifest
from loader.migrations import apply_migrations
from loader.pending import list_pending_manifests
from loader.read import LakeReader
from loader.settings import Settings
from loader.warehouse import (
    Connection,
    loader_lock,
    read_last_loaded_batch_id,
    read_newest_batch_from,
    read_newest_source_change,
    transaction,
    translate_error,
    write_loaded_batch,
)
from loader.write import TableCount, Timing, write_dimension, write_facts
from pipeline_common.postgres import connect
from pipeline_common.secrets import read_db_secret

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
else:
    S3Client = SecretsManagerClient = Any

logger = Logger(child=True)

APPLICATION_NAME = "load_fn"


@dataclass
class BatchResult:
    """What loading one batch did (`already_loaded`: it was found in etl_loaded_batch)."""

    batch_id: str
    manifest_key: str
    tables: dict[str, TableCount] = field(default_factory=dict)
    already_loaded: bool = False
    quarantined: dict[str, int] = field(default_factory=dict)
    """Rows the transform quarantined in this batch, per source table."""
    seconds: float = 0.0
    stage_seconds: float = 0.0
    """Reading the lake and COPYing it into the star tables or their staging tables."""
    write_seconds: float = 0.0
    """Merging staged rows into the star tables and re-checking foreign keys."""

    def row_counts(self) -> dict[str, dict[str, int]]:
        return {name: {"read": c.read, "written": c.written} for name, c in self.tables.items()}


@dataclass
class LoadResult:
    """The batches one run loaded, oldest first."""

    batches: list[BatchResult] = field(default_factory=list)
    newest_source_change: datetime | None = None
    """The newest source change the warehouse holds after the run (None: it holds none)."""

    def rows_written(self) -> dict[str, int]:
        """Rows written per table over all batches of the run."""
        totals: dict[str, int] = {}
        for batch in self.batches:
            for name, count in batch.tables.items():
                totals[name] = totals.get(name, 0) + count.written
        return totals

    def rows_quarantined(self) -> int:
        """Rows the transform quarantined in the batches this run loaded (not already loaded)."""
        return sum(sum(b.quarantined.values()) for b in self.batches if not b.already_loaded)

    def summary(self) -> dict[str, Any]:
        """The handler's response: batch ids and per-table counts."""
        return {
            "batches_loaded": sum(1 for b in self.batches if not b.already_loaded),
            "batch_ids": [b.batch_id for b in self.batches if not b.already_loaded],
            "rows_written": self.rows_written(),
            "batches": [
                {
                    "batch_id": b.batch_id,
                    "manifest_key": b.manifest_key,
                    "already_loaded": b.already_loaded,
                    "tables": b.row_counts(),
                }
                for b in self.batches
            ],
        }


def run(settings: Settings, s3: S3Client, secretsmanager: SecretsManagerClient) -> LoadResult:
    """Connect to the warehouse, bring its schema up to date, load every pending batch."""
    secret = read_db_secret(settings.warehouse_secret_id, secretsmanager)
    conn = connect(
        secret, application_name=APPLICATION_NAME, timeout=settings.socket_timeout_seconds
    )
    try:
        apply_migrations(conn)
        result = load_pending(conn, s3, settings.processed_bucket, settings.lock_timeout_seconds)
        result.newest_source_change = read_newest_source_change(conn)
        return result
    finally:
        with contextlib.suppress(DatabaseError, InterfaceError, OSError):
            conn.close()


def load_pending(
    conn: Connection, s3: S3Client, bucket: str, lock_timeout_seconds: int = 60
) -> LoadResult:
    """Load the batches after the newest loaded one, oldest first, under the loader lock."""
    result = LoadResult()
    with loader_lock(conn, lock_timeout_seconds):
        try:
            after = read_last_loaded_batch_id(conn)
        except (DatabaseError, InterfaceError, OSError) as exc:
            raise translate_error(exc, "reading the loaded batches") from exc
        keys = list_pending_manifests(s3, bucket, after)
        logger.info(
            "pending processed batches", extra={"after_batch_id": after, "pending": len(keys)}
        )
        for key in keys:
            result.batches.append(load_batch(conn, s3, bucket, key))
    return result


def load_batch(conn: Connection, s3: S3Client, bucket: str, key: str) -> BatchResult:
    """Load one processed batch in one transaction; a batch already loaded is left alone."""
    started = time.monotonic()
    manifest = read_manifest(s3, bucket, key)
    result = BatchResult(manifest.batch_id, key, quarantined=dict(manifest.quarantined))
    with transaction(conn, f"loading batch {manifest.batch_id}"):
        newest = read_newest_batch_from(conn, manifest.batch_id)
        if newest == manifest.batch_id:
            result.already_loaded = True
        elif newest is not None:
            raise BatchOrderError(
                f"batch {manifest.batch_id} is older than loaded batch {newest}; "
                "loading it now would roll dimensions back"
            )
        else:
            _load_tables(conn, s3, bucket, manifest, result)
            write_loaded_batch(
                conn, manifest.batch_id, key, result.row_counts(), manifest.ingest_batches
            )
    result.seconds = round(time.monotonic() - started, 3)
    if result.already_loaded:
        logger.info("batch already loaded", extra={"batch_id": manifest.batch_id})
    else:
        logger.info(
            "loaded batch",
            extra={
                "batch_id": manifest.batch_id,
                "manifest_key": key,
                "tables": result.row_counts(),
                "seconds": result.seconds,
                "stage_seconds": result.stage_seconds,
                "write_seconds": result.write_seconds,
            },
        )
    return result


def _load_tables(
    conn: Connection, s3: S3Client, bucket: str, manifest: BatchPlan, result: BatchResult
) -> None:
    """Write every table in load order (dim_date, the other dimensions, then facts)."""
    timing = Timing()
    plans = [plan for plan in manifest.tables if plan.objects and plan.rows != 0]
    with LakeReader(s3, bucket, plans) as lake:
        for plan in manifest.tables:
            if plan not in plans:
                logger.info("skipping empty table", extra={"table": plan.table.name})
                result.tables[plan.table.name] = TableCount(0, 0)
            elif plan.table.kind == "dimension":
                result.tables[plan.table.name] = write_dimension(conn, lake, plan, timing)
            else:
                result.tables[plan.table.name] = write_facts(conn, lake, plan, timing)
    result.stage_seconds = round(timing.copy_seconds, 3)
    result.write_seconds = round(timing.merge_seconds, 3)
