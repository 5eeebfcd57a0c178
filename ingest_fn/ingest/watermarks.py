"""Where the last run left off: the watermark cache, corrected by any newer manifest.

The manifest is the commit; `_state/ingest/watermarks.json` is a cache written after it.
A run that died between the two left a manifest newer than the cache, and that manifest's
watermarks win, so its window is never read twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ingest.exceptions import FenceError
from ingest.fence import Snapshot, snapshot_from_manifest
from pipeline_common.contracts.batch import (
    BatchIdError,
    TimestampFormatError,
    check_batch_id,
    parse_timestamp,
)
from pipeline_common.contracts.keys import (
    INGEST_STATE_KEY,
    MANIFEST_PREFIX,
    batch_id_of_manifest_key,
    manifest_key,
)
from pipeline_common.contracts.manifests import IngestManifest
from pipeline_common.s3objects import (
    MalformedObjectError,
    ObjectNotFoundError,
    list_keys,
    read_json,
    write_json,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

logger = Logger(child=True)


@dataclass(frozen=True)
class IngestState:
    """The newest committed batch, the `hi` each table has been read up to, its snapshot."""

    batch_id: str | None = None
    watermarks: dict[str, str] = field(default_factory=dict)
    snapshot: Snapshot | None = None
    """None before the first batch, or after a batch written before the commit fence."""

    def to_json(self) -> dict[str, Any]:
        """The cache object's content."""
        snapshot = None if self.snapshot is None else self.snapshot.to_json()
        return {
            "batch_id": self.batch_id,
            "watermarks": dict(self.watermarks),
            "snapshot": snapshot,
        }


def read_watermarks(s3: S3Client, bucket: str) -> IngestState:
    """The state to continue from: the cache, unless a newer manifest exists."""
    cached = _read_cache(s3, bucket)
    start_after = manifest_key(cached.batch_id) if cached.batch_id else ""
    newest = None
    for key in list_keys(s3, bucket, MANIFEST_PREFIX, start_after=start_after):
        if batch_id_of_manifest_key(key) is not None:
            newest = key
    if newest is None:
        return cached
    manifest = IngestManifest.from_json(read_json(s3, bucket, newest), newest)
    state = IngestState(manifest.batch_id, dict(manifest.watermarks), manifest.snapshot)
    logger.info(
        "watermarks taken from a manifest newer than the cache",
        extra={"manifest_key": newest, "cached_batch_id": cached.batch_id},
    )
    return state


def write_watermarks(s3: S3Client, bucket: str, state: IngestState) -> None:
    """Write the cache; call only after the batch's manifest exists."""
    write_json(s3, bucket, INGEST_STATE_KEY, state.to_json())


def _read_cache(s3: S3Client, bucket: str) -> IngestState:
    try:
        return _state_from(
            read_json(s3, bucket, INGEST_STATE_KEY), f"s3://{bucket}/{INGEST_STATE_KEY}"
        )
    except ObjectNotFoundError:
        return IngestState()
    except MalformedObjectError as exc:
        # A cache, not the truth: start from the manifests alone (the newest one wins).
        logger.warning("watermark cache unreadable; using manifests", extra={"error": str(exc)})
        return IngestState()


def _state_from(data: dict[str, Any], where: str) -> IngestState:
    batch_id = data.get("batch_id")
    watermarks = data.get("watermarks")
    try:
        if batch_id is not None:
            check_batch_id(batch_id)
        if not isinstance(watermarks, dict):
            raise MalformedObjectError(f"{where} has no watermarks object")
        for table, value in watermarks.items():
            if not isinstance(table, str):
                raise MalformedObjectError(f"{where} has a non-text table name")
            parse_timestamp(value)
        snapshot = snapshot_from_manifest(data.get("snapshot"))
    except (BatchIdError, TimestampFormatError, FenceError) as exc:
        raise MalformedObjectError(f"{where}: {exc}") from exc
    return IngestState(batch_id, dict(watermarks), snapshot)
