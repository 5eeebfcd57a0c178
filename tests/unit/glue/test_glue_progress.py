"""The job's progress: processed manifests as typed state, the commit, the latest pointer."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from glue_jobs import star_schema as job

B1, B2, B3 = "20241115T144100000000Z", "20241115T144400000000Z", "20241115T144700000000Z"
PREFIX = job.MANIFEST_PREFIX


def key(batch_id: str) -> str:
    return f"_manifests/{batch_id}.json"


def processed_manifest(batch_id: str, ingest_batches: list[str] | None = None) -> dict[str, Any]:
    """A processed manifest as the job writes one (docs/contracts.md section 2), in its order."""
    return {
        "format_version": 1,
        "kind": "processed",
        "batch_id": batch_id,
        "ingest_batches": ingest_batches or [batch_id],
        "created_at": "2024-11-15T14:50:00.123456+00:00",
        "state": {
            "address": f"_state/address/batch={B1}/",
            "staff": f"_state/staff/batch={batch_id}/",
        },
        "state_rows": {"address": 30, "staff": 20},
        "snapshots": {
            "dim_staff": f"dim_staff/snapshot={batch_id}/",
            "dim_location": f"dim_location/snapshot={B1}/",
            "dim_date": f"dim_date/snapshot={batch_id}/",
        },
        "date_range": {"min": "2022-11-03", "max": "2026-12-31"},
        "tables": {
            "dim_staff": {
                "kind": "dimension",
                "location": f"dim_staff/snapshot={batch_id}/",
                "rows": 20,
                "objects": [f"dim_staff/snapshot={batch_id}/part-00000-a.snappy.parquet"],
                "changed_rows": 1,
                "changed_objects": [f"_changes/dim_staff/batch={batch_id}/part-00000-b.parquet"],
            },
            "fact_sales_order": {
                "kind": "fact",
                "location": "fact_sales_order/",
                "rows": 120,
                "partition_keys": ["created_month"],
                "objects": [
                    {
                        "key": f"fact_sales_order/created_month=2024-11/batch-{batch_id}-00000"
                        ".snappy.parquet",
                        "partition": {"created_month": "2024-11"},
                        "rows": 120,
                    }
                ],
            },
            "dim_date": {
                "kind": "dimension",
                "location": f"dim_date/snapshot={batch_id}/",
                "rows": 1520,
                "objects": [f"dim_date/snapshot={batch_id}/part-00000-c.snappy.parquet"],
                "changed_rows": 1520,
                "changed_objects": [f"_changes/dim_date/batch={batch_id}/part-00000-d.parquet"],
            },
        },
        "quarantine": {
            "staff": {
                "rows": 1,
                "prefix": f"_quarantine/{batch_id}/staff/",
                "reasons": {"email_address: null": 1},
            },
            "sales_order": {
                "rows": 2,
                "prefix": f"_quarantine/{batch_id}/sales_order/",
                "reasons": {"agreed_payment_date: not a date": 2},
            },
        },
        "warnings": {"dim_currency": {"unknown_currency_code": 1}},
    }


@dataclass
class RecordingLocation(job.LocalLocation):
    """A lake directory that records the job's listings and writes (a fake, not a mock)."""

    calls: list[tuple[str, ...]] = field(default_factory=list)

    def list_keys(self, prefix: str, start_after: str = "") -> list[str]:
        self.calls.append(("list", prefix, start_after))
        return super().list_keys(prefix, start_after)

    def write_json(self, key: str, data: Any) -> None:
        self.calls.append(("write", key))
        super().write_json(key, data)

    def delete(self, keys: Any) -> None:
        keys = list(keys)
        self.calls.append(("delete", *keys))
        super().delete(keys)

    def listings(self) -> list[tuple[str, ...]]:
        return [c[1:] for c in self.calls if c[0] == "list"]


def lake(tmp_path: Path, *batches: str) -> RecordingLocation:
    place = RecordingLocation(tmp_path)
    for batch in batches:
        place.write_json(key(batch), processed_manifest(batch))
    place.calls.clear()
    return place


# ---- the manifest as a typed object ------------------------------------------------------


def test_a_processed_manifest_round_trips_exactly_in_the_contracts_order(tmp_path: Path) -> None:
    document = processed_manifest(B2, [B1, B2])
    place = job.LocalLocation(tmp_path)
    place.write_json(key(B2), document)
    stored = place.read_json(key(B2))  # written with sorted keys
    assert stored is not None and list(stored) != list(document)

    manifest = job.PassManifest.from_json(stored, key(B2))
    assert manifest.to_json() == document
    assert list(manifest.to_json()) == list(document)
    # Tables in STAR_TABLE_ORDER, quarantine in SOURCE_TABLES order, whatever order was read.
    assert list(manifest.to_json()["tables"]) == ["dim_staff", "fact_sales_order", "dim_date"]
    assert list(manifest.to_json()["quarantine"]) == ["staff", "sales_order"]
    assert manifest.key == key(B2)


def test_the_next_pass_carries_state_and_snapshots_forward_and_lists_only_its_tables() -> None:
    previous = job.PassManifest.from_json(processed_manifest(B1), key(B1))
    batches = [job.IngestBatch(B2, {}), job.IngestBatch(B3, {})]
    written = job.PassWrites(
        state={"staff": f"_state/staff/batch={B3}/"},
        state_rows={"staff": 21},
        snapshots={"dim_staff": f"dim_staff/snapshot={B3}/"},
        date_range=None,
        tables={"dim_staff": {"kind": "dimension", "location": f"dim_staff/snapshot={B3}/"}},
        quarantine={},
        warnings={},
    )
    following = job.PassManifest.following(previous, batches, written, "now").to_json()
    assert following == {
        "format_version": 1,
        "kind": "processed",
        "batch_id": B3,
        "ingest_batches": [B2, B3],
        "created_at": "now",
        "state": {"address": f"_state/address/batch={B1}/", "staff": f"_state/staff/batch={B3}/"},
        "state_rows": {"address": 30, "staff": 21},
        "snapshots": {
            "dim_staff": f"dim_staff/snapshot={B3}/",
            "dim_location": f"dim_location/snapshot={B1}/",
            "dim_date": f"dim_date/snapshot={B1}/",
        },
        "date_range": {"min": "2022-11-03", "max": "2026-12-31"},
        "tables": {"dim_staff": {"kind": "dimension", "location": f"dim_staff/snapshot={B3}/"}},
        "quarantine": {},
        "warnings": {},
    }
    assert previous.to_json() == processed_manifest(B1)  # the previous one is untouched


def _broken(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(processed_manifest(B2))
    change(document)
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(kind="ingest"), "kind: must be 'processed', not 'ingest'"),
        (lambda d: d.update(format_version=2), "format_version: must be 1, not 2"),
        (lambda d: d.update(batch_id=B1), f"batch_id: '{B1}' does not match the key"),
        (
            lambda d: d.update(ingest_batches=[B1]),
            "ingest_batches: must be in order, each once, ending with the batch's own id",
        ),
        (
            lambda d: d.update(ingest_batches=["x"]),
            "ingest_batches: must be a non-empty list of batch ids: ['x']",
        ),
        (lambda d: d.update(created_at=3), "created_at: must be a non-empty text, not 3"),
        (
            lambda d: d["state_rows"].update(staff="20"),
            "state_rows.staff: must be a count (an integer >= 0), not '20'",
        ),
        (
            lambda d: d.update(date_range={"min": "soon", "max": "2026-12-31"}),
            "date_range.min: must be a date YYYY-MM-DD, not 'soon'",
        ),
        (lambda d: d.pop("tables"), "tables: missing"),
        (lambda d: d["tables"].update(dim_view={}), "tables.dim_view: not a star table"),
        (
            lambda d: d["tables"]["dim_staff"].update(kind="fact"),
            "tables.dim_staff.kind: must be 'dimension', not 'fact'",
        ),
        (
            lambda d: d["tables"]["fact_sales_order"]["objects"][0].update(rows=-1),
            "tables.fact_sales_order.objects[0].rows: must be a count (an integer >= 0), not -1",
        ),
        (
            lambda d: d["tables"]["dim_staff"].update(changed_rows=None),
            "tables.dim_staff.changed_rows: must be a count (an integer >= 0), not None",
        ),
        (
            lambda d: d["quarantine"]["staff"].update(prefix=3),
            "quarantine.staff.prefix: must be a non-empty text, not 3",
        ),
    ],
)
def test_a_broken_processed_manifest_is_refused_naming_its_key_and_field(
    change: Any, message: str
) -> None:
    with pytest.raises(job.ManifestError) as caught:
        job.PassManifest.from_json(_broken(change), key(B2))
    assert str(caught.value) == f"processed manifest {key(B2)}: {message}"


def test_an_ingest_manifest_is_typed_with_only_the_tables_that_landed_parts() -> None:
    part = f"staff/batch={B1}/part-00000.csv.gz"
    data = {
        "format_version": 1,
        "kind": "ingest",
        "batch_id": B1,
        "tables": {
            "staff": {"columns": [{"name": "staff_id"}], "parts": [{"key": part, "rows": 3}]},
            "address": {"columns": [{"name": "address_id"}], "parts": []},
        },
    }
    batch = job.IngestBatch.from_json(data, key(B1))
    assert batch == job.IngestBatch(
        B1, {"staff": job.IngestTable(({"name": "staff_id"},), (job.IngestPart(part, 3),))}
    )
    assert batch.tables["staff"].rows == 3
    with pytest.raises(job.ManifestError) as caught:
        job.IngestBatch.from_json(data, key(B2))
    assert (
        str(caught.value) == f"ingest manifest {key(B2)}: batch_id: '{B1}' does not match the key"
    )
    with pytest.raises(job.ManifestError, match=r"staff part key .* is not staff/batch="):
        job.IngestBatch.from_json(
            {**data, "tables": {"staff": {"parts": [{"key": "x/../y"}]}}}, key(B1)
        )


# ---- the commit and the pointer ----------------------------------------------------------


def test_a_commit_writes_the_manifest_then_the_pointer_then_drops_the_inflight_record(
    tmp_path: Path,
) -> None:
    place = lake(tmp_path)
    place.write_json(job.INFLIGHT_KEY, {"batch_id": B2, "ingest_batches": [B2]})
    place.calls.clear()
    manifest = job.PassManifest.from_json(processed_manifest(B2), key(B2))

    job.commit_pass(place, manifest)

    assert place.calls == [
        ("write", key(B2)),
        ("write", job.LATEST_KEY),
        ("delete", job.INFLIGHT_KEY),
    ]
    assert json.loads((tmp_path / key(B2)).read_text()) == processed_manifest(B2)
    assert json.loads((tmp_path / "_job/latest.json").read_text()) == {
        "batch_id": B2,
        "key": key(B2),
    }
    assert not (tmp_path / job.INFLIGHT_KEY).exists()


def test_the_pointer_bounds_the_listing_and_a_newer_manifest_than_it_still_wins(
    tmp_path: Path,
) -> None:
    place = lake(tmp_path, B1, B2)
    job.write_latest_pointer(place, job.PassManifest.from_json(processed_manifest(B2), key(B2)))
    place.calls.clear()

    latest = job.latest_processed_manifest(place)

    assert latest is not None and latest.batch_id == B2
    assert place.listings() == [(PREFIX, key(B2))]  # only what follows the pointer

    # A pass died between its manifest and the pointer: the pointer is behind, B3 still wins.
    place.write_json(key(B3), processed_manifest(B3))
    place.calls.clear()
    latest = job.latest_processed_manifest(place)
    assert latest is not None and latest.to_json() == processed_manifest(B3)
    assert place.listings() == [(PREFIX, key(B2))]


@pytest.mark.parametrize(
    ("pointer", "listings"),
    [
        # dangling: its manifest is gone (removed by the deploy role's repair)
        (json.dumps({"batch_id": B3, "key": key(B3)}), [(PREFIX, key(B3)), (PREFIX, "")]),
        ("{not json", [(PREFIX, "")]),
        (json.dumps(["a list"]), [(PREFIX, "")]),
        (json.dumps({"batch_id": B1, "key": "_manifests/../elsewhere.json"}), [(PREFIX, "")]),
        (json.dumps({"batch_id": "yesterday", "key": key("yesterday")}), [(PREFIX, "")]),
    ],
)
def test_a_dangling_or_malformed_pointer_falls_back_to_listing_every_manifest(
    tmp_path: Path, pointer: str, listings: list[tuple[str, str]]
) -> None:
    place = lake(tmp_path, B1, B2)
    (tmp_path / job.LATEST_KEY).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / job.LATEST_KEY).write_text(pointer)

    latest = job.latest_processed_manifest(place)

    assert latest is not None and latest.to_json() == processed_manifest(B2)
    assert place.listings() == listings
    # The next commit puts the pointer right, and the listing is bounded again.
    job.commit_pass(place, job.PassManifest.from_json(processed_manifest(B3), key(B3)))
    place.calls.clear()
    latest = job.latest_processed_manifest(place)
    assert latest is not None and latest.batch_id == B3
    assert place.listings() == [(PREFIX, key(B3))]


def test_no_manifest_and_no_pointer_is_no_progress_yet(tmp_path: Path) -> None:
    place = lake(tmp_path)
    assert job.latest_processed_manifest(place) is None
    assert place.listings() == [(PREFIX, "")]
