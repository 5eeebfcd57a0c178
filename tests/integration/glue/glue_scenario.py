"""Hand-written ToteSys change batches for the Glue job tests, and how to read its output.

B1 is a first extract of every table; B2 edits an address, moves a department, amends an
order, adds one, pays a payment and carries two bad rows; B3 holds only a staff change;
B4 renames a design. The expected star rows in the tests are written out by hand from these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
from glue_landing import write_batch

from glue_jobs import star_schema as job

B1 = "20241115T144100123456Z"
B2 = "20241115T144400000000Z"
B3 = "20241115T144700000000Z"
B4 = "20241115T145000000000Z"
A0 = "2022-11-03 14:20:49.962"
PROCESSED_BUCKET = "totesys-processed-test"
INGEST_BUCKET = "totesys-ingest-test"

BATCHES: dict[str, dict[str, list[tuple[str | None, ...]]]] = {
    B1: {
        "address": [
            ("1", "6826 Herzog Via", None, "Avon", "New Patienceburgh", "28441", "Turkey",
             "1803 637401", A0, A0),
            ("2", "179 Alexie Cliffs", None, None, "Aliso Viejo", "99305-7380", "San Marino",
             "9621 880720", A0, A0),
            ("3", "148 Sincere Fort", "Flat 2", "", "Lake Charles", "89360", "Togo",
             "0730 783349", A0, A0),
        ],
        "counterparty": [
            ("1", "Fahey and Sons", "2", "Micheal Toy", "Mrs. Lucy Runolfsdottir", A0, A0),
            ("2", "Leannon, Predovic and Morar", "3", None, None, A0, A0),
        ],
        "currency": [
            ("1", "GBP", A0, A0), ("2", "USD", A0, A0), ("3", "EUR", A0, A0),
            ("4", "XYZ", A0, A0),
        ],
        "department": [
            ("1", "Sales", "Manchester", "Richard Roma", A0, A0),
            ("2", "Purchasing", "Leeds", "Naomi Lapaglia", A0, A0),
        ],
        "design": [
            ("1", "Wooden", "/usr", "wooden-20220717-npgz.json", A0, A0),
            ("2", "Bronze", "/private", "bronze-20221024-4dds.json", A0, A0),
        ],
        "payment_type": [
            ("1", "SALES_RECEIPT", A0, A0), ("2", "SALES_REFUND", A0, A0),
            ("3", "PURCHASE_PAYMENT", A0, A0), ("4", "PURCHASE_REFUND", A0, A0),
        ],
        "staff": [
            ("1", "Jeremie", "Franey", "1", "jeremie.franey@terrifictotes.com", A0, A0),
            ("2", "Deron", "Beier", "2", "deron.beier@terrifictotes.com", A0, A0),
            ("3", "Ana", "Erdman", "1", "ana.erdman@terrifictotes.com", A0, A0),
        ],
        "sales_order": [
            ("1", "2024-11-14 09:15:00.123", "2024-11-14 09:15:00.123", "1", "1", "1", "100",
             "2.50", "1", "2024-11-20", "2024-11-21", "1"),
            ("2", "2024-11-14 10:00:00.000", "2024-11-14 10:00:00.000", "2", "3", "2", "5000",
             "3.94", "2", "2026-11-13", "2024-11-18", "3"),
            ("3", "2024-11-15 11:30:45.678", "2024-11-15 11:30:45.678", "1", "1", "2", "42",
             "10.00", "3", "2024-11-16", "2024-11-17", "2"),
        ],
        "purchase_order": [
            ("1", "2024-11-14 12:00:00.000", "2024-11-14 12:00:00.000", "2", "1", "ZDOI5EA",
             "371", "361.39", "1", "2024-11-18", "2024-11-25", "2"),
        ],
        "transaction": [
            ("1", "SALE", "1", None, "2024-11-14 09:15:00.123", "2024-11-14 09:15:00.123"),
            ("2", "SALE", "2", None, "2024-11-14 10:00:00.000", "2024-11-14 10:00:00.000"),
            ("3", "SALE", "3", None, "2024-11-15 11:30:45.678", "2024-11-15 11:30:45.678"),
            ("4", "PURCHASE", None, "1", "2024-11-14 12:00:00.000", "2024-11-14 12:00:00.000"),
        ],
        "payment": [
            ("1", "2024-11-14 09:15:00.123", "2024-11-14 09:15:00.123", "1", "1", "250.00", "1",
             "1", "f", "2024-11-21", "67305075", "31622269"),
            ("2", "2024-11-14 12:00:00.000", "2024-11-14 12:00:00.000", "4", "1", "134355.69",
             "1", "3", "f", "2024-11-25", "81718079", "47839086"),
        ],
    },
    B2: {
        "address": [
            ("2", "179 Alexie Cliffs", None, None, "Bath", "99305-7380", "San Marino",
             "9621 880720", A0, "2024-11-15 14:41:00.000"),
        ],
        "department": [
            ("1", "Sales", "Leeds", "Richard Roma", A0, "2024-11-15 14:41:00.000"),
        ],
        "sales_order": [
            ("1", "2024-11-14 09:15:00.123", "2024-11-15 14:41:30.500", "1", "1", "1", "120",
             "2.40", "1", "2024-11-20", "2024-11-21", "1"),
            ("4", "2024-11-15 14:42:00.000", "2024-11-15 14:42:00.000", "2", "2", "1", "7",
             "99.99", "1", "2024-11-18", "2024-11-19", "1"),
            ("5", "2024-11-15 14:42:10.000", "2024-11-15 14:42:10.000", "1", "1", "1", "10",
             "1.00", "1", "2024-11-18", "2024-13-45", "1"),
            ("6", "2024-11-15 14:42:20.000", "2024-11-15 14:42:20.000", "1", "1", "1", "-3",
             "1.00", "1", "2024-11-18", "2024-11-19", "1"),
        ],
        "transaction": [
            ("5", "SALE", "4", None, "2024-11-15 14:42:00.000", "2024-11-15 14:42:00.000"),
        ],
        "payment": [
            ("1", "2024-11-14 09:15:00.123", "2024-11-15 14:42:30.000", "1", "1", "250.00", "1",
             "1", "t", "2024-11-21", "67305075", "31622269"),
        ],
    },
    B3: {
        "staff": [
            ("2", "Deron", "Beier-Smith", "2", "deron.beier@terrifictotes.com", A0,
             "2024-11-15 14:45:00.000"),
        ],
    },
    B4: {
        "design": [
            ("2", "Bronze Mk2", "/private", "bronze-20221024-4dds.json", A0,
             "2024-11-15 14:48:00.000"),
        ],
    },
}  # fmt: skip


def land(ingest_dir: Path, batch_id: str) -> None:
    """Write one of the batches above into the landing directory."""
    write_batch(ingest_dir, batch_id, BATCHES[batch_id])


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def money(text: str) -> Decimal:
    return Decimal(text)


@dataclass
class Pass:
    """What one run of the job returned and left behind."""

    manifest: dict[str, Any] | None
    files: dict[str, bytes]
    catalog: dict[str, Any]


@dataclass
class Lake:
    """A processed directory, a landing directory and a catalog database the job runs on."""

    spark: Any
    root: Path
    database: str
    passes: list[Pass] = field(default_factory=list)

    @property
    def ingest_dir(self) -> Path:
        return self.root / "ingest"

    @property
    def processed_dir(self) -> Path:
        return self.root / "processed"

    def args(self) -> dict[str, str]:
        return {
            "ingest_location": str(self.ingest_dir),
            "processed_location": str(self.processed_dir),
            "database": self.database,
            "ingest_bucket": INGEST_BUCKET,
            "processed_bucket": PROCESSED_BUCKET,
        }

    def run(self, before_commit: Callable[[], None] | None = None) -> Pass:
        glue = boto3.client("glue")
        manifest = job.run(self.spark, self.args(), glue=glue, before_commit=before_commit)
        result = Pass(manifest, self.files(), catalog_of(glue, self.database))
        self.passes.append(result)
        return result

    def files(self) -> dict[str, bytes]:
        """Every data or manifest file under the processed directory (not .crc/_SUCCESS)."""
        found = {}
        for path in sorted(self.processed_dir.rglob("*")):
            name = path.name
            if path.is_file() and not name.startswith((".", "_")):
                found[path.relative_to(self.processed_dir).as_posix()] = path.read_bytes()
        return found

    def rows(self, manifest: dict[str, Any], table: str, *, changes: bool = False) -> list[tuple]:
        """The rows of a star table's objects in a manifest, read with pyarrow."""
        return read_rows(self.processed_dir, manifest["tables"][table], changes=changes)


def read_rows(root: Path, entry: dict[str, Any], *, changes: bool = False) -> list[tuple]:
    """Rows of the objects a manifest entry lists, sorted."""
    rows: list[tuple] = []
    if entry["kind"] == "dimension":
        keys = entry["changed_objects" if changes else "objects"]
    else:
        keys = [obj["key"] for obj in entry["objects"]]
    for key in keys:
        rows += [tuple(r.values()) for r in pq.ParquetFile(root / key).read().to_pylist()]
    return sorted(rows, key=sort_key)


def sort_key(row: tuple) -> list[tuple[bool, Any]]:
    """Order rows by value, NULLs last (dates sort as dates, not as their repr)."""
    return [(value is None, value) for value in row]


def catalog_of(glue: Any, database: str) -> dict[str, Any]:
    """The catalog database's tables and partitions as plain data."""
    tables = {}
    for table in glue.get_tables(DatabaseName=database)["TableList"]:
        name = table["Name"]
        partitions = glue.get_partitions(DatabaseName=database, TableName=name)["Partitions"]
        tables[name] = {
            "table": table,
            "partitions": sorted(
                (tuple(p["Values"]), p["StorageDescriptor"]["Location"]) for p in partitions
            ),
        }
    return tables
