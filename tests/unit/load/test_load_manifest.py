"""Processed manifests: the contract's shape is checked before anything is loaded."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from loader.exceptions import ManifestError
from loader.manifest import LakeObject, batch_id_of, manifest_key, parse_manifest

PID = "20241115T144100123456Z"
KEY = f"_manifests/{PID}.json"


def manifest() -> dict[str, Any]:
    return {
        "format_version": 1,
        "kind": "processed",
        "batch_id": PID,
        "tables": {
            # deliberately not in load order
            "fact_sales_order": {
                "kind": "fact",
                "location": "fact_sales_order/",
                "rows": 3,
                "partition_keys": ["created_month"],
                "objects": [
                    {
                        "key": f"fact_sales_order/created_month=2024-11/batch-{PID}-0.parquet",
                        "partition": {"created_month": "2024-11"},
                        "rows": 3,
                    }
                ],
            },
            "dim_staff": {
                "kind": "dimension",
                "location": f"dim_staff/snapshot={PID}/",
                "rows": 20,
                "objects": [f"dim_staff/snapshot={PID}/part-0.snappy.parquet"],
                "changed_rows": 1,
                "changed_objects": [f"_changes/dim_staff/batch={PID}/part-0.snappy.parquet"],
            },
            "dim_date": {
                "kind": "dimension",
                "location": f"dim_date/snapshot={PID}/",
                "rows": 61,
                "objects": [f"dim_date/snapshot={PID}/part-0.snappy.parquet"],
                "changed_rows": 61,
                "changed_objects": [f"_changes/dim_date/batch={PID}/part-0.snappy.parquet"],
            },
        },
    }


def test_keys_and_batch_ids_round_trip() -> None:
    assert manifest_key(PID) == KEY
    assert batch_id_of(KEY) == PID
    assert batch_id_of("_manifests/latest.json") is None
    assert batch_id_of(f"_manifests/{PID}.json.tmp") is None
    assert batch_id_of(f"other/{PID}.json") is None


def test_a_manifest_is_planned_in_load_order_with_changed_objects_for_dimensions() -> None:
    parsed = parse_manifest(KEY, manifest())
    assert parsed.batch_id == PID
    assert [plan.table.name for plan in parsed.tables] == [
        "dim_date",
        "dim_staff",
        "fact_sales_order",
    ]
    staff = parsed.tables[1]
    assert staff.objects == (
        LakeObject(f"_changes/dim_staff/batch={PID}/part-0.snappy.parquet", {}),
    )
    assert staff.rows == 1
    fact = parsed.tables[2]
    assert fact.objects[0].partition == {"created_month": "2024-11"}
    assert (fact.rows, fact.objects[0].rows) == (3, 3)


def test_quarantined_rows_are_read_per_source_table_and_absent_means_none() -> None:
    data = manifest() | {
        "quarantine": {"sales_order": {"rows": 2, "prefix": "_quarantine/x/sales_order/"}}
    }
    assert parse_manifest(KEY, data).quarantined == {"sales_order": 2}
    assert parse_manifest(KEY, manifest()).quarantined == {}


def test_a_dimension_without_changed_objects_falls_back_to_its_snapshot() -> None:
    data = manifest()
    del data["tables"]["dim_staff"]["changed_objects"]
    staff = parse_manifest(KEY, data).tables[1]
    assert staff.objects == (LakeObject(f"dim_staff/snapshot={PID}/part-0.snappy.parquet", {}),)
    assert staff.rows == 20


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(kind="ingest"), "expected kind 'processed'"),
        (lambda m: m.update(format_version=2), "format_version 1"),
        (lambda m: m.update(batch_id="20241115T144100000000Z"), "does not match its key"),
        (lambda m: m.update(tables=[]), "'tables' must be an object"),
        (lambda m: m["tables"].update(dim_secrets={}), r"unknown tables \['dim_secrets'\]"),
        (
            lambda m: m["tables"]["dim_staff"].update(kind="fact"),
            "table dim_staff: expected an object of kind 'dimension'",
        ),
        (
            lambda m: m["tables"]["dim_staff"].update(changed_objects="a.parquet"),
            "objects must be a list of keys",
        ),
        (
            lambda m: m["tables"]["fact_sales_order"]["objects"][0].update(partition={}),
            r"needs partition \('created_month',\)",
        ),
        (
            lambda m: m["tables"]["fact_sales_order"].update(partition_keys=["year"]),
            r"partition_keys \['year'\]",
        ),
        (lambda m: m["tables"]["fact_sales_order"].update(rows=-1), "row count -1"),
        (
            lambda m: m["tables"]["fact_sales_order"]["objects"][0].pop("key"),
            "each object needs a 'key'",
        ),
        (
            lambda m: m["tables"]["fact_sales_order"]["objects"].append(
                m["tables"]["fact_sales_order"]["objects"][0]
            ),
            rf"fact_sales_order: objects listed twice: \['fact_sales_order/created_month=2024-11/"
            rf"batch-{PID}-0.parquet'\]",
        ),
        (lambda m: m.update(quarantine=[]), "'quarantine' must be an object"),
        (
            lambda m: m.update(quarantine={"sales_order": {"rows": "2"}}),
            "quarantine of sales_order has row count '2'",
        ),
    ],
)
def test_a_manifest_off_the_contract_is_refused(change, message) -> None:
    data = copy.deepcopy(manifest())
    change(data)
    with pytest.raises(ManifestError, match=message):
        parse_manifest(KEY, data)


@pytest.mark.parametrize("entry", [{"rows": -1}, {"rows": "2"}, {"prefix": "x/"}, 3])
def test_a_quarantine_entry_without_a_row_count_is_refused(entry: Any) -> None:
    data = manifest()
    data["quarantine"] = {"sales_order": entry}
    with pytest.raises(ManifestError, match="quarantine of sales_order has row count "):
        parse_manifest(KEY, data)
