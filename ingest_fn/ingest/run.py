"""One ingest run: every change in ToteSys since the last batch, as one committed batch."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import pg8000.native
from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pg8000.exceptions import InterfaceError

from ingest.exceptions import ClockError, StateRejectedError, UploadError
from ingest.extract import TableCopy, TableExtract, extract_table
from ingest.fence import Snapshot, fence_for, read_current_snapshot, read_seen_xids
from ingest.manifest import build_manifest, write_manifest
from ingest.settings import Settings
from ingest.source import TableSpec, describe_tables, hold_run_lock, snapshot
from ingest.state_guard import check_state
from ingest.upload import GzipObjectWriter
from ingest.watermarks import IngestState, read_watermarks, write_watermarks
from ingest.window import Window, format_timestamp, parse_timestamp
from pipeline_common.contracts.batch import batch_id_for
from pipeline_common.contracts.keys import ingest_part_key
from pipeline_common.postgres import connect
from pipeline_common.secrets import read_db_secret

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
else:
    S3Client = SecretsManagerClient = Any

logger = Logger(child=True)

APPLICATION_NAME = "totesys-ingest"
T = TypeVar("T")


@dataclass(frozen=True)
class IngestSummary:
    """What a run did: its batch (None when nothing changed) and rows per table."""

    batch_id: str | None
    manifest_key: str | None
    hi: str
    rows: dict[str, int]
    bytes: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The handler's return value (no credentials, nothing large)."""
        return {
            "batch_id": self.batch_id,
            "manifest_key": self.manifest_key,
            "hi": self.hi,
            "rows": dict(self.rows),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
        }


def run_ingest(
    settings: Settings,
    *,
    s3: S3Client,
    secretsmanager: SecretsManagerClient,
    metrics: Metrics | None = None,
) -> IngestSummary:
    """Lock the source, continue from the last committed batch, commit the next one."""
    started = time.perf_counter()
    secret = read_db_secret(settings.source_secret_id, secretsmanager)
    conn = connect(secret, application_name=APPLICATION_NAME)
    try:
        # The lock spans reading the watermarks through writing them, so a second run
        # either fails at once (ConcurrentRunError) or starts after this run's commit.
        with hold_run_lock(conn):
            previous = read_watermarks(s3, settings.ingest_bucket)
            summary = ingest_batch(conn, s3, settings, previous, started=started)
    except StateRejectedError:
        if metrics is not None:
            publish_rejection(metrics)
        raise
    finally:
        _close(conn)
    if metrics is not None:
        publish_metrics(metrics, summary)
    return summary


def ingest_batch(
    conn: pg8000.native.Connection,
    s3: S3Client,
    settings: Settings,
    previous: IngestState,
    *,
    started: float | None = None,
) -> IngestSummary:
    """Extract every table's window and fence from one snapshot; write the manifest, then
    the cache."""
    started = time.perf_counter() if started is None else started
    bucket = settings.ingest_bucket
    with snapshot(conn) as now:
        batch_id = batch_id_for(now)
        hi = format_timestamp(now - dt.timedelta(seconds=settings.commit_lag_seconds))
        check_state(previous, now, hi)
        if previous.batch_id is not None and batch_id <= previous.batch_id:
            raise ClockError(
                f"source clock gives batch {batch_id}, not after the last batch "
                f"{previous.batch_id}; retry once the clock has passed it"
            )
        current = read_current_snapshot(conn, previous.snapshot)
        fence = fence_for(previous.snapshot, current)
        specs = describe_tables(conn, settings.tables)
        copies: dict[str, TableCopy] = {}
        extracts: dict[str, TableExtract] = {}
        try:
            for table in _largest_first(specs):
                # The previous table's uploads finish during this COPY; older ones are
                # waited for first, so at most two tables' objects are ever in memory.
                for name in list(copies)[:-1]:
                    extracts[name] = copies.pop(name).wait()
                window = window_for(table, previous.watermarks.get(table), hi)
                copies[table] = extract_table(
                    conn,
                    specs[table],
                    window,
                    partial(_open_part, s3, bucket, table, batch_id),
                    part_rows=settings.part_rows,
                    fence=fence,
                )
            for name in list(copies):
                extracts[name] = copies.pop(name).wait()
        except BaseException:
            for copy in copies.values():
                copy.abort()
            raise
        watermarks = {table: extracts[table].window.hi for table in settings.tables}
        seen = None
        if any(extract.rows for extract in extracts.values()):
            seen = read_seen_xids(conn, specs.values(), watermarks, current)
    extracts = {table: extracts[table] for table in settings.tables}  # reported in this order
    for table, extract in extracts.items():
        _log_extract(table, extract)
    rows = {table: extract.rows for table, extract in extracts.items()}
    total_bytes = sum(extract.bytes for extract in extracts.values())
    if not any(rows.values()):
        logger.info("no changes; nothing written", extra={"hi": hi})
        return IngestSummary(None, None, hi, rows, 0, time.perf_counter() - started)

    batch_snapshot = Snapshot(current.xmin, current.xmax, current.xip, seen or ())
    manifest = build_manifest(
        batch_id=batch_id,
        created_at=now,
        commit_lag_seconds=settings.commit_lag_seconds,
        hi=hi,
        watermarks=watermarks,
        extracts=extracts,
        snapshot=batch_snapshot,
    )
    key = _s3_write("manifest", lambda: write_manifest(s3, bucket, manifest))
    _s3_write(
        "watermark cache",
        lambda: write_watermarks(s3, bucket, IngestState(batch_id, watermarks, batch_snapshot)),
    )
    seconds = time.perf_counter() - started
    logger.info(
        "batch committed",
        extra={
            "batch_id": batch_id,
            "manifest_key": key,
            "hi": hi,
            "rows": rows,
            "bytes": total_bytes,
            "seconds": round(seconds, 3),
        },
    )
    return IngestSummary(batch_id, key, hi, rows, total_bytes, seconds)


def _largest_first(specs: dict[str, TableSpec]) -> list[str]:
    """The tables by the planner's row estimate, largest first (ties in settings order).

    The run's last upload cannot overlap anything: ending with the smallest tables makes
    that tail short (100,000 orders: payment last left 0.05 s of waiting after the COPYs).
    """
    return sorted(specs, key=lambda table: -specs[table].estimated_rows)


def window_for(table: str, lo: str | None, hi: str) -> Window:
    """`[lo, hi)`; if lo is already past hi (the lag was raised), an empty window at lo."""
    if lo is not None and parse_timestamp(lo) > parse_timestamp(hi):
        logger.warning(
            "watermark is after this run's hi; table waits", extra={"table": table, "lo": lo}
        )
        return Window(lo, lo)
    return Window(lo, hi)


def publish_metrics(metrics: Metrics, summary: IngestSummary) -> None:
    """EMF metrics: RowsIngested per table (dimension `table`), the run's RunDuration, and
    StateRejected 0 (a run that got this far accepted its state: StateRejectedAlarm's metric
    has a datapoint every run, not only when it fires)."""
    for table, rows in summary.rows.items():
        with single_metric(
            name="RowsIngested", unit=MetricUnit.Count, value=rows, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="table", value=table)
    metrics.add_metric(name="RunDuration", unit=MetricUnit.Seconds, value=summary.seconds)
    metrics.add_metric(name="StateRejected", unit=MetricUnit.Count, value=0)


def publish_rejection(metrics: Metrics) -> None:
    """EMF metric StateRejected (alarmed: StateRejectedAlarm), flushed at once, since the
    run raises and its other metrics are never published."""
    with single_metric(
        name="StateRejected", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ):
        pass


def _open_part(s3: S3Client, bucket: str, table: str, batch_id: str, part: int) -> GzipObjectWriter:
    return GzipObjectWriter(s3, bucket, ingest_part_key(table, batch_id, part))


def _log_extract(table: str, extract: TableExtract) -> None:
    logger.info(
        "table extracted",
        extra={
            "table": table,
            "rows": extract.rows,
            "bytes": extract.bytes,
            "csv_bytes": extract.csv_bytes,
            "parts": len(extract.parts),
            "seconds": round(extract.seconds, 3),
            "window": {"lo": extract.window.lo, "hi": extract.window.hi},
        },
    )


def _s3_write(what: str, write: Callable[[], T]) -> T:
    try:
        return write()
    except (BotoCoreError, ClientError) as exc:
        raise UploadError(f"writing the {what} failed: {exc}") from exc


def _close(conn: pg8000.native.Connection) -> None:
    try:
        conn.close()
    except (InterfaceError, OSError):
        logger.debug("source connection was already closed")
