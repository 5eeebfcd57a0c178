"""The batch manifest: the commit of a run and the event the Glue job starts from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ingest.extract import TableExtract
from ingest.fence import Snapshot
from ingest.layout import manifest_key
from pipeline_common.s3objects import write_json

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

FORMAT_VERSION = 1


def build_manifest(
    *,
    batch_id: str,
    created_at: dt.datetime,
    commit_lag_seconds: int,
    hi: str,
    watermarks: Mapping[str, str],
    extracts: Mapping[str, TableExtract],
    snapshot: Snapshot,
) -> dict[str, Any]:
    """The manifest document of docs/contracts.md section 1; only tables with rows listed."""
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=dt.UTC)
    return {
        "format_version": FORMAT_VERSION,
        "kind": "ingest",
        "batch_id": batch_id,
        "created_at": created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "commit_lag_seconds": commit_lag_seconds,
        "hi": hi,
        "watermarks": dict(watermarks),
        "snapshot": snapshot.to_manifest(),
        "tables": {
            table: extract.to_manifest() for table, extract in extracts.items() if extract.rows
        },
    }


def write_manifest(s3: S3Client, bucket: str, manifest: dict[str, Any]) -> str:
    """Write the manifest (after every object it names exists), never over another one;
    returns its key."""
    key = manifest_key(manifest["batch_id"])
    write_json(s3, bucket, key, manifest, create_only=True)
    return key
