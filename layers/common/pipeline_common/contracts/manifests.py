"""The two manifests, typed: parse (validate), build, serialize (docs/contracts.md 1 and 2).

An ingest manifest commits a landed batch; a processed manifest commits a pass of the
transform. Both are read back by the stage that wrote them, the next stage, the local
runner and the bench, and every one of them goes through these classes. `from_json` checks
a document against the contract and raises `ManifestError` naming the key and the field;
`to_json` gives the document back exactly (the writer's key order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from pipeline_common.contracts.batch import (
    TimestampFormatError,
    is_batch_id,
    parse_timestamp,
)
from pipeline_common.contracts.keys import batch_id_of_manifest_key, manifest_key
from pipeline_common.contracts.star import STAR_TABLES
from pipeline_common.errors import TerminalError

FORMAT_VERSION = 1


class ManifestError(TerminalError):
    """A manifest is not of the shape docs/contracts.md defines (a retry cannot fix it)."""


class SnapshotError(ManifestError):
    """A batch's snapshot (the commit fence) is malformed."""


class _Doc:
    """Reads one JSON object's fields, raising ManifestError with where it is: the
    manifest's kind and key, then the path to the field (`tables.dim_staff.rows`)."""

    def __init__(self, where: str, data: Any, path: str = "") -> None:
        self.where, self.path = where, path
        if not isinstance(data, dict):
            self.fail("must be an object")
        self.data: dict[str, Any] = data

    def fail(self, problem: str, name: str | None = None) -> NoReturn:
        path = ".".join(p for p in (self.path, name) if p)
        raise ManifestError(
            f"{self.where}: {path}: {problem}" if path else f"{self.where}: {problem}"
        )

    def has(self, name: str) -> bool:
        return name in self.data and self.data[name] is not None

    def raw(self, name: str) -> Any:
        if name not in self.data:
            self.fail("missing", name)
        return self.data[name]

    def child(self, name: str) -> _Doc:
        return _Doc(self.where, self.raw(name), ".".join(p for p in (self.path, name) if p))

    def children(self, name: str) -> dict[str, _Doc]:
        node = self.child(name)
        return {str(k): node.child(str(k)) for k in node.data}

    def items(self, name: str, *, empty: bool = False) -> list[_Doc]:
        """A list of objects (non-empty unless `empty`)."""
        values = self.raw(name)
        if not isinstance(values, list) or not (values or empty):
            self.fail("must be a list" if empty else "must be a non-empty list", name)
        prefix = ".".join(p for p in (self.path, name) if p)
        return [_Doc(self.where, value, f"{prefix}[{i}]") for i, value in enumerate(values)]

    def text(self, name: str, *, nullable: bool = False) -> Any:
        value = self.raw(name)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value:
            self.fail(f"must be a non-empty text, not {value!r}", name)
        return value

    def count(self, name: str, *, nullable: bool = False) -> Any:
        value = self.raw(name)
        if value is None and nullable:
            return None
        if type(value) is not int or value < 0:
            self.fail(f"must be a count (an integer >= 0), not {value!r}", name)
        return value

    def number(self, name: str) -> float:
        value = self.raw(name)
        if type(value) not in (int, float) or value < 0:
            self.fail(f"must be a number >= 0, not {value!r}", name)
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.raw(name)
        if type(value) is not bool:
            self.fail(f"must be true or false, not {value!r}", name)
        return bool(value)

    def timestamp(self, name: str, *, nullable: bool = False) -> Any:
        value = self.raw(name)
        if value is None and nullable:
            return None
        try:
            parse_timestamp(value)
        except TimestampFormatError as exc:
            self.fail(str(exc), name)
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        values = self.raw(name)
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            self.fail("must be a list of non-empty texts", name)
        return tuple(values)

    def ints(self, name: str) -> tuple[int, ...]:
        values = self.raw(name)
        if not isinstance(values, list):
            self.fail("must be a list", name)
        if any(type(v) is not int for v in values):
            self.fail(f"must be integers: {values!r}", name)
        return tuple(values)

    def text_map(self, name: str) -> dict[str, str]:
        node = self.child(name)
        return {str(k): node.text(str(k)) for k in node.data}

    def count_map(self, name: str) -> dict[str, int]:
        node = self.child(name)
        return {str(k): node.count(str(k)) for k in node.data}


def _header(doc: _Doc, kind: str, key: str | None) -> str:
    """Check format_version, kind and batch_id (against the key, when read from one)."""
    if doc.raw("format_version") != FORMAT_VERSION:
        doc.fail(f"must be {FORMAT_VERSION}, not {doc.data['format_version']!r}", "format_version")
    if doc.raw("kind") != kind:
        doc.fail(f"must be {kind!r}, not {doc.data['kind']!r}", "kind")
    batch_id = doc.raw("batch_id")
    if not is_batch_id(batch_id):
        doc.fail(f"not a batch id: {batch_id!r}", "batch_id")
    if key is not None and batch_id_of_manifest_key(key) != batch_id:
        doc.fail(f"{batch_id!r} does not match the key", "batch_id")
    return str(batch_id)


# -- the ingest manifest ------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The commit fence of a batch: its `pg_current_snapshot()` as 64-bit ids (xid8), and
    the ids in [xmin, xmax) it saw committed (docs/adr/0007-commit-fence.md)."""

    xmin: int
    xmax: int
    xip: tuple[int, ...]
    seen_xids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.xmin <= self.xmax:
            raise SnapshotError(f"snapshot xmin {self.xmin} / xmax {self.xmax} out of order")
        if any(not self.xmin <= x < self.xmax for x in self.xip):
            raise SnapshotError(f"snapshot in-progress ids {self.xip} outside [xmin, xmax)")
        if any(not self.xmin <= x < self.xmax for x in self.seen_xids):
            raise SnapshotError(f"snapshot seen_xids {self.seen_xids} outside [xmin, xmax)")

    @classmethod
    def from_json(cls, data: Any) -> Snapshot | None:
        """Parse a manifest's "snapshot" (None if absent: a batch written before the fence)."""
        if data is None:
            return None
        if not isinstance(data, dict) or set(data) != {"xmin", "xmax", "xip", "seen_xids"}:
            raise SnapshotError(f"snapshot must have exactly xmin, xmax, xip, seen_xids: {data!r}")
        xip, seen = data["xip"], data["seen_xids"]
        if not isinstance(xip, list) or not isinstance(seen, list):
            raise SnapshotError("snapshot xip and seen_xids must be lists")
        if any(type(value) is not int for value in (data["xmin"], data["xmax"], *xip, *seen)):
            raise SnapshotError(f"snapshot ids must be integers: {data!r}")
        return cls(data["xmin"], data["xmax"], tuple(xip), tuple(seen))

    def to_json(self) -> dict[str, Any]:
        return {
            "xmin": self.xmin,
            "xmax": self.xmax,
            "xip": list(self.xip),
            "seen_xids": list(self.seen_xids),
        }


@dataclass(frozen=True)
class SourceColumn:
    """One source column as information_schema describes it (and the CSV header names it)."""

    name: str
    data_type: str
    udt_name: str
    nullable: bool
    numeric_precision: int | None
    numeric_scale: int | None

    @classmethod
    def parse(cls, doc: _Doc) -> SourceColumn:
        return cls(
            doc.text("name"),
            doc.text("data_type"),
            doc.text("udt_name"),
            doc.flag("nullable"),
            doc.count("numeric_precision", nullable=True),
            doc.count("numeric_scale", nullable=True),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "data_type": self.data_type,
            "udt_name": self.udt_name,
            "nullable": self.nullable,
            "numeric_precision": self.numeric_precision,
            "numeric_scale": self.numeric_scale,
        }


@dataclass(frozen=True)
class LandedPart:
    """One gzip CSV object of a landed table: its key, data rows and bytes."""

    key: str
    rows: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "rows": self.rows, "bytes": self.bytes}


@dataclass(frozen=True)
class LandedTable:
    """A table's entry in an ingest manifest: its window `[lo, hi)`, parts and columns."""

    lo: str | None
    hi: str
    primary_key: str
    parts: tuple[LandedPart, ...]
    columns: tuple[SourceColumn, ...]
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts)

    @property
    def bytes(self) -> int:
        return sum(part.bytes for part in self.parts)

    @classmethod
    def parse(cls, doc: _Doc) -> LandedTable:
        window = doc.child("window")
        parts = tuple(
            LandedPart(part.text("key"), part.count("rows"), part.count("bytes"))
            for part in doc.items("parts")
        )
        table = cls(
            window.timestamp("lo", nullable=True),
            window.timestamp("hi"),
            doc.text("primary_key"),
            parts,
            tuple(SourceColumn.parse(column) for column in doc.items("columns")),
            doc.number("seconds"),
        )
        for name, value in (("rows", table.rows), ("bytes", table.bytes)):
            if doc.count(name) != value:
                doc.fail(f"{doc.data[name]} is not the sum over its parts ({value})", name)
        names = [c.name for c in table.columns]
        if table.primary_key not in names:
            doc.fail(f"{table.primary_key!r} is not one of its columns", "primary_key")
        twice = sorted(n for n, k in Counter(names).items() if k > 1)
        if twice:
            doc.fail(f"named twice: {twice}", "columns")
        return table

    def to_json(self) -> dict[str, Any]:
        return {
            "window": {"lo": self.lo, "hi": self.hi},
            "primary_key": self.primary_key,
            "rows": self.rows,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "parts": [part.to_json() for part in self.parts],
            "columns": [column.to_json() for column in self.columns],
        }


@dataclass(frozen=True)
class IngestManifest:
    """`_manifests/<batch_id>.json` in the ingest bucket: the commit of one ingest run."""

    batch_id: str
    created_at: str
    commit_lag_seconds: int
    hi: str
    watermarks: Mapping[str, str]
    snapshot: Snapshot | None
    tables: Mapping[str, LandedTable]
    """Only tables with rows in their window, in the order the run wrote them."""

    @property
    def key(self) -> str:
        return manifest_key(self.batch_id)

    @property
    def rows(self) -> dict[str, int]:
        """Rows landed per table."""
        return {table: entry.rows for table, entry in self.tables.items()}

    @classmethod
    def from_json(cls, data: Any, key: str | None = None) -> IngestManifest:
        """Check a document against docs/contracts.md section 1 (key: where it was read)."""
        doc = _Doc(f"ingest manifest {key or '(unsaved)'}", data)
        batch_id = _header(doc, "ingest", key)
        watermarks = doc.child("watermarks")
        try:
            snapshot = Snapshot.from_json(doc.data.get("snapshot"))
        except SnapshotError as exc:
            doc.fail(str(exc), "snapshot")
        return cls(
            batch_id,
            doc.text("created_at"),
            doc.count("commit_lag_seconds"),
            doc.timestamp("hi"),
            {str(t): watermarks.timestamp(str(t)) for t in watermarks.data},
            snapshot,
            {name: LandedTable.parse(entry) for name, entry in doc.children("tables").items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "kind": "ingest",
            "batch_id": self.batch_id,
            "created_at": self.created_at,
            "commit_lag_seconds": self.commit_lag_seconds,
            "hi": self.hi,
            "watermarks": dict(self.watermarks),
            "snapshot": None if self.snapshot is None else self.snapshot.to_json(),
            "tables": {table: entry.to_json() for table, entry in self.tables.items()},
        }


# -- the processed manifest ---------------------------------------------------------------


@dataclass(frozen=True)
class DimensionEntry:
    """A rebuilt dimension: its whole snapshot, and the rows new or changed against the last."""

    location: str
    rows: int
    objects: tuple[str, ...]
    changed_rows: int | None = None
    changed_objects: tuple[str, ...] | None = None
    """None in a manifest that lists the whole snapshot only (the upsert skips unchanged rows)."""
    kind: Literal["dimension"] = "dimension"

    @property
    def object_keys(self) -> tuple[str, ...]:
        """Every object the entry names: the snapshot's and the changes'."""
        return self.objects + (self.changed_objects or ())

    @classmethod
    def parse(cls, doc: _Doc) -> DimensionEntry:
        changed = doc.has("changed_objects") or doc.has("changed_rows")
        return cls(
            doc.text("location"),
            doc.count("rows"),
            _unique(doc, "objects", doc.texts("objects")),
            doc.count("changed_rows") if changed else None,
            _unique(doc, "changed_objects", doc.texts("changed_objects")) if changed else None,
        )

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "kind": self.kind,
            "location": self.location,
            "rows": self.rows,
            "objects": list(self.objects),
        }
        if self.changed_objects is not None:
            entry["changed_rows"] = self.changed_rows
            entry["changed_objects"] = list(self.changed_objects)
        return entry


@dataclass(frozen=True)
class FactObject:
    """One fact object and the Hive partition its path carries."""

    key: str
    partition: Mapping[str, str]
    rows: int | None = None

    def to_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {"key": self.key, "partition": dict(self.partition)}
        if self.rows is not None:
            item["rows"] = self.rows
        return item


@dataclass(frozen=True)
class FactEntry:
    """The new records of a fact in this batch, one object per month they touch."""

    location: str
    rows: int
    partition_keys: tuple[str, ...]
    objects: tuple[FactObject, ...]
    kind: Literal["fact"] = "fact"

    @property
    def object_keys(self) -> tuple[str, ...]:
        return tuple(o.key for o in self.objects)

    @classmethod
    def parse(cls, doc: _Doc, partition_keys: tuple[str, ...]) -> FactEntry:
        named = doc.texts("partition_keys") if doc.has("partition_keys") else partition_keys
        if named != partition_keys:
            doc.fail(f"{list(named)} != {list(partition_keys)}", "partition_keys")
        objects = []
        for obj in doc.items("objects", empty=True):
            partition = obj.text_map("partition")
            if set(partition) != set(partition_keys):
                obj.fail(f"must name exactly {list(partition_keys)}", "partition")
            rows = obj.count("rows", nullable=True) if "rows" in obj.data else None
            objects.append(FactObject(obj.text("key"), partition, rows))
        _unique(doc, "objects", tuple(o.key for o in objects))
        return cls(doc.text("location"), doc.count("rows"), partition_keys, tuple(objects))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "rows": self.rows,
            "partition_keys": list(self.partition_keys),
            "objects": [o.to_json() for o in self.objects],
        }


TableEntry = DimensionEntry | FactEntry


@dataclass(frozen=True)
class QuarantineEntry:
    """Rows of one source table the transform rejected in a batch, and why."""

    rows: int
    prefix: str | None = None
    reasons: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "prefix": self.prefix, "reasons": dict(self.reasons)}


@dataclass(frozen=True)
class ProcessedManifest:
    """`_manifests/<pid>.json` in the processed bucket: the commit of one transform pass.

    `tables` lists only what this pass wrote; `state`, `state_rows`, `snapshots` and
    `date_range` are carried forward from pass to pass (docs/contracts.md section 2).
    """

    batch_id: str
    ingest_batches: tuple[str, ...]
    tables: Mapping[str, TableEntry]
    created_at: str | None = None
    state: Mapping[str, str] = field(default_factory=dict)
    state_rows: Mapping[str, int] = field(default_factory=dict)
    snapshots: Mapping[str, str] = field(default_factory=dict)
    date_range: Mapping[str, str] | None = None
    quarantine: Mapping[str, QuarantineEntry] = field(default_factory=dict)
    warnings: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return manifest_key(self.batch_id)

    @property
    def quarantined(self) -> dict[str, int]:
        """Rows rejected in this batch, per source table (they are not loaded)."""
        return {table: entry.rows for table, entry in self.quarantine.items()}

    @classmethod
    def from_json(cls, data: Any, key: str | None = None) -> ProcessedManifest:
        """Check a document against docs/contracts.md section 2 (key: where it was read);
        only the star tables of contracts.star are accepted, each of its own kind."""
        doc = _Doc(f"processed manifest {key or '(unsaved)'}", data)
        batch_id = _header(doc, "processed", key)
        ingest_batches = doc.texts("ingest_batches")
        if not ingest_batches or not all(is_batch_id(b) for b in ingest_batches):
            doc.fail(
                f"must be a non-empty list of batch ids: {list(ingest_batches)}", "ingest_batches"
            )
        if list(ingest_batches) != sorted(set(ingest_batches)) or ingest_batches[-1] != batch_id:
            doc.fail(
                "must be in order, each once, ending with the batch's own id", "ingest_batches"
            )
        tables: dict[str, TableEntry] = {}
        for name, entry in doc.children("tables").items():
            star = STAR_TABLES.get(name)
            if star is None:
                doc.fail("not a star table", f"tables.{name}")
            if entry.raw("kind") != star.kind:
                entry.fail(f"must be {star.kind!r}, not {entry.data['kind']!r}", "kind")
            tables[name] = (
                DimensionEntry.parse(entry)
                if star.kind == "dimension"
                else FactEntry.parse(entry, star.partition_keys)
            )
        return cls(
            batch_id,
            ingest_batches,
            tables,
            doc.text("created_at") if doc.has("created_at") else None,
            doc.text_map("state") if doc.has("state") else {},
            doc.count_map("state_rows") if doc.has("state_rows") else {},
            doc.text_map("snapshots") if doc.has("snapshots") else {},
            _date_range(doc) if doc.has("date_range") else None,
            _quarantine(doc) if doc.has("quarantine") else {},
            _warnings(doc) if doc.has("warnings") else {},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "kind": "processed",
            "batch_id": self.batch_id,
            "ingest_batches": list(self.ingest_batches),
            "created_at": self.created_at,
            "state": dict(self.state),
            "state_rows": dict(self.state_rows),
            "snapshots": dict(self.snapshots),
            "date_range": None if self.date_range is None else dict(self.date_range),
            "tables": {name: entry.to_json() for name, entry in self.tables.items()},
            "quarantine": {name: entry.to_json() for name, entry in self.quarantine.items()},
            "warnings": {name: dict(counts) for name, counts in self.warnings.items()},
        }


def _unique(doc: _Doc, name: str, keys: tuple[str, ...]) -> tuple[str, ...]:
    twice = sorted(k for k, n in Counter(keys).items() if n > 1)
    if twice:
        doc.fail(f"listed twice: {twice}", name)
    return keys


def _date_range(doc: _Doc) -> dict[str, str]:
    dates = doc.child("date_range")
    low, high = dates.text("min"), dates.text("max")
    if not low <= high:
        dates.fail(f"min {low} is after max {high}")
    return {"min": low, "max": high}


def _quarantine(doc: _Doc) -> dict[str, QuarantineEntry]:
    entries = {}
    for table, entry in doc.children("quarantine").items():
        entries[table] = QuarantineEntry(
            entry.count("rows"),
            entry.text("prefix") if entry.has("prefix") else None,
            entry.count_map("reasons") if entry.has("reasons") else {},
        )
    return entries


def _warnings(doc: _Doc) -> dict[str, dict[str, int]]:
    return {
        table: {str(k): entry.count(str(k)) for k in entry.data}
        for table, entry in doc.children("warnings").items()
    }
