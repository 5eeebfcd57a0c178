"""What one processed batch asks the loader to do: its tables in load order, as plans.

The manifest itself is `pipeline_common.contracts.manifests.ProcessedManifest` (parsed and
checked there); this module turns one into the objects to read per star table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loader.schema import LOAD_ORDER, StarTable
from pipeline_common.contracts.manifests import DimensionEntry, ProcessedManifest
from pipeline_common.s3objects import read_json

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any


@dataclass(frozen=True)
class LakeObject:
    """One Parquet object to load, with the Hive partition values its path carries."""

    key: str
    partition: dict[str, str]
    rows: int | None = None


@dataclass(frozen=True)
class TablePlan:
    """The objects of one star table in a batch and the row count the manifest promises."""

    table: StarTable
    objects: tuple[LakeObject, ...]
    rows: int | None


@dataclass(frozen=True)
class BatchPlan:
    """A processed batch to load: its id, manifest key and per-table plans in load order."""

    batch_id: str
    key: str
    tables: tuple[TablePlan, ...]
    ingest_batches: tuple[str, ...] = ()
    """The ingest batches the batch covers (recorded in etl_loaded_batch)."""
    quarantined: dict[str, int] = field(default_factory=dict)
    """Rows the transform rejected in this batch, per source table (they are not loaded)."""


def read_manifest(s3: S3Client, bucket: str, key: str) -> BatchPlan:
    """Read and check one processed manifest (missing or malformed: terminal errors)."""
    return plan_batch(ProcessedManifest.from_json(read_json(s3, bucket, key), key))


def plan_batch(manifest: ProcessedManifest) -> BatchPlan:
    """The manifest's tables in load order (dim_date first, then dimensions, then facts)."""
    plans = tuple(
        _plan(table, manifest.tables[table.name])
        for table in LOAD_ORDER
        if table.name in manifest.tables
    )
    return BatchPlan(
        manifest.batch_id, manifest.key, plans, manifest.ingest_batches, manifest.quarantined
    )


def _plan(table: StarTable, entry: Any) -> TablePlan:
    if isinstance(entry, DimensionEntry):
        # The changed rows are what needs upserting; a manifest without them (a whole
        # snapshot only) still loads correctly, because the upsert skips unchanged rows.
        if entry.changed_objects is not None:
            return TablePlan(
                table, tuple(LakeObject(k, {}) for k in entry.changed_objects), entry.changed_rows
            )
        return TablePlan(table, tuple(LakeObject(k, {}) for k in entry.objects), entry.rows)
    objects = tuple(LakeObject(o.key, dict(o.partition), o.rows) for o in entry.objects)
    return TablePlan(table, objects, entry.rows)
