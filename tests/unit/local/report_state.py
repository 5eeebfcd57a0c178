"""A --state-dir as two local cycles leave it (manifests and run logs), written by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.report_page import Answer
from local.statedir import NAMES, StateDir
from pipeline_common.contracts.manifests import (
    DimensionEntry,
    FactEntry,
    FactObject,
    IngestManifest,
    LandedPart,
    LandedTable,
    ProcessedManifest,
    QuarantineEntry,
    SourceColumn,
)

B1, B2, B3 = "20241115T144100123000Z", "20241115T144400456000Z", "20241115T144700789000Z"


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


HI = "2024-11-15 14:40:00.000000"
KEY_COLUMN = SourceColumn("id", "integer", "int4", False, 32, 0)


def _ingest(batch_id: str, rows: dict[str, int]) -> dict[str, Any]:
    tables = {
        t: LandedTable(
            None, HI, "id", (LandedPart(f"{t}/batch={batch_id}/p.csv.gz", n, 9),), (KEY_COLUMN,)
        )
        for t, n in rows.items()
    }
    return IngestManifest(batch_id, "2024-11-15T14:41:00+00:00", 0, HI, {}, None, tables).to_json()


def _dimension(rows: int, changed: int) -> DimensionEntry:
    return DimensionEntry("dim_staff/snapshot=x/", rows, ("a.parquet",), changed, ("b.parquet",))


def _fact(batch_id: str, rows: int) -> FactEntry:
    key = f"fact_sales_order/created_month=2024-11/batch-{batch_id}-00000.snappy.parquet"
    return FactEntry(
        "fact_sales_order/",
        rows,
        ("created_month",),
        (FactObject(key, {"created_month": "2024-11"}),),
    )


def _processed(
    batch_id: str, ingest: list[str], tables: dict[str, Any], quarantine: dict[str, int]
) -> dict[str, Any]:
    quarantined = {
        t: QuarantineEntry(n, f"_quarantine/{batch_id}/{t}/") for t, n in quarantine.items()
    }
    return ProcessedManifest(batch_id, tuple(ingest), tables, quarantine=quarantined).to_json()


def _powertools(message: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"level": "INFO", "message": message, "timestamp": at, "service": "x", **fields}


def _job(message: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"timestamp": at, "level": "INFO", "logger": "star_schema", "message": message, **fields}


def _freshness(epoch_ms: int, seconds: float) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": epoch_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": "ToteSysPipeline",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "FreshnessSeconds", "Unit": "Seconds"}],
                }
            ],
        },
        "service": "load",
        "FreshnessSeconds": [seconds],
    }


def write_state(root: Path) -> StateDir:
    """B1 and B2 went through every stage (B1 with quarantined rows); B3 only landed."""
    state = StateDir(root).create()
    landing = state.bucket_dir(NAMES.ingest_bucket) / "_manifests"
    lake = state.bucket_dir(NAMES.processed_bucket) / "_manifests"
    _write(landing / f"{B1}.json", _ingest(B1, {"sales_order": 200, "staff": 20}))
    _write(landing / f"{B2}.json", _ingest(B2, {"sales_order": 15}))
    _write(landing / f"{B3}.json", _ingest(B3, {"payment": 4}))
    _write(
        lake / f"{B1}.json",
        _processed(
            B1,
            [B1],
            {"dim_staff": _dimension(20, 5), "fact_sales_order": _fact(B1, 198)},
            {"sales_order": 2},
        ),
    )
    _write(lake / f"{B2}.json", _processed(B2, [B2], {"fact_sales_order": _fact(B2, 15)}, {}))
    lines = [
        _powertools("batch committed", "2024-11-15 14:41:00,200+0000", batch_id=B1, seconds=0.5),
        _job("processing", "2024-11-15T14:41:05.000000+00:00", batch_id=B1),
        _job("committed", "2024-11-15T14:41:17.250000+00:00", batch_id=B1),
        _powertools(
            "loaded batch",
            "2024-11-15 14:41:20,000+0000",
            batch_id=B1,
            seconds=1.75,
            tables={
                "dim_staff": {"read": 5, "written": 5},
                "fact_sales_order": {"read": 198, "written": 198},
            },
        ),
        _freshness(1731681681000, 81.5),
        "Traceback (most recent call last): not JSON",
        _powertools("batch committed", "2024-11-15 14:44:00,500+0000", batch_id=B2, seconds=0.25),
        _job("processing", "2024-11-15T14:44:02.000000+00:00", batch_id=B2),
        _job("committed", "2024-11-15T14:44:10.000000+00:00", batch_id=B2),
        _powertools(
            "loaded batch",
            "2024-11-15 14:44:12,000+0000",
            batch_id=B2,
            seconds=0.5,
            tables={"fact_sales_order": {"read": 15, "written": 15}},
        ),
        _freshness(1731681852000, 12.0),
        _powertools("batch committed", "2024-11-15 14:47:00,900+0000", batch_id=B3, seconds=0.125),
    ]
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    (state.logs_dir / "run-20241115T144100Z.jsonl").write_text(text + "\n", encoding="utf-8")
    return state


ANSWERS = [
    Answer(
        "sales-by-month-and-currency",
        "Revenue per month and currency.",
        ["year", "month", "currency_code", "orders", "units_sold", "revenue"],
        [
            (2024, 10, "GBP", 3, 30, 300.5),
            (2024, 11, "GBP", 2, 20, 200.0),
            (2024, 11, "USD", 1, 5, 50.25),
        ],
    ),
    Answer(
        "top-designs",
        "Designs by units.",
        ["design_id", "design_name", "orders", "units_sold"],
        [(1, "Wooden", 4, 40), (2, "Steel", 2, 12)],
    ),
    Answer("unknown-question", "Shown as a table only.", ["n"], [(1,)]),
]
