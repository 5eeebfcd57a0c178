"""The pipeline's own history, read back from a --state-dir for the report.

Batches and their rows come from the manifests (durable, the stages' commits); how long each
stage took and the freshness each load measured come from the runs' JSON logs in logs/ (what
the handlers and the job said as they ran: Powertools lines, the job's lines, EMF metrics).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local import manifest_files
from local.statedir import NAMES, StateDir
from pipeline_common.contracts.manifests import ManifestError


class HistoryError(RuntimeError):
    """The state directory cannot be read as a pipeline's history (says which file)."""


@dataclass
class BatchHistory:
    """One batch through the stages; None where a stage has not (yet) reported it."""

    batch_id: str
    ingested_rows: int | None = None
    ingest_seconds: float | None = None
    transformed_rows: int | None = None
    transform_seconds: float | None = None
    quarantined_rows: int = 0
    loaded_rows: int | None = None
    load_seconds: float | None = None


@dataclass(frozen=True)
class FreshnessPoint:
    """One load run's FreshnessSeconds and when it was measured."""

    at: datetime
    seconds: float


@dataclass
class History:
    """Every batch the state directory knows, oldest first, and every freshness measured."""

    batches: list[BatchHistory] = field(default_factory=list)
    freshness: list[FreshnessPoint] = field(default_factory=list)


def _log_lines(logs_dir: Path) -> Iterator[dict[str, Any]]:
    """Every JSON object in the run logs; other lines (a crash's traceback) are skipped."""
    for path in sorted(logs_dir.glob("run-*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry


def _timestamp(text: str) -> datetime:
    """Powertools' "2024-11-15 14:41:00,123+0000" or the job's ISO 8601, as UTC."""
    value = datetime.fromisoformat(text.replace(",", ".").replace("+0000", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_history(state: StateDir) -> History:
    """Batches from the ingest and processed manifests, durations and freshness from logs."""
    batches: dict[str, BatchHistory] = {}
    owner: dict[str, str] = {}  # ingest batch id -> the processed batch that covered it
    ingested: dict[str, int] = {}
    try:
        landed = manifest_files.ingest_manifests(state.bucket_dir(NAMES.ingest_bucket))
        processed = manifest_files.processed_manifests(state.bucket_dir(NAMES.processed_bucket))
    except ManifestError as exc:
        raise HistoryError(str(exc)) from exc
    for ingest in landed:
        ingested[ingest.batch_id] = sum(ingest.rows.values())
    for manifest in processed:
        batch = batches.setdefault(manifest.batch_id, BatchHistory(manifest.batch_id))
        for ingest_id in manifest.ingest_batches:
            owner[ingest_id] = batch.batch_id
        batch.ingested_rows = sum(ingested.get(b, 0) for b in manifest.ingest_batches)
        batch.transformed_rows = sum(manifest_files.star_rows(manifest).values())
        batch.quarantined_rows = sum(manifest.quarantined.values())
    for ingest_id, rows in ingested.items():
        if ingest_id not in owner:  # landed, not transformed yet
            batches[ingest_id] = BatchHistory(ingest_id, ingested_rows=rows)
            owner[ingest_id] = ingest_id

    history = History()
    started: dict[str, datetime] = {}
    for entry in _log_lines(state.logs_dir):
        message, batch_id = entry.get("message"), entry.get("batch_id")
        if "FreshnessSeconds" in entry and "_aws" in entry:
            at = datetime.fromtimestamp(entry["_aws"]["Timestamp"] / 1000, UTC)
            history.freshness.append(FreshnessPoint(at, float(entry["FreshnessSeconds"][0])))
        elif message == "batch committed" and batch_id in owner:
            batch = batches[owner[batch_id]]
            batch.ingest_seconds = (batch.ingest_seconds or 0.0) + float(entry["seconds"])
        elif message == "processing" and isinstance(batch_id, str):
            started[batch_id] = _timestamp(entry["timestamp"])
        elif message == "committed" and batch_id in started and batch_id in batches:
            seconds = (_timestamp(entry["timestamp"]) - started.pop(batch_id)).total_seconds()
            batches[batch_id].transform_seconds = seconds
        elif message == "loaded batch" and batch_id in batches:
            tables = entry.get("tables") or {}
            batches[batch_id].loaded_rows = sum(int(t["written"]) for t in tables.values())
            batches[batch_id].load_seconds = float(entry["seconds"])
    history.batches = [batches[key] for key in sorted(batches)]
    return history
