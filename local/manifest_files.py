"""The manifests of a bucket's local mirror (a state directory's, or the bench's), typed.

Every local reader of manifests (the runner, the history, the report, the bench) goes
through `pipeline_common.contracts.manifests`, as the stages themselves do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline_common.contracts.keys import MANIFEST_PREFIX, batch_id_of_manifest_key, manifest_key
from pipeline_common.contracts.manifests import (
    DimensionEntry,
    IngestManifest,
    ManifestError,
    ProcessedManifest,
)


def _document(bucket_dir: Path, key: str) -> Any:
    path = bucket_dir / key
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from exc


def manifest_keys(bucket_dir: Path) -> list[str]:
    """The batch manifests' keys under `_manifests/`, oldest first (other files skipped)."""
    folder = bucket_dir / MANIFEST_PREFIX
    keys = (f"{MANIFEST_PREFIX}{path.name}" for path in folder.glob("*.json"))
    return sorted(key for key in keys if batch_id_of_manifest_key(key) is not None)


def read_ingest_manifest(bucket_dir: Path, key: str) -> IngestManifest:
    return IngestManifest.from_json(_document(bucket_dir, key), key)


def read_processed_manifest(bucket_dir: Path, key: str) -> ProcessedManifest:
    return ProcessedManifest.from_json(_document(bucket_dir, key), key)


def ingest_manifests(bucket_dir: Path) -> list[IngestManifest]:
    """Every ingest manifest of a landing-bucket mirror, oldest first."""
    return [read_ingest_manifest(bucket_dir, key) for key in manifest_keys(bucket_dir)]


def processed_manifests(bucket_dir: Path) -> list[ProcessedManifest]:
    """Every processed manifest of a lake mirror, oldest first."""
    return [read_processed_manifest(bucket_dir, key) for key in manifest_keys(bucket_dir)]


def processed_manifest_of(bucket_dir: Path, batch_id: str) -> ProcessedManifest:
    return read_processed_manifest(bucket_dir, manifest_key(batch_id))


def ingest_manifest_of(bucket_dir: Path, batch_id: str) -> IngestManifest:
    return read_ingest_manifest(bucket_dir, manifest_key(batch_id))


def star_rows(manifest: ProcessedManifest) -> dict[str, int]:
    """Rows a pass wrote per star table: a dimension's new or changed rows (what the loader
    upserts, its whole snapshot where a manifest lists no changes), a fact's new records."""
    return {
        table: entry.changed_rows
        if isinstance(entry, DimensionEntry) and entry.changed_rows is not None
        else entry.rows
        for table, entry in manifest.tables.items()
    }
