"""What a local run keeps in --state-dir: a directory mirror per bucket and the catalog.

Layout (a bucket's directory has the bucket's key layout, so the Glue job reads and writes
it as its `*_location`):
    <dir>/buckets/<ingest bucket>/...      landing zone (CSV.gz, _manifests/, _state/)
    <dir>/buckets/<processed bucket>/...   the lake (Parquet, _manifests/, _state/, ...)
    <dir>/catalog.json                     the Glue Data Catalog database, tables, partitions
    <dir>/pending-events.json              events whose stage failed: redelivered next run
    <dir>/logs/                            the handlers' JSON logs, one file per run
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LocalNames:
    """Names the local AWS gives the resources the template would create."""

    ingest_bucket: str = "totesys-ingest-local"
    processed_bucket: str = "totesys-processed-local"
    job_name: str = "totesys-star-schema-local"
    workflow_name: str = "totesys-star-schema-workflow-local"
    database: str = "totesys_star"  # template.yaml GlueDatabaseName default
    source_secret_id: str = "totesys-local/source-db"  # noqa: S105  # nosec B105 - a secret's name
    warehouse_secret_id: str = "totesys-local/warehouse-db"  # noqa: S105  # nosec B105 - a secret's name


NAMES = LocalNames()


@dataclass(frozen=True)
class StateDir:
    """Paths inside one --state-dir."""

    root: Path

    def bucket_dir(self, bucket: str) -> Path:
        return self.root / "buckets" / bucket

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.json"

    @property
    def pending_events_path(self) -> Path:
        return self.root / "pending-events.json"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def work_dir(self) -> Path:
        return self.root / "work"

    def create(self) -> StateDir:
        """The directories, only the user's (0700): they hold the source's rows and logs."""
        for path in (self.root, self.logs_dir, self.work_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for bucket in (NAMES.ingest_bucket, NAMES.processed_bucket):
            self.bucket_dir(bucket).mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.chmod(0o700)  # also a directory made before, or by mkdir's umask
        return self

    def read_json(self, path: Path, default: Any) -> Any:
        if not path.exists():
            return default
        return json.loads(path.read_text(encoding="utf-8"))

    def write_json(self, path: Path, data: Any) -> None:
        """Write via a temporary file and rename, so a crash never leaves half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True, default=str)
        os.replace(tmp, path)
