"""Where things live in the ingest bucket (docs/contracts.md section 1), and batch ids."""

from __future__ import annotations

import datetime as dt
import re

MANIFEST_PREFIX = "_manifests/"
STATE_KEY = "_state/ingest/watermarks.json"
BATCH_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"
_BATCH_ID = re.compile(r"^\d{8}T\d{12}Z$")
_MANIFEST_KEY = re.compile(r"^_manifests/(\d{8}T\d{12}Z)\.json$")


class BatchIdError(ValueError):
    """A text that is not a batch id `YYYYMMDDTHHMMSSffffffZ`."""


def batch_id_for(when: dt.datetime) -> str:
    """The batch id of a UTC time: fixed width, so ids (and manifest keys) sort by time."""
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.strftime(BATCH_ID_FORMAT)


def check_batch_id(batch_id: str) -> str:
    """Return the id unchanged if it has the batch id form, else raise."""
    if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id):
        raise BatchIdError(f"not a batch id: {batch_id!r}")
    return batch_id


def manifest_key(batch_id: str) -> str:
    """`_manifests/<batch_id>.json`."""
    return f"{MANIFEST_PREFIX}{check_batch_id(batch_id)}.json"


def batch_id_of_manifest_key(key: str) -> str | None:
    """The batch id a manifest key names, or None for any other key under the prefix."""
    match = _MANIFEST_KEY.match(key)
    return match.group(1) if match else None


def part_key(table: str, batch_id: str, part: int) -> str:
    """`<table>/batch=<batch_id>/part-<nnnnn>.csv.gz`, parts numbered from 00000."""
    return f"{table}/batch={check_batch_id(batch_id)}/part-{part:05d}.csv.gz"
