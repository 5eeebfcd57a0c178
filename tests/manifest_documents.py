"""Manifest documents as the stages write them (docs/contracts.md sections 1 and 2), one of
each with every field set: the cases the contract tests of both sides change one field of."""

from __future__ import annotations

from typing import Any

A = "20241115T143900000000Z"
PID = "20241115T144100123000Z"
KEY = f"_manifests/{PID}.json"
HI = "2024-11-15 14:41:00.123000"


def ingest_manifest() -> dict[str, Any]:
    """An ingest manifest as ingest writes it (docs/contracts.md section 1)."""
    return {
        "format_version": 1,
        "kind": "ingest",
        "batch_id": PID,
        "created_at": "2024-11-15T14:41:00.123000+00:00",
        "commit_lag_seconds": 0,
        "hi": HI,
        "watermarks": {"currency": HI, "staff": HI},
        "snapshot": {"xmin": 7, "xmax": 12, "xip": [7, 9], "seen_xids": [8, 11]},
        "tables": {
            "currency": {
                "window": {"lo": None, "hi": HI},
                "primary_key": "currency_id",
                "rows": 3,
                "bytes": 120,
                "seconds": 0.426,
                "parts": [
                    {"key": f"currency/batch={PID}/part-00000.csv.gz", "rows": 3, "bytes": 120}
                ],
                "columns": [
                    {
                        "name": "currency_id",
                        "data_type": "integer",
                        "udt_name": "int4",
                        "nullable": False,
                        "numeric_precision": 32,
                        "numeric_scale": 0,
                    },
                    {
                        "name": "currency_code",
                        "data_type": "character varying",
                        "udt_name": "varchar",
                        "nullable": False,
                        "numeric_precision": None,
                        "numeric_scale": None,
                    },
                ],
            }
        },
    }


def processed_manifest() -> dict[str, Any]:
    """A processed manifest as the Glue job writes it (docs/contracts.md section 2)."""
    fact_key = f"fact_sales_order/created_month=2024-11/batch-{PID}-00000.snappy.parquet"
    return {
        "format_version": 1,
        "kind": "processed",
        "batch_id": PID,
        "ingest_batches": [A, PID],
        "created_at": "2024-11-15T14:42:00.000000+00:00",
        "state": {"staff": f"_state/staff/batch={PID}/"},
        "state_rows": {"staff": 20},
        "snapshots": {"dim_staff": f"dim_staff/snapshot={PID}/"},
        "date_range": {"min": "2022-11-03", "max": "2024-11-15"},
        "tables": {
            "dim_staff": {
                "kind": "dimension",
                "location": f"dim_staff/snapshot={PID}/",
                "rows": 20,
                "objects": [f"dim_staff/snapshot={PID}/part-0.snappy.parquet"],
                "changed_rows": 1,
                "changed_objects": [f"_changes/dim_staff/batch={PID}/part-0.snappy.parquet"],
            },
            "fact_sales_order": {
                "kind": "fact",
                "location": "fact_sales_order/",
                "rows": 3,
                "partition_keys": ["created_month"],
                "objects": [
                    {"key": fact_key, "partition": {"created_month": "2024-11"}, "rows": 3}
                ],
            },
        },
        "quarantine": {
            "sales_order": {
                "rows": 2,
                "prefix": f"_quarantine/{PID}/sales_order/",
                "reasons": {"agreed_payment_date: not a date": 2},
            }
        },
        "warnings": {"dim_currency": {"unknown_currency_code": 1}},
    }
