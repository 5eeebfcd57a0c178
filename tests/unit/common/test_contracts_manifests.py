"""Both manifests, typed: what the writers write round-trips exactly, and a document off the
contract is refused with the key and the field it fails on."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from pipeline_common.contracts.manifests import (
    IngestManifest,
    ManifestError,
    ProcessedManifest,
    Snapshot,
    SnapshotError,
)
from pipeline_common.errors import TerminalError
from tests.manifest_documents import KEY, PID, A, ingest_manifest, processed_manifest


def test_an_ingest_manifest_round_trips_exactly() -> None:
    parsed = IngestManifest.from_json(ingest_manifest(), KEY)
    assert parsed.key == KEY
    assert parsed.snapshot == Snapshot(7, 12, (7, 9), (8, 11))
    assert parsed.rows == {"currency": 3}
    assert parsed.tables["currency"].columns[1].name == "currency_code"
    assert parsed.to_json() == ingest_manifest()


def test_a_processed_manifest_round_trips_exactly() -> None:
    parsed = ProcessedManifest.from_json(processed_manifest(), KEY)
    assert parsed.key == KEY
    assert parsed.ingest_batches == (A, PID)
    assert parsed.quarantined == {"sales_order": 2}
    assert parsed.tables["dim_staff"].changed_rows == 1
    assert parsed.to_json() == processed_manifest()


Change = Callable[[dict[str, Any]], Any]
WHERE = f"ingest manifest {KEY}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(kind="processed"), f"{WHERE}: kind: must be 'ingest', not 'processed'"),
        (lambda m: m.pop("format_version"), f"{WHERE}: format_version: missing"),
        (lambda m: m.update(batch_id=A), f"{WHERE}: batch_id: '{A}' does not match the key"),
        (lambda m: m.update(batch_id="x"), f"{WHERE}: batch_id: not a batch id: 'x'"),
        (
            lambda m: m["watermarks"].update(staff="2024-11-15"),
            f"{WHERE}: watermarks.staff: not a watermark timestamp: '2024-11-15'",
        ),
        (
            lambda m: m["snapshot"].update(xmin=13),
            f"{WHERE}: snapshot: snapshot xmin 13 / xmax 12 out of order",
        ),
        (
            lambda m: m["tables"]["currency"].update(rows=4),
            f"{WHERE}: tables.currency.rows: 4 is not the sum over its parts (3)",
        ),
        (
            lambda m: m["tables"]["currency"]["parts"][0].pop("key"),
            f"{WHERE}: tables.currency.parts[0].key: missing",
        ),
        (
            lambda m: m["tables"]["currency"].update(parts=[]),
            f"{WHERE}: tables.currency.parts: must be a non-empty list",
        ),
        (
            lambda m: m["tables"]["currency"]["columns"][0].update(nullable="no"),
            f"{WHERE}: tables.currency.columns[0].nullable: must be true or false, not 'no'",
        ),
        (
            lambda m: m["tables"]["currency"].update(primary_key="id"),
            f"{WHERE}: tables.currency.primary_key: 'id' is not one of its columns",
        ),
        (
            lambda m: m["tables"]["currency"]["window"].update(lo="yesterday"),
            f"{WHERE}: tables.currency.window.lo: not a watermark timestamp: 'yesterday'",
        ),
    ],
)
def test_an_ingest_manifest_off_the_contract_names_key_and_field(
    change: Change, message: str
) -> None:
    data = copy.deepcopy(ingest_manifest())
    change(data)
    with pytest.raises(ManifestError) as raised:
        IngestManifest.from_json(data, KEY)
    assert str(raised.value) == message
    assert isinstance(raised.value, TerminalError)


PWHERE = f"processed manifest {KEY}"
IN_ORDER = "must be in order, each once, ending with the batch's own id"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(kind="ingest"), f"{PWHERE}: kind: must be 'processed', not 'ingest'"),
        (lambda m: m.update(format_version=2), f"{PWHERE}: format_version: must be 1, not 2"),
        (lambda m: m.update(tables=[]), f"{PWHERE}: tables: must be an object"),
        (
            lambda m: m["tables"].update(dim_secrets={}),
            f"{PWHERE}: tables.dim_secrets: not a star table",
        ),
        (
            lambda m: m["tables"]["dim_staff"].update(kind="fact"),
            f"{PWHERE}: tables.dim_staff.kind: must be 'dimension', not 'fact'",
        ),
        (
            lambda m: m["tables"]["dim_staff"].update(changed_objects="a.parquet"),
            f"{PWHERE}: tables.dim_staff.changed_objects: must be a list of non-empty texts",
        ),
        (
            lambda m: m["tables"]["fact_sales_order"]["objects"][0].update(partition={}),
            f"{PWHERE}: tables.fact_sales_order.objects[0].partition: "
            "must name exactly ['created_month']",
        ),
        (
            lambda m: m["tables"]["fact_sales_order"].update(partition_keys=["year"]),
            f"{PWHERE}: tables.fact_sales_order.partition_keys: ['year'] != ['created_month']",
        ),
        (
            lambda m: m["tables"]["fact_sales_order"].update(rows=-1),
            f"{PWHERE}: tables.fact_sales_order.rows: must be a count (an integer >= 0), not -1",
        ),
        (
            lambda m: m["tables"]["fact_sales_order"]["objects"].append(
                m["tables"]["fact_sales_order"]["objects"][0]
            ),
            f"{PWHERE}: tables.fact_sales_order.objects: listed twice: "
            f"['fact_sales_order/created_month=2024-11/batch-{PID}-00000.snappy.parquet']",
        ),
        (lambda m: m.update(quarantine=[]), f"{PWHERE}: quarantine: must be an object"),
        (
            lambda m: m["quarantine"]["sales_order"].update(rows="2"),
            f"{PWHERE}: quarantine.sales_order.rows: must be a count (an integer >= 0), not '2'",
        ),
        (
            lambda m: m.update(ingest_batches=[PID, A]),
            f"{PWHERE}: ingest_batches: {IN_ORDER}",
        ),
        (
            lambda m: m.update(ingest_batches=[A]),
            f"{PWHERE}: ingest_batches: {IN_ORDER}",
        ),
        (
            lambda m: m.pop("ingest_batches"),
            f"{PWHERE}: ingest_batches: missing",
        ),
        (
            lambda m: m.update(date_range={"min": "2024-12-01", "max": "2024-11-01"}),
            f"{PWHERE}: date_range: min 2024-12-01 is after max 2024-11-01",
        ),
    ],
)
def test_a_processed_manifest_off_the_contract_names_key_and_field(
    change: Change, message: str
) -> None:
    data = copy.deepcopy(processed_manifest())
    change(data)
    with pytest.raises(ManifestError) as raised:
        ProcessedManifest.from_json(data, KEY)
    assert str(raised.value) == message


def test_a_manifest_read_from_nowhere_says_so() -> None:
    with pytest.raises(ManifestError, match=r"^processed manifest \(unsaved\): must be an object$"):
        ProcessedManifest.from_json([])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"xmin": 7, "xmax": 12, "xip": []}, "exactly xmin, xmax, xip, seen_xids"),
        ({"xmin": "7", "xmax": 12, "xip": [], "seen_xids": []}, "must be integers"),
        ({"xmin": 7, "xmax": 12, "xip": [True], "seen_xids": []}, "must be integers"),
        ({"xmin": 7, "xmax": 12, "xip": [], "seen_xids": [12]}, r"outside \[xmin, xmax\)"),
    ],
)
def test_a_malformed_snapshot_is_refused(data: Any, match: str) -> None:
    with pytest.raises(SnapshotError, match=match):
        Snapshot.from_json(data)
