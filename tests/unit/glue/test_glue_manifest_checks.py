"""Ingest manifests are checked, not trusted: a forged one stops the job before it reads a
part or writes anything, and once removed the job continues from the real batches."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from glue_jobs import star_schema as job

B1 = "20241115T144100000000Z"
NOW = datetime(2024, 11, 15, 15, 0, tzinfo=UTC)


def manifest(batch_id: str = B1, **tables: list[str]) -> dict[str, Any]:
    return {
        "format_version": 1,
        "kind": "ingest",
        "batch_id": batch_id,
        "tables": {
            t: {"columns": [], "parts": [{"key": k} for k in keys]} for t, keys in tables.items()
        },
    }


def test_a_manifest_as_ingest_writes_it_passes() -> None:
    job.check_ingest_manifest(
        manifest(
            staff=[f"staff/batch={B1}/part-00000.csv.gz", f"staff/batch={B1}/part-00001.csv.gz"]
        ),
        NOW,
    )


def test_a_batch_id_within_the_clock_skew_passes_and_beyond_it_is_refused() -> None:
    job.check_ingest_manifest(manifest("20241115T150459999999Z"), NOW)
    with pytest.raises(job.ManifestError) as caught:
        job.check_ingest_manifest(manifest("29990101T000000000000Z"), NOW)
    assert str(caught.value) == (
        "ingest batch 29990101T000000000000Z is after this job's clock 2024-11-15T15:00:00 "
        "plus 0:05:00: a forged manifest? remove it (docs/failure-modes.md)"
    )


@pytest.mark.parametrize(
    "key",
    [
        "staff/batch=20241115T144400000000Z/part-00000.csv.gz",  # another batch's part
        f"address/batch={B1}/part-00000.csv.gz",  # another table's part
        f"staff/batch={B1}/../../_state/ingest/watermarks.json",
        f"staff/batch={B1}/part-*.csv.gz",  # a Hadoop glob
        f"staff/batch={B1}/part-0000[0-9].csv.gz",
        f"staff/batch={B1}/part-{{00000,00001}}.csv.gz",
        f"/staff/batch={B1}/part-00000.csv.gz",
        f"staff/batch={B1}/part-00000.csv.gz\n",
        f"s3://elsewhere/staff/batch={B1}/part-00000.csv.gz",
    ],
)
def test_a_part_key_outside_its_tables_batch_prefix_is_refused(key: str) -> None:
    with pytest.raises(job.ManifestError) as caught:
        job.check_ingest_manifest(manifest(staff=[key]), NOW)
    assert str(caught.value) == (
        f"ingest batch {B1}: staff part key {key!r} is not staff/batch={B1}/part-<nnnnn>.csv.gz"
    )


def test_a_table_off_the_allow_list_is_refused() -> None:
    with pytest.raises(job.ManifestError, match=r"lists '\.\./x', not a source table"):
        job.check_ingest_manifest(manifest(**{"../x": [f"../x/batch={B1}/part-00000.csv.gz"]}), NOW)


def test_a_forged_manifest_stops_the_job_before_anything_is_written_until_removed(
    spark: Any, tmp_path: Path
) -> None:
    ingest, processed = tmp_path / "in", tmp_path / "out"
    forged = ingest / "_manifests" / f"{B1}.json"
    forged.parent.mkdir(parents=True)
    forged.write_text(json.dumps(manifest(staff=["staff/batch=*/part-*.csv.gz"])))
    args = {
        "ingest_location": str(ingest),
        "processed_location": str(processed),
        "database": "db",
        "ingest_bucket": "in",
        "processed_bucket": "out",
    }

    with pytest.raises(job.ManifestError, match="staff part key 'staff/batch=\\*/part-\\*"):
        job.run(spark, args, glue=object())
    assert not processed.exists() or list(processed.rglob("*")) == []

    forged.unlink()  # the operator's way back: remove the forged object, run the job again
    assert job.run(spark, args, glue=object()) is None  # nothing pending, nothing stalled


def test_a_far_future_processed_manifest_is_refused_not_taken_as_the_progress_marker(
    tmp_path: Path,
) -> None:
    processed = job.LocalLocation(tmp_path)
    processed.write_json(f"_manifests/{B1}.json", {"kind": "processed", "batch_id": B1})
    processed.write_json(
        "_manifests/29990101T000000000000Z.json",
        {"kind": "processed", "batch_id": "29990101T000000000000Z"},
    )
    with pytest.raises(job.ManifestError, match="processed batch 29990101T000000000000Z is after"):
        job.latest_processed_manifest(processed)
