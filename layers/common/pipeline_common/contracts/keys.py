"""Every key the stages hand to each other, in both buckets (docs/contracts.md)."""

from __future__ import annotations

import re

from pipeline_common.contracts.batch import BATCH_ID_PATTERN, check_batch_id

MANIFEST_PREFIX = "_manifests/"
"""Both buckets: `_manifests/<batch_id>.json` commits a batch."""

INGEST_STATE_KEY = "_state/ingest/watermarks.json"
"""Ingest bucket: the watermarks of the last committed ingest run."""

INFLIGHT_KEY = "_job/inflight.json"
"""Processed bucket: the Glue job's claim on the batch it is writing."""

LATEST_KEY = "_job/latest.json"
"""Processed bucket: a pointer to the newest processed manifest (a hint, never the truth)."""

_MANIFEST_KEY = re.compile(rf"{MANIFEST_PREFIX}({BATCH_ID_PATTERN})\.json")


def manifest_key(batch_id: str) -> str:
    """`_manifests/<batch_id>.json` (either bucket)."""
    return f"{MANIFEST_PREFIX}{check_batch_id(batch_id)}.json"


def batch_id_of_manifest_key(key: str) -> str | None:
    """The batch id a manifest key names, or None for any other key."""
    match = _MANIFEST_KEY.fullmatch(key)
    return match.group(1) if match else None


def ingest_part_key(table: str, batch_id: str, part: int) -> str:
    """Ingest bucket: `<table>/batch=<batch_id>/part-<nnnnn>.csv.gz`, parts from 00000."""
    return f"{table}/batch={check_batch_id(batch_id)}/part-{part:05d}.csv.gz"


def dimension_snapshot_prefix(dimension: str, pid: str) -> str:
    """Processed bucket: a dimension's whole snapshot, `<dim>/snapshot=<pid>/`."""
    return f"{dimension}/snapshot={check_batch_id(pid)}/"


def dimension_changes_prefix(dimension: str, pid: str) -> str:
    """Processed bucket: a rebuilt dimension's new or changed rows,
    `_changes/<dim>/batch=<pid>/`."""
    return f"_changes/{dimension}/batch={check_batch_id(pid)}/"


def fact_object_key(fact: str, month: str, pid: str, number: int) -> str:
    """Processed bucket: `<fact>/created_month=YYYY-MM/batch-<pid>-<nnnnn>.snappy.parquet`."""
    return f"{fact}/created_month={month}/batch-{check_batch_id(pid)}-{number:05d}.snappy.parquet"


def state_prefix(source_table: str, pid: str) -> str:
    """Processed bucket: a source table's current state, `_state/<table>/batch=<pid>/`."""
    return f"_state/{source_table}/batch={check_batch_id(pid)}/"


def quarantine_prefix(pid: str, source_table: str) -> str:
    """Processed bucket: a batch's rejected rows of one table, `_quarantine/<pid>/<table>/`."""
    return f"_quarantine/{check_batch_id(pid)}/{source_table}/"


def scratch_prefix(pid: str) -> str:
    """Processed bucket: a pass's scratch space, `_tmp/<pid>/` (deleted before its manifest)."""
    return f"_tmp/{check_batch_id(pid)}/"
