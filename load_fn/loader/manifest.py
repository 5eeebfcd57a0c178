"""Processed manifests (docs/contracts.md section 2): what one batch asks the loader to load."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loader.exceptions import ManifestError
from loader.schema import LOAD_ORDER, STAR_TABLES, StarTable
from pipeline_common.s3objects import read_json

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

MANIFEST_PREFIX = "_manifests/"
BATCH_ID = re.compile(r"^\d{8}T\d{12}Z$")
"""`YYYYMMDDTHHMMSSffffffZ`: UTC, so ids (and the manifest keys) sort by time."""


def manifest_key(batch_id: str) -> str:
    """The key of a batch's processed manifest."""
    return f"{MANIFEST_PREFIX}{batch_id}.json"


def batch_id_of(key: str) -> str | None:
    """The batch id of a manifest key, or None for any other key under the prefix."""
    if not (key.startswith(MANIFEST_PREFIX) and key.endswith(".json")):
        return None
    candidate = key[len(MANIFEST_PREFIX) : -len(".json")]
    return candidate if BATCH_ID.match(candidate) else None


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
class ProcessedManifest:
    """A processed batch: its id, manifest key and per-table plans in load order."""

    batch_id: str
    key: str
    tables: tuple[TablePlan, ...]
    quarantined: dict[str, int] = field(default_factory=dict)
    """Rows the transform quarantined in this batch, per source table (the alarm's metric)."""


def read_manifest(s3: S3Client, bucket: str, key: str) -> ProcessedManifest:
    """Read and validate one processed manifest (missing or malformed: terminal errors)."""
    return parse_manifest(key, read_json(s3, bucket, key))


def parse_manifest(key: str, data: dict[str, Any]) -> ProcessedManifest:
    """Check a manifest against the contract; only allow-listed tables are accepted."""
    where = f"manifest {key}"
    if data.get("kind") != "processed" or data.get("format_version") != 1:
        raise ManifestError(f"{where}: expected kind 'processed', format_version 1")
    batch_id = data.get("batch_id")
    if not isinstance(batch_id, str) or batch_id_of(key) != batch_id:
        raise ManifestError(f"{where}: batch_id {batch_id!r} does not match its key")
    tables = data.get("tables")
    if not isinstance(tables, dict):
        raise ManifestError(f"{where}: 'tables' must be an object")
    unknown = sorted(set(tables) - set(STAR_TABLES))
    if unknown:
        raise ManifestError(f"{where}: unknown tables {unknown}")
    plans = tuple(
        _plan(where, table, tables[table.name]) for table in LOAD_ORDER if table.name in tables
    )
    return ProcessedManifest(batch_id, key, plans, _quarantined(where, data.get("quarantine")))


def _quarantined(where: str, entries: Any) -> dict[str, int]:
    """Per source table, the rows the transform set aside (absent: none)."""
    if entries is None:
        return {}
    if not isinstance(entries, dict):
        raise ManifestError(f"{where}: 'quarantine' must be an object")
    counts: dict[str, int] = {}
    for table, entry in entries.items():
        rows = entry.get("rows") if isinstance(entry, dict) else None
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise ManifestError(f"{where}: quarantine of {table} has no row count")
        counts[str(table)] = rows
    return counts


def _plan(where: str, table: StarTable, entry: Any) -> TablePlan:
    where = f"{where}, table {table.name}"
    if not isinstance(entry, dict) or entry.get("kind") != table.kind:
        raise ManifestError(f"{where}: expected an object of kind {table.kind!r}")
    if table.kind == "dimension":
        # The changed rows are what needs upserting; a manifest without them (a whole
        # snapshot only) still loads correctly, because the upsert skips unchanged rows.
        if "changed_objects" in entry:
            keys, rows = entry["changed_objects"], entry.get("changed_rows")
        else:
            keys, rows = entry.get("objects"), entry.get("rows")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ManifestError(f"{where}: objects must be a list of keys")
        objects = tuple(LakeObject(k, {}) for k in keys)
    else:
        objects = tuple(_fact_object(where, table, item) for item in entry.get("objects") or [])
        rows = entry.get("rows")
        keys_named = entry.get("partition_keys", list(table.partition_keys))
        if list(keys_named) != list(table.partition_keys):
            raise ManifestError(f"{where}: partition_keys {keys_named} != {table.partition_keys}")
    if rows is not None and (not isinstance(rows, int) or rows < 0):
        raise ManifestError(f"{where}: row count {rows!r} is not a count")
    twice = sorted(k for k, n in Counter(o.key for o in objects).items() if n > 1)
    if twice:
        raise ManifestError(f"{where}: objects listed twice: {twice}")
    return TablePlan(table, objects, rows)


def _fact_object(where: str, table: StarTable, item: Any) -> LakeObject:
    if not isinstance(item, dict) or not isinstance(item.get("key"), str):
        raise ManifestError(f"{where}: each object needs a 'key'")
    partition = item.get("partition")
    if not isinstance(partition, dict) or set(partition) != set(table.partition_keys):
        raise ManifestError(f"{where}: object {item['key']} needs partition {table.partition_keys}")
    rows = item.get("rows")
    if rows is not None and (not isinstance(rows, int) or rows < 0):
        raise ManifestError(f"{where}: object {item['key']} has row count {rows!r}")
    return LakeObject(item["key"], {k: str(v) for k, v in partition.items()}, rows)
