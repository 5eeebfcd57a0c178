"""A processed manifest becomes a load plan: its tables in load order, dimensions' changes."""

from __future__ import annotations

from typing import Any

from loader.manifest import LakeObject, plan_batch
from pipeline_common.contracts.manifests import ProcessedManifest
from tests.manifest_documents import KEY, PID, A, processed_manifest


def manifest() -> dict[str, Any]:
    """The shared processed manifest plus dim_date, listed last: not in load order."""
    data = processed_manifest()
    data["tables"]["dim_date"] = {
        "kind": "dimension",
        "location": f"dim_date/snapshot={PID}/",
        "rows": 61,
        "objects": [f"dim_date/snapshot={PID}/part-0.snappy.parquet"],
        "changed_rows": 61,
        "changed_objects": [f"_changes/dim_date/batch={PID}/part-0.snappy.parquet"],
    }
    return data


def test_a_manifest_is_planned_in_load_order_with_changed_objects_for_dimensions() -> None:
    plan = plan_batch(ProcessedManifest.from_json(manifest(), KEY))
    assert (plan.batch_id, plan.key) == (PID, KEY)
    assert plan.ingest_batches == (A, PID)
    assert plan.quarantined == {"sales_order": 2}
    assert [table.table.name for table in plan.tables] == [
        "dim_date",
        "dim_staff",
        "fact_sales_order",
    ]
    staff = plan.tables[1]
    assert staff.objects == (
        LakeObject(f"_changes/dim_staff/batch={PID}/part-0.snappy.parquet", {}),
    )
    assert staff.rows == 1
    fact = plan.tables[2]
    assert fact.objects == (
        LakeObject(
            f"fact_sales_order/created_month=2024-11/batch-{PID}-00000.snappy.parquet",
            {"created_month": "2024-11"},
            3,
        ),
    )
    assert fact.rows == 3


def test_a_dimension_without_changed_objects_falls_back_to_its_snapshot() -> None:
    data = manifest()
    del data["tables"]["dim_staff"]["changed_objects"]
    del data["tables"]["dim_staff"]["changed_rows"]
    staff = plan_batch(ProcessedManifest.from_json(data, KEY)).tables[1]
    assert staff.objects == (LakeObject(f"dim_staff/snapshot={PID}/part-0.snappy.parquet", {}),)
    assert staff.rows == 20
