"""The batch manifest: the commit of a run and the event the Glue job starts from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ingest.extract import TableExtract
from pipeline_common.contracts.manifests import (
    IngestManifest,
    LandedPart,
    LandedTable,
    Snapshot,
)
from pipeline_common.s3objects import write_json

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any


def build_manifest(
    *,
    batch_id: str,
    created_at: dt.datetime,
    commit_lag_seconds: int,
    hi: str,
    watermarks: Mapping[str, str],
    extracts: Mapping[str, TableExtract],
    snapshot: Snapshot,
) -> IngestManifest:
    """The manifest of docs/contracts.md section 1; only tables with rows listed."""
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=dt.UTC)
    return IngestManifest(
        batch_id=batch_id,
        created_at=created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        commit_lag_seconds=commit_lag_seconds,
        hi=hi,
        watermarks=dict(watermarks),
        snapshot=snapshot,
        tables={table: landed(extract) for table, extract in extracts.items() if extract.rows},
    )


def landed(extract: TableExtract) -> LandedTable:
    """A table's extract as its manifest entry records it."""
    return LandedTable(
        lo=extract.window.lo,
        hi=extract.window.hi,
        primary_key=extract.spec.primary_key,
        parts=tuple(LandedPart(p.key, p.rows, p.bytes) for p in extract.parts),
        columns=extract.spec.columns,
        seconds=extract.seconds,
    )


def write_manifest(s3: S3Client, bucket: str, manifest: IngestManifest) -> str:
    """Write the manifest (after every object it names exists), never over another one;
    returns its key."""
    write_json(s3, bucket, manifest.key, manifest.to_json(), create_only=True)
    return manifest.key
