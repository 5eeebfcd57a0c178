"""The Postgres adapter: transactions, advisory locks, bookkeeping, and error translation."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import Connection

from loader.exceptions import BatchRejectedError, WarehouseBusyError
from loader.schema import FACTS
from pipeline_common.errors import ConcurrentRunError, DatabaseUnavailableError, PipelineError
from pipeline_common.postgres import (
    LOCK_NOT_AVAILABLE,
    advisory_lock,
    pipeline_error,
    quote_identifier,
    sqlstate,
)
from pipeline_common.redact import describe_database_error

__all__ = ["Connection"]

MIGRATION_LOCK_KEY = 7_246_001
"""pg_advisory_xact_lock key held while migrations run (two cold starts must not race)."""

LOADER_LOCK_KEY = 7_246_002
"""pg_advisory_lock key held by the one run that may load batches at a time."""


def describe(exc: DatabaseError) -> str:
    """Server message and the names it concerns, never a row's values (nor the statement)."""
    return describe_database_error(exc)


def translate_error(exc: Exception, doing: str) -> PipelineError:
    """A pipeline error for a driver error: transient when a retry can help, else terminal
    (pipeline_common.postgres's one policy), with the loader's own classes on top: a lock
    timeout is another loader, a data or constraint error (22, 23) a rejected batch."""
    if isinstance(exc, InterfaceError | OSError):
        return DatabaseUnavailableError(f"lost the warehouse connection while {doing}: {exc}")
    if isinstance(exc, DatabaseError):
        code = sqlstate(exc)
        if code == LOCK_NOT_AVAILABLE:
            return ConcurrentRunError(f"another loader holds the lock ({doing})")
        if code[:2] in ("22", "23"):
            return BatchRejectedError(f"warehouse rejected {doing}: {describe(exc)}")
    return pipeline_error(exc, doing, server="warehouse", transient=WarehouseBusyError)


@contextlib.contextmanager
def transaction(conn: Connection, doing: str) -> Iterator[None]:
    """One transaction: commit at the end, roll back on any error (raised as a pipeline error)."""
    try:
        conn.run("START TRANSACTION")
        yield
        conn.run("COMMIT")
    except BaseException as exc:
        _rollback(conn)
        if isinstance(exc, DatabaseError | InterfaceError | OSError):
            raise translate_error(exc, doing) from exc
        raise


def _rollback(conn: Connection) -> None:
    """Roll back; if the connection is broken the server rolls back when it notices."""
    with contextlib.suppress(DatabaseError, InterfaceError, OSError):
        conn.run("ROLLBACK")


@contextlib.contextmanager
def loader_lock(conn: Connection, timeout_seconds: int) -> Iterator[None]:
    """Hold the session-level loader lock; wait at most `timeout_seconds` for another run."""
    busy = f"another loader holds the lock (waited {int(timeout_seconds)} s for the loader lock)"
    with advisory_lock(
        conn, LOADER_LOCK_KEY, busy=busy, wait_seconds=timeout_seconds, translate=translate_error
    ):
        yield


def read_last_loaded_batch_id(conn: Connection) -> str | None:
    """The newest batch the warehouse holds: the watermark pending batches are listed after."""
    rows = conn.run("SELECT max(batch_id) FROM etl_loaded_batch")
    return rows[0][0] if rows else None


def read_newest_batch_from(conn: Connection, batch_id: str) -> str | None:
    """The newest loaded batch id at or after `batch_id` (None when there is none)."""
    rows = conn.run(
        "SELECT max(batch_id) FROM etl_loaded_batch WHERE batch_id >= :batch_id",
        batch_id=batch_id,
    )
    return rows[0][0] if rows else None


def write_loaded_batch(
    conn: Connection,
    batch_id: str,
    manifest_key: str,
    row_counts: dict[str, Any],
    ingest_batches: tuple[str, ...],
) -> None:
    """Record a batch as loaded, with the ingest batches it covered (in the manifest's
    order: a loaded batch traces to its source windows); last in the batch's transaction."""
    conn.run(
        "INSERT INTO etl_loaded_batch (batch_id, manifest_key, row_counts, ingest_batches) "
        "VALUES (:batch_id, :manifest_key, CAST(:row_counts AS jsonb), "
        "CAST(:ingest_batches AS text[]))",
        batch_id=batch_id,
        manifest_key=manifest_key,
        row_counts=json.dumps(row_counts, sort_keys=True),
        ingest_batches=list(ingest_batches),
    )


def read_newest_source_change(conn: Connection) -> datetime | None:
    """The newest source `last_updated` the warehouse holds (UTC); None while it holds none.

    Freshness is read from the warehouse, never from what was ingested: a batch in the lake
    but not yet loaded does not count. Dimensions keep no change time, so the facts decide.
    """
    newest = " UNION ALL ".join(
        f'SELECT max("last_updated_date" + "last_updated_time") AS changed '  # nosec B608
        f"FROM {quote_identifier(table.name)}"  # table names from the schema's allow-list
        for table in FACTS
    )
    try:
        rows = conn.run(f"SELECT max(changed) FROM ({newest}) AS newest")  # nosec B608 - allow-listed names
    except (DatabaseError, InterfaceError, OSError) as exc:
        raise translate_error(exc, "reading the newest source change") from exc
    value = rows[0][0] if rows else None
    return None if value is None else value.replace(tzinfo=UTC)
