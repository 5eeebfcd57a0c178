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
